"""Optional re-referencing of the EEG (``preprocessing.reference``), a pure array step.

What a recording was referenced to *as recorded* is read by the readers
(:mod:`neurofeedback.io._reference`: Muse → Fpz, OpenBCI → SRB2 by default, …). This module
changes it, when the settings ask, after the bad channels are known and before the artifacts
are looked for (:func:`neurofeedback.preprocessing.preprocess`):

- ``"as-recorded"`` (default): no change.
- ``"average"``: common average reference, the mean of the **good** channels subtracted from
  each good channel, as ``mne.set_eeg_reference(raw, "average")`` does with the bad channels in
  ``info['bads']``. Bad channels are left as recorded, as MNE leaves them (they get no values
  anyway, and a railed channel minus the reference would only look less railed).
  It needs at least :data:`MIN_AVERAGE_CHANNELS` good channels: an average of 4 Muse electrodes
  (or 8 with some lost) is dominated by each of them and approximates no neutral reference
  (Nunez & Srinivasan, *Electric Fields of the Brain*, 2006, ch. 7; the dense-array argument
  for the average reference needs whole-head coverage).
- a list of channel names, e.g. ``[TP9, TP10]``: their mean is subtracted from each good
  channel (a linked reference; for a Muse, the frontal AF7/AF8 against linked mastoids), as
  ``mne.set_eeg_reference(raw, ["TP9", "TP10"])``.

**The reference channels themselves** are no longer EEG at their sites after a linked
reference: MNE leaves TP9 = (TP9 − TP10)/2 and TP10 = −TP9 (one reference channel becomes all
zeros). Their values are kept in the array (as MNE keeps them) but they are returned as
``used_as_reference`` and :func:`~neurofeedback.preprocessing.preprocess` marks them bad with
status ``"reference"``, so no band power, ratio or asymmetry is ever reported for them as if it
were brain activity at TP9/TP10.

**When it cannot be done** the data are returned unchanged and ``info['skipped']`` says why
(also logged as a warning): fewer than 8 good channels for ``"average"``, a reference channel
that is missing or bad (railed, flat, noisy, marked in the file: its signal would be added to
every channel). A skip, not an error: a batch over a folder of mixed devices (a Muse among
Cytons) processes every file, each with the reference it could have, and the provenance of each
says which one (``reference`` in :func:`~neurofeedback.process.ProcessedRecording.summary`).
Invalid *settings* (an unknown word, an empty list) are errors at start
(:class:`~neurofeedback.errors.ConfigError`, one line).
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger("neurofeedback")

__all__ = ["AS_RECORDED", "AVERAGE", "MIN_AVERAGE_CHANNELS", "apply_reference", "describe_reference"]

AS_RECORDED = "as-recorded"
AVERAGE = "average"

#: Fewest good channels for a common average reference (a judgement, see the module notes: the
#: Cyton's 8 channels is the smallest montage where each channel weighs at most 1/8 of it).
MIN_AVERAGE_CHANNELS = 8


def describe_reference(reference) -> str:
    """A one-line text for a ``preprocessing.reference`` value (``"average"``, ``"TP9+TP10
    (linked: their mean)"``, ``"as recorded"``)."""
    if reference in (None, AS_RECORDED):
        return "as recorded"
    if reference == AVERAGE:
        return "average of the good channels"
    names = list(reference)
    if len(names) == 1:
        return names[0]
    return "+".join(names) + " (linked: their mean)"


def apply_reference(data_uv: np.ndarray, ch_names, good, reference=AS_RECORDED):
    """Re-reference EEG channels (see the module notes for the rules).

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times), µV
        The (filtered) EEG; not modified. Any unit works: the reference is subtracted in it.
    ch_names : sequence of str, length n_channels
    good : ndarray of bool, shape (n_channels,)
        Channels that are neither railed, flat, noisy nor marked bad.
    reference : "as-recorded" | "average" | sequence of str
        As validated by :class:`~neurofeedback.config.PreprocessingSettings`.

    Returns
    -------
    data_uv : ndarray, shape (n_channels, n_times)
        Re-referenced copy (good channels; bad ones unchanged) in the input's dtype (the input
        itself when nothing is applied). Computed in float64.
    info : dict
        ``setting`` (the value asked for, JSON-friendly), ``applied`` (bool), ``reference``
        (what the data are now referenced to: :func:`describe_reference`, ``None`` when not
        applied), ``reference_channels`` (names whose mean was subtracted), ``used_as_reference``
        (channels whose values are no longer EEG at their site: the named reference channels;
        none for ``"average"``), ``skipped`` (the reason when it could not be applied, else
        ``None``).

    Raises
    ------
    ValueError
        When ``good`` or ``ch_names`` do not match ``data_uv``'s channels, or ``reference`` is
        no allowed value (the settings validate it earlier).

    Notes
    -----
    Equal to ``mne.set_eeg_reference(raw, ref_channels, projection=False)`` on the same data
    with the bad channels in ``info['bads']`` (``tests/test_reference.py``, to float64
    precision).
    """
    x = np.asarray(data_uv)
    names = [str(n) for n in ch_names]
    good = np.asarray(good, bool)
    if x.ndim != 2 or len(names) != x.shape[0] or good.shape != (x.shape[0],):
        raise ValueError(f"data_uv, ch_names and good must describe the same channels, but got "
                         f"shapes {x.shape}, {len(names)} names and {good.shape} flags instead.")
    setting = reference if isinstance(reference, str) else list(reference)
    info = {"setting": setting, "applied": False, "reference": None, "reference_channels": [],
            "used_as_reference": [], "skipped": None}
    if reference == AS_RECORDED:
        return x, info
    if reference == AVERAGE:
        n_good = int(good.sum())
        if n_good < MIN_AVERAGE_CHANNELS:
            return x, _skip(info, f"average reference needs at least {MIN_AVERAGE_CHANNELS} good "
                                  f"channels, the recording has {n_good}")
        idx = np.flatnonzero(good)
        used = []
    elif isinstance(reference, str) or not len(reference):
        raise ValueError(f"Invalid value for the 'reference' parameter. Allowed values are "
                         f"'{AS_RECORDED}', '{AVERAGE}' or a list of channel names, but got "
                         f"{reference!r} instead.")
    else:
        lookup = {n.lower(): n for n in names}  # 'tp9' finds TP9 (names are unique)
        want = [lookup.get(str(r).lower(), str(r)) for r in reference]
        missing = [r for r in want if r not in names]
        if missing:
            return x, _skip(info, f"reference channel(s) {', '.join(missing)} not in the recording "
                                  f"(channels: {', '.join(names)})")
        idx = np.array([names.index(r) for r in want])
        bad = [r for r, i in zip(want, idx) if not good[i]]
        if bad:
            return x, _skip(info, f"reference channel(s) {', '.join(bad)} bad (railed, flat, noisy "
                                  "or marked in the file): it would add its own signal to every channel")
        used = want
    x64 = x.astype(np.float64, copy=False)
    ref = x64[idx].mean(axis=0)
    out = x64.copy()
    out[good] -= ref  # bad channels stay as recorded (as MNE leaves them)
    out = out.astype(x.dtype, copy=False)
    info.update(applied=True, reference=describe_reference(reference),
                reference_channels=[names[i] for i in idx], used_as_reference=list(used))
    return out, info


def _skip(info: dict, reason: str) -> dict:
    logger.warning("Reference %s not applied: %s; the data keep the reference they were recorded "
                   "with", describe_reference(info["setting"]), reason)
    info["skipped"] = reason
    return info


def reference_line(record: dict | None) -> str:
    """One line saying what the EEG is referenced to, for ``inspect`` and the session report.

    ``record`` is :attr:`neurofeedback.preprocessing.PreprocessResult.reference` (``None`` for
    outputs written before the reference was recorded: ``"not recorded"``). Examples:
    ``"Fpz (as recorded)"``, ``"TP9+TP10 (linked: their mean); recorded against Fpz; TP9, TP10
    used as the reference (no values)"``, ``"Fpz (as recorded); average of the good channels not
    applied: …"``.
    """
    if not record:
        return "not recorded"
    recorded = record.get("recorded") or "unknown"
    if record.get("applied"):
        text = f"{record.get('current')}; recorded against {recorded}"
        used = record.get("used_as_reference") or []
        if used:
            text += f"; {', '.join(used)} used as the reference (no values)"
        return text
    text = f"{recorded} (as recorded)"
    if record.get("skipped"):
        text += f"; {describe_reference(record.get('setting'))} not applied: {record['skipped']}"
    return text
