"""Blocks of a session (eyes-open, eyes-closed, meditation, …) and the epochs that lie in them.

Every reader ends in MNE annotations, so blocks are found in the annotations of the recording,
whatever its format:

- **The recorder** (live boards and ``--board playback``) puts a marker on the first sample of
  each timed block; the BrainFlow CSV reader gives it the label and ``duration_s`` of the
  sidecar's ``blocks`` (:func:`neurofeedback.io._markers.marker_annotations`). The recorder's
  ``…_raw.fif`` keeps those annotations, durations included.
- **FIF, EDF+, BrainVision** files carry annotations with durations (the simulator's writers
  store blocks that way). MNE prefixes BrainVision descriptions with the marker type
  (``Comment/eyes-open``); the prefix is not part of the label.
- **The store's BIDS copy** (BrainVision written by mne-bids) keeps the annotations in its
  ``_events.tsv``, which the reader uses (:mod:`neurofeedback.io.mne_formats`).
- **muselsl CSV and OpenBCI GUI text** files have only a marker column: each non-zero value is a
  point annotation ``marker/<value>`` with no duration. When a recording has no annotation with
  a duration, these markers are taken as block starts: each block runs from its marker to the
  next ``marker/…`` annotation, or to the end of the recording. Its label is the marker's
  (``marker/1``): these formats do not say what the value means.

The rules (:func:`block_spans`):

1. A block annotation has a duration longer than one sample and a description that starts with
   neither ``BAD`` nor ``EDGE`` (artifacts and MNE's boundaries). Shorter ones (keyboard
   markers, BrainVision stimulus markers one sample long) are point markers.
2. Without any block annotation, ``marker/<value>`` point markers start blocks (above).
3. Blocks are clipped to the recording. The label ``"session"`` is reserved for the whole
   session (:data:`SESSION`) and an empty label means no block (:data:`NO_BLOCK`): annotations
   with either description are ignored, with a warning.
4. A block label may occur several times (``eyes-open``, ``eyes-closed``, ``eyes-open``, …); the
   per-block values pool every stretch with that label.

**Which epochs belong to a block** (:func:`epoch_blocks`): an epoch belongs to a block when its
**whole span** lies inside one of the block's stretches (to half a sample). An epoch that
straddles a boundary belongs to no block: its spectrum would mix two states (eyes open and
closed), and the seconds after a change of instruction are a transition anyway. With 4-s epochs
stepped by 2 s, a 60-s block holds 29 epochs. Where stretches overlap, the one that starts later
wins (a block nested in another claims its epochs). Epochs in no block have the label
:data:`NO_BLOCK`, the empty string (a string, so the column has one type and ``groupby`` keeps
them; note that CSV readers turn an empty field into NaN unless told otherwise, e.g.
``pandas.read_csv(..., keep_default_na=False)``).
"""

from __future__ import annotations

import logging
import re

import numpy as np

logger = logging.getLogger("neurofeedback")

__all__ = ["EYES_CLOSED", "NO_BLOCK", "SESSION", "block_label", "block_spans", "epoch_blocks"]

#: The ``block`` of epochs that lie in no block.
NO_BLOCK = ""
#: The ``block`` of the whole-session values (metrics and catalog rows); reserved.
SESSION = "session"
#: The block the ``alpha_vs_eyes_closed`` metric compares with.
EYES_CLOSED = "eyes-closed"

_POINT_MARKER = re.compile(r"^marker/", re.IGNORECASE)
# MNE's BrainVision reader prefixes the marker type: "Comment/eyes-open"
_BRAINVISION_TYPE = re.compile(r"^Comment/", re.IGNORECASE)


def block_label(description) -> str:
    """The block label of an annotation description (a BrainVision ``Comment/`` prefix dropped)."""
    return _BRAINVISION_TYPE.sub("", str(description).strip(), count=1)


def _is_artifact(description: str) -> bool:
    return str(description).upper().startswith(("BAD", "EDGE"))


def block_spans(annotations, sfreq: float, n_times: int, *, first_time: float = 0.0):
    """The blocks of a recording, from its annotations.

    Parameters
    ----------
    annotations : mne.Annotations
    sfreq : float
        Sampling rate in Hz.
    n_times : int
        Samples in the recording (blocks are clipped to its end).
    first_time : float
        ``raw.first_time`` in seconds, when the annotations are tied to ``meas_date``.

    Returns
    -------
    spans : list of (float, float, str)
        ``(onset_s, duration_s, label)`` per stretch, onset in seconds from the first sample,
        by onset; empty when the recording has no blocks.
    """
    end = n_times / float(sfreq)
    shift = first_time if getattr(annotations, "orig_time", None) is not None else 0.0
    rows = [(float(o) - shift, float(d), str(desc)) for o, d, desc in
            zip(annotations.onset, annotations.duration, annotations.description)]
    rows = [r for r in rows if not _is_artifact(r[2])]
    spans = [(o, d, block_label(desc)) for o, d, desc in rows if d > 1.0 / sfreq]
    if not spans:  # marker columns only: each marker starts a block that ends at the next one
        starts = sorted((o, block_label(desc)) for o, d, desc in rows
                        if _POINT_MARKER.match(desc))
        bounds = [o for o, _ in starts[1:]] + [end]
        spans = [(o, b - o, label) for (o, label), b in zip(starts, bounds)]
    out = []
    for onset, dur, label in spans:
        if label in (SESSION, NO_BLOCK):
            logger.warning("an annotation labelled %r (%.1f s at %.1f s) is not used as a block: "
                           "that label is reserved", label, dur, onset)
            continue
        a, b = max(onset, 0.0), min(onset + dur, end)
        if b > a:
            out.append((a, b - a, label))
    return sorted(out, key=lambda s: s[0])


def epoch_blocks(spans, starts, n_len: int, sfreq: float) -> np.ndarray:
    """The block each epoch lies in (whole span inside a stretch), else :data:`NO_BLOCK`.

    Parameters
    ----------
    spans : list of (float, float, str)
        :func:`block_spans` output (onsets in seconds from the first sample).
    starts : ndarray of int, shape (n_epochs,)
        First sample of each epoch.
    n_len : int
        Epoch length in samples.
    sfreq : float

    Returns
    -------
    labels : ndarray of str (object), shape (n_epochs,)
    """
    starts = np.asarray(starts)
    labels = np.full(starts.size, NO_BLOCK, dtype=object)
    if starts.size == 0:
        return labels
    tol = 0.5 / sfreq
    e0 = starts / sfreq
    e1 = (starts + n_len) / sfreq
    for onset, dur, label in sorted(spans, key=lambda s: s[0]):  # later starts win
        inside = (e0 >= onset - tol) & (e1 <= onset + dur + tol)
        labels[inside] = label
    return labels
