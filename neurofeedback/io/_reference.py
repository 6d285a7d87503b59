"""What a recording was referenced to, as the file or the device says it (private).

Every reader records the reference in the ``Raw`` it returns with :func:`set_reference`, as one
line ``EEG reference: <text>`` of ``info['description']`` (other lines of the description are
kept). The description is the one free-text field MNE writes to FIF and reads back, so the
reference survives the recorder's ``_raw.fif`` and any FIF derivative; the BIDS copy carries it
as ``EEGReference`` in its ``_eeg.json`` (see :mod:`neurofeedback.store.bids`), which the
BrainVision reader reads back. :func:`recording_reference` returns it for any ``Raw``.

Where the reference comes from (the text says which, so a reader of a report can tell a fact of
the file from a device default):

- Muse (muselsl, Mind Monitor, BrainFlow Muse boards incl. the Muse S Athena): ``Fpz`` (the Muse's reference electrode,
  fixed in hardware; Muse 2 / Muse S technical specifications, and BrainFlow's docs).
- OpenBCI Cyton / Cyton+Daisy (GUI files, BrainFlow CSV): ``SRB2 (default; the file does not
  say)``: the GUI and BrainFlow start every channel in common-reference mode (SRB2 on, the
  ``x...`` channel settings default), but neither the GUI's ``%``-header nor BrainFlow's CSV
  record the channel settings, and a user can switch a channel to bipolar.
- Ganglion: ``REF pin (Ganglion; the file does not say)``: its inputs are differential against
  the REF pin in the default (jumpered) configuration.
- BrainFlow synthetic board: ``none (BrainFlow synthetic board: generated signals)``;
  playback: the master board's.
- EDF/BDF: no standard field (EDF+ has none). A common ``-X`` suffix of all EEG labels
  (``EEG Fp1-REF``, ``Fp1-A1``) gives ``X (from the channel labels)``; a ``ref``/``reference``
  word in the transducer or prefiltering fields is quoted. Else ``unknown``.
- BrainVision: a ``Reference Channel Name`` (or ``Reference channel``) line of the ``.vhdr``,
  or a reference name shared by all EEG entries of ``[Channel Infos]`` (``Ch1=Fp1,FCz,0.1,µV``);
  in a BIDS dataset, the ``EEGReference`` of the ``_eeg.json`` beside it. Else ``unknown``.
- FIF: our own description line; else ``custom_ref_applied`` (a reference applied in MNE);
  else the device in ``info['device_info']`` by the rules above; else ``unknown``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

TAG = "EEG reference: "
UNKNOWN = "unknown"
MUSE = "Fpz"
SRB2 = "SRB2 (default; the file does not say)"
GANGLION = "REF pin (Ganglion; the file does not say)"
SYNTHETIC = "none (BrainFlow synthetic board: generated signals)"


def board_reference(model: str | None, master: str | None = None) -> str:
    """The reference of a device from its name (a BrainFlow ``BoardIds`` name, an OpenBCI GUI
    ``%Board`` value such as ``BoardCytonSerial``, ``muselsl`` or ``Mind Monitor``)."""
    up = str(model or "").upper().replace(" ", "")
    if "PLAYBACK" in up or "STREAMING" in up:
        return board_reference(master) if master else UNKNOWN
    if "MUSE" in up or "MINDMONITOR" in up:
        return MUSE
    if "GANGLION" in up:
        return GANGLION
    if "CYTON" in up or "DAISY" in up:
        return SRB2
    if "SYNTHETIC" in up:
        return SYNTHETIC
    return UNKNOWN


def set_reference(raw, text: str) -> None:
    """Record ``text`` as the reference of ``raw`` (one tagged line of ``info['description']``)."""
    old = raw.info.get("description") or ""
    lines = [ln for ln in old.splitlines() if not ln.startswith(TAG)]
    lines.append(TAG + str(text))
    with raw.info._unlock():
        raw.info["description"] = "\n".join(lines)


def recording_reference(raw) -> str:
    """Return what ``raw`` was referenced to (see the module notes); ``"unknown"`` if nothing says."""
    for line in (raw.info.get("description") or "").splitlines():
        if line.startswith(TAG):
            return line[len(TAG):].strip() or UNKNOWN
    from mne.io.constants import FIFF

    custom = raw.info.get("custom_ref_applied")
    if custom == FIFF.FIFFV_MNE_CUSTOM_REF_CSD:
        return "CSD (surface Laplacian applied in MNE; custom_ref_applied)"
    if custom:
        return "custom (re-referenced in MNE; custom_ref_applied)"
    di = raw.info.get("device_info") or {}
    return board_reference(di.get("model") or di.get("type"))


# --------------------------------------------------------------------------------------------
# EDF / BDF

_SUFFIX = re.compile(r"^(?:EEG\s+)?(.+?)\s*-\s*([A-Za-z][A-Za-z0-9]*)$")


def edf_reference(path, eeg_names=None) -> str:
    """The reference an EDF/BDF header states, if any (see the module notes)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
            ns = int(head[252:256].decode("ascii", "replace").strip())
            ext = fh.read(ns * 256)
    except (OSError, ValueError):
        return UNKNOWN
    if len(ext) < ns * 256:
        return UNKNOWN

    def field(offset, width):
        return [ext[offset + i * width: offset + (i + 1) * width].decode("latin-1").strip()
                for i in range(ns)]

    labels = field(0, 16)
    transducer = field(ns * 16, 80)
    prefilter = field(ns * (16 + 80 + 8 + 8 + 8 + 8 + 8), 80)
    skip = ("STATUS", "ANNOTATIONS", "EDF ANNOTATIONS", "BDF ANNOTATIONS", "EVENT", "TRIGGER")
    eeg = [lb for lb in labels if lb and lb.upper() not in skip and not lb.upper().startswith(skip)]
    refs = set()
    for lb in eeg:
        m = _SUFFIX.match(lb)
        refs.add(m.group(2) if m else None)
    if len(eeg) >= 2 and len(refs) == 1 and None not in refs:
        return f"{refs.pop()} (from the channel labels)"
    for text in transducer + prefilter:
        if re.search(r"\bref(erence)?\b", text, flags=re.IGNORECASE):
            return f"{text} (from the EDF header)"
    return UNKNOWN


# --------------------------------------------------------------------------------------------
# BrainVision

_VHDR_REF = re.compile(r"^\s*Reference\s+Channel(?:\s+Name)?\s*[=:]\s*(\S.*?)\s*$", re.IGNORECASE)


def bids_sidecar_reference(path) -> str | None:
    """The ``EEGReference`` of a BIDS ``…_eeg.json`` beside ``path`` (``None``: none or "n/a")."""
    p = Path(path)
    side = p.with_suffix(".json")
    if not side.is_file():
        return None
    try:
        ref = json.loads(side.read_text(encoding="utf-8")).get("EEGReference")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(ref, str) or ref.strip() in ("", "n/a"):
        return None
    return ref.strip()


def vhdr_reference(path) -> str:
    """The reference a BrainVision header (or its BIDS sidecar) states (see the module notes)."""
    bids = bids_sidecar_reference(path)
    if bids is not None:
        return bids
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return UNKNOWN
    refs, section = [], ""
    for line in text.splitlines():
        m = _VHDR_REF.match(line)
        if m:
            return f"{m.group(1)} (from the header)"
        s = line.strip()
        if s.startswith("["):
            section = s.lower()
        elif section == "[channel infos]" and re.match(r"^Ch\d+=", s):
            parts = s.split("=", 1)[1].split(",")
            refs.append(parts[1].strip() if len(parts) > 1 else "")
    named = {r for r in refs if r}
    if refs and len(named) == 1 and all(refs):
        return f"{named.pop()} (from the header's channel entries)"
    return UNKNOWN
