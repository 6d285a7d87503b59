"""The spectral hot path against scipy and known signals."""

import numpy as np
import pytest
import scipy.signal
from scipy.integrate import trapezoid

from neurofeedback.spectral import band_power, band_weights, epoch_starts, welch_epochs, welch_psd

BANDS = [("delta", 1, 4), ("theta", 4, 8), ("alpha", 8, 13), ("beta", 13, 30), ("gamma", 30, 45)]


@pytest.fixture(scope="module")
def noise():
    return np.random.default_rng(0).standard_normal((3, 250 * 60)) * 10


@pytest.mark.parametrize("window", ["hann", "hamming"])
def test_welch_epochs_equals_scipy_on_every_epoch(noise, window):
    sf = 250.0
    starts = epoch_starts(noise.shape[1], sf, length_s=4, step_s=2)
    psd, freqs = welch_epochs(noise, sf, starts, length_s=4, segment_s=2, overlap=0.5, window=window)
    for e, s in enumerate(starts):
        f_ref, p_ref = scipy.signal.welch(noise[:, s:s + 1000], sf, window=window, nperseg=500,
                                          noverlap=250, detrend="constant")
        np.testing.assert_allclose(freqs, f_ref)
        # Same arithmetic per segment; only summation order differs (cumulative sums).
        np.testing.assert_allclose(psd[e], p_ref, rtol=1e-9, atol=1e-12 * p_ref.max())


def test_welch_epochs_unaligned_starts_and_odd_segments(noise):
    sf = 250.0
    starts = np.array([0, 7, 1234, 5001])
    psd, freqs = welch_epochs(noise, sf, starts, length_s=3, segment_s=1.5, overlap=0.3)
    nper = 375
    nover = nper - (nper - int(round(0.3 * nper)))
    for e, s in enumerate(starts):
        _, p_ref = scipy.signal.welch(noise[:, s:s + 750], sf, nperseg=nper, noverlap=nover)
        np.testing.assert_allclose(psd[e], p_ref, rtol=1e-9)


def test_welch_psd_whole_signal_equals_scipy(noise):
    psd, f = welch_psd(noise, 250.0, segment_s=2)
    _, ref = scipy.signal.welch(noise, 250.0, nperseg=500, noverlap=250)
    np.testing.assert_allclose(psd, ref, rtol=1e-9)


def test_band_weights_integrate_exactly():
    f = np.arange(0, 60.5, 0.5)
    # constant PSD: band power = width; linear PSD: exact integral
    np.testing.assert_allclose(band_power(np.ones_like(f), f, BANDS), [3, 4, 5, 17, 15])
    lin = 2 * f + 1
    exact = [(hi**2 + hi) - (lo**2 + lo) for _, lo, hi in BANDS]
    np.testing.assert_allclose(band_power(lin, f, BANDS), exact)
    # edges between bins: the piecewise-linear integral is still exact for a linear PSD
    np.testing.assert_allclose(band_power(lin, f, [(8.3, 12.7)]), [(12.7**2 + 12.7) - (8.3**2 + 8.3)])
    # adjacent bands add up exactly to their union
    W = band_weights(f, BANDS + [("all", 1, 45)])
    np.testing.assert_allclose(W[:, :5].sum(axis=1), W[:, 5], atol=1e-12)


def test_band_weights_reject_out_of_range():
    with pytest.raises(ValueError, match="outside the spectrum"):
        band_weights(np.arange(0, 40.5, 0.5), [(30, 45)])


def test_band_power_matches_scipy_trapezoid_within_half_percent(noise):
    sf = 250.0
    starts = epoch_starts(noise.shape[1], sf, length_s=4, step_s=2)
    psd, freqs = welch_epochs(noise, sf, starts, length_s=4)
    ours = band_power(psd, freqs, BANDS)
    for e in (0, 7, len(starts) - 1):
        f_ref, p_ref = scipy.signal.welch(noise[:, starts[e]:starts[e] + 1000], sf, nperseg=500, noverlap=250)
        for j, (_, lo, hi) in enumerate(BANDS):
            m = (f_ref >= lo) & (f_ref <= hi)
            ref = trapezoid(p_ref[:, m], f_ref[m], axis=-1)
            # Tolerance asked: 0.5 %. Edges fall on bins, so the agreement is to rounding.
            np.testing.assert_allclose(ours[e, :, j], ref, rtol=5e-3)
            np.testing.assert_allclose(ours[e, :, j], ref, rtol=1e-9)


def test_10hz_sine_in_noise_is_alpha():
    rng = np.random.default_rng(1)
    sf = 250.0
    t = np.arange(int(60 * sf)) / sf
    x = (20 * np.sin(2 * np.pi * 10 * t) + rng.standard_normal(t.size) * 2)[None]
    psd, f = welch_psd(x, sf)
    p = band_power(psd, f, BANDS + [("broad", 1, 45)])[0]
    rel = p[:5] / p[5]
    assert rel[2] > 0.9
    assert rel.sum() == pytest.approx(1.0, abs=1e-12)


def test_epoch_starts():
    s = epoch_starts(2500, 250.0, length_s=4, step_s=2)
    np.testing.assert_array_equal(s, [0, 500, 1000, 1500])
    assert epoch_starts(500, 250.0, length_s=4, step_s=2).size == 0


def test_welch_epochs_few_epochs_spread_over_a_long_signal_equal_scipy():
    """60 two-second epochs spread over an hour (as line_peak_ratio takes them), on a signal
    with a 5 mV DC offset: each is scipy.signal.welch of its samples to 1e-9 relative. (They lie
    on the 1-s grid, but computing the whole grid would be 60 times the work; their means are
    summed per segment, not from a running sum of the hour, whose rounding grows with the
    offset: 2e-9 relative before.)"""
    rng = np.random.default_rng(4)
    sfreq, n = 250.0, 3600 * 250
    x = 5000.0 + np.cumsum(rng.standard_normal((2, n)), axis=1) * 0.1 + 10 * rng.standard_normal((2, n))
    starts = epoch_starts(n, sfreq, length_s=2.0, step_s=1.0)
    starts = starts[np.linspace(0, starts.size - 1, 60).round().astype(int)]
    psd, freqs = welch_epochs(x, sfreq, starts, length_s=2.0, segment_s=2.0, fmax=57.0)
    assert psd.shape == (60, 2, freqs.size)
    for e, s in enumerate(starts):
        f, ref = scipy.signal.welch(x[:, s:s + 500], sfreq, window="hann", nperseg=500)
        np.testing.assert_allclose(psd[e], ref[:, :freqs.size], rtol=1e-9)
        np.testing.assert_allclose(freqs, f[:freqs.size])
