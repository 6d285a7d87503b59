"""Helpers shared by the readers (private).

Everything here works in the units of the file (µV for the text formats) until
:func:`build_raw` converts to volts, once, at the boundary.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..config import PreprocessingSettings
from ..errors import RecordingFormatError
from ..quality import railed_fraction

logger = logging.getLogger("neurofeedback")

UV = 1e-6  # volts per µV

# Bad-channel rules (µV): the railed rule of offline preprocessing, with the settings' defaults
# (neurofeedback/configs/pipeline.yaml holds the same values; reading does not depend on a config folder).
RAIL_UV = PreprocessingSettings().rail_uv
RAILED_FRACTION = PreprocessingSettings().railed_fraction
FLAT_FRACTION = 0.5

MONTAGE = "colin27_1005"  # 'standard_1005' warns (FutureWarning) in MNE 1.13; same positions

# ---------------------------------------------------------------------------------------------
# verbose


@contextlib.contextmanager
def use_verbose(verbose):
    """Set the ``neurofeedback`` logger level for the duration of a call, then restore it.

    ``None`` leaves the level alone; ``True`` → INFO, ``False`` → WARNING; a level name or
    number is used as is.
    """
    if verbose is None:
        yield
        return
    if isinstance(verbose, bool):
        level = logging.INFO if verbose else logging.WARNING
    elif isinstance(verbose, str):
        level = logging.getLevelName(verbose.upper())
        if not isinstance(level, int):
            raise ValueError(
                "Invalid value for the 'verbose' parameter. Allowed values are None, True, False "
                f"or a logging level name, but got {verbose!r} instead."
            )
    elif isinstance(verbose, int):
        level = verbose
    else:
        raise TypeError(f"verbose must be None, bool, str or int, got {type(verbose).__name__} instead.")
    old = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(old)


# ---------------------------------------------------------------------------------------------
# files


def one_line(text) -> str:
    """Collapse ``text`` to one line (error messages must be single lines)."""
    return " ".join(str(text).split())


def check_file(path) -> Path:
    """Return ``path`` as a Path after checking it is an existing, non-empty regular file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise RecordingFormatError(p, "no such file")
    if p.is_dir():
        raise RecordingFormatError(p, "is a directory, not a recording file")
    try:
        size = p.stat().st_size
    except OSError as err:
        raise RecordingFormatError(p, f"cannot be read ({err.strerror})") from None
    if size == 0:
        raise RecordingFormatError(p, "is empty (0 bytes)")
    if not os.access(p, os.R_OK):
        raise RecordingFormatError(p, "cannot be read (permission denied)")
    return p


def read_head(path: Path, n: int = 65536) -> bytes:
    """Return the first ``n`` bytes of ``path``."""
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError as err:
        raise RecordingFormatError(path, f"cannot be read ({err.strerror})") from None


def complete_size(path: Path) -> tuple[int, str | None]:
    """Return (bytes up to and including the last newline, the unterminated tail or None).

    A file written line by line and cut by a crash ends in a partial line without ``\\n``.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 1))
        if fh.read(1) == b"\n":
            return size, None
        # walk back to the last newline
        block = 65536
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            k = chunk.rfind(b"\n")
            if k >= 0:
                cut = start + k + 1
                fh.seek(cut)
                tail = fh.read(size - cut).decode("utf-8", errors="replace")
                return cut, tail
            pos = start
        fh.seek(0)
        return 0, fh.read().decode("utf-8", errors="replace")


class _Head(io.RawIOBase):
    """A read-only file object that ends after the first ``limit`` bytes of a file."""

    def __init__(self, path: Path, limit: int):
        self._fh = open(path, "rb")
        self._left = limit

    def readable(self):
        return True

    def readinto(self, b):
        if self._left <= 0:
            return 0
        n = min(len(b), self._left)
        data = self._fh.read(n)
        b[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self):
        self._fh.close()
        super().close()


@contextlib.contextmanager
def open_limited(path: Path, limit: int):
    """Open ``path`` for pandas, ending after ``limit`` bytes (to leave out a partial line).

    Yields the path itself when ``limit`` covers the whole file: pandas reads a path about twice
    as fast as a Python file object.
    """
    if limit >= path.stat().st_size:
        yield path
        return
    raw = _Head(path, limit)
    buf = io.BufferedReader(raw, buffer_size=1 << 20)
    try:
        yield buf
    finally:
        buf.close()


def is_number(text: str) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def read_numeric_columns(path: Path, *, sep: str, skiprows: int, usecols, ncols: int,
                         limit: int, first_data_line: int, names_for_errors=None,
                         strict: bool = False):
    """Read ``usecols`` of a delimited numeric table fast (pandas' C parser), as float64.

    Parameters
    ----------
    path : Path
    sep : str
        ``"\\t"`` or ``","`` (whitespace after commas is skipped).
    skiprows : int
        Lines before the first data row.
    usecols : list of int
        0-based columns to return, in this order.
    ncols : int
        Fields per row (for messages).
    limit : int
        Bytes of the file to read (see :func:`complete_size`).
    first_data_line : int
        1-based line number of the first data row (for messages).
    names_for_errors : dict | None
        ``{column: name}`` used in messages.
    strict : bool
        Parse every column, so that a row with more fields than the first is an error (with
        ``usecols`` pandas silently ignores extra fields). Needs every column to be numeric.

    Returns
    -------
    data : ndarray, shape (n_rows, len(usecols)), float64

    Raises
    ------
    RecordingFormatError
        On rows with too many fields and on non-numeric cells (naming line and column).
    """
    import pandas as pd

    usecols = list(usecols)
    names_for_errors = names_for_errors or {}
    kw = dict(sep=sep, header=None, skiprows=skiprows, usecols=None if strict else usecols, engine="c",
              skipinitialspace=(sep == ","), skip_blank_lines=True, comment=None,
              na_filter=True)
    try:
        with open_limited(path, limit) as fh:
            df = pd.read_csv(fh, dtype=np.float64, **kw)
    except pd.errors.EmptyDataError:
        return np.empty((0, len(usecols)))
    except pd.errors.ParserError as err:
        msg = one_line(err)
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
        if m:
            line = int(m.group(2)) + skiprows
            raise RecordingFormatError(
                path, f"line {line} has {m.group(3)} fields but the rows before it have {ncols}"
            ) from None
        raise RecordingFormatError(path, f"cannot be parsed as a table ({msg[:120]})") from None
    except (ValueError, TypeError):
        # a non-numeric cell: find it (slow path, error only)
        with open_limited(path, limit) as fh:
            df = pd.read_csv(fh, dtype=str, keep_default_na=False, **kw)
        for col in usecols:
            values = df[col].str.strip()
            bad = ~values.map(is_number) & (values != "")
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                name = names_for_errors.get(col, f"column {col + 1}")
                raise RecordingFormatError(
                    path,
                    f"non-numeric value {values.iloc[i][:20]!r} in {name} at line "
                    f"{first_data_line + i}",
                ) from None
        raise RecordingFormatError(path, "holds values that are not numbers") from None
    # pandas returns usecols in file order; select in the requested order
    return df[usecols].to_numpy(dtype=np.float64)


def check_finite(path: Path, eeg: np.ndarray, names, *, first_data_line: int, what="EEG"):
    """Raise naming the first NaN/inf cell of ``eeg`` (shape (n_rows, n_channels))."""
    bad = ~np.isfinite(eeg)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        kind = "empty or NaN" if np.isnan(eeg[i, j]) else "infinite"
        raise RecordingFormatError(
            path,
            f"{kind} value in {what} channel {names[j]!r} at line {first_data_line + int(i)} "
            f"({int(bad.sum())} such cells in all)",
        )


# ---------------------------------------------------------------------------------------------
# time


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


# ---------------------------------------------------------------------------------------------
# Raw


def railed_or_flat(data_uv: np.ndarray, names) -> dict[str, str]:
    """Return ``{name: reason}`` for channels that are railed or flat.

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times), µV
    names : list of str

    Notes
    -----
    Railed: at least 5% of samples at |x| ≥ 187000 µV (a Cyton saturates at ±187500 µV, the
    value an unconnected input sits at). Flat: at least half the samples equal the previous one
    (a dead or zeroed channel; real EEG at 0.01 µV resolution almost never repeats).
    """
    out = {}
    if data_uv.shape[1] < 2:
        return out
    railed_all = railed_fraction(data_uv, rail_uv=RAIL_UV)
    for name, x, railed in zip(names, data_uv, railed_all):
        flat = float(np.mean(np.diff(x) == 0))
        if railed >= RAILED_FRACTION:
            out[name] = f"railed ({railed:.0%} of samples at |x| >= {RAIL_UV:g} uV)"
        elif flat >= FLAT_FRACTION:
            out[name] = f"flat ({flat:.0%} of samples repeat the previous value)"
    return out


def _montage_names():
    import mne

    return mne.channels.make_standard_montage(MONTAGE).ch_names


def standard_name(name: str, lookup: dict[str, str] | None = None) -> str:
    """Return the 10-05 spelling of ``name`` ('Fc5.' → 'FC5', 'fp1' → 'Fp1'), else ``name``."""
    if lookup is None:
        lookup = {n.lower(): n for n in _montage_names()}
    clean = name.strip().rstrip(".").strip()
    return lookup.get(clean.lower(), clean if clean else name)


def apply_montage(raw) -> None:
    """Give EEG channels the colin27 10-05 positions when their names are standard sites."""
    names = set(_montage_names())
    eeg = [raw.ch_names[i] for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    if not any(n in names for n in eeg):
        return
    import mne

    raw.set_montage(mne.channels.make_standard_montage(MONTAGE), on_missing="ignore",
                    verbose=False)


def build_raw(data_uv: np.ndarray, ch_names, ch_types, sfreq: float, *, meas_date=None,
              annotations=(), bads=(), device_info=None, montage: bool = True):
    """Build a preloaded ``RawArray`` in volts from µV data.

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times), µV
        Converted to volts here (× 1e-6), the one place the text readers change units.
    ch_names, ch_types : list of str
    sfreq : float
    meas_date : datetime | None
        Aware UTC datetime.
    annotations : iterable of (onset_s, duration_s, description)
        Onsets relative to the first sample.
    bads : iterable of str
    device_info : dict | None
    """
    import mne

    info = mne.create_info(list(ch_names), float(sfreq), list(ch_types), verbose=False)
    data = np.asarray(data_uv, dtype=np.float64) * UV
    raw = mne.io.RawArray(data, info, verbose=False)
    if meas_date is not None:
        raw.set_meas_date(meas_date)
    if device_info:
        raw.info["device_info"] = {k: str(v) for k, v in device_info.items()}
    raw.info["bads"] = [b for b in ch_names if b in set(bads)]
    ann = list(annotations)
    if ann:
        onsets, durations, desc = zip(*ann)
        raw.set_annotations(mne.Annotations(np.asarray(onsets, float), np.asarray(durations, float),
                                            list(desc)), verbose=False)
    if montage:
        apply_montage(raw)
    return raw


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


def marker_label(value: float) -> str:
    """The default description of a marker value: ``marker/1``, ``marker/2.5``."""
    return f"marker/{value:g}"


def marker_annotations(markers: np.ndarray, sfreq: float, *, labels=None, blocks=None,
                       index=None, n_times=None):
    """Annotations for the non-zero values of a marker channel.

    Parameters
    ----------
    markers : ndarray, shape (n_times,)
    sfreq : float
    labels : dict | None
        ``{"1": "eyes-open"}`` (keys as written by the recorder: ``"1"`` or ``"1.0"``).
    blocks : list of dict | None
        ``[{"label", "duration_s", "marker"}]``: an annotation whose label (or marker value)
        matches a block lasts ``duration_s``, clipped to the end of the recording.
    index : ndarray of int | None
        Sample position of each marker sample in the output time axis (after
        :func:`fill_disconnects`); default its own index.
    n_times : int | None
        Samples in the output time axis (default ``markers.size``).
    """
    markers = np.asarray(markers, dtype=np.float64)
    n = markers.size if n_times is None else int(n_times)
    end = n / sfreq
    labels = {str(k).strip(): str(v) for k, v in (labels or {}).items()}
    by_label, by_marker = {}, {}
    for b in blocks or ():
        if not isinstance(b, dict):
            continue
        if b.get("label") is not None:
            by_label[str(b["label"])] = b
        if b.get("marker") is not None:
            try:
                by_marker[float(b["marker"])] = b
            except (TypeError, ValueError):
                pass
    out = []
    for i in np.flatnonzero(np.isfinite(markers) & (markers != 0)):
        v = float(markers[i])
        label = None
        for key in (f"{v:g}", str(v), repr(v), str(int(v)) if v.is_integer() else None):
            if key is not None and key in labels:
                label = labels[key]
                break
        block = by_label.get(label) if label is not None else None
        if label is None and v in by_marker:
            block = by_marker[v]
            label = str(block.get("label") or marker_label(v))
        if label is None:
            label = marker_label(v)
        onset = (i if index is None else int(index[i])) / sfreq
        duration = 0.0
        if block is not None:
            try:
                duration = max(0.0, min(float(block.get("duration_s") or 0.0), end - onset))
            except (TypeError, ValueError):
                duration = 0.0
        out.append((onset, duration, label))
    return out
