"""Neurofeedback protocols: what is trained, where, and how the reward is decided.

A protocol is a frozen, validated description loaded from ``configs/protocols/<name>.yaml``
(or any YAML path): the metric (relative or absolute band power, a band ratio, or frontal alpha
asymmetry), its band(s), the channels it prefers, the direction that is rewarded, the inhibits
("reward only while X is not raised"), the window and update rate, and the adaptation settings
of the reward threshold. The loop itself is :func:`neurofeedback.feedback.step.step`.

YAML schema (every key but ``metric``, ``bands``, ``direction`` and ``channels``/``pairs`` is
optional; unknown keys are errors)::

    name: alpha-up                  # default: the file name without .yaml
    description: Posterior alpha up (relaxed wakefulness).
    metric: relative_power          # relative_power | absolute_power | band_ratio | faa
    bands: [alpha]                  # names from configs/bands.yaml or [lo, hi] in Hz
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
and the problem, MNE style ("Invalid value for the 'direction' parameter. Allowed values are
'up' and 'down', but got 'sideways' instead.").
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path


from .._validate import _fmt_allowed
from ..config import config_dir, load_settings, read_yaml_mapping
from ..errors import ConfigError

__all__ = [
    "DEFAULT_ADAPT_RATE",
    "Inhibit",
    "METRICS",
    "PROTOCOLS_DIR",
    "Protocol",
    "list_protocols",
    "load_protocol",
    "protocols_dir",
]

#: The repository's protocol folder (``configs/protocols``), found as :mod:`neurofeedback.config`
#: finds ``configs/``. :func:`protocols_dir` honours ``$NEUROFEEDBACK_CONFIGS`` as well.
PROTOCOLS_DIR: Path = Path(__file__).resolve().parent.parent.parent / "configs" / "protocols"

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

_KEYS = (
    "name", "description", "metric", "bands", "channels", "pairs", "direction", "inhibits",
    "window_s", "update_hz", "target_reward_rate", "adapt_rate", "artifact_ptp_uv",
)


def protocols_dir() -> Path:
    """Return the folder protocol names are looked up in.

    Returns
    -------
    path : Path
        ``<configs>/protocols`` where ``<configs>`` is :func:`neurofeedback.config.config_dir`
        (``$NEUROFEEDBACK_CONFIGS`` when set, else the repository's ``configs/``).
    """
    return config_dir() / "protocols"


def _fail(src, problem: str) -> ConfigError:
    err = ConfigError(f"{src}: {problem}")
    err.problem = problem
    return err


def _invalid(src, key, value, allowed) -> ConfigError:
    return _fail(
        src,
        f"Invalid value for the {key!r} parameter. Allowed values are {_fmt_allowed(allowed)}, "
        f"but got {value!r} instead.",
    )


def _number(src, key, value, *, lo=None, hi=None, lo_open=True, hi_open=False, what="") -> float:
    try:
        if isinstance(value, bool):  # YAML's yes/no are not numbers
            raise TypeError
        v = float(value)
    except (TypeError, ValueError):
        raise _fail(
            src, f"Invalid value for the {key!r} parameter. It must be a number, but got {value!r} instead."
        ) from None
    bad = not math.isfinite(v)
    if lo is not None:
        bad |= v <= lo if lo_open else v < lo
    if hi is not None:
        bad |= v >= hi if hi_open else v > hi
    if bad:
        if not what:
            left, right = ("(" if lo_open else "["), (")" if hi_open else "]")
            lo_s = "-inf" if lo is None else f"{lo:g}"
            hi_s = "inf" if hi is None else f"{hi:g}"
            what = f"a finite number in {left}{lo_s}, {hi_s}{right}"
        raise _fail(
            src, f"Invalid value for the {key!r} parameter. It must be {what}, but got {value!r} instead."
        )
    return v


def _band(src, key, value):
    """A band as written: a name (str) or an explicit ``(lo, hi)`` pair of floats."""
    if isinstance(value, str):
        if not value:
            raise _fail(src, f"Invalid value for the {key!r} parameter. A band name must not be empty.")
        return value
    if isinstance(value, (list, tuple)) and len(value) == 2:
        lo = _number(src, key, value[0], lo=0.0, lo_open=False, what="a [low, high] pair in Hz")
        hi = _number(src, key, value[1], lo=0.0, what="a [low, high] pair in Hz")
        if not lo < hi:
            raise _fail(
                src,
                f"Invalid value for the {key!r} parameter. It needs low < high, but got "
                f"{list(value)!r} instead.",
            )
        return (lo, hi)
    raise _fail(
        src,
        f"Invalid value for the {key!r} parameter. It must be a band name from bands.yaml or a "
        f"[low, high] pair in Hz, but got {value!r} instead.",
    )


def _names(src, key, value) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value or not all(
        isinstance(v, str) and v for v in value
    ):
        raise _fail(
            src, f"Invalid value for the {key!r} parameter. It must be a non-empty list of channel names, "
            f"but got {value!r} instead."
        )
    return tuple(value)


@dataclass(frozen=True)
class Inhibit:
    """Reward only while the power in ``band`` is not raised.

    Attributes
    ----------
    band : tuple of float
        ``(lo, hi)`` in Hz, e.g. ``(20.0, 30.0)`` high beta, ``(30.0, 45.0)`` EMG.
    factor : float
        A training window is inhibited when its absolute power in ``band`` (µV², mean over the
        protocol's used channels) exceeds ``factor`` × its median over the clean baseline windows.
    label : str
        What the band stands for, shown as ``"inhibit: <label>"``.
    """

    band: tuple[float, float]
    factor: float
    label: str

    def __post_init__(self):
        src = f"inhibit {self.label!r}"
        band = _band(src, "band", self.band)
        if isinstance(band, str):
            raise _fail(src, f"Invalid value for the 'band' parameter. It must be a (low, high) pair in Hz, "
                        f"but got {self.band!r} instead (names are resolved by load_protocol).")
        object.__setattr__(self, "band", band)
        object.__setattr__(self, "factor", _number(src, "factor", self.factor, lo=0.0))
        if not isinstance(self.label, str) or not self.label:
            raise _fail(src, f"Invalid value for the 'label' parameter. It must be a non-empty string, "
                        f"but got {self.label!r} instead.")


@dataclass(frozen=True)
class Protocol:
    """A neurofeedback protocol (build with :func:`load_protocol`; validated on construction).

    Attributes
    ----------
    name, description : str
    metric : str
        ``"relative_power"`` (band / 1–45 Hz power, mean of the per-channel fractions),
        ``"absolute_power"`` (µV², mean over channels), ``"band_ratio"`` (mean numerator power /
        mean denominator power over the channels) or ``"faa"`` (ln α right − ln α left).
    bands : tuple
        ``(band,)``, or ``(numerator, denominator)`` for ``band_ratio``; each a name from
        ``configs/bands.yaml`` or an explicit ``(lo, hi)`` in Hz, e.g. SMR ``(12.0, 15.0)``.
    channels : tuple of str
        Preference list: the protocol uses every one of them present on the board (matched
        case-insensitively). For ``faa`` it is the channels of ``pairs``.
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

    name: str
    description: str
    metric: str
    bands: tuple
    channels: tuple[str, ...]
    direction: str
    pairs: tuple = ()
    inhibits: tuple[Inhibit, ...] = ()
    window_s: float = 2.0
    update_hz: float = 4.0
    target_reward_rate: float = 0.65
    adapt_rate: float = DEFAULT_ADAPT_RATE
    artifact_ptp_uv: float = 150.0

    def __post_init__(self):
        _check_protocol(self, f"protocol {self.name!r}")

    # -----------------------------------------------------------------------------------------
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
        return tuple(_resolve_band(f"protocol {self.name!r}", "bands", b, settings) for b in self.bands)

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
            wanted = ", ".join(f"{l}/{r}" for l, r in self.pairs)
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


def _resolve_band(src, key, band, settings=None) -> tuple[float, float]:
    if not isinstance(band, str):
        return (float(band[0]), float(band[1]))
    settings = settings if settings is not None else load_settings()
    table = {name: (lo, hi) for name, lo, hi in settings.bands.bands}
    if band not in table:
        raise _fail(
            src, f"Invalid value for the {key!r} parameter. Allowed values are the band names "
            f"{_fmt_allowed(table)} (configs/bands.yaml) or a [low, high] pair in Hz, but got {band!r} instead."
        )
    return tuple(float(v) for v in table[band])


def _check_protocol(p: Protocol, src) -> None:
    """Validate (and normalise in place, the dataclass being frozen) every field of ``p``."""

    def set_(key, value):  # normalise the frozen dataclass's field
        object.__setattr__(p, key, value)

    if not isinstance(p.name, str) or not p.name:
        raise _fail(src, "Invalid value for the 'name' parameter. It must be a non-empty string, "
                    f"but got {p.name!r} instead.")
    if not isinstance(p.description, str):
        raise _fail(src, "Invalid value for the 'description' parameter. It must be a string, "
                    f"but got {p.description!r} instead.")
    if p.metric not in METRICS:
        raise _invalid(src, "metric", p.metric, METRICS)
    if p.direction not in DIRECTIONS:
        raise _invalid(src, "direction", p.direction, DIRECTIONS)
    bands = p.bands
    if isinstance(bands, str) or not isinstance(bands, (list, tuple)):
        bands = (bands,)
    elif len(bands) == 2 and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bands):
        bands = (tuple(bands),)  # one explicit (lo, hi) band
    n_expected = _N_BANDS[p.metric]
    if len(bands) != n_expected:
        what = "(numerator, denominator)" if p.metric == "band_ratio" else "one band"
        raise _fail(
            src, f"Invalid value for the 'bands' parameter. The {p.metric!r} metric needs {what}, "
            f"but got {list(bands)!r} instead."
        )
    set_("bands", tuple(_band(src, "bands", b) for b in bands))
    if p.metric == "faa":
        pairs = p.pairs
        if not isinstance(pairs, (list, tuple)) or not pairs:
            raise _fail(
                src, "Invalid value for the 'pairs' parameter. The 'faa' metric needs a non-empty list of "
                + (f"[left, right] channel pairs, but got {pairs!r} instead." if pairs else
                   "[left, right] channel pairs, but got none.")
            )
        norm = []
        for pair in pairs:
            if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                    or not all(isinstance(c, str) and c for c in pair) or pair[0].lower() == pair[1].lower()):
                raise _fail(
                    src, "Invalid value for the 'pairs' parameter. Each pair must be [left, right] channel "
                    f"names, but got {pair!r} instead."
                )
            norm.append((pair[0], pair[1]))
        set_("pairs", tuple(norm))
        flat = tuple(dict.fromkeys(c for pair in norm for c in pair))
        set_("channels", _names(src, "channels", tuple(p.channels) or flat))
    else:
        if p.pairs:
            raise _fail(src, f"Invalid value for the 'pairs' parameter. Only the 'faa' metric takes pairs, "
                        f"but the metric is {p.metric!r}.")
        set_("channels", _names(src, "channels", p.channels))
    inhibits = p.inhibits if isinstance(p.inhibits, (list, tuple)) else None
    if inhibits is None or not all(isinstance(i, Inhibit) for i in inhibits):
        raise _fail(src, f"Invalid value for the 'inhibits' parameter. It must be a list of Inhibit, "
                    f"but got {p.inhibits!r} instead.")
    labels = [i.label for i in inhibits]
    if len(set(labels)) != len(labels):
        raise _fail(src, f"Invalid value for the 'inhibits' parameter. Their labels must differ, "
                    f"but got {labels!r} instead.")
    set_("inhibits", tuple(inhibits))
    window_s = _number(src, "window_s", p.window_s, lo=_MIN_WINDOW_S, hi=_MAX_WINDOW_S, lo_open=False,
                       what=f"a number of seconds in [{_MIN_WINDOW_S:g}, {_MAX_WINDOW_S:g}]")
    set_("window_s", window_s)
    set_("update_hz", _number(
        src, "update_hz", p.update_hz, lo=1.0 / window_s, hi=_MAX_UPDATE_HZ, lo_open=False,
        what=f"in [1/window_s = {1.0 / window_s:g}, {_MAX_UPDATE_HZ:g}] Hz (at least one update per window)",
    ))
    set_("target_reward_rate", _number(src, "target_reward_rate", p.target_reward_rate, lo=0.05, hi=0.95,
                                       lo_open=False, what="a fraction in [0.05, 0.95]"))
    set_("adapt_rate", _number(src, "adapt_rate", p.adapt_rate, lo=0.0, hi=1.0, lo_open=False,
                               what="a number in [0, 1]"))
    set_("artifact_ptp_uv", _number(src, "artifact_ptp_uv", p.artifact_ptp_uv, lo=0.0))


def _parse_inhibits(src, value, settings) -> tuple[Inhibit, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(src, f"Invalid value for the 'inhibits' parameter. It must be a list of "
                    f"{{band, factor, label}} mappings, but got {value!r} instead.")
    out = []
    for k, item in enumerate(value):
        key = f"inhibits[{k}]"
        if not isinstance(item, dict):
            raise _fail(src, f"Invalid value for the {key!r} parameter. It must be a mapping with band, "
                        f"factor and label, but got {item!r} instead.")
        unknown = sorted(set(item) - {"band", "factor", "label"})
        if unknown:
            raise _fail(src, f"Unknown key(s) {unknown} in {key}. Allowed keys are "
                        "['band', 'factor', 'label'].")
        if "band" not in item or "factor" not in item:
            raise _fail(src, f"{key} needs 'band' and 'factor'.")
        band = _band(src, f"{key}.band", item["band"])
        label = item.get("label")
        if label is None:
            label = band if isinstance(band, str) else f"{band[0]:g}-{band[1]:g} Hz"
        edges = _resolve_band(src, f"{key}.band", band, settings)
        factor = _number(src, f"{key}.factor", item["factor"], lo=0.0)
        if not isinstance(label, str) or not label:
            raise _fail(src, f"Invalid value for the '{key}.label' parameter. It must be a non-empty string, "
                        f"but got {label!r} instead.")
        out.append(Inhibit(band=edges, factor=factor, label=label))
    return tuple(out)


def _listify(value):
    return tuple(value) if isinstance(value, list) else value


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
    doc = read_yaml_mapping(path, kind="protocol", hint="")
    unknown = sorted(set(doc) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}. Allowed keys are {sorted(_KEYS)}")
    for key in ("metric", "bands", "direction"):
        if key not in doc:
            raise ConfigError(f"{path}: missing required key {key!r}")
    settings = settings if settings is not None else load_settings()
    src = str(path)
    metric = doc["metric"]
    if "channels" not in doc and metric != "faa":
        raise ConfigError(f"{path}: missing required key 'channels'")
    bands = doc["bands"]
    if isinstance(bands, (str, dict)) or not isinstance(bands, list):
        bands = [bands]
    # A single [lo, hi] pair of numbers is one explicit band, not two bands.
    if len(bands) == 2 and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bands):
        bands = [bands]
    pairs = doc.get("pairs") or ()
    if isinstance(pairs, list):
        pairs = tuple(_listify(p) for p in pairs)
    kwargs = dict(
        name=doc.get("name", path.stem),
        description=doc.get("description", "") or "",
        metric=metric,
        bands=tuple(_listify(b) for b in bands),
        channels=_listify(doc.get("channels") or ()),
        pairs=pairs,
        direction=doc["direction"],
        inhibits=_parse_inhibits(src, doc.get("inhibits"), settings),
    )
    for key in ("window_s", "update_hz", "target_reward_rate", "adapt_rate", "artifact_ptp_uv"):
        if key in doc:
            kwargs[key] = doc[key]
    try:
        protocol = Protocol(**kwargs)
        protocol.band_edges(settings)  # band names must exist
    except ConfigError as err:
        problem = getattr(err, "problem", str(err))
        raise ConfigError(f"{path}: {problem}") from None
    return protocol


def list_protocols() -> list[str]:
    """Return the names of the protocols in :func:`protocols_dir`, sorted."""
    folder = protocols_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if p.is_file())
