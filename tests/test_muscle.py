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
