"""Provenance: how every output was computed. One function builds it; every output embeds it."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from .config import Settings
from .io.sidecar import software_versions

UNITS = {
    "signal": "V inside MNE objects; uV in tables",
    "psd": "uV^2/Hz",
    "absolute_power": "uV^2 (PSD integrated over the band, trapezoid rule)",
    "relative_power": "fraction of power over the broadband range (unitless)",
    "log_power": "log10(uV^2)",
    "faa": "ln ratio (unitless): ln(alpha right) - ln(alpha left) of absolute alpha power",
    "iaf": "Hz",
    "aperiodic": "exponent (unitless, PSD ~ f^-exponent); offset log10(uV^2/Hz) at 1 Hz",
}


def file_sha256(path, *, chunk: int = 1 << 22) -> str:
    """Return the SHA-256 hex digest of a file's bytes (for BrainVision: the .vhdr header)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def processing_hash(settings: Settings, channel_names=None) -> str:
    """The key of one processing of a file: ``settings.config_hash()``, or, when EEG names were
    given for the file (``--channel-names``), a short SHA-256 of that hash and the names in order.

    Other names are other numbers (FAA, posterior metrics, blink channels), so the store treats a
    file imported with other names as processed differently (``reprocessed``), as with other
    settings; without given names the key is the plain settings hash (the file's own names).
    """
    cfg = settings.config_hash()
    if not channel_names:
        return cfg
    blob = ("config_hash=" + cfg + "\nchannel_names=" + ",".join(map(str, channel_names))).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def build_provenance(settings: Settings, *, input_path=None, input_sha256=None, fmt=None, extra=None,
                     channel_names=None) -> dict:
    """Return the provenance record embedded in every output.

    Parameters
    ----------
    settings : Settings
        The settings used (bands, epochs, Welch parameters, thresholds).
    input_path : path-like | None
        The recording; its SHA-256 is computed unless ``input_sha256`` is given.
    input_sha256 : str | None
    fmt : str | None
        The format the recording was read as.
    extra : dict | None
        Anything else that shaped the numbers (e.g. the notch frequency used).
    channel_names : sequence of str | None
        EEG names given for the file (``--channel-names``), recorded as ``channel_names`` and
        part of ``config_hash`` (:func:`processing_hash`); ``None`` when the file's own names
        were used (the names themselves are in every table's ``channel`` column).

    Returns
    -------
    provenance : dict
        ``bands, broadband, epochs, spectral, preprocessing, features, blocks, units, software,
        input, channel_names, config_hash, created``.
    """
    sha = input_sha256
    if sha is None and input_path is not None and Path(input_path).is_file():
        sha = file_sha256(input_path)
    s = settings.to_dict()
    return {
        "bands": settings.bands.as_dict(),
        "broadband": list(settings.bands.broadband),
        "epochs": s["epochs"],
        "spectral": {**s["spectral"],
                     "reference": "identical to scipy.signal.welch per epoch (detrend='constant', density)"},
        "preprocessing": s["preprocessing"],
        "features": s["features"],
        "blocks": {**s["blocks"],
                   "rule": "an epoch is in a block when its whole span lies inside it ('' for none); "
                           "blocks from the annotations (neurofeedback.blocks)"},
        "units": dict(UNITS),
        "software": software_versions(),
        "input": {"path": str(input_path) if input_path is not None else None, "sha256": sha, "format": fmt},
        "channel_names": list(channel_names) if channel_names else None,
        "config_hash": processing_hash(settings, channel_names),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }
