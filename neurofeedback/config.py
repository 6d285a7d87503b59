"""Frozen settings loaded from ``configs/`` and validated at load.

The YAML files in the repository's ``configs/`` folder are the single source of the defaults
(band edges, preprocessing thresholds, epoch and Welch parameters). Set ``NEUROFEEDBACK_CONFIGS``
to use another folder. Anything invalid raises :class:`~neurofeedback.errors.ConfigError` naming
the file and the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from .errors import ConfigError

_REPO_CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def config_dir() -> Path:
    """Return the folder the settings are read from.

    Returns
    -------
    path : Path
        ``$NEUROFEEDBACK_CONFIGS`` when set, else the repository's ``configs/`` folder.
    """
    env = os.environ.get("NEUROFEEDBACK_CONFIGS")
    return Path(env) if env else _REPO_CONFIGS


@dataclass(frozen=True)
class BandSettings:
    """Frequency bands (Hz), the broadband range of relative power, and ratios."""

    bands: tuple[tuple[str, float, float], ...] = (
        ("delta", 1.0, 4.0),
        ("theta", 4.0, 8.0),
        ("alpha", 8.0, 13.0),
        ("beta", 13.0, 30.0),
        ("gamma", 30.0, 45.0),
    )
    broadband: tuple[float, float] = (1.0, 45.0)
    ratios: tuple[tuple[str, str, str], ...] = (
        ("alpha/theta", "alpha", "theta"),
        ("theta/beta", "theta", "beta"),
    )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b[0] for b in self.bands)

    def as_dict(self) -> dict[str, list[float]]:
        """Return ``{name: [lo, hi]}``."""
        return {name: [lo, hi] for name, lo, hi in self.bands}


@dataclass(frozen=True)
class PreprocessingSettings:
    """Filtering, bad-channel and artifact thresholds (µV for amplitudes)."""

    line_freq: float | str | None = "auto"
    l_freq: float = 1.0
    h_freq: float = 45.0
    flat_uv: float = 0.5
    railed_fraction: float = 0.05
    rail_uv: float = 187000.0
    artifact_window_s: float = 1.0
    ptp_uv: float = 200.0
    deviation_uv: float = 150.0
    baseline_s: float = 30.0
    blink_uv: float = 80.0
    blink_pad_s: float = 0.25


@dataclass(frozen=True)
class EpochSettings:
    """Fixed-length epochs (seconds)."""

    length_s: float = 4.0
    step_s: float = 2.0


@dataclass(frozen=True)
class SpectralSettings:
    """Welch PSD within each epoch."""

    method: str = "welch"
    segment_s: float = 2.0
    overlap: float = 0.5
    window: str = "hann"


@dataclass(frozen=True)
class FeatureSettings:
    """IAF, aperiodic fit and FAA settings."""

    iaf_range: tuple[float, float] = (7.0, 13.0)
    iaf_min_prominence: float = 0.1
    aperiodic_range: tuple[float, float] = (2.0, 40.0)
    faa_pairs: tuple[tuple[str, str], ...] = (
        ("F4", "F3"),
        ("AF8", "AF7"),
        ("F8", "F7"),
        ("Fp2", "Fp1"),
    )


@dataclass(frozen=True)
class Settings:
    """All offline-processing settings; build with :func:`load_settings`."""

    bands: BandSettings = field(default_factory=BandSettings)
    preprocessing: PreprocessingSettings = field(default_factory=PreprocessingSettings)
    epochs: EpochSettings = field(default_factory=EpochSettings)
    spectral: SpectralSettings = field(default_factory=SpectralSettings)
    features: FeatureSettings = field(default_factory=FeatureSettings)

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict of every setting."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def config_hash(self) -> str:
        """Return a short SHA-256 of the settings (changes when any setting changes)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def replace(self, **sections) -> Settings:
        """Return a copy with some values replaced, e.g. ``preprocessing={"line_freq": 50}``."""
        new = {}
        for name, values in sections.items():
            current = getattr(self, name)
            try:
                new[name] = dataclasses.replace(current, **values)
            except TypeError as err:
                raise ConfigError(f"Invalid setting in section {name!r}: {err}") from None
        out = dataclasses.replace(self, **new)
        _validate(out, "<overrides>")
        return out


def _num(src, key, value, *, positive=True):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{src}: {key} must be a number, but got {value!r}") from None
    if not math.isfinite(v) or (positive and v <= 0):
        raise ConfigError(f"{src}: {key} must be a finite positive number, but got {value!r}")
    return v


def _pair(src, key, value):
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"{src}: {key} must be a [low, high] pair, but got {value!r}")
    lo, hi = (_num(src, key, v, positive=False) for v in value)
    if not 0 <= lo < hi:
        raise ConfigError(f"{src}: {key} needs 0 <= low < high, but got {value!r}")
    return (lo, hi)


def _parse_bands(src: str, doc: dict) -> BandSettings:
    if not isinstance(doc, dict) or not isinstance(doc.get("bands"), dict) or not doc["bands"]:
        raise ConfigError(f"{src}: needs a non-empty 'bands' mapping of name: [low, high]")
    bands = tuple((str(n), *_pair(src, f"bands.{n}", v)) for n, v in doc["bands"].items())
    broadband = _pair(src, "broadband", doc.get("broadband", [bands[0][1], bands[-1][2]]))
    names = {b[0] for b in bands}
    ratios = []
    for rname, pair in (doc.get("ratios") or {}).items():
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not set(pair) <= names:
            raise ConfigError(
                f"{src}: ratios.{rname} must name two of the bands {sorted(names)}, but got {pair!r}"
            )
        ratios.append((str(rname), str(pair[0]), str(pair[1])))
    return BandSettings(bands=bands, broadband=broadband, ratios=tuple(ratios))


def _section(src, cls, doc, name):
    values = doc.get(name) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{src}: section {name!r} must be a mapping, but got {values!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"{src}: unknown key(s) {unknown} in section {name!r}. Allowed keys are {sorted(known)}"
        )
    conv = {}
    for k, v in values.items():
        if isinstance(v, list):
            v = tuple(tuple(x) if isinstance(x, list) else x for x in v)
        conv[k] = v
    return cls(**conv)


def _validate(s: Settings, src: str) -> None:
    p = s.preprocessing
    if p.line_freq not in ("auto", None) and _num(src, "line_freq", p.line_freq) not in (50, 60):
        raise ConfigError(
            f"{src}: Invalid value for the 'line_freq' parameter. Allowed values are 50, 60, "
            f"'auto' and None, but got {p.line_freq!r} instead."
        )
    for key in ("l_freq", "h_freq", "flat_uv", "railed_fraction", "rail_uv", "artifact_window_s",
                "ptp_uv", "deviation_uv", "baseline_s", "blink_uv", "blink_pad_s"):
        _num(src, f"preprocessing.{key}", getattr(p, key))
    if p.l_freq >= p.h_freq:
        raise ConfigError(f"{src}: preprocessing.l_freq must be below h_freq")
    _num(src, "epochs.length_s", s.epochs.length_s)
    _num(src, "epochs.step_s", s.epochs.step_s)
    if s.spectral.method != "welch":
        raise ConfigError(
            f"{src}: Invalid value for the 'spectral.method' parameter. Allowed values are "
            f"'welch', but got {s.spectral.method!r} instead."
        )
    seg = _num(src, "spectral.segment_s", s.spectral.segment_s)
    if seg > s.epochs.length_s:
        raise ConfigError(f"{src}: spectral.segment_s ({seg}) exceeds epochs.length_s")
    if not 0 <= float(s.spectral.overlap) < 1:
        raise ConfigError(f"{src}: spectral.overlap must be in [0, 1), got {s.spectral.overlap!r}")
    _pair(src, "features.iaf_range", s.features.iaf_range)
    _pair(src, "features.aperiodic_range", s.features.aperiodic_range)


def read_yaml_mapping(path: Path, *, kind: str = "config",
               hint: str = " (set NEUROFEEDBACK_CONFIGS?)") -> dict:
    """Read a YAML file holding a mapping (the configs and the protocols).

    Parameters
    ----------
    path : Path
    kind : str
        What the file is, for the messages ("config", "protocol").
    hint : str
        Appended to the "not found" message.

    Returns
    -------
    doc : dict

    Raises
    ------
    ConfigError
        One line naming ``path``: not found, a folder, not text, not valid YAML, not a mapping.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: {kind} file not found{hint}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a {kind} file") from None
    except yaml.YAMLError as err:
        msg = " ".join(str(err).split())
        raise ConfigError(f"{path}: not valid YAML ({msg})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, but got {type(doc).__name__}")
    return doc


@lru_cache(maxsize=8)
def _load_cached(folder: str, bands_file: str | None) -> Settings:
    folder_p = Path(folder)
    bpath = Path(bands_file) if bands_file else folder_p / "bands.yaml"
    bands = _parse_bands(str(bpath), read_yaml_mapping(bpath))
    ppath = folder_p / "pipeline.yaml"
    doc = read_yaml_mapping(ppath)
    s = Settings(
        bands=bands,
        preprocessing=_section(ppath, PreprocessingSettings, doc, "preprocessing"),
        epochs=_section(ppath, EpochSettings, doc, "epochs"),
        spectral=_section(ppath, SpectralSettings, doc, "spectral"),
        features=_section(ppath, FeatureSettings, doc, "features"),
    )
    _validate(s, str(ppath))
    return s


def load_settings(folder: str | os.PathLike | None = None, *, bands_file=None) -> Settings:
    """Load and validate the settings.

    Parameters
    ----------
    folder : path-like | None
        Folder holding ``bands.yaml`` and ``pipeline.yaml``; default :func:`config_dir`.
    bands_file : path-like | None
        Another bands file to use instead of ``bands.yaml`` (same schema).

    Returns
    -------
    settings : Settings
        Frozen settings.

    Raises
    ------
    ConfigError
        When a file is missing or a value is invalid (the message names file and key).
    """
    folder = Path(folder) if folder is not None else config_dir()
    return _load_cached(str(folder.resolve()), str(bands_file) if bands_file else None)
