"""EDF/EDF+, BDF, FIF and BrainVision through MNE's own readers.

Format quirks
-------------
- MNE returns volts for all four; nothing is rescaled here.
- PhysioNet EDF files (e.g. EEG Motor Movement/Imagery) pad channel names with dots to four
  characters (``Fc5.``, ``O1..``): names are cleaned (dots stripped) and spelled as in the
  10-05 system (``Fc5`` → ``FC5``, ``Fp1`` stays) so the colin27 montage applies. A name is
  changed only if the result is unique.
- EEG channels are moved first (other types keep their order after them).
- When the file carries no electrode positions, EEG channels with standard names get the
  colin27 10-05 positions; positions stored in the file (FIF, BrainVision) are kept.
- Any error of the underlying reader becomes a one-line
  :class:`~neurofeedback.errors.RecordingFormatError` naming the file.
- The reference: what the file states (EDF/BDF labels or header fields, the BrainVision header
  or its BIDS ``_eeg.json``, FIF's ``custom_ref_applied`` or our own line), else ``unknown``
  (:mod:`neurofeedback.io._reference`).
- A recording inside a BIDS dataset (``…_eeg.vhdr`` with ``…_events.tsv`` beside it, as the
  store's copy written by mne-bids) takes its annotations from the events file: mne-bids writes
  the BrainVision markers as numbered stimuli one sample long (``Stimulus/S  1``), and only the
  events file keeps their labels (``trial_type``) and durations, so blocks survive the copy.
"""

from __future__ import annotations

import csv
import logging
import warnings
from pathlib import Path

import numpy as np

from .._logging import use_verbose
from ..errors import RecordingFormatError
from ._raw import apply_montage, montage_names, standard_name
from ._reference import edf_reference, recording_reference, set_reference, vhdr_reference
from ._text import check_file, one_line

logger = logging.getLogger("neurofeedback")


def _reader(fmt):
    import mne

    # only the reader asked for: MNE loads each reader module on first access (EDF's costs
    # ~0.2 s of imports that a FIF file does not need)
    return getattr(mne.io, {"edf": "read_raw_edf", "bdf": "read_raw_bdf", "fif": "read_raw_fif",
                            "brainvision": "read_raw_brainvision"}[fmt])


def _clean_names(raw) -> None:
    lookup = {n.lower(): n for n in montage_names()}
    old = list(raw.ch_names)
    new = [standard_name(n, lookup) for n in old]
    if len(set(new)) != len(new):
        # keep the original of any name that would collide
        counts = {n: new.count(n) for n in new}
        new = [nn if counts[nn] == 1 else o for o, nn in zip(old, new)]
    mapping = {o: nn for o, nn in zip(old, new) if o != nn and nn not in set(old) - {o}}
    if mapping:
        raw.rename_channels(mapping, verbose=False)


def _has_positions(raw) -> bool:
    for ch in raw.info["chs"]:
        loc = ch["loc"][:3]
        if np.all(np.isfinite(loc)) and np.any(loc != 0):
            return True
    return False


def read_mne_format(path, fmt: str, *, verbose=None):
    """Read an EDF, BDF, FIF or BrainVision recording with MNE and tidy it.

    Parameters
    ----------
    path : str | Path
        The file (for BrainVision, the ``.vhdr`` header).
    fmt : {"edf", "bdf", "fif", "brainvision"}
    verbose : bool | str | int | None
        Log level of the ``neurofeedback`` logger during the call.

    Returns
    -------
    raw : mne.io.Raw
        Preloaded, volts, EEG first, standard channel names and positions where known.

    Raises
    ------
    RecordingFormatError
        When MNE cannot read the file (message names the file and MNE's reason, one line).
    """
    with use_verbose(verbose):
        p = check_file(path)
        reader = _reader(fmt)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                raw = reader(p, preload=True, verbose="error")
        except Exception as err:  # noqa: BLE001
            # MNE and its helpers raise many types (ValueError, RuntimeError, OSError, KeyError,
            # IndexError, struct.error...) for damaged files; all mean "cannot be read".
            msg = one_line(err) or type(err).__name__
            raise RecordingFormatError(
                p, f"cannot be read as {fmt.upper()} by MNE ({type(err).__name__}: {msg[:160]})"
            ) from None
        for w in caught:
            logger.warning("%s: %s", p, one_line(w.message))
        _clean_names(raw)
        types = raw.get_channel_types()
        eeg = [n for n, t in zip(raw.ch_names, types) if t == "eeg"]
        if not eeg:
            raise RecordingFormatError(p, f"has no EEG channels (types found: {sorted(set(types))})")
        order = eeg + [n for n, t in zip(raw.ch_names, types) if t != "eeg"]
        if order != raw.ch_names:
            raw.reorder_channels(order)
        if raw.n_times < 2:
            raise RecordingFormatError(p, f"is truncated: {raw.n_times} sample(s), need at least 2")
        if not _has_positions(raw):
            apply_montage(raw)
        _bids_events(raw, p)
        _record_reference(raw, p, fmt)
        return raw


def _record_reference(raw, path: Path, fmt: str) -> None:
    """Record the reference the file states (see :mod:`neurofeedback.io._reference`)."""
    if fmt in ("edf", "bdf"):
        set_reference(raw, edf_reference(path))
    elif fmt == "brainvision":
        set_reference(raw, vhdr_reference(path))
    else:  # FIF: our own line if written by us, else custom_ref_applied or the device
        set_reference(raw, recording_reference(raw))


def _bids_events_path(path: Path) -> Path | None:
    stem = path.stem
    for suffix in ("_eeg", "_ieeg", "_meg"):
        if stem.endswith(suffix):
            cand = path.with_name(stem[: -len(suffix)] + "_events.tsv")
            return cand if cand.is_file() else None
    return None


def _bids_events(raw, path: Path) -> None:
    """Replace the annotations by those of the BIDS ``_events.tsv`` beside ``path``, if any."""
    import mne

    events = _bids_events_path(path)
    if events is None:
        return

    def seconds(text):
        return 0.0 if text in (None, "", "n/a") else float(text)

    try:
        with open(events, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        onset = [float(r["onset"]) for r in rows]
        duration = [seconds(r.get("duration")) for r in rows]
        label = [r.get("trial_type") if r.get("trial_type") not in (None, "", "n/a")
                 else str(r.get("value", "n/a")) for r in rows]
    except (OSError, KeyError, ValueError, TypeError, csv.Error) as err:
        logger.warning("%s: not used, the recording's own markers are kept (%s)", events,
                       one_line(err))
        return
    # BIDS onsets count from the first sample; annotations tied to meas_date count from it
    meas = raw.info["meas_date"]
    shift = raw.first_time if meas is not None else 0.0
    raw.set_annotations(mne.Annotations(np.asarray(onset, float) + shift, duration, label,
                                        orig_time=meas))
