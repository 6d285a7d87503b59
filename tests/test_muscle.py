"""Muscle bursts per channel (neurofeedback.muscle): known EMG bursts, alpha and blinks that are
not muscle, MNE's pooled detector as an independent reference, and a real jaw clench."""

from __future__ import annotations

import mne
import numpy as np
import pytest
import scipy.signal
from conftest import shared_file

from neurofeedback.io import read_recording
from neurofeedback.muscle import muscle_mask
from neurofeedback.simulate import simulate_eeg

SFREQ = 256.0


def _emg(n, rms, rng):
    """Broadband (> 20 Hz) noise with the given RMS, µV."""
    sos = scipy.signal.butter(4, 20.0, btype="high", fs=SFREQ, output="sos")
    e = scipy.signal.sosfilt(sos, rng.standard_normal(n))
    return e * (rms / e.std())


def test_emg_burst_found_on_its_channel_only():
    rec = simulate_eeg(duration_s=60.0, seed=11)  # 30-115 Hz background: 4.3 µV RMS
    rng = np.random.default_rng(11)
    x = rec.data_uv.copy()
    i0, i1 = int(20 * SFREQ), int(22 * SFREQ)
    x[1, i0:i1] += _emg(i1 - i0, 10.0, rng)  # AF7
    m = muscle_mask(x, SFREQ)
    assert m[1, i0:i1].mean() > 0.95
    outside = np.ones(x.shape[1], bool)
    outside[i0 - int(0.5 * SFREQ): i1 + int(0.5 * SFREQ)] = False
    assert m[1, outside].mean() < 0.005
    assert not m[[0, 2, 3]].any()
    # a bad channel is not examined
    assert not muscle_mask(x, SFREQ, np.array([True, False, True, True]))[1].any()


@pytest.mark.parametrize("kw", [
    {"alpha_amplitude_uv": 20.0},
    {"blink_interval_s": (2.0, 5.0), "blink_amplitude_range_uv": (150.0, 400.0)},
    {"line_freq": 60.0, "line_amplitude_uv": 20.0},
    {"ch_names": ("Fp1", "Fp2", "F3", "F4", "C3", "C4", "O1", "O2"), "movement_bursts": 2},
])
def test_alpha_blinks_mains_and_movement_are_not_muscle(kw):
    rec = simulate_eeg(duration_s=120.0, seed=12, **kw)
    m = muscle_mask(rec.data_uv, SFREQ, line_freq=kw.get("line_freq"))
    assert m.mean() < 0.005


def test_agrees_with_mne_annotate_muscle_zscore_on_one_channel():
    """With one channel MNE's pooled z-score is that channel's own: both find the same burst.

    MNE z-scores with the mean and standard deviation, which the burst itself inflates: at its
    default threshold 4 it misses this 3-s burst (its score peaks at 3.8); at 2.5 it covers 97 %.
    Ours uses the median and MAD, which the burst barely moves.
    """
    rec = simulate_eeg(ch_names=("AF7",), duration_s=60.0, seed=13)
    x = rec.data_uv.copy()
    i0, i1 = int(30 * SFREQ), int(33 * SFREQ)
    x[0, i0:i1] += _emg(i1 - i0, 15.0, np.random.default_rng(13))
    ours = muscle_mask(x, SFREQ)[0]
    raw = mne.io.RawArray(x * 1e-6, mne.create_info(["AF7"], SFREQ, "eeg"), verbose="error")

    def mne_mask(threshold):
        annot, _ = mne.preprocessing.annotate_muscle_zscore(
            raw, threshold=threshold, filter_freq=(30.0, 115.0), min_length_good=0.5,
            verbose="error")
        m = np.zeros(x.shape[1], bool)
        for on, du in zip(annot.onset, annot.duration):
            m[int(on * SFREQ): int((on + du) * SFREQ)] = True
        return m

    assert not mne_mask(4.0).any()
    theirs = mne_mask(2.5)
    assert theirs[i0:i1].mean() > 0.9 and ours[i0:i1].mean() > 0.9
    # Same samples up to the edges (MNE low-passes the score at 4 Hz, we widen by 0.125 s).
    assert np.mean(ours != theirs) < 0.01


def test_jaw_clench_in_openbci_v6(shared_data):
    path = shared_file(shared_data, "OpenBCI__OpenBCI_GUI/OpenBCI_GUI-v6-blinks-jawClench-alpha.txt")
    raw = read_recording(path).pick("eeg")
    sf = raw.info["sfreq"]
    m = muscle_mask(raw.get_data() * 1e6, sf, line_freq=60.0)
    t = np.arange(m.shape[1]) / sf
    clench = (t > 86.0) & (t < 88.5)
    assert (m[:, clench].mean(axis=1) > 0.9).all()  # all 8 channels, measured 1.0
    blinks = (t > 4.5) & (t < 6.5)  # blinks on EEG 1/2 (Fp1/Fp2): not muscle
    assert not m[:2, blinks].any()


@pytest.mark.parametrize("rel", ["NeuroTechX__eeg-notebooks_v0.1/data_2017-02-04-15_45_13.csv",
                                 "NeuroTechX__eeg-notebooks_v0.1/data_2017-09-13-15.30.01.csv"])
def test_real_muse_files_mostly_clean(shared_data, rel):
    raw = read_recording(shared_file(shared_data, rel)).pick("eeg")
    m = muscle_mask(raw.get_data() * 1e6, raw.info["sfreq"])
    assert m.shape == (4, raw.n_times)
    assert m.mean() < 0.02  # measured 0 and 0.4 %


def test_band_too_high_for_the_rate_is_an_error():
    with pytest.raises(ValueError, match="'fmin' parameter"):
        muscle_mask(np.zeros((1, 1000)), 60.0)


def _envelope_z_by_convolution(x, sfreq, line_freq, fmin=30.0, fmax=140.0, window_s=0.25):
    """The envelope z-score as first written (``scipy.signal.oaconvolve`` for the moving RMS),
    kept here as the reference of the faster implementation."""
    from neurofeedback.muscle import _band_sos

    sos = _band_sos(sfreq, fmin, fmax, line_freq)
    xb = x - x.mean(axis=1, keepdims=True)
    y = scipy.signal.sosfiltfilt(sos, xb, axis=1)
    n_win = max(int(round(window_s * sfreq)), 1)
    power = scipy.signal.oaconvolve(y * y, (np.ones(n_win) / n_win)[None, :], mode="same", axes=1)
    log_env = 0.5 * np.log(np.maximum(power, 1e-12))
    med = np.median(log_env, axis=1, keepdims=True)
    mad = 1.4826 * np.median(np.abs(log_env - med), axis=1, keepdims=True)
    return (log_env - med) / np.maximum(mad, 1e-6)


@pytest.mark.parametrize("n_win", [1, 2, 7, 62, 64, 125])
def test_moving_mean_is_the_centred_convolution(n_win):
    """moving_mean equals np.convolve(x, ones/n, "same") (both alignments: odd and even n),
    to 1e-13 relative on a signal whose level spans 8 orders of magnitude, ends included."""
    from neurofeedback.muscle import moving_mean

    rng = np.random.default_rng(3)
    n = 20_000
    x = (rng.standard_normal(n) * np.exp(4 * np.sin(np.arange(n) / 900.0))) ** 2
    ref = np.convolve(x, np.ones(n_win) / n_win, mode="same")
    got = moving_mean(np.stack([x, 2 * x]), n_win)
    assert got.shape == (2, n)
    np.testing.assert_allclose(got[0], ref, rtol=1e-13, atol=0)
    np.testing.assert_allclose(got[1], 2 * ref, rtol=1e-13, atol=0)
    # shorter than the window: every output averages what there is, zeros beyond the ends
    short = x[:3]
    direct = [short[max(t - 3, 0):t + 4].sum() / 7 for t in range(3)]
    np.testing.assert_allclose(moving_mean(short, 7), direct, rtol=1e-13)
    with pytest.raises(ValueError, match="'n'"):
        moving_mean(x, 0)


def test_envelope_z_and_mask_equal_the_convolution_version():
    """The block-sum moving RMS changes no result: z within 1e-9 of the oaconvolve version
    (it differs only by rounding), the same samples flagged, bad channels NaN / False."""
    from neurofeedback.muscle import muscle_envelope_z

    rec = simulate_eeg(duration_s=300.0, seed=13, line_freq=50.0, line_amplitude_uv=10.0,
                       blink_interval_s=(2.0, 5.0))
    rng = np.random.default_rng(13)
    x = rec.data_uv.copy()
    i0 = int(100 * SFREQ)
    x[2, i0:i0 + int(2 * SFREQ)] += _emg(int(2 * SFREQ), 8.0, rng)
    good = np.array([True, True, True, False])
    ref = _envelope_z_by_convolution(x[good], SFREQ, 50.0)
    z = muscle_envelope_z(x, SFREQ, good, line_freq=50.0)
    assert np.isnan(z[3]).all()
    np.testing.assert_allclose(z[good], ref, rtol=0, atol=1e-9)
    mask = muscle_mask(x, SFREQ, good, line_freq=50.0)
    assert mask[2, i0:i0 + int(2 * SFREQ)].mean() > 0.9 and not mask[3].any()
    # the same mask from the reference z (the widening and gap filling are unchanged)
    import neurofeedback.muscle as muscle

    def reference_rows(x_, sfreq, idx, sos, window_s):
        return _envelope_z_by_convolution(x_[idx], sfreq, 50.0, window_s=window_s)

    original = muscle._envelope_z_rows
    try:
        muscle._envelope_z_rows = reference_rows
        ref_mask = muscle_mask(x, SFREQ, good, line_freq=50.0)
    finally:
        muscle._envelope_z_rows = original
    assert np.array_equal(mask, ref_mask)
