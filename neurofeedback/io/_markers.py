"""Markers: the non-zero values of a marker channel as annotations, with their labels and blocks."""

from __future__ import annotations

import numpy as np


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


def extra_field_annotations(extra: dict, sfreq: float, *, rows=None):
    """Marker annotations from fields beyond the header (see :func:`._text.long_rows`).

    Parameters
    ----------
    extra : dict
        ``{row: [field, ...]}``, ``row`` in the file's data rows (0-based).
    sfreq : float
        Sampling rate, Hz.
    rows : ndarray of int | None
        The file rows kept in the output, in order (after dropped duplicates); default all.

    Returns
    -------
    annotations : list of (onset_s, 0.0, description)
        One per non-empty field that is not a number equal to 0: numbers as ``marker/<value>``
        (as a ``Marker`` column), text as ``marker/<text>``.
    """
    out = []
    for row, fields in sorted(extra.items()):
        pos = row if rows is None else int(np.searchsorted(rows, row))
        for f in fields:
            if not f:
                continue
            try:
                v = float(f)
            except ValueError:
                out.append((pos / sfreq, 0.0, f"marker/{f}"))
                continue
            if np.isfinite(v) and v != 0:
                out.append((pos / sfreq, 0.0, marker_label(v)))
    return out
