"""muselsl CSV recordings (``muselsl record``) → ``mne.io.Raw``.

Format quirks
-------------
- Comma-separated with a header: ``timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker`` (some files
  say ``Marker0``). EEG in µV around 0 (converted to volts here).
- ``timestamps`` are float seconds: Unix time in some files, the LSL clock (seconds since the
  computer booted) in others, rounded to the ms and not always monotonic. BlueMuse's Unix-epoch
  stream written through ``lsl-record.py`` gives Unix **milliseconds**: the unit (s, ms, µs) is
  inferred from the spacing against Muse's rate
  (:func:`neurofeedback.io._timing.infer_time_unit`); a spacing no unit explains is an error.
  ``meas_date`` is set only when they look like Unix time (> 1e9 s).
- Rows repeating an earlier row exactly are dropped, jumps of the clock back are bridged and
  reversed blocks refused, each with the first line named
  (:func:`~neurofeedback.io._timing.drop_duplicate_rows`,
  :func:`~neurofeedback.io._timing.check_time_order`).
- The rate is Muse's nominal 256 Hz when the timestamps agree within 2%. It is estimated from the
  slope of timestamp against sample number, not the median difference: ms-rounded stamps of a
  256 Hz stream have a median difference of 4 ms (250 Hz).
- Timestamp steps that persist (> 3 sample periods, see
  :func:`neurofeedback.io._timing.timestamp_gaps`) are annotated ``BAD_dropout``; no samples
  are inserted.
- ``Right AUX`` is the Muse's auxiliary input, normally unconnected (noise): it is kept, typed
  ``misc`` (so it never enters EEG picks, averages or the montage), after the EEG channels.
- Non-zero ``Marker*`` values become annotations ``marker/<value>``. Rows longer than the header
  (EEG-ExPy writes the stimulus marker as a seventh field on some rows of a six-column header)
  have their extra fields read as markers too: numbers as ``marker/<value>`` (0 = none), text as
  ``marker/<text>`` (:func:`neurofeedback.io._text.long_rows`).
"""

from __future__ import annotations

import logging

import numpy as np

from .._logging import use_verbose
from ..errors import RecordingFormatError
from ._markers import extra_field_annotations, marker_annotations
from ._raw import build_raw, railed_or_flat
from ._reference import MUSE
from ._text import (
    check_file,
    check_finite,
    complete_size,
    first_lines,
    is_number,
    long_rows,
    read_numeric_columns,
)
from ._timing import (
    check_time_order,
    drop_duplicate_rows,
    dropout_annotations,
    estimate_sfreq,
    infer_time_unit,
    meas_date_from_unix,
    timestamp_gaps,
)

logger = logging.getLogger("neurofeedback")

MUSE_SFREQ = 256.0
_MUSE_EEG = ("TP9", "AF7", "AF8", "TP10")


def read_muselsl_csv(path, *, verbose=None):
    """Read a muselsl EEG CSV.

    Parameters
    ----------
    path : str | Path
    verbose : bool | str | int | None
        Log level of the ``neurofeedback`` logger during the call.

    Returns
    -------
    raw : mne.io.RawArray
        Preloaded, in volts: the EEG channels (``eeg``, with 10-05 positions) then ``Right AUX``
        (``misc``); marker annotations; ``BAD_dropout`` for gaps.

    Raises
    ------
    RecordingFormatError
        No EEG columns, truncated file, NaN or non-numeric values, timestamps that never
        increase.
    """
    with use_verbose(verbose):
        return _read(path)


def _read(path):
    p = check_file(path)
    lines = first_lines(p, 1)
    cols = [c.strip() for c in lines[0].split(",")] if lines else []
    if not cols or cols[0].lower() != "timestamps":
        raise RecordingFormatError(p, "is not a muselsl CSV (no 'timestamps' header)")
    ncols = len(cols)
    eeg_cols = [j for j, c in enumerate(cols) if c in _MUSE_EEG]
    aux_cols = [j for j, c in enumerate(cols)
                if c.lower().replace("_", " ").startswith(("right aux", "left aux", "aux"))]
    marker_cols = [j for j, c in enumerate(cols) if c.lower().startswith("marker")]
    if not eeg_cols:
        raise RecordingFormatError(
            p, f"has no Muse EEG columns (TP9, AF7, AF8, TP10); found {', '.join(cols[1:6])}"
        )
    limit, tail = complete_size(p)
    if tail is not None and tail.strip():
        fields = tail.strip().split(",")
        if len(fields) >= ncols and all(is_number(f) for f in fields[:ncols]):
            limit = p.stat().st_size
        else:
            logger.warning("%s: dropped a partial last line (the recording was probably cut off)", p)
    usecols = [0] + eeg_cols + aux_cols + marker_cols
    labels = {j: f"column {cols[j]!r}" for j in usecols}
    table = read_numeric_columns(p, sep=",", skiprows=1, usecols=usecols, ncols=ncols, limit=limit,
                                 first_data_line=2, names_for_errors=labels)
    extra = long_rows(p, sep=",", skiprows=1, ncols=ncols, limit=limit)
    n = table.shape[0]
    if n < 2:
        raise RecordingFormatError(p, f"is truncated: {n} sample(s), need at least 2")
    keep = drop_duplicate_rows(p, table, ts_col=0, first_data_line=2)
    rows = np.flatnonzero(keep)
    table = table[keep]
    ts, _unit = infer_time_unit(p, table[:, 0], nominal=MUSE_SFREQ, device="a Muse")
    ts = check_time_order(p, ts, sfreq=MUSE_SFREQ, first_data_line=2,
                          line_of=lambda i: 2 + int(rows[i]))
    n_eeg, n_aux = len(eeg_cols), len(aux_cols)
    names = [cols[j] for j in eeg_cols + aux_cols]
    sig = table[:, 1: 1 + n_eeg + n_aux]
    check_finite(p, sig, names, first_data_line=2, what="signal")
    sfreq = estimate_sfreq(p, ts, nominal=MUSE_SFREQ, what="timestamps")

    meas_date = None
    finite = ts[np.isfinite(ts)]
    if finite.size and finite[0] > 1e9:
        meas_date = meas_date_from_unix(finite[0])

    annotations = []
    for k in range(len(marker_cols)):
        annotations += marker_annotations(table[:, 1 + n_eeg + n_aux + k], sfreq)
    if extra:
        found = extra_field_annotations(extra, sfreq, rows=rows)
        logger.info("%s: %d row(s) longer than the header; their extra fields read as %d marker(s)",
                    p, len(extra), len(found))
        annotations += found
    gaps = timestamp_gaps(ts, sfreq, path=p)
    if gaps:
        logger.warning("%s: %d gap(s) in the timestamps (%d samples missing), annotated BAD_dropout",
                       p, len(gaps), sum(g for _, g in gaps))
    annotations += dropout_annotations(gaps, sfreq)

    data = np.ascontiguousarray(sig.T)
    bads = railed_or_flat(data[:n_eeg], names[:n_eeg])
    for name, why in bads.items():
        logger.info("%s: channel %s marked bad: %s", p, name, why)
    return build_raw(data, names, ["eeg"] * n_eeg + ["misc"] * n_aux, sfreq,
                     meas_date=meas_date, annotations=annotations, bads=bads,
                     device_info={"type": "Muse", "model": "muselsl"}, reference=MUSE)
