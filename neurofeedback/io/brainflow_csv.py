"""BrainFlow CSV (``DataFilter.write_file``) → ``mne.io.Raw``.

Format quirks
-------------
- Tab-separated text, no header, one line per sample, one column per row of the board's data
  array, six decimals. The OpenBCI GUI's ``BrainFlow-RAW_*.csv`` files are the same layout.
- Which column is what depends on the board (``BoardShim.get_board_descr``): e.g. Muse 2 has 8
  columns (EEG 1–4, timestamp 6, marker 7), Cyton 24 (EEG 1–8, timestamp 22, marker 23). The
  board comes from the JSON sidecar our recorder writes beside the file
  (:mod:`neurofeedback.io.sidecar`; its ``board_descr`` is used as recorded) or from ``board=``.
- EEG is in µV; it is converted to volts here.
- Timestamps are Unix seconds of *arrival*; sample times come from the nominal rate (sidecar
  ``sfreq``, else the board's). Rows repeating an earlier row exactly are dropped; a jump of
  the clock back is bridged, a reversed block refused (first line named; see
  :func:`neurofeedback.io._timing.check_time_order`). Where the board's package-number column
  holds a per-sample counter (the synthetic board, Cyton, our playback files), dropped samples
  come from the counter, never from arrival jitter. Otherwise, a rise of the timestamps' lower
  envelope by more than 2 sample periods (see
  :func:`neurofeedback.io._timing.timestamp_gaps`) is dropped samples: they are annotated
  ``BAD_dropout`` (onset at the first sample after the gap, duration = the missing time). No
  samples are inserted for these short gaps. Gaps of at least ``DISCONNECT_MIN_S`` (a headset
  that disconnected and came back; the recorder's reconnects) are filled with a straight line
  and annotated ``BAD_disconnect`` over exactly the missing time, so the time axis stays the
  wall clock and block markers after a disconnect keep their real times. A sidecar
  ``time_scale`` (recordings of a sped-up playback) converts timestamp seconds to recording
  seconds first.
- Markers (non-zero values of the marker column) become annotations, labelled via the sidecar's
  ``markers`` map (``{"1": "eyes-open"}``); a label (or marker value) that names one of the
  sidecar's ``blocks`` gives the annotation that block's ``duration_s``, clipped to the end of
  the recording. Unlabelled markers are described ``marker/<value>``.
- A crash while appending leaves a partial last line without a newline: it is dropped with a
  warning (``write_file`` ends every complete line with one).
"""

from __future__ import annotations

import logging

import numpy as np

from .._logging import use_verbose
from ..boards import board_info
from ..errors import BoardError, RecordingFormatError
from ._markers import marker_annotations
from ._raw import build_raw, railed_or_flat
from ._reference import board_reference
from ._text import (
    check_file,
    check_finite,
    complete_size,
    first_lines,
    one_line,
    read_numeric_columns,
)
from ._timing import (
    cap_gaps_to_span,
    check_time_order,
    counter_gaps,
    drop_duplicate_rows,
    fill_disconnects,
    meas_date_from_unix,
    parse_iso_utc,
    timestamp_gaps,
)
from .sidecar import find_sidecar, read_sidecar

logger = logging.getLogger("neurofeedback")

#: Gaps in the timestamps at least this long (s) are disconnects: filled and ``BAD_disconnect``.
DISCONNECT_MIN_S = 1.0

# Boards people record with, checked (in this order) to suggest --board from a column count.
_HINT_BOARDS = ("muse_2", "muse_s", "muse_s_athena", "muse_2016", "cyton", "cyton_daisy", "ganglion", "crown",
                "unicorn", "brainbit", "synthetic")


def _boards_with_columns(n: int) -> list[str]:
    out = []
    for name in _HINT_BOARDS:
        try:
            if board_info(name).num_rows == n:
                out.append(name)
        except BoardError:
            continue
    return out


def _board_for(path, board):
    try:
        return board_info(board)
    except BoardError as err:
        raise BoardError(f"{path}: {one_line(err)}") from None


def _first_line_fields(path) -> int:
    lines = first_lines(path, 1)
    return len(lines[0].split("\t")) if lines else 0


def read_brainflow_csv(path, *, board=None, channel_names=None, verbose=None):
    """Read a BrainFlow CSV recording (``DataFilter.write_file`` layout).

    Parameters
    ----------
    path : str | Path
        The ``.csv`` file. Its sidecar (``<stem>.json``) is read when present.
    board : str | int | None
        BrainFlow board name or id (``"muse_2"``, ``"cyton"``, ``38``). Needed when there is no
        sidecar; when both are given they must agree.
    channel_names : list of str | None
        EEG channel names, overriding the sidecar's ``channel_names`` and the board's defaults.
    verbose : bool | str | int | None
        Log level of the ``neurofeedback`` logger during the call.

    Returns
    -------
    raw : mne.io.RawArray
        Preloaded, EEG channels only, in volts; annotations from markers and ``BAD_dropout``
        for gaps; ``info['device_info']['model']`` is the BrainFlow board name.

    Raises
    ------
    RecordingFormatError
        Missing/empty/truncated file, no board, wrong column count, NaN or non-numeric EEG.
    BoardError
        When ``board`` names no BrainFlow board (the message names the file).
    """
    with use_verbose(verbose):
        return _read(path, board=board, channel_names=channel_names)


def _time_scale(doc) -> float:
    try:
        scale = float((doc or {}).get("time_scale") or 1.0)
    except (TypeError, ValueError):
        return 1.0
    return scale if np.isfinite(scale) and scale > 0 else 1.0


def _read(path, *, board, channel_names):
    p = check_file(path)
    sc_path = find_sidecar(p)
    doc = read_sidecar(sc_path) if sc_path is not None else None
    ncols = _first_line_fields(p)
    info = _resolve_board(p, board, doc, sc_path, ncols)
    descr, eeg_rows, ts_row, marker_row = _layout(p, info, doc, ncols)
    sfreq = _sampling_rate(p, info, descr, doc)

    limit, tail = complete_size(p)
    if tail is not None and tail.strip():
        logger.warning("%s: dropped a partial last line (%d bytes without a newline; the recording "
                       "was probably cut off)", p, len(tail))
    names = _channel_names(p, info, descr, doc, eeg_rows, channel_names)
    pkg_row = descr.get("package_num_channel")
    eeg, ts, markers, counter, lines = _read_columns(p, eeg_rows, ts_row, marker_row, names,
                                                     ncols=ncols, limit=limit, pkg_row=pkg_row)
    n = eeg.shape[0]
    meas_date = _meas_date(ts, doc)
    data, index, annotations = _time_axis(p, np.ascontiguousarray(eeg.T), ts, sfreq, doc,
                                          counter=counter, lines=lines)
    if markers is not None:
        annotations += marker_annotations(markers, sfreq, labels=(doc or {}).get("markers"),
                                          blocks=(doc or {}).get("blocks"), index=index,
                                          n_times=data.shape[1])

    bads = railed_or_flat(data, names)
    for name, why in bads.items():
        logger.info("%s: channel %s marked bad: %s", p, name, why)
    if doc is not None and isinstance(doc.get("n_samples"), int) and doc["n_samples"] != n:
        logger.warning("%s: sidecar says %d samples, the file holds %d", p, doc["n_samples"], n)
    return build_raw(data, names, ["eeg"] * len(names), sfreq, meas_date=meas_date,
                     annotations=annotations, bads=bads,
                     device_info=_device_info(info, doc),
                     reference=board_reference(info.name, (doc or {}).get("master_board_name")
                                               or _master_name((doc or {}).get("master_board"))))


def _device_info(info, doc) -> dict:
    """``{"type": "BrainFlow", "model": board name}``; an LSL recording (sidecar ``source.kind``
    ``"lsl"``, see :mod:`neurofeedback.acquisition.lsl`) says ``LSL`` and its stream's name."""
    src = (doc or {}).get("source")
    if isinstance(src, dict) and src.get("kind") == "lsl":
        return {"type": "LSL", "model": str(src.get("name") or "LSL stream")}
    return {"type": "BrainFlow", "model": info.name}


def _master_name(master) -> str | None:
    """The BrainFlow name of a sidecar's ``master_board`` (id or name), if it has one."""
    if master in (None, ""):
        return None
    try:
        return board_info(master).name
    except BoardError:
        return None


def _resolve_board(p, board, doc, sc_path, ncols):
    """The board that recorded the file: ``board=`` (checked against the sidecar), else the
    sidecar's; without either, an error suggesting boards with this many columns."""
    if board is not None:
        info = _board_for(p, board)
        if doc is not None and doc["board_id"] != info.board_id:
            raise RecordingFormatError(
                p, f"board={board!r} ({info.name}) disagrees with its sidecar {sc_path.name}, which "
                f"says board_id {doc['board_id']} ({doc.get('board_name', '?')}); move the sidecar "
                "away to override it"
            )
        return info
    if doc is not None:
        return _board_for(p, doc["board_id"])
    match = _boards_with_columns(ncols)
    hint = f" ({ncols} columns matches: {', '.join(match)})" if match else ""
    raise RecordingFormatError(
        p, f"is a BrainFlow CSV without a sidecar saying which board recorded it; pass --board "
        f"NAME or keep the .json sidecar beside it{hint}"
    )


def _layout(p, info, doc, ncols):
    """The board's rows as written (the sidecar's description wins): ``(descr, eeg_rows,
    timestamp_row, marker_row)``; the file must have the board's number of columns."""
    descr = info.descr
    if doc is not None and isinstance(doc.get("board_descr"), dict) and doc["board_descr"].get("eeg_channels"):
        descr = doc["board_descr"]
    eeg_rows = [int(r) for r in descr.get("eeg_channels", ())]
    num_rows = descr.get("num_rows") or info.num_rows
    if not eeg_rows or not num_rows:
        raise RecordingFormatError(p, f"board {info.name} has no EEG channels in BrainFlow's description")
    if ncols != num_rows:
        match = [m for m in _boards_with_columns(ncols) if board_info(m).board_id != info.board_id]
        hint = f"; {ncols} columns matches: {', '.join(match)}" if match else ""
        raise RecordingFormatError(
            p, f"has {ncols} columns but board {info.name} writes {num_rows}{hint}"
        )
    return descr, eeg_rows, descr.get("timestamp_channel"), descr.get("marker_channel")


def _sampling_rate(p, info, descr, doc) -> float:
    """The nominal rate in Hz: the sidecar's ``sfreq`` when valid, else the board's."""
    sfreq = None
    if doc is not None and doc.get("sfreq"):
        try:
            sfreq = float(doc["sfreq"])
        except (TypeError, ValueError):
            sfreq = None
    if not sfreq or not np.isfinite(sfreq) or sfreq <= 0:
        sfreq = descr.get("sampling_rate") or info.sfreq
    if not sfreq:
        raise RecordingFormatError(p, f"no sampling rate: neither the sidecar nor board {info.name} gives one")
    return float(sfreq)


def _channel_names(p, info, descr, doc, eeg_rows, channel_names) -> list[str]:
    """EEG names: given, else the sidecar's, else the board's, else ``EEG 1``, ``EEG 2``, …"""
    names = [str(n) for n in (channel_names or ())]
    if not names:
        sc_names = (doc or {}).get("channel_names") or []
        board_names = [n for n in str(descr.get("eeg_names", "")).split(",") if n]
        if len(sc_names) == len(eeg_rows):
            names = [str(n) for n in sc_names]
        elif len(board_names) == len(eeg_rows):
            names = board_names
        else:
            names = [f"EEG {i + 1}" for i in range(len(eeg_rows))]
    if len(names) != len(eeg_rows):
        raise RecordingFormatError(
            p, f"{len(names)} channel names given for the {len(eeg_rows)} EEG channels of {info.name}"
        )
    return names


def _read_columns(p, eeg_rows, ts_row, marker_row, names, *, ncols, limit, pkg_row=None):
    """EEG (n_samples, n_channels), µV, finite; timestamps, markers and the package counter
    (None without a row); the 1-based line number of each row kept.

    Rows repeating an earlier row exactly are dropped (:func:`~._timing.drop_duplicate_rows`).
    """
    usecols = eeg_rows + [r for r in (ts_row, marker_row, pkg_row) if r is not None]
    # read each needed column once
    uniq = list(dict.fromkeys(usecols))
    col_names = {r: f"EEG channel {n!r} (column {r + 1})" for r, n in zip(eeg_rows, names)}
    table = read_numeric_columns(p, sep="\t", skiprows=0, usecols=uniq, ncols=ncols, limit=limit,
                                 first_data_line=1, names_for_errors=col_names, strict=True)
    n = table.shape[0]
    if n < 2:
        raise RecordingFormatError(p, f"is truncated: {n} complete sample(s), need at least 2")
    pos = {c: i for i, c in enumerate(uniq)}
    eeg = table[:, [pos[r] for r in eeg_rows]]
    check_finite(p, eeg, names, first_data_line=1)
    lines = np.arange(1, n + 1)
    if ts_row is not None:
        keep = drop_duplicate_rows(p, table, ts_col=pos[ts_row], first_data_line=1)
        if not keep.all():
            table, eeg, lines = table[keep], eeg[keep], lines[keep]
    ts = table[:, pos[ts_row]] if ts_row is not None else None
    markers = table[:, pos[marker_row]] if marker_row is not None else None
    counter = table[:, pos[pkg_row]] if pkg_row is not None else None
    return eeg, ts, markers, counter, lines


def _meas_date(ts, doc):
    """The first finite timestamp as a UTC date, else the sidecar's ``start_time``, else None."""
    meas_date = None
    if ts is not None:
        finite = ts[np.isfinite(ts)]
        if finite.size:
            meas_date = meas_date_from_unix(finite[0])
    if meas_date is None and doc is not None:
        meas_date = parse_iso_utc(doc.get("start_time"))
    return meas_date


def _time_axis(p, data, ts, sfreq, doc, *, counter=None, lines=None):
    """Find the dropped samples, fill the disconnects: ``(data, new index of each sample,
    annotations)``.

    Timestamps are scaled by the sidecar's ``time_scale`` and checked for order
    (:func:`~._timing.check_time_order`). When the board's package-number column is a
    per-sample counter (:func:`~._timing.counter_gaps`), short dropouts come from the counter
    alone (timestamp steps are arrival jitter there); gaps of at least one counter cycle, which
    a counter cannot see, come from the timestamps. Without a counter, from the timestamps
    (:func:`~._timing.timestamp_gaps`).
    """
    gaps = []
    if ts is not None:
        scale = _time_scale(doc)
        if scale != 1.0 and np.isfinite(ts[0]):
            ts = ts[0] + (ts - ts[0]) * scale
        lines = np.arange(1, ts.size + 1) if lines is None else lines
        ts = check_time_order(p, ts, sfreq=sfreq, first_data_line=1,
                              line_of=lambda i: int(lines[i]))
        gaps = timestamp_gaps(ts, sfreq, path=p)
        from_counter = counter_gaps(counter) if counter is not None else None
        if from_counter is not None:
            step = max(1, _counter_step(counter))
            cycle = (int(np.nanmax(counter)) + step) / step
            merged = dict(from_counter)
            for i, missing in gaps:
                if missing >= cycle:  # a whole cycle or more: only the clock can tell
                    merged[i] = missing
            gaps = cap_gaps_to_span(sorted(merged.items()), ts, sfreq, path=p)
        if gaps:
            logger.warning("%s: %d gap(s) in the timestamps (%.3f s missing), annotated "
                           "BAD_dropout / BAD_disconnect", p, len(gaps),
                           sum(g for _, g in gaps) / sfreq)
    return fill_disconnects(data, gaps, sfreq, min_s=DISCONNECT_MIN_S)


def _counter_step(counter) -> int:
    d = np.diff(np.rint(np.asarray(counter)).astype(np.int64))
    d = d[d > 0]
    return int(np.bincount(d).argmax()) if d.size else 1
