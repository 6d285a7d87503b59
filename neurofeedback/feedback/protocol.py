"""Neurofeedback protocols: what is trained, where, and how the reward is decided.

A protocol is a frozen, validated description (a pydantic model, as the settings of
:mod:`neurofeedback.config`) loaded from ``neurofeedback/configs/protocols/<name>.yaml`` (shipped
in the package; ``$NEUROFEEDBACK_CONFIGS/protocols`` when that is set) or any YAML path: the
metric (relative or absolute band power, a band ratio, or frontal alpha asymmetry), its band(s),
the channels it prefers, the direction that is rewarded, the inhibits ("reward only while X is
not raised"), the window and update rate, and the adaptation settings
of the reward threshold. The loop itself is :func:`neurofeedback.feedback.step.step`.

YAML schema (every key but ``metric``, ``bands``, ``direction`` and ``channels``/``pairs`` is
optional; unknown keys are errors)::

    name: alpha-up                  # default: the file name without .yaml
    description: Posterior alpha up (relaxed wakefulness).
    metric: relative_power          # relative_power | absolute_power | band_ratio | faa
    bands: [alpha]                  # names from bands.yaml or [lo, hi] in Hz
    channels: [O1, O2, Pz, TP9, TP10]
    direction: up                   # up | down
    inhibits:
      - {band: [30, 45], factor: 2.0, label: EMG}
    window_s: 2.0
    update_hz: 4.0
    target_reward_rate: 0.65
    adapt_rate: 0.03
    artifact_ptp_uv: 150.0

Every problem raises :class:`~neurofeedback.errors.ConfigError` with one line naming the file
and the key, MNE style ("Invalid value for the 'direction' parameter. Allowed values are
'up' and 'down', but got 'sideways' instead."), worded by :func:`neurofeedback.config.config_error`
as for the settings.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .._validate import _fmt_allowed
from ..config import (
    PACKAGE_CONFIGS,
    _ConfigModel,
    check_channel_pairs,
    check_choice,
    check_nonempty_str,
    check_number,
    check_pair,
    config_dir,
    invalid,
    load_settings,
    missing,
    number,
    parse_config,
    read_yaml_mapping,
)
from ..errors import ConfigError

__all__ = [
    "DEFAULT_ADAPT_RATE",
    "METRICS",
    "PROTOCOLS_DIR",
    "Inhibit",
    "Protocol",
    "list_protocols",
    "load_protocol",
    "protocols_dir",
]

#: The protocols shipped in the package (``neurofeedback/configs/protocols``).
#: :func:`protocols_dir` honours ``$NEUROFEEDBACK_CONFIGS`` as well.
PROTOCOLS_DIR: Path = PACKAGE_CONFIGS / "protocols"

METRICS = ("relative_power", "absolute_power", "band_ratio", "faa")
DIRECTIONS = ("up", "down")
_N_BANDS = {"relative_power": 1, "absolute_power": 1, "band_ratio": 2, "faa": 1}

#: Default threshold adaptation gain, per update, in units of the baseline's robust spread
#: (IQR / 1.349). With the tracker ``thr += adapt_rate * scale * (reward - target)`` the
#: threshold's deviation from the target quantile decays by about ``adapt_rate * f * scale``
#: per update, where ``f * scale`` (the metric's density at the threshold times its spread) is
#: ~0.35 for a bell-shaped metric: at 4 Hz that is a time constant of ~24 s, close to the
#: 30-s auto-thresholding epochs of clinical systems, and a threshold that starts two spreads
#: off (a baseline that does not represent training) reaches the target within ~1 min. Much
#: faster and the threshold chases every slow alpha fluctuation (a gain the person earns is
#: taken away within seconds); much slower and a poor baseline leaves the reward rate off
#: target for minutes.
DEFAULT_ADAPT_RATE = 0.03

_MAX_UPDATE_HZ = 32.0
_MIN_WINDOW_S = 1.0  # the 1-s Welch segment (and the 1 Hz band edge) needs it
_MAX_WINDOW_S = 30.0
#: Appended to "the board lacks the channels" errors: the sites may simply be unnamed.
_RENAME_HINT = " (if electrodes sit there, name the channels with --channel-names)"


def protocols_dir() -> Path:
    """Return the folder protocol names are looked up in.

    Returns
    -------
    path : Path
        ``<configs>/protocols`` where ``<configs>`` is :func:`neurofeedback.config.config_dir`
        (``$NEUROFEEDBACK_CONFIGS`` when set, else the package's ``neurofeedback/configs``).
    """
    return config_dir() / "protocols"


def _context_settings(info):
    """The settings band names are resolved against: the validation context's, else None."""
    ctx = info.context if info is not None else None
    return ctx.get("settings") if isinstance(ctx, dict) else None


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _band_names_problem(settings) -> str:
    return (f"Allowed values are the band names {_fmt_allowed(settings.bands.names)} (bands.yaml) "
            "or a [low, high] pair in Hz")


def _band_as_written(value, settings=None):
    """A band as written: a name (checked against ``settings`` when given) or ``(lo, hi)`` in Hz."""
    if isinstance(value, str):
        if not value:
            raise invalid("A band name must not be empty", got=value)
        if settings is not None and value not in settings.bands.names:
            raise invalid(_band_names_problem(settings), got=value)
        return value
    if isinstance(value, (list, tuple)):
        return check_pair(value)
    raise invalid("It must be a band name from bands.yaml or a [low, high] pair in Hz", got=value)


def _as_written(band):
    return band if isinstance(band, str) else list(band)


_PositiveFloat = number(lo=0.0)


class Inhibit(_ConfigModel):
    """Reward only while the power in ``band`` is not raised.

    Attributes
    ----------
    band : tuple of float
        ``(lo, hi)`` in Hz, e.g. ``(20.0, 30.0)`` high beta, ``(30.0, 45.0)`` EMG. A band name
        (e.g. ``"theta"``) is resolved to its edges when the inhibit is built (against the
        settings given to :func:`load_protocol`, else :func:`~neurofeedback.config.load_settings`).
    factor : float
        A training window is inhibited when its absolute power in ``band`` (µV², mean over the
        protocol's used channels) exceeds ``factor`` × its median over the clean baseline windows.
    label : str
        What the band stands for, shown as ``"inhibit: <label>"``; default the band name or
        ``"lo-hi Hz"``.
    """

    band: tuple[float, float]
    factor: _PositiveFloat
    label: Annotated[str, BeforeValidator(check_nonempty_str)]

    @classmethod
    def _source(cls, data) -> str:
        return f"inhibit {data.get('label')!r}"

    @model_validator(mode="before")
    @classmethod
    def _default_label(cls, data):
        if isinstance(data, dict) and data.get("label") is None and "band" in data:
            band = data["band"]
            if isinstance(band, str) and band:
                data = {**data, "label": band}
            elif isinstance(band, (list, tuple)) and len(band) == 2 and all(map(_is_number, band)):
                data = {**data, "label": f"{band[0]:g}-{band[1]:g} Hz"}
        return data

    @field_validator("band", mode="before")
    @classmethod
    def _band(cls, value, info):
        if isinstance(value, str):
            settings = _context_settings(info) or load_settings()
            name = _band_as_written(value, settings)
            return {n: (lo, hi) for n, lo, hi in settings.bands.bands}[name]
        return _band_as_written(value)


class Protocol(_ConfigModel):
    """A neurofeedback protocol (build with :func:`load_protocol`; validated whenever built).

    A frozen pydantic model: building one in Python (``Protocol(...)``) or changing fields with
    :meth:`replace` validates it too, and a problem raises
    :class:`~neurofeedback.errors.ConfigError`.

    Attributes
    ----------
    name, description : str
    metric : str
        ``"relative_power"`` (band / 1–45 Hz power, mean of the per-channel fractions),
        ``"absolute_power"`` (µV², mean over channels), ``"band_ratio"`` (mean numerator power /
        mean denominator power over the channels) or ``"faa"`` (ln α right − ln α left).
    bands : tuple
        ``(band,)``, or ``(numerator, denominator)`` for ``band_ratio``; each a name from the
        settings' ``bands.yaml`` or an explicit ``(lo, hi)`` in Hz, e.g. SMR ``(12.0, 15.0)``.
    channels : tuple of str
        Preference list: the protocol uses every one of them present on the board (matched
        case-insensitively). For ``faa`` it defaults to the channels of ``pairs``.
    direction : str
        ``"up"`` rewards the metric above the threshold, ``"down"`` below it.
    pairs : tuple of (str, str)
        ``faa`` only: (left, right) pairs, best first; the first pair present is used.
    inhibits : tuple of Inhibit
    window_s : float
        Seconds of signal per update (≥ 1 s: Welch uses 1-s segments).
    update_hz : float
        Updates per second (at least one per window, at most 32).
    target_reward_rate : float
        The adaptive threshold keeps the reward rate of clean windows near this (0.05–0.95).
    adapt_rate : float
        Threshold adaptation gain per update (see :data:`DEFAULT_ADAPT_RATE`); 0 freezes the
        threshold at its baseline value.
    artifact_ptp_uv : float
        A window whose peak-to-peak after linear detrending exceeds this (µV) on a used channel,
        or whose standard deviation is below 0.5 µV (flat), is an artifact: no reward.
    """

    name: Annotated[str, BeforeValidator(check_nonempty_str)]
    description: str = ""
    metric: Annotated[str, BeforeValidator(functools.partial(check_choice, allowed=METRICS))]
    bands: tuple[str | tuple[float, float], ...]
    channels: tuple[str, ...] = ()
    direction: Annotated[str, BeforeValidator(functools.partial(check_choice, allowed=DIRECTIONS))]
    pairs: Annotated[tuple[tuple[str, str], ...], BeforeValidator(check_channel_pairs)] = ()
    inhibits: tuple[Inhibit, ...] = ()
    window_s: number(lo=_MIN_WINDOW_S, hi=_MAX_WINDOW_S, lo_open=False,
                     what=f"a number of seconds in [{_MIN_WINDOW_S:g}, {_MAX_WINDOW_S:g}]") = 2.0
    update_hz: float = 4.0
    target_reward_rate: number(lo=0.05, hi=0.95, lo_open=False, what="a fraction in [0.05, 0.95]") = 0.65
    adapt_rate: number(lo=0.0, hi=1.0, lo_open=False, what="a number in [0, 1]") = DEFAULT_ADAPT_RATE
    artifact_ptp_uv: _PositiveFloat = 150.0

    @classmethod
    def _source(cls, data) -> str:
        return f"protocol {data.get('name')!r}"

    # -- validation ---------------------------------------------------------------------------
    @model_validator(mode="before")
    @classmethod
    def _faa_channels(cls, data):
        """``faa`` without ``channels``: the channels of its pairs."""
        if isinstance(data, dict) and data.get("metric") == "faa" and not data.get("channels"):
            try:
                pairs = check_channel_pairs(data.get("pairs"))
            except PydanticCustomError:
                return data  # reported by the pairs field
            if pairs:
                data = {**data, "channels": tuple(dict.fromkeys(c for pair in pairs for c in pair))}
        return data

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value):
        return "" if value is None else value

    @field_validator("bands", mode="before")
    @classmethod
    def _bands(cls, value, info):
        if isinstance(value, (str, dict)) or not isinstance(value, (list, tuple)):
            value = [value]
        elif len(value) == 2 and all(map(_is_number, value)):
            value = [value]  # one explicit [lo, hi] band, not two bands
        settings = _context_settings(info)
        return tuple(_band_as_written(b, settings) for b in value)

    @field_validator("channels", mode="before")
    @classmethod
    def _channels(cls, value):
        if value is None or (isinstance(value, (list, tuple)) and not value):
            return ()  # required unless faa: checked with the metric
        if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(
                isinstance(v, str) and v for v in value):
            raise invalid("It must be a non-empty list of channel names")
        return tuple(value)

    @field_validator("inhibits", mode="before")
    @classmethod
    def _inhibits(cls, value):
        if value is None:
            return ()
        if not isinstance(value, (list, tuple)):
            raise invalid("It must be a list of {band, factor, label} mappings")
        return value

    @field_validator("update_hz", mode="before")
    @classmethod
    def _update_hz(cls, value, info):
        window_s = info.data.get("window_s")
        if window_s is None:  # window_s itself is invalid (reported first)
            return check_number(value, lo=0.0, hi=_MAX_UPDATE_HZ)
        lo = 1.0 / window_s
        return check_number(
            value, lo=lo, hi=_MAX_UPDATE_HZ, lo_open=False,
            what=f"in [1/window_s = {lo:g}, {_MAX_UPDATE_HZ:g}] Hz (at least one update per window)")

    @model_validator(mode="after")
    def _consistent(self):
        if len(self.bands) != _N_BANDS[self.metric]:
            what = "(numerator, denominator)" if self.metric == "band_ratio" else "one band"
            raise invalid(f"The {self.metric!r} metric needs {what}", key="bands",
                          got=[_as_written(b) for b in self.bands])
        if self.metric == "faa" and not self.pairs:
            raise invalid("The 'faa' metric needs a non-empty list of [left, right] channel pairs",
                          key="pairs", got=[])
        if self.metric != "faa" and self.pairs:
            raise invalid(f"Only the 'faa' metric takes pairs (the metric is {self.metric!r})",
                          key="pairs", got=[list(p) for p in self.pairs])
        if not self.channels:
            if "channels" not in self.model_fields_set:
                raise missing("channels")
            raise invalid("It must be a non-empty list of channel names", key="channels", got=[])
        labels = [i.label for i in self.inhibits]
        if len(set(labels)) != len(labels):
            raise invalid("Their labels must differ", key="inhibits", got=labels)
        return self

    # -----------------------------------------------------------------------------------------
    def replace(self, **changes) -> Protocol:
        """Return a validated copy with some fields changed.

        Parameters
        ----------
        **changes
            Field values, e.g. ``artifact_ptp_uv=200.0``.

        Returns
        -------
        protocol : Protocol

        Raises
        ------
        ConfigError
            ``"protocol '<name>': ..."`` when a value is invalid or a field unknown.
        """
        return type(self)(**{**dict(self), **changes})

    def band_edges(self, settings=None) -> tuple[tuple[float, float], ...]:
        """Return the protocol's bands as ``(lo, hi)`` pairs in Hz.

        Parameters
        ----------
        settings : Settings | None
            Where band names are looked up; default :func:`neurofeedback.config.load_settings`.

        Raises
        ------
        ConfigError
            When a band name is not in the settings' bands.
        """
        return tuple(_resolve_band(f"protocol {self.name!r}", b, settings) for b in self.bands)

    def band_labels(self) -> tuple[str, ...]:
        """The bands as written, e.g. ``("alpha",)`` or ``("12-15 Hz",)``."""
        return tuple(b if isinstance(b, str) else f"{b[0]:g}-{b[1]:g} Hz" for b in self.bands)

    def resolve_channels(self, ch_names) -> tuple[str, ...]:
        """Pick the channels this protocol uses on a board.

        Parameters
        ----------
        ch_names : sequence of str
            The board's EEG channel names.

        Returns
        -------
        used : tuple of str
            For ``faa``: the first ``(left, right)`` pair of :attr:`pairs` whose two channels are
            both present. Otherwise every channel of :attr:`channels` present on the board, in
            the protocol's order. Names are returned as the board spells them.

        Raises
        ------
        ConfigError
            When none is available (there is no silent fallback to other channels: training
            e.g. posterior alpha on frontal sites would be a different protocol). The message
            names the protocol, the channels it wants and the board's channels.
        """
        lookup = {str(c).lower(): str(c) for c in ch_names}
        if self.metric == "faa":
            for left, right in self.pairs:
                if left.lower() in lookup and right.lower() in lookup:
                    return (lookup[left.lower()], lookup[right.lower()])
            wanted = ", ".join(f"{left}/{right}" for left, right in self.pairs)
            raise ConfigError(
                f"Protocol {self.name!r} needs one of the (left/right) channel pairs {wanted}, but the "
                f"board has {', '.join(map(str, ch_names)) or 'no channels'}{_RENAME_HINT}."
            )
        used = tuple(lookup[c.lower()] for c in self.channels if c.lower() in lookup)
        if not used:
            raise ConfigError(
                f"Protocol {self.name!r} needs one of the channels {', '.join(self.channels)}, but the "
                f"board has {', '.join(map(str, ch_names)) or 'no channels'}{_RENAME_HINT}."
            )
        return tuple(dict.fromkeys(used))

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict of the protocol (bands as written)."""
        return {
            "name": self.name,
            "description": self.description,
            "metric": self.metric,
            "bands": [b if isinstance(b, str) else list(b) for b in self.bands],
            "channels": list(self.channels),
            "pairs": [list(p) for p in self.pairs],
            "direction": self.direction,
            "inhibits": [{"band": list(i.band), "factor": i.factor, "label": i.label} for i in self.inhibits],
            "window_s": self.window_s,
            "update_hz": self.update_hz,
            "target_reward_rate": self.target_reward_rate,
            "adapt_rate": self.adapt_rate,
            "artifact_ptp_uv": self.artifact_ptp_uv,
        }



def _resolve_band(src, band, settings=None) -> tuple[float, float]:
    if not isinstance(band, str):
        return (float(band[0]), float(band[1]))
    settings = settings if settings is not None else load_settings()
    table = {name: (lo, hi) for name, lo, hi in settings.bands.bands}
    if band not in table:
        raise ConfigError(f"{src}: Invalid value for the 'bands' parameter. {_band_names_problem(settings)}, "
                          f"but got {band!r} instead.")
    return table[band]


def load_protocol(name_or_path: str | os.PathLike, *, settings=None) -> Protocol:
    """Load and validate a protocol.

    Parameters
    ----------
    name_or_path : str | path-like
        A name in :func:`protocols_dir` (e.g. ``"alpha-up"``, see :func:`list_protocols`) or the
        path of a YAML file.
    settings : Settings | None
        Where band names are resolved; default :func:`neurofeedback.config.load_settings`.

    Returns
    -------
    protocol : Protocol

    Raises
    ------
    ConfigError
        One line naming the file and the problem (unknown protocol name, missing file, bad YAML,
        unknown key, invalid value, unknown band name, ``faa`` without pairs, …).
    """
    if isinstance(name_or_path, Protocol):
        return name_or_path
    text = os.fspath(name_or_path)
    path = Path(text)
    is_path = path.suffix.lower() in (".yaml", ".yml") or os.sep in text or "/" in text
    if not is_path:
        folder = protocols_dir()
        path = folder / f"{text}.yaml"
        if not path.is_file():
            raise ConfigError(
                f"{path}: Invalid value for the 'protocol' parameter. Allowed values are "
                f"{_fmt_allowed(list_protocols()) or 'none (empty folder)'} or a YAML path, but got "
                f"{text!r} instead."
            )
    doc = {"name": path.stem, **read_yaml_mapping(path, kind="protocol", hint="")}
    settings = settings if settings is not None else load_settings()
    return parse_config(Protocol, doc, path, context={"settings": settings})


def list_protocols() -> list[str]:
    """Return the names of the protocols in :func:`protocols_dir`, sorted."""
    folder = protocols_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if p.is_file())
