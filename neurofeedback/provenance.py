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


def build_provenance(settings: Settings, *, input_path=None, input_sha256=None, fmt=None, extra=None) -> dict:
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

    Returns
    -------
    provenance : dict
        ``bands, broadband, epochs, spectral, preprocessing, features, blocks, units, software,
        input, config_hash, created``.
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
        "config_hash": settings.config_hash(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }
