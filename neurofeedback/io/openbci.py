"""OpenBCI GUI text recordings (``OpenBCI-RAW-*.txt``, all GUI versions) → ``mne.io.Raw``.

Format quirks
-------------
- Lines starting with ``%`` are metadata: ``%Sample Rate = 250.0 Hz``, ``%Number of channels =
  8``, ``%Board = OpenBCI_GUI$BoardCytonSerial``. The separator is ``", "`` (v5 mixes ``","``).
- Old GUI (v3/v4, and the 2014 OpenBCI V3 files): no column-name row; columns are the sample
  index, the EEG channels in µV, then accelerometer/aux, then (v3/v4) a formatted time and Unix
  ms. The 2014 files have no ``%Number of channels``: the EEG count is inferred as the largest
  of 16, 8, 4 that fits beside the index (the files say "optional columns at end being unscaled
  Aux data"), or ``columns - 6`` when the row ends with a formatted time and Unix ms.
- 2017 GUI (v2/v3, Ganglion and Cyton): index, EEG, 3 accelerometer columns ("followed by Accel
  Data" in the header), and optionally a last column ``HH:MM:SS.mmm`` without a date (no
  ``meas_date`` then). Without ``%Number of channels`` the EEG count is the columns left after
  the index, the accelerometer and the time; a 200 Hz file is a Ganglion (4 channels). The
  Ganglion's index wraps at 200 (0–199), the Cyton's at 256 (0–255).
- v5: no column-name row; the first data row is all zeros (a placeholder, dropped); Unix ms is
  the second-to-last column.
- v6: a column-name row (``Sample Index, EXG Channel 0..``, ``Timestamp``, ``Marker Channel``…;
  ``Other`` repeats). ``Timestamp`` is Unix ms in old output, Unix s in newer output (ms when
  > 1e11). Newer GUIs also start with a placeholder row whose EEG is all zeros: leading rows
  whose EEG values are all exactly 0 are dropped (a Cyton never reads exactly 0 µV on every
  channel).
- Timestamps are packet *arrival* times: sample times come from the index and the nominal rate;
  the first timestamp gives ``meas_date`` (UTC). Rows repeating an earlier row exactly (index,
  EEG, timestamp) are dropped with a warning; timestamps in reversed order over 3 or more rows
  are an error, a jump back a warning (:func:`neurofeedback.io._timing.check_time_order`).
  When ``%Sample Rate`` is missing the rate is inferred from the timestamps (snapped to a
  standard OpenBCI rate within 2%), else it is an error.
- Rows with more fields than the first data row: their extra fields are read as markers
  (``marker/<value>``, text as ``marker/<text>``), never dropped silently.
- The sample index wraps (0–255 on Cyton); the modulus is the largest index seen + 1. A jump
  larger than the usual step is a dropped packet: it is annotated ``BAD_dropout`` at the first
  sample after the jump, lasting missing samples / sfreq. No samples are inserted (the same rule
  as the BrainFlow CSV reader), so the recording is shorter than the wall-clock time by the
  missing time. A loss of a whole index cycle or more cannot be seen in the index.
- Values are in µV with the ADC's DC offset (10^4–10^5 µV, kept: the preprocessing
  high-passes). ±187500 µV is a railed or unconnected input: a channel with ≥ 5% of samples at
  |x| ≥ 187000 µV, or with half its samples repeating the previous value (zeroed or dead), is
  listed in ``raw.info['bads']`` but kept as data.
- Channel names: the file does not say where the electrodes were, so channels are named
  ``EEG 1``…``EEG N`` for every GUI version (the v3, v5 and v6 copies of one recording read
  identically) and get no positions. Pass ``channel_names=`` (e.g. ``["EEG 1", "O1", …]`` for
  the 2014 EEGHacker files, which wired only channel 2, at O1), or ``board="cyton"`` to use
  BrainFlow's default labels for that board (``Fp1, Fp2, C3, C4, P7, P8, O1, O2``).
- Accelerometer, aux, digital and analog columns are not read.
"""

from __future__ import annotations

import logging
import re

import numpy as np

from .._logging import use_verbose
from ..boards import board_info
from ..errors import BoardError, RecordingFormatError
from ._markers import extra_field_annotations, marker_annotations
from ._raw import build_raw, railed_or_flat
from ._reference import GANGLION, SRB2, UNKNOWN, board_reference
from ._text import (
    check_file,
    check_finite,
    complete_size,
    is_number,
    long_rows,
    one_line,
    read_numeric_columns,
)
from ._timing import (
    cap_gaps_to_span,
    check_time_order,
    drop_duplicate_rows,
    dropout_annotations,
    estimate_sfreq,
    meas_date_from_unix,
    step_gaps,
)

logger = logging.getLogger("neurofeedback")

_RATE_RE = re.compile(r"sample\s*rate\s*=\s*([0-9]*\.?[0-9]+)", re.I)
_NCH_RE = re.compile(r"number\s+of\s+channels\s*=\s*(\d+)", re.I)
_BOARD_RE = re.compile(r"board\s*=\s*(.+)", re.I)
#: Sample-index cycles of the GUI files: Ganglion 0–199, Cyton 0–255.
_INDEX_CYCLES = (200, 256)
_STANDARD_RATES = (125.0, 200.0, 250.0, 500.0, 1000.0, 1600.0, 2000.0, 4000.0, 8000.0, 16000.0)


def _scan(path):
    """Return (header lines, column names or None, first data rows (≤ 5), lines before data)."""
    header, names, rows = [], None, []
    n_before = 0
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                s = line.strip().lstrip("\ufeff")
                if not rows and names is None and (s.startswith("%") or not s):
                    header.append(s)
                    n_before += 1
                    continue
                if not rows and names is None and not is_number(s.split(",")[0].strip()):
                    names = [c.strip() for c in s.split(",")]
                    n_before += 1
                    continue
                if s:
                    rows.append([c.strip() for c in s.split(",")])
                if len(rows) >= 5:
                    break
    except OSError as err:
        raise RecordingFormatError(path, f"cannot be read ({err.strerror})") from None
    return header, names, rows, n_before


def _header_value(header, regex):
    for line in header:
        m = regex.search(line)
        if m:
            return m.group(1).strip()
    return None


def _infer_n_eeg(path, ncols, names, rows, header=()):
    if names:
        exg = [n for n in names if n.lower().startswith(("exg channel", "eeg channel"))]
        if exg:
            return len(exg)
    last = rows[0]
    if ncols >= 8 and ":" in last[-2] and is_number(last[-1]):  # v3/v4: ... time, Unix ms
        return ncols - 6
    # the 2017 GUI: index, EEG, 3 accel, then a formatted time without a date (HH:MM:SS.mmm)
    tail = 1 if ":" in last[-1] else 0
    avail = ncols - 1 - tail
    text = " ".join(header).lower()
    if "accel" in text and avail - 3 in (4, 8, 16):
        return avail - 3
    rate = _header_value(header, _RATE_RE)
    if rate is not None and float(rate) == 200.0 and avail >= 4:
        return 4  # 200 Hz: a Ganglion, the only OpenBCI board at that rate, has 4 channels
    for k in (16, 8, 4):
        if k <= avail:
            return k
    raise RecordingFormatError(path, f"has {ncols} columns: too few for a sample index and EEG")


def _timestamp_column(names, rows, ncols):
    if names:
        for j, n in enumerate(names):
            if n.lower() == "timestamp":
                return j
        return None
    for j in (ncols - 1, ncols - 2):
        if j <= 0:
            continue
        for r in rows:
            if j < len(r) and is_number(r[j]) and float(r[j]) > 1e9:
                return j
    return None


def _index_gaps(index: np.ndarray) -> list[tuple[int, int]]:
    """(first sample after the jump, missing samples) from a wrapping sample index."""
    if index.size < 2 or not np.all(np.isfinite(index)):
        return []
    idx = np.rint(index).astype(np.int64)
    d = np.diff(idx)
    if np.any(d < 0):
        modulus = int(idx.max()) + 1
        # the known cycles (Ganglion 200, Cyton 256) even when the top indices were all lost
        modulus = next((m for m in _INDEX_CYCLES if m - 8 <= modulus <= m), modulus)
        d = np.mod(d, modulus)
    pos = d[d > 0]
    if pos.size == 0:
        return []
    return step_gaps(d, int(np.bincount(pos).argmax()))


def read_openbci_txt(path, *, channel_names=None, board=None, verbose=None):
    """Read an OpenBCI GUI text recording (GUI v3/v4, v5, v6 and the 2014 V3 files).

    Parameters
    ----------
    path : str | Path
    channel_names : list of str | None
        Names of the EEG channels, in file order. Default ``EEG 1``…``EEG N`` (the file does not
        record electrode sites).
    board : str | int | None
        A BrainFlow board name (e.g. ``"cyton"``): name the channels with BrainFlow's default
        labels for that board. Ignored when ``channel_names`` is given.
    verbose : bool | str | int | None
        Log level of the ``neurofeedback`` logger during the call.

    Returns
    -------
    raw : mne.io.RawArray
        Preloaded, EEG channels only, in volts; ``BAD_dropout`` annotations for dropped packets,
        marker annotations (v6 ``Marker Channel``), railed/flat channels in ``info['bads']``.

    Raises
    ------
    RecordingFormatError
        Header-only or truncated files, no sampling rate, NaN or non-numeric EEG.
    """
    with use_verbose(verbose):
        return _read(path, channel_names=channel_names, board=board)


def _read(path, *, channel_names, board):
    p = check_file(path)
    header, names, rows, n_before = _scan(p)
    if not rows:
        raise RecordingFormatError(p, "has no data rows (header only); the recording is truncated")
    ncols = len(rows[0])
    if ncols < 2:
        raise RecordingFormatError(p, f"data rows have {ncols} field; expected a sample index and EEG")

    n_hdr = _header_value(header, _NCH_RE)
    n_eeg = int(n_hdr) if n_hdr else _infer_n_eeg(p, ncols, names, rows, header)
    if n_eeg < 1 or 1 + n_eeg > ncols:
        raise RecordingFormatError(p, f"says {n_eeg} channels but its rows have only {ncols} fields")
    if not n_hdr:
        logger.info("%s: no '%%Number of channels' line; read %d EEG channels from %d columns",
                    p, n_eeg, ncols)
    eeg_cols = list(range(1, 1 + n_eeg))
    ts_col = _timestamp_column(names, rows, ncols)
    marker_col = None
    if names:
        for j, n in enumerate(names):
            if n.lower().startswith("marker"):
                marker_col = j
                break

    if channel_names:
        ch_names = [str(c) for c in channel_names]
    elif board is not None:
        try:
            ch_names = list(board_info(board).eeg_names)
        except BoardError as err:
            raise BoardError(f"{p}: {one_line(err)}") from None
    else:
        ch_names = [f"EEG {i + 1}" for i in range(n_eeg)]
    if len(ch_names) != n_eeg:
        raise RecordingFormatError(p, f"{len(ch_names)} channel names given for its {n_eeg} EEG channels")

    limit, tail = complete_size(p)
    if tail is not None and tail.strip():
        fields = [c.strip() for c in tail.strip().split(",")]
        need = [0] + eeg_cols + [c for c in (ts_col, marker_col) if c is not None]
        if len(fields) >= ncols and all(is_number(fields[c]) for c in need):
            limit = p.stat().st_size  # a complete last line that only lacks its newline
        else:
            logger.warning("%s: dropped a partial last line (%d fields of %d; the recording was "
                           "probably cut off)", p, len(fields), ncols)

    usecols = [0] + eeg_cols + [c for c in (ts_col, marker_col) if c is not None]
    labels = {c: f"EEG column {c + 1}" for c in eeg_cols}
    table = read_numeric_columns(p, sep=",", skiprows=n_before, usecols=usecols, ncols=ncols,
                                 limit=limit, first_data_line=n_before + 1, names_for_errors=labels)
    # rows longer than the first data row: their extra fields are markers (never dropped silently)
    extra = long_rows(p, sep=",", skiprows=n_before, ncols=ncols, limit=limit)
    first_line = n_before + 1
    eeg = table[:, 1: 1 + n_eeg]
    # placeholder rows (all EEG exactly 0) at the start: v5's first row, newer GUIs' row 0
    lead = 0
    while lead < eeg.shape[0] and np.all(eeg[lead] == 0):
        lead += 1
    if lead:
        logger.info("%s: dropped %d leading row(s) whose EEG is all zeros (GUI placeholder)", p, lead)
        table = table[lead:]
        eeg = eeg[lead:]
        extra = {r - lead: f for r, f in extra.items() if r >= lead}
        first_line += lead
    n = eeg.shape[0]
    if n < 2:
        raise RecordingFormatError(p, f"is truncated: {n} sample(s), need at least 2")
    check_finite(p, eeg, ch_names, first_data_line=first_line)
    pos = {c: i for i, c in enumerate(usecols)}
    rows = np.arange(n)
    if ts_col is not None:
        keep = drop_duplicate_rows(p, table, ts_col=pos[ts_col], first_data_line=first_line)
        if not keep.all():
            table, eeg, rows = table[keep], eeg[keep], rows[keep]
    ts = table[:, pos[ts_col]] if ts_col is not None else None
    markers = table[:, pos[marker_col]] if marker_col is not None else None

    rate = _header_value(header, _RATE_RE)
    if rate is not None and float(rate) > 0:
        sfreq = float(rate)
    elif ts is not None:
        sfreq = _rate_from_timestamps(p, ts)
        logger.warning("%s: no '%%Sample Rate' line; %g Hz inferred from the timestamps", p, sfreq)
    else:
        raise RecordingFormatError(
            p, "has no '%Sample Rate' line and no timestamps to infer the sampling rate from"
        )

    meas_date = None
    if ts is not None:
        # packet arrival times: only their order is checked (time comes from the index)
        check_time_order(p, np.where(ts > 1e11, ts / 1000.0, ts), sfreq=sfreq,
                         first_data_line=first_line, line_of=lambda i: first_line + int(rows[i]))
        finite = ts[np.isfinite(ts) & (ts > 1e9)]
        if finite.size:
            meas_date = meas_date_from_unix(finite[0])

    gaps = _index_gaps(table[:, 0])
    if ts is not None and gaps:  # never more missing time than the arrival times span
        gaps = cap_gaps_to_span(gaps, np.where(ts > 1e11, ts / 1000.0, ts), sfreq, path=p)
    if gaps:
        logger.warning("%s: %d dropped packet(s) (%d samples), annotated BAD_dropout", p,
                       len(gaps), sum(g for _, g in gaps))
    annotations = dropout_annotations(gaps, sfreq)
    if markers is not None:
        annotations += marker_annotations(markers, sfreq)
    if extra:
        found = extra_field_annotations(extra, sfreq, rows=rows)
        logger.info("%s: %d row(s) longer than the first data row; their extra fields read as %d "
                    "marker(s)", p, len(extra), len(found))
        annotations += found

    data = np.ascontiguousarray(eeg.T)
    bads = railed_or_flat(data, ch_names)
    for name, why in bads.items():
        logger.info("%s: channel %s marked bad: %s", p, name, why)
    board_hdr = _header_value(header, _BOARD_RE)
    model = board_hdr.split("$")[-1] if board_hdr else "unknown"
    return build_raw(data, ch_names, ["eeg"] * n_eeg, sfreq, meas_date=meas_date,
                     annotations=annotations, bads=bads,
                     device_info={"type": "OpenBCI", "model": model},
                     reference=_gui_reference(model, n_eeg))


def _gui_reference(model: str, n_eeg: int) -> str:
    """The GUI file's reference: by its ``%Board`` line; without one (old GUI files), 4 EEG
    channels are a Ganglion and 8 or 16 a Cyton (+Daisy). The file never records SRB2 itself."""
    ref = board_reference(model)
    if ref == UNKNOWN:
        ref = GANGLION if n_eeg == 4 else SRB2
    return ref


def _rate_from_timestamps(path, ts):
    t = np.asarray(ts, dtype=np.float64)
    t = np.where(t > 1e11, t / 1000.0, t)
    est = estimate_sfreq(path, t, nominal=None, what="timestamps")
    best = min(_STANDARD_RATES, key=lambda r: abs(r - est))
    return best if abs(best - est) <= 0.02 * best else est
