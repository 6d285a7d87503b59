"""Random-phase signals with a prescribed spectrum: the building blocks of every simulated part.

All amplitudes are µV and all PSDs one-sided µV²/Hz on the ``np.fft.rfftfreq`` grid.
"""

from __future__ import annotations

import math

import numpy as np

#: Below this frequency the aperiodic PSD is held at its value here (Hz).
APERIODIC_FMIN_HZ = 0.5

_BURST_ENV_SD_HZ = 0.15  # spectral width (SD) of the burst envelope's log: ~1 s correlation
# SD of the log-envelope (x0.37-x2.7 at 2 SD), on top of the narrow-band carrier's own waxing
_BURST_ENV_LOG_SD = 0.5


def _spectral_noise(rng, n_times: int, sfreq: float, psd: np.ndarray) -> np.ndarray:
    """Random-phase signal whose one-sided PSD is ``psd`` (defined on ``rfftfreq``), µV.

    Each bin gets amplitude ``sqrt(psd · sfreq · n / 2)`` and a uniform random phase; by
    Parseval the variance is ``sum(psd) · sfreq / n`` = the integral of the PSD.
    """
    amp = np.sqrt(psd * sfreq * n_times / 2.0)
    amp[0] = 0.0
    if n_times % 2 == 0:
        amp[-1] = 0.0  # the Nyquist bin cannot carry a phase
    phases = rng.uniform(0.0, 2.0 * np.pi, size=amp.shape)
    return np.fft.irfft(amp * np.exp(1j * phases), n=n_times)


def _aperiodic_psd(freqs: np.ndarray, offset: float, exponent: float) -> np.ndarray:
    """``offset · f^-exponent`` (µV²/Hz), held flat below :data:`APERIODIC_FMIN_HZ`."""
    return offset * np.maximum(freqs, APERIODIC_FMIN_HZ) ** (-exponent)


def _gaussian_peak(freqs: np.ndarray, center: float, fwhm: float) -> np.ndarray:
    """A Gaussian of height 1 centred on ``center`` Hz with full width at half maximum ``fwhm``."""
    sd = fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    return np.exp(-0.5 * ((freqs - center) / sd) ** 2)


def _burst_envelope(rng, n_times: int, sfreq: float) -> np.ndarray:
    """Smooth positive envelope with mean square 1 (log-normal, ~1 s correlation time)."""
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    z = _spectral_noise(rng, n_times, sfreq, np.exp(-0.5 * (freqs / _BURST_ENV_SD_HZ) ** 2))
    sd = z.std()
    z = z / sd if sd > 0 else z
    env = np.exp(_BURST_ENV_LOG_SD * z)
    return env / np.sqrt(np.mean(env**2))


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving Hann-weighted average with edge padding (length preserved)."""
    if width < 3:
        return x
    kernel = np.hanning(width)
    kernel /= kernel.sum()
    pad = width // 2
    xp = np.pad(x, (pad, width - 1 - pad), mode="edge")
    return np.convolve(xp, kernel, mode="valid")
