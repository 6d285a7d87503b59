"""Frozen settings validated at load, and the one place a bad config value is worded.

The YAML files shipped inside the package, in ``neurofeedback/configs/`` (``bands.yaml``,
``pipeline.yaml`` and ``protocols/*.yaml``), are the single source of the defaults (band edges,
preprocessing thresholds, epoch and Welch parameters, protocols); they are read through
:mod:`importlib.resources`, so they are found from a wheel as from a source tree. Set
``NEUROFEEDBACK_CONFIGS`` to use another folder of the same layout.

Settings (and the protocols of :mod:`neurofeedback.feedback.protocol`) are frozen pydantic
models: immutable tuples, hashable, compared by value, validated whenever they are built (from a
file, in Python, or by ``replace``). Every validation failure becomes one
:class:`~neurofeedback.errors.ConfigError` line naming the file and the key, in MNE's wording, by
:func:`config_error`::

    configs/bands.yaml: Invalid value for the 'bands.alpha' parameter. It must be a [low, high]
    pair in Hz with 0 <= low < high, but got [13, 8] instead.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import typing
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ._validate import _fmt_allowed
from .errors import ConfigError

__all__ = [
    "PACKAGE_CONFIGS",
    "BandSettings",
    "BlockSettings",
    "EpochSettings",
    "FeatureSettings",
    "PreprocessingSettings",
    "Settings",
    "SpectralSettings",
    "config_dir",
    "config_error",
    "load_settings",
    "parse_config",
    "read_yaml_mapping",
]
# Not in __all__ but shared with the protocols (one wording): invalid, missing, check_number,
# number, check_pair, check_choice, check_nonempty_str, check_channel_pairs, _ConfigModel.


def _package_configs() -> Path:
    # The package is always installed as files (a wheel is unpacked; an editable install points
    # at the source tree), so the resource folder is a real directory.
    return Path(str(files("neurofeedback") / "configs"))


#: The configs shipped inside the package (``neurofeedback/configs``).
PACKAGE_CONFIGS: Path = _package_configs()


def config_dir() -> Path:
    """Return the folder the settings are read from.

    Returns
    -------
    path : Path
        ``$NEUROFEEDBACK_CONFIGS`` when set, else the package's ``neurofeedback/configs`` folder
        (:data:`PACKAGE_CONFIGS`).
    """
    env = os.environ.get("NEUROFEEDBACK_CONFIGS")
    return Path(env) if env else PACKAGE_CONFIGS


# ---------------------------------------------------------------------------------------------
# Validation failures -> one ConfigError line (the one wording of every config problem)

_MISSING = ("missing", "missing_key")
#: Wording of pydantic's own error types, as the "It must ..." part of the MNE sentence.
_PROBLEMS = {
    "float_parsing": "It must be a number",
    "float_type": "It must be a number",
    "int_parsing": "It must be an integer",
    "int_type": "It must be an integer",
    "finite_number": "It must be a finite number",
    "string_type": "It must be a string",
    "bool_type": "It must be true or false",
    "bool_parsing": "It must be true or false",
    "tuple_type": "It must be a list",
    "list_type": "It must be a list",
    "dict_type": "It must be a mapping",
    "model_type": "It must be a mapping",
    "model_attributes_type": "It must be a mapping",
}


def invalid(problem: str, *, key: str | None = None, got: Any = ...) -> PydanticCustomError:
    """Return the error a config validator raises (worded by :func:`config_error`).

    Parameters
    ----------
    problem : str
        The middle of the sentence, e.g. ``"It must be a number in [0, 1]"`` or ``"Allowed values
        are 'up' and 'down'"``.
    key : str | None
        Where, below the validated field or model (e.g. ``"alpha"`` under ``bands``, ``"[0]"``,
        ``"spectral.segment_s"`` from a model-level check); default the field itself.
    got : object
        The value to quote; default the validator's input.
    """
    ctx = {"problem": problem}
    if key is not None:
        ctx["key"] = str(key)
    if got is not ...:
        ctx["got"] = repr(got)
    return PydanticCustomError("config_invalid", "{problem}", ctx)


def missing(key: str) -> PydanticCustomError:
    """Return the error of a key that is required only in some cases (e.g. by the metric)."""
    return PydanticCustomError("missing_key", "Missing required key", {"key": key})


def _key(loc, extra: str | None = None) -> str:
    out = ""
    for part in (*loc, *((extra,) if extra else ())):
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith("["):
            out += str(part)
        else:
            out += ("." if out else "") + str(part)
    return out


def _model_at(model, loc):
    """The config model that validates the mapping at ``loc`` below ``model`` (or None)."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None
        model = _find_model(field.annotation)
    return model


def _find_model(annotation):
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def config_error(err: ValidationError, src) -> ConfigError:
    """Turn a validation failure of a config model into one MNE-style ``ConfigError`` line.

    This is the one place config problems are worded (settings and protocols alike).

    Parameters
    ----------
    err : pydantic.ValidationError
        Raised while validating one of this project's config models.
    src : str | path-like
        What was validated (the file path, or e.g. ``"protocol 'alpha-up'"``); starts the line.

    Returns
    -------
    error : ConfigError
        ``"<src>: Invalid value for the '<key>' parameter. <problem>, but got <value> instead."``,
        ``"<src>: Missing required key '<key>'."`` or ``"<src>: Unknown key(s) [...] in '<key>'.
        Allowed keys are ..."``. Keys are dotted paths (``preprocessing.line_freq``,
        ``inhibits[0].factor``). Unknown keys are reported first (a typo often also leaves a
        required key missing); otherwise the first problem in field order.
    """
    errors = err.errors(include_url=False)
    extras = [e for e in errors if e["type"] == "extra_forbidden"]
    if extras:
        parent = extras[0]["loc"][:-1]
        keys = [e["loc"][-1] for e in extras if e["loc"][:-1] == parent]
        msg = f"Unknown key(s) {keys}" + (f" in {_key(parent)!r}." if parent else ".")
        model = _model_at(_ConfigModel.registry.get(err.title), parent)
        if model is not None:
            msg += f" Allowed keys are {_fmt_allowed(sorted(model.model_fields))}."
    else:
        e = errors[0]
        ctx = e.get("ctx") or {}
        key = _key(e["loc"], ctx.get("key"))
        if e["type"] in _MISSING and e["loc"] and isinstance(e["loc"][-1], int):  # a short tuple
            msg = (f"Invalid value for the {_key(e['loc'][:-1])!r} parameter. It has too few items, "
                   f"but got {e['input']!r} instead.")
        elif e["type"] in _MISSING:
            msg = f"Missing required key {key!r}."
        else:
            problem = ctx["problem"] if e["type"] == "config_invalid" else _problem(e)
            got = ctx.get("got", repr(e["input"]))
            where = f"Invalid value for the {key!r} parameter. " if key else ""
            msg = f"{where}{problem}, but got {got} instead."
    return ConfigError(" ".join(f"{src}: {msg}".split()))


def _problem(e) -> str:
    ctx = e.get("ctx") or {}
    if e["type"] in _PROBLEMS:
        return _PROBLEMS[e["type"]]
    if e["type"] == "too_short":
        return f"It must have at least {ctx.get('min_length')} item(s)"
    if e["type"] == "too_long":
        return f"It must have at most {ctx.get('max_length')} item(s)"
    if e["type"] == "literal_error":
        return f"Allowed values are {ctx.get('expected')}"
    return e["msg"]  # pydantic's own words for anything unforeseen


def parse_config(model: type[_M], data, src, *, context: dict | None = None) -> _M:
    """Validate ``data`` as ``model``; a failure becomes one :func:`config_error` line.

    Parameters
    ----------
    model : type
        A config model (:class:`Settings`, :class:`BandSettings`, a protocol, ...).
    data : dict
        E.g. the YAML mapping.
    src : str | path-like
        Named at the start of the message (the file).
    context : dict | None
        Validation context (e.g. ``{"settings": settings}`` to resolve band names).

    Returns
    -------
    obj : model
    """
    try:
        return model.model_validate(data, context=context)
    except ValidationError as err:
        raise config_error(err, src) from None


class _ConfigModel(BaseModel):
    """Frozen, strict-keyed base of the config models; building one validates it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    registry: typing.ClassVar[dict[str, type]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs):
        super().__pydantic_init_subclass__(**kwargs)
        _ConfigModel.registry[cls.__name__] = cls

    def __init__(self, /, **data):
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise config_error(err, type(self)._source(data)) from None

    # Nested models and ``model_validate`` must not go through this ``__init__`` (they carry the
    # validation context and report nested locations); pydantic's own marker of a non-custom
    # ``__init__`` (also set by ``BaseModel`` and ``RootModel``) says so.
    __init__.__pydantic_base_init__ = True

    @classmethod
    def _source(cls, data) -> str:
        """How :func:`config_error` names an object built in Python (no file)."""
        return cls.__name__


_M = typing.TypeVar("_M", bound=BaseModel)


# ---------------------------------------------------------------------------------------------
# Validators shared by the settings and the protocols

def check_number(value, *, lo=None, hi=None, lo_open=True, hi_open=False, what="") -> float:
    """Return ``value`` as a finite float within the bounds, or raise :func:`invalid`.

    ``what`` words the range ("a fraction in [0.05, 0.95]"); default e.g. "a finite positive
    number", "a finite number >= 0" or "a finite number in [0, 1)". YAML's yes/no (booleans)
    are not numbers.
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        v = float(value)
    except (TypeError, ValueError):
        raise invalid("It must be a number") from None
    bad = not math.isfinite(v)
    if lo is not None:
        bad |= v <= lo if lo_open else v < lo
    if hi is not None:
        bad |= v >= hi if hi_open else v > hi
    if bad:
        if not what and lo == 0 and lo_open and hi is None:
            what = "a finite positive number"
        elif not what and lo is not None and hi is None:
            what = f"a finite number {'>' if lo_open else '>='} {lo:g}"
        elif not what:
            left, right = ("(" if lo_open else "["), (")" if hi_open else "]")
            lo_s = "-inf" if lo is None else f"{lo:g}"
            hi_s = "inf" if hi is None else f"{hi:g}"
            what = f"a finite number in {left}{lo_s}, {hi_s}{right}"
        raise invalid(f"It must be {what}")
    return v


def number(lo=None, hi=None, *, lo_open=True, hi_open=False, what=""):
    """Return a float type validated by :func:`check_number` with these bounds."""
    return Annotated[float, BeforeValidator(functools.partial(
        check_number, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open, what=what))]


_PAIR = "a [low, high] pair in Hz with 0 <= low < high"


def check_pair(value, *, key: str | None = None) -> tuple[float, float]:
    """Return a ``[low, high]`` frequency pair (Hz, ``0 <= low < high``) as floats."""
    ok = isinstance(value, (list, tuple)) and len(value) == 2
    if ok:
        try:
            lo, hi = (check_number(v, lo=0.0, lo_open=False) for v in value)
        except PydanticCustomError:
            ok = False
    if not ok or not lo < hi:
        raise invalid(f"It must be {_PAIR}", key=key,
                      got=list(value) if isinstance(value, tuple) else value)
    return (lo, hi)


def check_choice(value, allowed):
    """Return ``value`` if it is one of ``allowed``, else raise :func:`invalid` (MNE wording)."""
    if value not in allowed or isinstance(value, bool):
        raise invalid(f"Allowed values are {_fmt_allowed(allowed)}")
    return value


def check_nonempty_str(value):
    """Return ``value`` if it is a non-empty string, else raise :func:`invalid`."""
    if not isinstance(value, str) or not value:
        raise invalid("It must be a non-empty string")
    return value


def check_channel_pairs(value) -> tuple[tuple[str, str], ...]:
    """Return ``[[left, right], ...]`` channel-name pairs as a tuple of tuples.

    Each pair must be two different (case-insensitively), non-empty channel names.
    """
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise invalid("It must be a list of [left, right] channel-name pairs")
    out = []
    for pair in value:
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                or not all(isinstance(c, str) and c for c in pair) or pair[0].lower() == pair[1].lower()):
            raise invalid("Each pair must be [left, right] channel names (two different sites)",
                          got=list(pair) if isinstance(pair, tuple) else pair)
        out.append((pair[0], pair[1]))
    return tuple(out)


def _choice(*allowed):
    return Annotated[str, BeforeValidator(functools.partial(check_choice, allowed=allowed))]


_Positive = number(lo=0.0)
_Pair = Annotated[tuple[float, float], BeforeValidator(check_pair)]


# ---------------------------------------------------------------------------------------------
# The settings

class BandSettings(_ConfigModel):
    """Frequency bands (Hz), the broadband range of relative power, and ratios.

    Attributes
    ----------
    bands : tuple of (str, float, float)
        ``(name, low, high)`` in Hz; ``bands.yaml`` writes them as a ``name: [low, high]``
        mapping.
    broadband : tuple of float
        ``(low, high)`` in Hz, the denominator of relative power.
    ratios : tuple of (str, str, str)
        ``(name, numerator band, denominator band)``; ``bands.yaml`` writes ``name: [num, den]``.
    """

    bands: tuple[tuple[str, float, float], ...] = (
        ("delta", 1.0, 4.0),
        ("theta", 4.0, 8.0),
        ("alpha", 8.0, 13.0),
        ("beta", 13.0, 30.0),
        ("gamma", 30.0, 45.0),
    )
    broadband: _Pair = (1.0, 45.0)
    ratios: tuple[tuple[str, str, str], ...] = (
        ("alpha/theta", "alpha", "theta"),
        ("theta/beta", "theta", "beta"),
    )

    @field_validator("bands", mode="before")
    @classmethod
    def _bands(cls, value):
        if isinstance(value, dict) and value:
            items = list(value.items())
        elif isinstance(value, (list, tuple)) and value and all(
                isinstance(b, (list, tuple)) and len(b) == 3 for b in value):
            items = [(b[0], b[1:]) for b in value]
        else:
            raise invalid("It must be a non-empty mapping of name: [low, high] in Hz")
        names = [str(n) for n, _ in items]
        if len(set(names)) != len(names):
            raise invalid("Band names must differ", got=names)
        return tuple((str(n), *check_pair(v, key=str(n))) for n, v in items)

    @field_validator("ratios", mode="before")
    @classmethod
    def _ratios(cls, value):
        if value is None:
            return ()
        if isinstance(value, dict):
            out = []
            for name, pair in value.items():
                if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                    raise invalid("It must be a [numerator, denominator] pair of band names",
                                  key=str(name), got=pair)
                out.append((str(name), pair[0], pair[1]))
            return tuple(out)
        return value

    @model_validator(mode="after")
    def _ratios_name_bands(self):
        names = self.names
        for name, num, den in self.ratios:
            if num not in names or den not in names:
                raise invalid(f"It must name two of the bands {_fmt_allowed(names)}",
                              key=f"ratios.{name}", got=[num, den])
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The band names, in order."""
        return tuple(b[0] for b in self.bands)

    def as_dict(self) -> dict[str, list[float]]:
        """Return ``{name: [lo, hi]}``."""
        return {name: [lo, hi] for name, lo, hi in self.bands}


class _BandsFile(BandSettings):
    """A bands file: ``bands`` is required there (the defaults serve Python use)."""

    bands: tuple[tuple[str, float, float], ...]


def _line_freq(value):
    if value in ("auto", None) and not isinstance(value, bool):
        return value
    if not isinstance(value, bool) and isinstance(value, (int, float)) and value in (50, 60):
        return float(value)
    raise invalid(f"Allowed values are {_fmt_allowed((50, 60, 'auto', None))}")


def _reference(value):
    """``"as-recorded"``, ``"average"`` or a non-empty list of distinct channel names (a tuple)."""
    allowed = "'as-recorded', 'average' or a list of channel names (e.g. [TP9, TP10])"
    if isinstance(value, str):
        if value in ("as-recorded", "average"):
            return value
        raise invalid(f"Allowed values are {allowed}")
    if not isinstance(value, (list, tuple)) or not value:
        raise invalid(f"Allowed values are {allowed}")
    if not all(isinstance(c, str) and c.strip() for c in value):
        raise invalid("Each reference channel must be a non-empty channel name",
                      got=list(value))
    names = tuple(c.strip() for c in value)
    if len({n.lower() for n in names}) != len(names):
        raise invalid("Each reference channel must be given once", got=list(value))
    return names


class PreprocessingSettings(_ConfigModel):
    """Filtering, bad-channel and artifact thresholds (µV for amplitudes, Hz, seconds).

    ``reference`` (last) is the optional re-reference (:mod:`neurofeedback.reference`):
    ``"as-recorded"``, ``"average"`` or a tuple of channel names.
    """

    line_freq: Annotated[float | str | None, BeforeValidator(_line_freq)] = "auto"
    l_freq: _Positive = 1.0
    h_freq: _Positive = 45.0
    flat_uv: _Positive = 0.5
    railed_fraction: number(lo=0.0, hi=1.0, what="a fraction in (0, 1]") = 0.05
    rail_uv: _Positive = 187000.0
    artifact_window_s: _Positive = 1.0
    ptp_uv: _Positive = 100.0
    deviation_uv: _Positive = 150.0
    baseline_s: _Positive = 30.0
    blink_uv: _Positive = 80.0
    blink_pad_s: _Positive = 0.25
    reference: Annotated[str | tuple[str, ...], BeforeValidator(_reference)] = "as-recorded"
    # Blink correction (neurofeedback.ocular.correct_ocular) and muscle bursts
    # (neurofeedback.muscle.muscle_mask); see pipeline.yaml for the values' origin.
    ocular: _choice("template", "none") = "template"
    muscle_z: _Positive = 4.0

    @model_validator(mode="after")
    def _band_pass(self):
        if self.l_freq >= self.h_freq:
            raise invalid(f"It must be below h_freq ({self.h_freq:g} Hz)", key="l_freq",
                          got=self.l_freq)
        return self


class EpochSettings(_ConfigModel):
    """Fixed-length epochs (seconds)."""

    length_s: _Positive = 4.0
    step_s: _Positive = 2.0


class SpectralSettings(_ConfigModel):
    """Welch PSD within each epoch (segment in seconds, overlap as a fraction)."""

    method: _choice("welch") = "welch"
    segment_s: _Positive = 2.0
    overlap: number(lo=0.0, hi=1.0, lo_open=False, hi_open=True, what="a fraction in [0, 1)") = 0.5
    window: str = "hann"


def _count(value):
    """An integer >= 1 (``_min_epochs``'s rule, for a count defined before it)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid("It must be an integer >= 1", got=value)
    return value


class FeatureSettings(_ConfigModel):
    """IAF, aperiodic fit (Hz ranges), FAA (left/right channel pairs) and specparam settings.

    The ``specparam_*`` values are passed to ``specparam.SpectralModel``; a channel's aperiodic
    fit is flagged ``poor_fit`` below ``aperiodic_min_r_squared`` and ``noise_floor`` below
    ``aperiodic_min_exponent``; ``iaf_split_*`` define the ambiguous (split) alpha peak (see
    :mod:`neurofeedback.periodic`).
    """

    iaf_range: _Pair = (7.0, 13.0)
    iaf_min_prominence: number(lo=0.0, lo_open=False) = 0.1
    aperiodic_range: _Pair = (2.0, 40.0)
    faa_pairs: Annotated[tuple[tuple[str, str], ...], BeforeValidator(check_channel_pairs)] = (
        ("F4", "F3"),
        ("AF8", "AF7"),
        ("F8", "F7"),
        ("Fp2", "Fp1"),
    )
    # specparam (neurofeedback.periodic; its module docstring justifies each value).
    specparam_peak_width_limits: _Pair = (1.0, 8.0)
    specparam_max_n_peaks: Annotated[int, BeforeValidator(_count)] = 6
    specparam_min_peak_height: number(lo=0.0, lo_open=False) = 0.05
    aperiodic_min_r_squared: number(lo=0.0, hi=1.0, lo_open=False) = 0.9
    aperiodic_min_exponent: number() = 0.5
    iaf_split_ratio: number(lo=0.0, hi=1.0) = 0.5
    iaf_split_min_separation_hz: _Positive = 1.0


def _min_epochs(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid("It must be an integer >= 1", got=value)
    return value


class BlockSettings(_ConfigModel):
    """Per-block values (see :mod:`neurofeedback.blocks`).

    Attributes
    ----------
    min_clean_epochs : int
        Fewest clean epochs of a block for its values; below it the block has no values and a
        reason.
    """

    min_clean_epochs: Annotated[int, BeforeValidator(_min_epochs)] = 5


class _PipelineSettings(_ConfigModel):
    """The sections of ``pipeline.yaml`` (validated on their own, so its keys are checked)."""

    preprocessing: PreprocessingSettings = Field(default_factory=PreprocessingSettings)
    epochs: EpochSettings = Field(default_factory=EpochSettings)
    spectral: SpectralSettings = Field(default_factory=SpectralSettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    blocks: BlockSettings = Field(default_factory=BlockSettings)

    @model_validator(mode="after")
    def _segment_fits_epoch(self):
        if self.spectral.segment_s > self.epochs.length_s:
            raise invalid(f"It must not exceed epochs.length_s ({self.epochs.length_s:g} s)",
                          key="spectral.segment_s", got=self.spectral.segment_s)
        return self


_SECTIONS = ("bands", "preprocessing", "epochs", "spectral", "features", "blocks")


class Settings(_PipelineSettings):
    """All offline-processing settings; build with :func:`load_settings`.

    Attributes
    ----------
    bands : BandSettings
    preprocessing : PreprocessingSettings
    epochs : EpochSettings
    spectral : SpectralSettings
    features : FeatureSettings
    blocks : BlockSettings
    """

    bands: BandSettings = Field(default_factory=BandSettings)

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict of every setting (tuples as lists)."""
        d = self.model_dump(mode="json")
        return {name: d[name] for name in _SECTIONS}

    def config_hash(self) -> str:
        """Return a short SHA-256 of the settings (changes when any setting changes)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def replace(self, **sections) -> Settings:
        """Return a validated copy with some values replaced.

        Parameters
        ----------
        **sections : dict
            Section name to ``{key: value}``, e.g. ``preprocessing={"line_freq": 50}``.

        Returns
        -------
        settings : Settings

        Raises
        ------
        ConfigError
            Named ``<overrides>``: an unknown section or key, or an invalid value.
        """
        data = dict(self)
        for name, values in sections.items():
            current = data.get(name)
            if isinstance(values, dict) and isinstance(current, BaseModel):
                values = {**dict(current), **values}
            data[name] = values
        return parse_config(Settings, data, "<overrides>")


# ---------------------------------------------------------------------------------------------
# Files

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
    bdoc = {"ratios": None, **read_yaml_mapping(bpath)}  # a file without ratios has none
    bands = parse_config(_BandsFile, bdoc, bpath)
    if "broadband" not in bdoc:  # default: the range the bands span
        span = [min(b[1] for b in bands.bands), max(b[2] for b in bands.bands)]
        bands = parse_config(_BandsFile, {**bdoc, "broadband": span}, bpath)
    bands = BandSettings(**dict(bands))
    ppath = folder_p / "pipeline.yaml"
    doc = {k: v for k, v in read_yaml_mapping(ppath).items() if v is not None}  # `epochs:` = defaults
    pipeline = parse_config(_PipelineSettings, doc, ppath)
    return Settings(bands=bands, **dict(pipeline))


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
