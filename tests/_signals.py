"""Small seeded known-signal generators for the unit tests (the full simulator is neurofeedback.simulate)."""

from __future__ import annotations

import numpy as np


def powerlaw_noise(n_times, sfreq, exponent, rng, *, std=1.0):
    """Noise whose PSD is exactly proportional to f^-exponent in expectation (random phases)."""
    f = np.fft.rfftfreq(n_times, 1 / sfreq)
    amp = np.zeros_like(f)
    amp[1:] = f[1:] ** (-exponent / 2)
    spec = amp * np.exp(2j * np.pi * rng.random(f.size))
    x = np.fft.irfft(spec, n_times)
    return x / x.std() * std


def alpha_peak(n_times, sfreq, peak_hz, rng, *, bandwidth=0.6, std=1.0):
    """Narrow-band noise with a Gaussian spectral peak at ``peak_hz``."""
    f = np.fft.rfftfreq(n_times, 1 / sfreq)
    amp = np.exp(-0.5 * ((f - peak_hz) / bandwidth) ** 2)
    x = np.fft.irfft(amp * np.exp(2j * np.pi * rng.random(f.size)), n_times)
    return x / x.std() * std
