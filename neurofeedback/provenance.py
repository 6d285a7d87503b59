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


#: The generation of the processing methods. Raised when a release computes other numbers from
#: the same file and settings, so that the store re-processes what it holds instead of calling it
#: unchanged. 2: artifacts per channel and segment, spectra from each channel's clean segments
#: (issue 15); 1 (implicit, the plain settings hash): epochs rejected on every channel.
METHOD_VERSION = 2


def processing_hash(settings: Settings, channel_names=None) -> str:
    """The key of one processing of a file: a short SHA-256 of ``settings.config_hash()``, the
    :data:`METHOD_VERSION` and, when EEG names were given for the file (``--channel-names``),
    the names in order.

    Other names are other numbers (FAA, posterior metrics, blink channels), so the store treats a
    file imported with other names as processed differently (``reprocessed``), as with other
    settings or another method version.
    """
    blob = f"config_hash={settings.config_hash()}\nmethod={METHOD_VERSION}"
    if channel_names:
        blob += "\nchannel_names=" + ",".join(map(str, channel_names))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
        "method_version": METHOD_VERSION,
        "config_hash": processing_hash(settings, channel_names),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }
