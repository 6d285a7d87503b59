"""The tone output: a continuous sine whose pitch follows the level, played through miniaudio."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading

import numpy as np

from ..._validate import check_option, check_positive
from ...errors import ConfigError
from ._base import FeedbackSink

logger = logging.getLogger("neurofeedback")

#: miniaudio backends by name (``ToneOutput(backend=...)``); ``None`` means every real one.
TONE_BACKENDS = ("pulseaudio", "alsa", "jack", "coreaudio", "wasapi", "dsound", "winmm",
                 "sndio", "audio4", "oss", "aaudio", "opensl", "null")


def _exc_text(exc: BaseException) -> str:
    """An exception as one short line (``MiniaudioError(('failed', -401))`` → ``failed -401``)."""
    args = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], tuple) else exc.args
    return " ".join(str(a) for a in args) or type(exc).__name__


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
        except Exception as exc:  # noqa: BLE001 -- the tone fails soft: any import failure means no tone
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
        except Exception as exc:  # noqa: BLE001 -- miniaudio raises its own types per backend; fail soft
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
            except Exception:  # noqa: BLE001 -- an audio callback must never raise: play silence
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
            except Exception as exc:  # noqa: BLE001 -- closing must not mask the session's end
                logger.debug("closing the tone output: %s", exc)
