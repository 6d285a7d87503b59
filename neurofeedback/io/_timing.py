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
    if slope == 0 and span > 0:
        raise RecordingFormatError(
            path, f"{what} are too coarse to give a sampling rate ({np.unique(t).size} distinct values "
                  f"for {t.size} samples; re-saved with lost precision, e.g. as float32?)")
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
                   window: int | None = None, path=None) -> list[tuple[int, int]]:
    """Find dropped samples in per-sample timestamps (s): only where samples are really missing.

    Timestamps of a live stream are the times samples *arrived*: scheduling delays (a loaded
    CPU, a Bluetooth stack) make them late, never early, and the producer then catches up. So
    the device's clock is the **lower envelope** of the residuals ``r = t - i * period`` (period
    from the timestamps' own robust slope, so a clock 1% off the nominal rate does not drift
    into a gap). The rule:

    - a candidate is a step ``t[i+1] - t[i] > min_periods / sfreq``;
    - it is a gap only when the lower envelope *rises*: the least residual over the ``window``
      samples after the step (default 1 s) exceeds the least residual over the ``window``
      samples before it (not reaching back past the previous gap) by more than
      ``min_periods - 1`` periods, i.e. fewer samples arrived than the elapsed time implies;
    - its size is that rise in periods, rounded;
    - a step with fewer than ``window / 4`` samples after it (the last ~0.25 s) cannot be
      confirmed and is not a gap.

    A late burst that catches up within the window (jitter under load), packetised stamps
    (several samples sharing one arrival time) and ms rounding are never gaps. A producer that
    falls behind for longer than ``window`` without catching up cannot be told from a dropout by
    timestamps alone: prefer a sample counter (:func:`counter_gaps`) where the board has one.

    The gaps never add up to more time than the timestamps span (:func:`cap_gaps_to_span`):
    coarse stamps (a file re-saved as float32 keeps Unix time to 128 s) hold long runs of equal
    values whose envelope rise would otherwise be read as a disconnect longer than the recording.

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
    fin = ts[np.isfinite(ts)]
    fit = _robust_period(fin) if fin.size == n and n > 8 else float("nan")
    slope = fit if math.isfinite(fit) and abs(fit - period) <= 0.05 * period else period
    resid = ts - np.arange(n) * slope
    w = int(window) if window else max(64, int(round(sfreq)))
    gaps, floor = [], 0
    for k in cand:
        before = resid[max(floor, k - w + 1): k + 1]
        after = resid[k + 1: k + 1 + w]
        if after.size < w // 4 or not (np.isfinite(before).any() and np.isfinite(after).any()):
            continue
        step = np.nanmin(after) - np.nanmin(before)
        if step > (min_periods - 1) * period:
            missing = int(round(step / period))
            gaps.append((int(k + 1), missing))
            floor = int(k + 1)
    return cap_gaps_to_span(gaps, ts, sfreq, path=path)


#: Seconds of timestamp span allowed beyond ``t[-1] - t[0]`` (packets, arrival delays) when
#: gaps are capped to it (:func:`cap_gaps_to_span`).
SPAN_SLACK_S = 1.0


def cap_gaps_to_span(gaps, ts: np.ndarray, sfreq: float, *, path=None) -> list[tuple[int, int]]:
    """Shrink gaps so that samples plus missing time never exceed the timestamps' span.

    All gaps together are at most the span ``t[-1] - t[0]`` (plus :data:`SPAN_SLACK_S`: stamps
    are arrival times, and a packet's samples share the stamp of its first, so the span can
    fall short of the true time by a packet and some delay) less the time the samples
    themselves cover (``(n - 1) / sfreq``). (A single gap is not capped at the step at it: when
    the samples before a gap arrived late, the step is shorter than the samples missing.) When
    the bound bites, every gap is scaled down by the same factor and a warning names the file:
    such timestamps are too coarse or
    inconsistent to size the gaps, so what is filled is an upper bound, never more than the
    recording's own span.

    Parameters
    ----------
    gaps : list of (i, n_missing)
        ``i`` is the first sample after the gap.
    ts : ndarray, shape (n_times,)
        Timestamps in seconds (NaN allowed).
    sfreq : float
        Sampling rate, Hz.
    path : Path | None
        For the warning.

    Returns
    -------
    gaps : list of (i, n_missing)
        The same gaps with ``n_missing`` capped (gaps capped to 0 are left out).
    """
    gaps = [(int(i), int(m)) for i, m in gaps if m > 0]
    ts = np.asarray(ts, dtype=np.float64)
    if not gaps or ts.size < 2:
        return gaps
    capped = gaps
    fin = np.flatnonzero(np.isfinite(ts))
    if fin.size >= 2:
        span = ts[fin[-1]] - ts[fin[0]]
        allowed = max(0, int(np.floor((span + SPAN_SLACK_S) * sfreq + 0.5)) - int(fin[-1] - fin[0]))
        total = sum(m for _, m in capped)
        if total > allowed:
            logger.warning(
                "%s: timestamp gaps of %.3f s do not fit in the timestamps' span of %.3f s with "
                "%.3f s of samples (timestamps too coarse or re-saved with lost precision?); "
                "gaps shrunk to %.3f s in all", path or "recording", total / sfreq, span,
                (fin[-1] - fin[0]) / sfreq, allowed / sfreq)
            scale = allowed / total
            capped = [(i, int(np.floor(m * scale))) for i, m in capped]
    return [(i, m) for i, m in capped if m > 0]


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


# ---------------------------------------------------------------------------------------------
# Honest time: units, order, duplicates, counters

#: Timestamp units a reader tries, as (name, seconds per unit), in this order.
TIME_UNITS = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6))

#: A step back of more than this many nominal periods (and at least ``BACK_JUMP_MIN_S``) is a
#: jump back of the clock, not jitter.
BACK_JUMP_PERIODS = 10
BACK_JUMP_MIN_S = 0.1
#: This many consecutive decreasing steps make a reversed block: the order cannot be trusted.
REVERSED_RUN = 3


def infer_time_unit(path: Path, ts: np.ndarray, *, nominal: float, what: str = "timestamps",
                    device: str = "the device"):
    """Convert timestamps in s, ms or µs to seconds, choosing the unit from their spacing.

    The rule: the sampling rate the timestamps imply (samples per unit of time, from the same
    robust slope as :func:`estimate_sfreq`) is converted with each unit of :data:`TIME_UNITS`;
    the unit whose rate lies within a factor 2 of the device's ``nominal`` rate wins (the units
    are 1000 apart, so at most one can; a Muse's 220, 250 or 256 Hz all fit). The magnitude of
    the values decides nothing: Unix time in s (~1.5e9) and the LSL clock in ms (seconds since
    boot × 1000) can look alike; the spacing cannot. When no unit explains the spacing the file
    is refused: a 1-row-per-second file is not a 1000 Hz stream stamped in ms.

    Parameters
    ----------
    path : Path
        The file (for messages).
    ts : ndarray, shape (n_times,)
        Timestamps as stored in the file (NaN allowed).
    nominal : float
        The device's nominal rate, Hz.

    Returns
    -------
    ts_s : ndarray, shape (n_times,)
        Timestamps in seconds.
    unit : str
        ``"s"``, ``"ms"`` or ``"µs"``.

    Raises
    ------
    RecordingFormatError
        When the rate is outside ``[nominal / 2, nominal * 2]`` in every unit.
    """
    ts = np.asarray(ts, dtype=np.float64)
    t = ts[np.isfinite(ts)]
    if t.size < 2:
        return ts, "s"
    period = _robust_period(t)
    if not period > 0:  # e.g. float32 Unix stamps: most windows span 0 s
        return ts, "s"  # estimate_sfreq gives the precise error
    per_unit = 1.0 / period  # samples per unit of the file's clock
    if not math.isfinite(per_unit) or per_unit <= 0:
        return ts, "s"  # estimate_sfreq gives the precise error
    rates = []
    for name, seconds in TIME_UNITS:
        rate = per_unit / seconds
        rates.append(f"{rate:.4g} Hz in {name}")
        if nominal / 2 <= rate <= nominal * 2:
            if name != "s":
                logger.info("%s: %s are in %s (%.4g Hz against the nominal %g Hz); converted "
                            "to seconds", path, what, name, rate, nominal)
            return ts * seconds, name
    raise RecordingFormatError(
        path, f"{what} give a sampling rate that no unit explains ({', '.join(rates)}); "
              f"{device} samples at about {nominal:g} Hz"
    )


def _robust_period(t: np.ndarray) -> float:
    """Median over windows of ~10 s of the mean step (the slope of :func:`estimate_sfreq`)."""
    span = t[-1] - t[0]
    if not span > 0:
        return float("nan")
    crude = (t.size - 1) / span
    k = int(max(1, min(crude * 10, (t.size - 1) // 4)))
    return float(np.median((t[k:] - t[:-k]) / k))


def drop_duplicate_rows(path: Path, table: np.ndarray, *, ts_col: int = 0,
                        first_data_line: int, line_of=None) -> np.ndarray:
    """Drop rows that repeat an earlier row exactly (the same timestamp and every value).

    Only rows whose timestamp does not increase over the row before are candidates (a clean
    file is not hashed). A repeated row can only be a copy: two real samples never share
    their timestamp *and* every value. The warning names the first dropped line (1-based,
    counting the header, as an editor shows it) and the line it repeats.

    Parameters
    ----------
    table : ndarray, shape (n_rows, n_columns)
        The rows as read, timestamps in column ``ts_col``.
    first_data_line : int
        Line number of ``table[0]`` in the file.
    line_of : callable | None
        Maps a row index to its line number (default ``first_data_line + i``).

    Returns
    -------
    keep : ndarray of bool, shape (n_rows,)
    """
    line_of = line_of or (lambda i: first_data_line + int(i))
    n = table.shape[0]
    keep = np.ones(n, dtype=bool)
    ts = table[:, ts_col]
    if n < 2 or not np.any(np.diff(ts) <= 0):
        return keep
    import pandas as pd

    df = pd.DataFrame(table)
    dup = df.duplicated(keep="first").to_numpy()
    if not dup.any():
        return keep
    first = int(np.flatnonzero(dup)[0])
    same = np.flatnonzero((table[:first] == table[first]).all(axis=1) |
                          (np.isnan(table[:first]) & np.isnan(table[first])).all(axis=1))
    orig = int(same[0]) if same.size else first
    logger.warning("%s: %d duplicated row(s) dropped (the same timestamp and values as an "
                   "earlier row; the first at line %d repeats line %d)", path, int(dup.sum()),
                   line_of(first), line_of(orig))
    return ~dup


def check_time_order(path: Path, ts: np.ndarray, *, sfreq: float, first_data_line: int,
                     line_of=None, what: str = "timestamps") -> np.ndarray:
    """Check that timestamps (s) run forward; repair clock jumps back, refuse reversed blocks.

    The rule, in the order applied (duplicated rows must already be dropped, see
    :func:`drop_duplicate_rows`):

    1. **Jitter** — a single step back no larger than ``max(BACK_JUMP_MIN_S, BACK_JUMP_PERIODS
       / sfreq)`` (0.1 s at 256 Hz), followed by a forward step: accepted silently (LSL and
       muselsl stamps wobble by a few ms; the recordings in ``../shared/data`` step back by up
       to 16 ms).
    2. **Reversed block** — ``REVERSED_RUN`` (3) or more *consecutive* steps back, of any size:
       rows are out of time order, and which order is right cannot be known. Raises
       :class:`~neurofeedback.errors.RecordingFormatError` naming the first line.
    3. **Clock jump back** — a single step back larger than the jitter limit (e.g. a clock
       reset, or a time server correcting the computer's clock): the samples are kept in file
       order, the time after the jump is shifted to follow on at one nominal period (time
       taken from the sample order at ``sfreq``), and a warning names the first such line and
       the size of the jump. No gap is inferred across the jump.

    Parameters
    ----------
    ts : ndarray, shape (n_times,)
        Timestamps in seconds.
    sfreq : float
        Nominal (or estimated) rate, Hz.
    first_data_line : int
        Line number of ``ts[0]`` in the file (1-based, counting the header).
    line_of : callable | None
        Maps a row index to its line number when rows were dropped before (default
        ``first_data_line + i``).

    Returns
    -------
    ts : ndarray, shape (n_times,)
        The timestamps, repaired after jumps back.
    """
    ts = np.array(ts, dtype=np.float64)
    line_of = line_of or (lambda i: first_data_line + int(i))
    d = np.diff(ts)
    back = np.flatnonzero(d < 0)
    if back.size == 0:
        return ts
    # consecutive steps back: a reversed block
    runs = np.split(back, np.flatnonzero(np.diff(back) != 1) + 1)
    long = [r for r in runs if r.size >= REVERSED_RUN]
    if long:
        r = long[0]
        raise RecordingFormatError(
            path, f"{what} decrease over {r.size + 1} consecutive rows from line "
                  f"{line_of(r[0])} to line {line_of(r[-1] + 1)} (a block in reversed or "
                  f"shuffled order); the order of the samples cannot be trusted"
        )
    limit = max(BACK_JUMP_MIN_S, BACK_JUMP_PERIODS / sfreq)
    jumps = back[d[back] < -limit]
    if jumps.size == 0:
        return ts
    period = 1.0 / sfreq
    back_s = float((ts[jumps[0]] + period) - ts[jumps[0] + 1])  # behind where it was due
    for k in jumps:  # shift everything after the jump to follow on
        ts[k + 1:] += (ts[k] + period) - ts[k + 1]
    k0 = int(jumps[0])
    logger.warning("%s: %s jump back %.3f s at line %d%s; time taken from the sample order at "
                   "%g Hz across the jump (no gap inferred there)", path, what, back_s,
                   line_of(k0 + 1),
                   f" and {jumps.size - 1} more time(s)" if jumps.size > 1 else "", sfreq)
    return ts


def counter_gaps(counter: np.ndarray, *, min_regular: float = 0.99) -> list[tuple[int, int]] | None:
    """Dropped samples from a per-sample counter (BrainFlow's package number, a GUI index).

    The counter wraps; its modulus is the largest value seen + the usual step. The usual step is the most
    common positive difference (modulo the wrap); a difference of ``m`` usual steps means
    ``m - 1`` samples are missing. A loss of a whole counter cycle cannot be seen here.

    Parameters
    ----------
    counter : ndarray, shape (n_times,)
    min_regular : float
        The counter is trusted only when at least this fraction of its steps equal the usual
        step (a per-packet counter, a constant or a random column is not a sample counter).

    Returns
    -------
    gaps : list of (i, n_missing) | None
        ``i`` is the first sample after the gap; ``None`` when the column is not a usable
        counter.
    """
    c = np.asarray(counter, dtype=np.float64)
    if c.size < 16 or not np.all(np.isfinite(c)) or np.any(c != np.rint(c)) or np.any(c < 0):
        return None
    idx = c.astype(np.int64)
    d = np.diff(idx)
    pos = d[d > 0]
    if pos.size == 0:
        return None
    step = int(np.bincount(pos).argmax())
    if np.any(d < 0):  # wrapped: a counter stepping by 2 up to 198 wraps at 200
        d = np.mod(d, int(idx.max()) + step)
    if np.mean(d == step) < min_regular:
        return None
    return step_gaps(d, step)


def step_gaps(d: np.ndarray, step: int) -> list[tuple[int, int]]:
    """``(index of the sample after the gap, samples missing)`` for each forward step of a
    counter's differences ``d`` that is longer than its regular ``step``."""
    gaps = []
    for k in np.flatnonzero((d != step) & (d > 0)):
        missing = int(round(d[k] / step)) - 1
        if missing > 0:
            gaps.append((int(k + 1), missing))
    return gaps

