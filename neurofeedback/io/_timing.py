"""Time in the recordings: start dates, the sampling rate from timestamps, dropped samples.

The readers turn per-sample timestamps into a sampling rate (:func:`estimate_sfreq`), find
dropped samples (:func:`timestamp_gaps`), and either annotate them ``BAD_dropout``
(:func:`dropout_annotations`) or, for long disconnects, insert the missing time
(:func:`fill_disconnects`) so the time axis stays the wall clock.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import RecordingFormatError

logger = logging.getLogger("neurofeedback")


def meas_date_from_unix(seconds) -> datetime | None:
    """Return a UTC datetime for a Unix time in seconds (or ms when > 1e11), else None."""
    try:
        t = float(seconds)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(t) or t <= 1e9:
        return None
    if t > 1e11:
        t /= 1000.0
    if t > 4.1e9:  # after 2100: not a Unix time in s or ms
        return None
    return datetime.fromtimestamp(t, tz=timezone.utc)


def parse_iso_utc(text) -> datetime | None:
    """Parse an ISO 8601 time (sidecar ``start_time``) to an aware UTC datetime, or None."""
    if not text or not isinstance(text, str):
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def estimate_sfreq(path: Path, ts: np.ndarray, *, nominal: float | None, tol: float = 0.02,
                   what: str = "timestamps") -> float:
    """Estimate the sampling rate from sample timestamps (s), robust to jitter, ties and gaps.

    The period is the median over all windows of ``k`` samples (about 10 s) of
    ``(t[i + k] - t[i]) / k``. Consecutive differences would not do: muselsl stamps are rounded
    to the ms, so their median difference is 4 ms (250 Hz) for a 256 Hz stream. A least-squares
    slope would be pulled by dropped samples; the median ignores the few windows that hold a
    gap. The estimate snaps to ``nominal`` when within ``tol`` (relative).
    """
    ts = np.asarray(ts, dtype=np.float64)
    idx = np.flatnonzero(np.isfinite(ts))
    if idx.size < 2:
        raise RecordingFormatError(path, f"has fewer than 2 valid {what}; cannot find the sampling rate")
    t = ts[idx]
    span = t[-1] - t[0]
    if not np.any(np.diff(t) > 0) or span <= 0:
        raise RecordingFormatError(
            path, f"{what} never increase (constant or decreasing); cannot find the sampling rate"
        )
    if idx.size == ts.size:
        # windows of about 10 s (coarse stamps, e.g. 0.1 s, need long windows), at most a quarter
        # of the recording so that gaps touch a minority of them
        crude = (t.size - 1) / span
        k = int(max(1, min(crude * 10, (t.size - 1) // 4)))
        slope = float(np.median((t[k:] - t[:-k]) / k))
    else:  # some stamps missing: fit a line through (sample number, time)
        x = idx - idx.mean()
        slope = float(np.dot(x, t - t.mean()) / np.dot(x, x))
    if not (slope > 0 and math.isfinite(slope)):
        raise RecordingFormatError(path, f"{what} do not increase overall; cannot find the sampling rate")
    est = 1.0 / slope
    if nominal and abs(est - nominal) <= tol * nominal:
        return float(nominal)
    if nominal:
        logger.warning("%s: %s give %.3f Hz, more than %.0f%% from the nominal %g Hz; using %.3f Hz",
                       path, what, est, tol * 100, nominal, est)
    return float(round(est, 3))


def timestamp_gaps(ts: np.ndarray, sfreq: float, *, min_periods: float = 3.0,
                   window: int = 64) -> list[tuple[int, int]]:
    """Find dropped samples in per-sample timestamps (s).

    A candidate gap is a step ``t[i+1] - t[i] > min_periods / sfreq``. It counts only when the
    clock *stays* ahead: the least residual ``t - i / sfreq`` over the ``window`` samples after
    the step must exceed the greatest residual over the ``window`` samples before it by more
    than ``min_periods - 1`` periods. This rejects packetised time stamps (several samples
    sharing one arrival time, then a jump) and jitter, which wander but do not step.

    The number of missing samples is the difference of the median residuals after and before
    the step (exact for per-sample stamps, within a few samples for packetised ones).

    Returns
    -------
    gaps : list of (i, n_missing)
        ``i`` is the index of the first sample after the gap.
    """
    ts = np.asarray(ts, dtype=np.float64)
    n = ts.size
    if n < 2 or not sfreq:
        return []
    period = 1.0 / sfreq
    d = np.diff(ts)
    cand = np.flatnonzero(np.isfinite(d) & (d > min_periods * period))
    if cand.size == 0:
        return []
    resid = ts - np.arange(n) * period
    offsets = np.arange(window)
    before = resid[np.clip(cand[:, None] - offsets[None, :], 0, n - 1)]  # ends at sample k
    after = resid[np.clip(cand[:, None] + 1 + offsets[None, :], 0, n - 1)]  # starts at k + 1
    step = np.fmin.reduce(after, axis=1) - np.fmax.reduce(before, axis=1)  # NaN-ignoring
    keep = np.isfinite(step) & (step > (min_periods - 1) * period)
    if not keep.any():
        return []
    # the size: difference of the median residuals (unbiased for packetised stamps, where the
    # min/max test above under-counts by up to one packet)
    size = np.nanmedian(after[keep], axis=1) - np.nanmedian(before[keep], axis=1)
    return [(int(k + 1), int(round(sz * sfreq))) for k, sz in zip(cand[keep], size)]


def dropout_annotations(gaps, sfreq: float):
    """(onset, duration, 'BAD_dropout') for each (first sample after the gap, n_missing)."""
    return [(i / sfreq, n / sfreq, "BAD_dropout") for i, n in gaps if n > 0]


def fill_disconnects(data_uv: np.ndarray, gaps, sfreq: float, *, min_s: float):
    """Insert the missing time of long gaps (disconnects) so the time axis stays the wall clock.

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times)
    gaps : list of (i, n_missing)
        From :func:`timestamp_gaps`; ``i`` is the first sample after the gap.
    sfreq : float
    min_s : float
        Gaps at least this long are filled (a straight line between the samples on either side,
        so filters do not ring at a step) and annotated ``BAD_disconnect`` over exactly the
        missing time; shorter ones stay ``BAD_dropout`` annotations without inserted samples.

    Returns
    -------
    data_uv : ndarray
        With the filled samples inserted.
    new_index : ndarray of int, shape (n_times,)
        Where each original sample now sits.
    annotations : list of (onset_s, duration_s, description)
        ``BAD_disconnect`` and ``BAD_dropout``, in the new time axis.
    """
    n = data_uv.shape[1]
    shift = np.zeros(n, dtype=np.int64)
    pieces, ann, prev, inserted = [], [], 0, 0
    for i, missing in gaps:
        if missing <= 0:
            continue
        if missing / sfreq < min_s or i <= 0 or i >= n:
            ann.append(((i + inserted) / sfreq, missing / sfreq, "BAD_dropout"))
            continue
        pieces.append(data_uv[:, prev:i])
        a, b = data_uv[:, i - 1], data_uv[:, i]
        w = np.arange(1, missing + 1) / (missing + 1)
        pieces.append(a[:, None] + (b - a)[:, None] * w[None, :])
        ann.append(((i + inserted) / sfreq, missing / sfreq, "BAD_disconnect"))
        inserted += missing
        shift[i:] += missing
        prev = i
    if not pieces:
        return data_uv, np.arange(n), ann
    pieces.append(data_uv[:, prev:])
    return np.concatenate(pieces, axis=1), np.arange(n) + shift, ann
