"""Feedback outputs: what a person sees and hears, and what games and other apps receive.

The closed loop produces, ``update_hz`` times a second, a feedback update (a
:class:`~neurofeedback.feedback.step.FeedbackOutput`; any object with the attributes below will
do). Each output is a *sink*: ``sink.send(out)`` after every update, ``sink.close()`` at the end.

==============  =========  ======================================================================
attribute       type       meaning
==============  =========  ======================================================================
``t``           float      seconds since the start of the loop
``phase``       str        ``"baseline"`` (calibration, no reward) or ``"training"``
``metric``      float      the protocol's metric of the last window; NaN on an artifact window
``threshold``   float      the reward threshold, in the metric's unit; NaN during the baseline
``reward``      bool       the window is rewarded
``artifact``    bool       the window was rejected as an artifact (no metric, no reward)
``inhibited``   bool       an inhibit band was raised (no reward)
``reason``      str        why there is no reward (artifact/inhibit), or a short status
``level``       float      0..1, the metric's position in the baseline distribution (gauge, tone)
``reward_rate`` float      running fraction of rewarded training windows, 0..1
==============  =========  ======================================================================

The loop's ``level`` is 0.5 at the threshold during training (higher = further on the rewarded
side), so the terminal gauge marks the threshold in its middle; an optional ``threshold_level``
attribute (0..1) overrides that position.

Outputs (``--output``, see :func:`parse_outputs`):

``terminal``
    :class:`TerminalGauge` builds a rich renderable (gauge bar of ``level`` with the threshold
    marked, metric, reward ●/○, phase, reward rate, artifact/inhibit reason). It never prints:
    the caller owns the ``rich.live.Live``. It is not a sink (:func:`open_outputs` skips it).
``tone``
    :class:`ToneOutput`: a continuous sine whose pitch follows ``level``
    (``base_hz + span_hz * level``), at ``volume`` while rewarded, quieter otherwise
    (``no_reward_gain``), silent during the baseline and on artifacts. It plays through
    `miniaudio <https://pypi.org/project/miniaudio/>`_ (a self-contained wheel: PulseAudio, ALSA
    or JACK on Linux, CoreAudio, WASAPI). It **fails soft**: without the package or without an
    audio device it logs one warning, ``available`` is False and ``send``/``close`` do nothing.
``lsl``
    :class:`LslOutput`: a Lab Streaming Layer outlet, type ``"Feedback"``, irregular rate (or a
    nominal ``update_hz``), six float32 channels :data:`LSL_CHANNELS` = ``metric, threshold,
    reward, level, artifact, reward_rate`` (booleans as 0/1; NaN passes through as NaN), labelled
    in the stream's XML description (``<desc><channels><channel><label>…``), one sample per
    update stamped with ``pylsl.local_clock()``. ``stream_info`` entries (protocol, metric, bands,
    …) are written under ``<desc><neurofeedback>``.
``osc``
    :class:`OscOutput`: Open Sound Control over UDP (default ``127.0.0.1:5005``), per update:

    ==================================  ==========  ============================================
    address                             type tags   value
    ==================================  ==========  ============================================
    ``/neurofeedback/metric``           ``f``       metric (NaN on artifact)
    ``/neurofeedback/threshold``        ``f``       threshold (NaN during the baseline)
    ``/neurofeedback/reward``           ``i``       1 rewarded, 0 not
    ``/neurofeedback/level``            ``f``       0..1 (NaN when there is no metric)
    ``/neurofeedback/artifact``         ``i``       1 artifact window, 0 clean
    ``/neurofeedback/reward_rate``      ``f``       0..1
    ``/neurofeedback/phase``            ``s``       ``baseline`` or ``training``
    ``/neurofeedback/update``           ``ffifif``  metric, threshold, reward, level, artifact,
                                                    reward_rate in one message
    ==================================  ==========  ============================================

    The prefix (``/neurofeedback``) is configurable. With ``bundle=True`` the eight messages of
    an update travel in one OSC bundle (time tag "immediately", one UDP datagram) instead of
    eight datagrams. Receivers that only want one message per update listen to ``…/update``.

NaN: LSL float32 samples and OSC ``f`` arguments carry IEEE NaN unchanged (the metric on an
artifact window, the threshold during the baseline, the level with no metric). Receivers must
test for it (``math.isnan``, ``Number.isNaN``, ``float.IsNaN``) rather than compare; ``artifact``
and ``phase`` tell why a value is missing.

LSL on one machine
------------------
liblsl reads its configuration once per process, at its first use, from ``$LSLAPICFG``, then
``./lsl_api.cfg``, ``~/lsl_api/lsl_api.cfg``, ``/etc/lsl_api/lsl_api.cfg``. Its default
("site" scope) discovers streams by multicast and broadcast on every network interface
(224.0.0.1, 224.0.0.183, 239.255.172.215, 255.255.255.255, IPv6 groups). For feedback consumed on
the same computer :func:`configure_lsl` (called by :class:`LslOutput` with ``scope="machine"``,
the default) writes :data:`LSL_MACHINE_CONFIG` to a file in the temporary folder and points
``$LSLAPICFG`` at it, so the process and the programs it starts use it (machine resolve
scope, ``MachineAddresses`` and ``KnownPeers`` = 127.0.0.1, IPv6 off, log level -2).

Discovery then only talks to 127.0.0.1 (``KnownPeers`` adds unicast queries to the outlets' own
ports there, a fallback should the shared discovery port not reach every process), and liblsl's
INFO lines stay off the terminal. A receiver on the same machine finds the stream with this file
*or* with liblsl's defaults (which include 127.0.0.1). To reach other computers, pass ``scope="network"`` (liblsl's defaults, quiet
log) or set ``$LSLAPICFG`` yourself: an ``$LSLAPICFG`` or ``lsl_api.cfg`` the user already has is
always respected and never overwritten. Because the configuration is read once, it must be in
place before the process's first LSL call; :class:`LslOutput` does that before it imports
anything from liblsl.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import socket
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .._validate import _fmt_allowed, check_option, check_positive
from ..errors import ConfigError

__all__ = [
    "LSL_CHANNELS",
    "LSL_MACHINE_CONFIG",
    "OUTPUTS",
    "FeedbackSink",
    "LslOutput",
    "OscOutput",
    "TerminalGauge",
    "ToneOutput",
    "configure_lsl",
    "open_outputs",
    "parse_outputs",
]

logger = logging.getLogger("neurofeedback")

#: The names ``--output`` accepts.
OUTPUTS = ("terminal", "tone", "lsl", "osc")

#: The channels of the LSL stream, in order (and the ``…/update`` OSC message's arguments).
LSL_CHANNELS = ("metric", "threshold", "reward", "level", "artifact", "reward_rate")

_CHANNEL_UNITS = {"reward": "bool", "artifact": "bool", "level": "fraction",
                  "reward_rate": "fraction"}

#: liblsl configuration for discovery on this machine only (see the module docstring).
LSL_MACHINE_CONFIG = """\
; written by neurofeedback (neurofeedback.feedback.outputs.configure_lsl)
; LSL discovery on this machine only: 127.0.0.1, no multicast or broadcast on the network.
[ports]
IPv6 = disable

[multicast]
ResolveScope = machine
MachineAddresses = {127.0.0.1}

[lab]
KnownPeers = {127.0.0.1}

[log]
level = -2
"""

#: liblsl's default configuration (site-wide discovery), with its INFO log lines silenced.
LSL_NETWORK_CONFIG = """\
; written by neurofeedback (neurofeedback.feedback.outputs.configure_lsl)
; liblsl's default discovery (site scope); only the log level is changed.
[log]
level = -2
"""

LSL_SCOPES = ("machine", "network")

_FLOAT32_MAX = float(np.finfo(np.float32).max)


# ----------------------------------------------------------------------------------------------
# parsing and helpers
# ----------------------------------------------------------------------------------------------
def parse_outputs(text: str) -> tuple[str, ...]:
    """Parse the ``--output`` option into a tuple of output names.

    Parameters
    ----------
    text : str
        Comma-separated names from :data:`OUTPUTS`, e.g. ``"terminal,lsl,osc"``; case and
        spaces around the names do not matter, repeats are dropped.

    Returns
    -------
    outputs : tuple of str
        The names in the order given.

    Raises
    ------
    ConfigError
        For an unknown or empty name, MNE style: "Invalid value for the --output parameter.
        Allowed values are 'terminal', 'tone', 'lsl' and 'osc', but got 'x' instead."
    """
    if not isinstance(text, str):
        raise ConfigError(
            f"Invalid value for the --output parameter. It must be a comma-separated string of "
            f"{_fmt_allowed(OUTPUTS)}, but got {text!r} instead."
        )
    names = [part.strip().lower() for part in text.split(",")]
    result: list[str] = []
    for name, raw in zip(names, text.split(",")):
        if name not in OUTPUTS:
            raise ConfigError(
                f"Invalid value for the --output parameter. Allowed values are "
                f"{_fmt_allowed(OUTPUTS)}, but got {raw.strip()!r} instead."
            )
        if name not in result:
            result.append(name)
    return tuple(result)


def _num(value) -> float:
    """``value`` as a Python float that fits float32 (NaN stays NaN, overflow becomes ±inf)."""
    v = float(value)
    if math.isfinite(v) and abs(v) > _FLOAT32_MAX:
        return math.copysign(math.inf, v)
    return v


def _values(out) -> tuple[float, ...]:
    """The update as the six numbers of :data:`LSL_CHANNELS` (booleans as 0.0/1.0)."""
    return (_num(out.metric), _num(out.threshold), 1.0 if out.reward else 0.0, _num(out.level),
            1.0 if out.artifact else 0.0, _num(out.reward_rate))


def _exc_text(exc: BaseException) -> str:
    """An exception as one short line (``MiniaudioError(('failed', -401))`` → ``failed -401``)."""
    args = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], tuple) else exc.args
    return " ".join(str(a) for a in args) or type(exc).__name__


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–:––"
    m, s = divmod(int(round(max(0.0, seconds))), 60)
    return f"{m:d}:{s:02d}"


def _fmt(value, spec: str = ".4g") -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return format(v, spec) if math.isfinite(v) else "–"


# ----------------------------------------------------------------------------------------------
# base class
# ----------------------------------------------------------------------------------------------
class FeedbackSink:
    """Base class of the feedback outputs: ``send`` every update, ``close`` at the end.

    A sink may be used as a context manager (``close`` on exit). ``send`` must be fast (it is
    called from the loop, ``update_hz`` times a second) and ``close`` idempotent.
    """

    #: The output's name in :data:`OUTPUTS`.
    name = "sink"

    def send(self, out) -> None:
        """Deliver one feedback update (an object with the attributes in the module docstring)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the output's resources; further ``send`` calls do nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ----------------------------------------------------------------------------------------------
# terminal
# ----------------------------------------------------------------------------------------------
class TerminalGauge:
    """Builds the live feedback display as a rich renderable (it never prints).

    Parameters
    ----------
    width : int
        Cells of the gauge bar (level 0 → first cell, 1 → last).

    Notes
    -----
    The bar is drawn between ``[`` and ``]``: cell ``i`` (0-based) is filled (``█``) when
    ``i < round(level * width)``, else ``░``; the threshold marker ``┃`` sits in cell
    ``min(width - 1, int(threshold_level * width))`` (see :meth:`threshold_level`: the middle of
    the bar during training, no marker during the baseline). The bar fills green while rewarded.
    """

    FILLED = "█"
    EMPTY = "░"
    MARKER = "┃"
    REWARD = "●"
    NO_REWARD = "○"

    def __init__(self, width: int = 50):
        if isinstance(width, bool) or not isinstance(width, int) or not 10 <= width <= 200:
            raise ConfigError(
                f"Invalid value for the 'width' parameter. It must be an integer in [10, 200], "
                f"but got {width!r} instead."
            )
        self.width = width

    # -- threshold position -------------------------------------------------------------------
    @staticmethod
    def threshold_level(out) -> float | None:
        """Where the threshold sits on the ``level`` scale (0..1), or None when there is none.

        Parameters
        ----------
        out : FeedbackOutput
            The update. Its ``threshold_level`` attribute is used when present and finite;
            otherwise 0.5 during training, where the loop's ``level`` is
            ``logistic(±(metric − threshold) / scale)``, 0.5 at the threshold by construction
            (:mod:`neurofeedback.feedback.step`); None during the baseline (no threshold yet).
        """
        given = getattr(out, "threshold_level", None)
        if given is not None:
            try:
                g = float(given)
            except (TypeError, ValueError):
                g = math.nan
            if math.isfinite(g):
                return min(1.0, max(0.0, g))
        try:
            thr = float(out.threshold)
        except (TypeError, ValueError):
            return None
        return 0.5 if out.phase == "training" and math.isfinite(thr) else None

    # -- the renderable ------------------------------------------------------------------------
    def bar(self, level: float, threshold_level: float | None, *, reward: bool = False,
            artifact: bool = False):
        """The gauge as a rich ``Text``: ``[████░░┃░░]``."""
        from rich.text import Text

        w = self.width
        lev = float(level) if level is not None else math.nan
        n_fill = int(round(min(1.0, max(0.0, lev)) * w)) if math.isfinite(lev) else 0
        marker = None
        if threshold_level is not None and math.isfinite(threshold_level):
            marker = min(w - 1, max(0, int(threshold_level * w)))
        fill_style = "dim red" if artifact else ("bold green" if reward else "cyan")
        text = Text("[")
        for i in range(w):
            if i == marker:
                text.append(self.MARKER, style="bold yellow")
            elif i < n_fill:
                text.append(self.FILLED, style=fill_style)
            else:
                text.append(self.EMPTY, style="grey42")
        text.append("]")
        return text

    def render(self, out, *, protocol_name: str, elapsed_s: float, duration_s: float,
               extra=None):
        """Build the display of one update.

        Parameters
        ----------
        out : FeedbackOutput
            The update (see the module docstring).
        protocol_name : str
            Shown in the header.
        elapsed_s, duration_s : float
            Session time so far and in total, seconds.
        extra : str | Mapping | rich renderable | None
            Appended below: a mapping as ``key: value`` pairs on one line, a string as dim
            text, anything else as is.

        Returns
        -------
        renderable : rich.console.Group
            For ``Live.update`` or ``Console.print``.
        """
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        training = out.phase == "training"
        elapsed = float(elapsed_s)
        total = float(duration_s)
        head = Text()
        head.append(str(protocol_name), style="bold")
        head.append("   ")
        if training:
            head.append("TRAINING", style="bold green")
        else:
            head.append(f"{str(out.phase).upper()}", style="bold yellow")
            head.append(" (calibrating, no reward)", style="yellow")
        head.append(f"   {_clock(elapsed)} / {_clock(total)}  ({_clock(total - elapsed)} left)")
        frac = min(1.0, max(0.0, elapsed / total)) if total > 0 else 0.0

        thr_level = self.threshold_level(out) if training else None
        gauge = self.bar(out.level, thr_level, reward=bool(out.reward), artifact=bool(out.artifact))
        gauge.append(" –" if out.artifact else f" {_fmt(out.level, '.2f')}")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim")
        grid.add_column()
        grid.add_row("session", ProgressBar(total=1.0, completed=frac, width=self.width + 2))
        grid.add_row("level", gauge)

        values = Text()
        values.append(f"metric {_fmt(out.metric)}", style="bold")
        values.append(f"   threshold {_fmt(out.threshold)}")
        if thr_level is not None:
            values.append(f" ({self.MARKER})", style="yellow")
        values.append("   ")
        if out.reward:
            values.append(f"{self.REWARD} reward", style="bold green")
        else:
            values.append(f"{self.NO_REWARD} no reward", style="dim")
        rate = _fmt(100 * float(out.reward_rate), ".0f")
        values.append(f"   reward rate {rate}{'%' if rate != '–' else ''}")

        parts = [head, grid, values]
        reason = str(getattr(out, "reason", "") or "")
        if out.artifact:
            what = reason if reason.startswith("artifact") else f"artifact: {reason or 'window rejected'}"
            parts.append(Text(f"✕ {what}", style="bold red"))
        elif getattr(out, "inhibited", False):
            what = reason if reason.startswith("inhibit") else f"inhibit: {reason or 'band raised'}"
            parts.append(Text(f"⊘ {what}", style="bold yellow"))
        elif reason and reason != "baseline":
            parts.append(Text(reason, style="dim"))
        if extra is not None:
            if isinstance(extra, Mapping):
                parts.append(Text("   ".join(f"{k}: {v}" for k, v in extra.items()), style="dim"))
            elif isinstance(extra, str):
                parts.append(Text(extra, style="dim"))
            else:
                parts.append(extra)
        return Group(*parts)


# ----------------------------------------------------------------------------------------------
# tone
# ----------------------------------------------------------------------------------------------
#: miniaudio backends by name (``ToneOutput(backend=...)``); ``None`` means every real one.
TONE_BACKENDS = ("pulseaudio", "alsa", "jack", "coreaudio", "wasapi", "dsound", "winmm",
                 "sndio", "audio4", "oss", "aaudio", "opensl", "null")


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (C libraries such as ALSA print there) for a short call."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class ToneOutput(FeedbackSink):
    """A continuous tone whose pitch follows ``level``; louder while rewarded.

    Parameters
    ----------
    base_hz : float
        Pitch at ``level`` 0, Hz.
    span_hz : float
        Pitch rise from ``level`` 0 to 1, Hz: the pitch is ``base_hz + span_hz * level``.
    volume : float
        Amplitude while rewarded, 0 < volume ≤ 1 (full scale 1).
    sample_rate : int
        Output sample rate, Hz.
    no_reward_gain : float
        Amplitude while not rewarded, as a fraction of ``volume`` (0 silences it).
    backend : str | None
        A miniaudio backend from :data:`TONE_BACKENDS`; ``None`` tries the system's real ones.
        ``"null"`` is miniaudio's device that discards the samples (tests, headless runs).

    Attributes
    ----------
    available : bool
        False when no audio library or device could be opened; then ``send`` and ``close`` do
        nothing (one warning was logged).
    frames : int
        Frames rendered so far (the audio thread counts them).

    Notes
    -----
    Silent during the baseline and on artifact windows (NaN level). The audio thread renders a
    phase-continuous sine; pitch and amplitude glide towards their targets with 30 ms time
    constants, so updates 4 times a second do not click.
    """

    name = "tone"
    _GLIDE_S = 0.03

    def __init__(self, base_hz: float = 220.0, span_hz: float = 440.0, volume: float = 0.2,
                 sample_rate: int = 44100, *, no_reward_gain: float = 0.3,
                 backend: str | None = None):
        self.base_hz = check_positive("base_hz", base_hz, exc=ConfigError)
        self.span_hz = check_positive("span_hz", span_hz, exc=ConfigError, allow_zero=True)
        self.volume = check_positive("volume", volume, exc=ConfigError)
        if self.volume > 1.0:
            raise ConfigError(f"Invalid value for the 'volume' parameter. It must be in (0, 1], "
                              f"but got {volume!r} instead.")
        gain = check_positive("no_reward_gain", no_reward_gain, exc=ConfigError, allow_zero=True)
        if gain > 1.0:
            raise ConfigError(f"Invalid value for the 'no_reward_gain' parameter. It must be in "
                              f"[0, 1], but got {no_reward_gain!r} instead.")
        self.no_reward_gain = gain
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or not (
                8000 <= sample_rate <= 192000):
            raise ConfigError(f"Invalid value for the 'sample_rate' parameter. It must be an "
                              f"integer in [8000, 192000], but got {sample_rate!r} instead.")
        self.sample_rate = sample_rate
        self.backend = check_option("backend", backend, TONE_BACKENDS + (None,), exc=ConfigError)
        self.frames = 0
        self.available = False
        self.reason = ""
        self._device = None
        self._lock = threading.Lock()
        self._target = (self.base_hz, 0.0)   # (frequency Hz, amplitude)
        self._freq = self.base_hz
        self._amp = 0.0
        self._phase = 0.0
        self._open()

    def _open(self) -> None:
        try:
            import miniaudio
        except Exception as exc:  # noqa: BLE001  (ImportError, or a broken binary)
            self._unavailable(f"the 'miniaudio' package is not installed ({exc})")
            return
        if self.backend is None:
            backends = [b for b in miniaudio.Backend
                        if b.name not in ("NULL", "CUSTOM", "WEBAUDIO")]
        else:
            backends = [miniaudio.Backend[self.backend.upper()]]
        try:
            with _quiet_stderr():
                device = miniaudio.PlaybackDevice(
                    output_format=miniaudio.SampleFormat.FLOAT32, nchannels=1,
                    sample_rate=self.sample_rate, buffersize_msec=60, backends=backends,
                    app_name="neurofeedback")
                stream = self._stream()
                next(stream)
                device.start(stream)
        except Exception as exc:  # noqa: BLE001  (MiniaudioError and whatever the OS says)
            self._unavailable(f"no audio output device ({_exc_text(exc)})")
            return
        self._device = device
        self.available = True
        logger.info("tone output on %s (%s Hz)", getattr(device, "backend", "?"), self.sample_rate)

    def _unavailable(self, why: str) -> None:
        self.available = False
        self.reason = why
        logger.warning("tone output unavailable: %s; continuing without sound", why)

    def target(self, out) -> tuple[float, float]:
        """The (frequency Hz, amplitude) an update asks for (pure; used by ``send``)."""
        try:
            level = float(out.level)
        except (TypeError, ValueError):
            level = math.nan
        if out.phase != "training" or out.artifact or not math.isfinite(level):
            return (self._target[0], 0.0)
        freq = self.base_hz + self.span_hz * min(1.0, max(0.0, level))
        amp = self.volume * (1.0 if out.reward else self.no_reward_gain)
        return (freq, amp)

    def send(self, out) -> None:
        """Set the tone's pitch and loudness from the update (no-op when unavailable)."""
        if not self.available:
            return
        self._target = self.target(out)  # one tuple assignment: atomic for the audio thread

    def render(self, n: int) -> np.ndarray:
        """Render the next ``n`` samples (float32, mono) towards the current target.

        The audio thread calls it; tests may call it on an unavailable output to check the
        synthesis.
        """
        with self._lock:
            f_t, a_t = self._target
            k = np.arange(1, n + 1, dtype=np.float64)
            decay = np.exp(-k / (self._GLIDE_S * self.sample_rate))
            freq = f_t + (self._freq - f_t) * decay
            amp = a_t + (self._amp - a_t) * decay
            phase = self._phase + 2.0 * np.pi * np.cumsum(freq) / self.sample_rate
            block = (amp * np.sin(phase)).astype(np.float32)
            if n:
                self._freq, self._amp = float(freq[-1]), float(amp[-1])
                self._phase = float(phase[-1] % (2.0 * np.pi))
            self.frames += n
        return block

    def _stream(self):
        n = yield b""
        while True:
            try:
                data = self.render(int(n)).tobytes()
            except Exception:  # noqa: BLE001  (the audio thread must never die)
                data = bytes(4 * int(n))
            n = yield data

    def close(self) -> None:
        """Stop the audio stream (idempotent)."""
        device, self._device = self._device, None
        self.available = False
        if device is not None:
            try:
                device.stop()
                device.close()
            except Exception as exc:  # noqa: BLE001
                logger.debug("closing the tone output: %s", exc)


# ----------------------------------------------------------------------------------------------
# LSL
# ----------------------------------------------------------------------------------------------
def _user_lsl_config() -> str | None:
    """The liblsl configuration the user has set up, if any (it always wins)."""
    env = os.environ.get("LSLAPICFG")
    if env:
        return env
    for cand in (Path("lsl_api.cfg"), Path("~/lsl_api/lsl_api.cfg").expanduser(),
                 Path("/etc/lsl_api/lsl_api.cfg")):
        if cand.is_file():
            return str(cand)
    return None


def configure_lsl(scope: str = "machine") -> Path | None:
    """Point liblsl at a configuration for ``scope``, unless the user has their own.

    Parameters
    ----------
    scope : str
        ``"machine"``: discovery on 127.0.0.1 only (:data:`LSL_MACHINE_CONFIG`);
        ``"network"``: liblsl's default site-wide discovery, with its log quieted.

    Returns
    -------
    path : Path | None
        The configuration file now in ``$LSLAPICFG`` (written to the temporary folder, or the
        user's own), or None when an ``lsl_api.cfg`` is found by liblsl's own search.

    Notes
    -----
    liblsl reads its configuration once per process, at the first LSL call: call this before.
    An existing ``$LSLAPICFG`` or ``lsl_api.cfg`` is respected and left alone. Setting
    ``$LSLAPICFG`` also applies to the programs this process starts.
    """
    check_option("scope", scope, LSL_SCOPES, exc=ConfigError)
    user = _user_lsl_config()
    if user is not None:
        logger.debug("LSL configuration: using the user's %s", user)
        return Path(user) if os.environ.get("LSLAPICFG") else None
    content = LSL_MACHINE_CONFIG if scope == "machine" else LSL_NETWORK_CONFIG
    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    path = Path(tempfile.gettempdir()) / f"neurofeedback-lsl-{scope}-{uid}.cfg"
    try:
        if not path.is_file() or path.read_text() != content:
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(content)
            os.replace(tmp, path)
    except OSError as exc:
        logger.warning("cannot write the LSL configuration %s (%s); using liblsl's defaults",
                       path, exc)
        return None
    os.environ["LSLAPICFG"] = str(path)
    return path


_XML_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def _xml_name(key) -> str:
    name = _XML_NAME.sub("_", str(key)) or "_"
    return name if (name[0].isalpha() or name[0] == "_") else "_" + name


def _append_desc(node, mapping: Mapping) -> None:
    """Write ``mapping`` as child elements of an LSL XML node (nested dicts as elements)."""
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            _append_desc(node.append_child(_xml_name(key)), value)
        else:
            if value is None:
                text = ""
            elif isinstance(value, (str, int, float)):
                text = str(value)
            else:
                text = json.dumps(value, default=str)
            node.append_child_value(_xml_name(key), text)


class LslOutput(FeedbackSink):
    """A Lab Streaming Layer outlet of the feedback (type ``"Feedback"``, 6 float32 channels).

    Parameters
    ----------
    name : str
        The stream's name (what receivers resolve, e.g. ``resolve_byprop("name", name)``).
    source_id : str | None
        A unique id of the source, so receivers reconnect after a restart; default
        ``"neurofeedback:<name>@<hostname>"``.
    update_hz : float | None
        Nominal rate written to the stream info; None (default) is an irregular-rate stream.
    stream_info : Mapping | None
        Written to ``<desc><neurofeedback>`` (protocol, metric, bands, …); ``metric_unit``, when
        given, is the unit of the metric and threshold channels.
    scope : str | None
        LSL discovery scope set up before liblsl's first use (:func:`configure_lsl`):
        ``"machine"`` (default), ``"network"``, or None to leave liblsl's configuration alone.

    Raises
    ------
    ConfigError
        One line naming the stream, when the outlet cannot be created (or pylsl is missing).

    Notes
    -----
    Channels :data:`LSL_CHANNELS`: ``metric, threshold, reward (0/1), level, artifact (0/1),
    reward_rate``; NaN passes through. Each ``send`` pushes one sample stamped with
    ``pylsl.local_clock()``.
    """

    name = "lsl"

    def __init__(self, name: str = "neurofeedback", source_id: str | None = None, *,
                 update_hz: float | None = None, stream_info: Mapping | None = None,
                 scope: str | None = "machine"):
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"Invalid value for the 'lsl_name' parameter. It must be a non-empty "
                              f"string, but got {name!r} instead.")
        if stream_info is not None and not isinstance(stream_info, Mapping):
            raise ConfigError(f"Invalid value for the 'stream_info' parameter. It must be a "
                              f"mapping, but got {type(stream_info).__name__} instead.")
        rate = 0.0 if update_hz is None else check_positive("update_hz", update_hz, exc=ConfigError)
        check_option("scope", scope, LSL_SCOPES + (None,), exc=ConfigError)
        self.stream_name = name
        self.source_id = source_id or f"neurofeedback:{name}@{socket.gethostname()}"
        self.config_path = configure_lsl(scope) if scope is not None else None
        try:
            import pylsl
        except Exception as exc:  # noqa: BLE001  (ImportError, or liblsl missing)
            raise ConfigError(f"Cannot open the LSL output {name!r}: pylsl is not available "
                              f"({exc}).") from None
        self._pylsl = pylsl
        info_doc = dict(stream_info or {})
        try:
            info = pylsl.StreamInfo(name, "Feedback", len(LSL_CHANNELS),
                                    rate if rate > 0 else pylsl.IRREGULAR_RATE, "float32",
                                    self.source_id)
            desc = info.desc()
            desc.append_child_value("manufacturer", "neurofeedback")
            channels = desc.append_child("channels")
            metric_unit = str(info_doc.get("metric_unit", "") or "")
            for label in LSL_CHANNELS:
                ch = channels.append_child("channel")
                ch.append_child_value("label", label)
                ch.append_child_value("unit", _CHANNEL_UNITS.get(label, metric_unit))
                ch.append_child_value("type", "Feedback")
            if info_doc:
                _append_desc(desc.append_child("neurofeedback"), info_doc)
            self._outlet = pylsl.StreamOutlet(info)
        except Exception as exc:  # noqa: BLE001  (liblsl raises RuntimeError/ValueError)
            raise ConfigError(f"Cannot open the LSL output {name!r}: {exc}") from None
        logger.info("LSL outlet %r (type Feedback, source %s)", name, self.source_id)

    def send(self, out) -> None:
        """Push one sample (:data:`LSL_CHANNELS`) stamped with the LSL local clock."""
        outlet = self._outlet
        if outlet is None:
            return
        outlet.push_sample(list(_values(out)), self._pylsl.local_clock())

    def have_consumers(self) -> bool:
        """True when at least one inlet is connected."""
        return bool(self._outlet is not None and self._outlet.have_consumers())

    def close(self) -> None:
        """Destroy the outlet (receivers see the stream end). Idempotent."""
        outlet, self._outlet = self._outlet, None
        if outlet is not None:
            del outlet


# ----------------------------------------------------------------------------------------------
# OSC
# ----------------------------------------------------------------------------------------------
_OSC_BAD = re.compile(r"[\s#*,?\[\]{}]")


class OscOutput(FeedbackSink):
    """Open Sound Control messages over UDP, one set per update (address space: module docs).

    Parameters
    ----------
    host : str
        Receiver host name or address (default this machine).
    port : int
        Receiver UDP port.
    prefix : str
        Address prefix, e.g. ``"/neurofeedback"`` → ``/neurofeedback/metric``.
    bundle : bool
        Send the update's messages in one OSC bundle (one datagram) instead of one datagram each.

    Raises
    ------
    ConfigError
        For an invalid port or prefix, or a host that does not resolve (one line).

    Notes
    -----
    UDP is fire-and-forget: nothing is an error when no one listens. A send the operating system
    refuses (e.g. network unreachable) logs one warning and the output keeps trying.
    """

    name = "osc"

    def __init__(self, host: str = "127.0.0.1", port: int = 5005, prefix: str = "/neurofeedback",
                 *, bundle: bool = False):
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConfigError(f"Invalid value for the 'osc_port' parameter. It must be an integer "
                              f"in [1, 65535], but got {port!r} instead.")
        if not isinstance(prefix, str) or not prefix.startswith("/") or _OSC_BAD.search(prefix):
            raise ConfigError(f"Invalid value for the 'osc_prefix' parameter. It must start with '/' "
                              f"and contain no spaces or any of #*,?[]{{}}, but got {prefix!r} "
                              f"instead.")
        if not isinstance(host, str) or not host:
            raise ConfigError(f"Invalid value for the 'osc_host' parameter. It must be a host name "
                              f"or address, but got {host!r} instead.")
        from pythonosc.udp_client import UDPClient

        self.host, self.port, self.bundle = host, port, bool(bundle)
        self.prefix = prefix.rstrip("/")
        try:
            self._client = UDPClient(host, port)
        except (OSError, UnicodeError) as exc:
            raise ConfigError(f"Invalid value for the 'osc_host' parameter: cannot resolve "
                              f"{host!r} ({exc}).") from None
        self._warned = False
        logger.info("OSC output to %s:%d%s", host, port, self.prefix)

    def messages(self, out) -> list:
        """The OSC messages of one update, in sending order (``pythonosc`` ``OscMessage``)."""
        from pythonosc.osc_message_builder import OscMessageBuilder

        metric, thr, reward, level, artifact, rate = _values(out)
        p = self.prefix
        spec = [(f"{p}/metric", [(metric, "f")]), (f"{p}/threshold", [(thr, "f")]),
                (f"{p}/reward", [(int(reward), "i")]), (f"{p}/level", [(level, "f")]),
                (f"{p}/artifact", [(int(artifact), "i")]), (f"{p}/reward_rate", [(rate, "f")]),
                (f"{p}/phase", [(str(out.phase), "s")]),
                (f"{p}/update", [(metric, "f"), (thr, "f"), (int(reward), "i"), (level, "f"),
                                 (int(artifact), "i"), (rate, "f")])]
        msgs = []
        for address, args in spec:
            b = OscMessageBuilder(address=address)
            for value, tag in args:
                b.add_arg(value, tag)
            msgs.append(b.build())
        return msgs

    def send(self, out) -> None:
        """Send the update's messages (or one bundle of them)."""
        client = self._client
        if client is None:
            return
        msgs = self.messages(out)
        try:
            if self.bundle:
                from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder

                bb = OscBundleBuilder(IMMEDIATELY)
                for m in msgs:
                    bb.add_content(m)
                client.send(bb.build())
            else:
                for m in msgs:
                    client.send(m)
        except OSError as exc:
            if not self._warned:
                logger.warning("OSC output to %s:%d: %s (still trying)", self.host, self.port, exc)
                self._warned = True

    def close(self) -> None:
        """Close the socket. Idempotent."""
        client, self._client = self._client, None
        if client is not None:
            client.close()


# ----------------------------------------------------------------------------------------------
# opening what was asked
# ----------------------------------------------------------------------------------------------
def open_outputs(names, *, lsl_name: str = "neurofeedback", lsl_source_id: str | None = None,
                 lsl_scope: str | None = "machine", osc_host: str = "127.0.0.1",
                 osc_port: int = 5005, osc_prefix: str = "/neurofeedback",
                 osc_bundle: bool = False, tone_base_hz: float = 220.0,
                 tone_span_hz: float = 440.0, tone_volume: float = 0.2,
                 update_hz: float | None = None,
                 stream_info: Mapping | None = None) -> list[FeedbackSink]:
    """Open the sinks of the outputs asked for.

    Parameters
    ----------
    names : str | iterable of str
        Output names (:data:`OUTPUTS`) or an ``--output`` string. ``"terminal"`` is skipped: the
        caller draws :class:`TerminalGauge` itself.
    lsl_name, lsl_source_id, lsl_scope
        :class:`LslOutput`'s ``name``, ``source_id`` and ``scope``.
    osc_host, osc_port, osc_prefix, osc_bundle
        :class:`OscOutput`'s ``host``, ``port``, ``prefix`` and ``bundle``.
    tone_base_hz, tone_span_hz, tone_volume
        :class:`ToneOutput`'s ``base_hz``, ``span_hz`` and ``volume``.
    update_hz : float | None
        Nominal rate of the LSL stream (None: irregular).
    stream_info : Mapping | None
        Description of the session for the LSL stream's XML (protocol, metric, bands, …).

    Returns
    -------
    sinks : list of FeedbackSink
        In the order asked. A tone without audio is still returned (``available`` False, a
        no-op) after one warning.

    Raises
    ------
    ConfigError
        For an unknown name, or an LSL/OSC output that cannot be opened (one line); the sinks
        opened before it are closed.
    """
    if isinstance(names, str):
        wanted = parse_outputs(names)
    else:
        wanted = parse_outputs(",".join(str(n) for n in names)) if names else ()
    sinks: list[FeedbackSink] = []
    try:
        for name in wanted:
            if name == "tone":
                sinks.append(ToneOutput(tone_base_hz, tone_span_hz, tone_volume))
            elif name == "lsl":
                sinks.append(LslOutput(lsl_name, lsl_source_id, update_hz=update_hz,
                                       stream_info=stream_info, scope=lsl_scope))
            elif name == "osc":
                sinks.append(OscOutput(osc_host, osc_port, osc_prefix, bundle=osc_bundle))
    except BaseException:
        for sink in sinks:
            with contextlib.suppress(Exception):
                sink.close()
        raise
    return sinks
