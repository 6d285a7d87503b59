"""Filtering, line-noise detection, bad channels and artifact annotations on known signals."""

import mne
import numpy as np
import pytest
from _signals import powerlaw_noise

from neurofeedback.config import load_settings
from neurofeedback.preprocessing import detect_line_freq, filter_data, preprocess
from neurofeedback.spectral import welch_psd

SF = 250.0


def _raw(data_uv, names, sfreq=SF):
    return mne.io.RawArray(data_uv * 1e-6, mne.create_info(list(names), sfreq, "eeg"), verbose="error")


def _bg(n_ch, seconds, seed=0):
    rng = np.random.default_rng(seed)
    return np.array([powerlaw_noise(int(seconds * SF), SF, 1.5, rng, std=10) for _ in range(n_ch)])


def test_filter_matches_mne_notch_then_bandpass():
    n = int(60 * SF)
    t = np.arange(n) / SF
    x = _bg(4, 60) + 20 * np.sin(2 * np.pi * 50 * t) + 5e4 + 30 * t  # DC offset and drift, as Cyton
    ours = filter_data(x, SF, l_freq=1.0, h_freq=45.0, line_freq=50.0)
    raw = _raw(x, ["a", "b", "c", "d"])
    raw.notch_filter(50.0, verbose="error").filter(1.0, 45.0, verbose="error")
    ref = raw.get_data() * 1e6
    inner = slice(int(10 * SF), -int(10 * SF))  # edges are padded differently (two passes vs one)
    err = np.abs(ours[:, inner] - ref[:, inner]).max() / ref[:, inner].std()
    assert err < 1e-3, err


def test_bandpass_keeps_10hz_removes_30hz():
    t = np.arange(int(20 * SF)) / SF
    x = (np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 30 * t))[None] * 10
    y = filter_data(x, SF, l_freq=5.0, h_freq=15.0)
    psd, f = welch_psd(y.astype(float), SF)
    p10 = psd[0, np.argmin(abs(f - 10))]
    p30 = psd[0, np.argmin(abs(f - 30))]
    assert p10 / psd.max() > 0.9
    assert p30 / p10 < 1e-4


@pytest.mark.parametrize("line", [50.0, 60.0, None])
def test_detect_line_freq(line):
    x = _bg(4, 30)
    if line:
        x = x + 15 * np.sin(2 * np.pi * line * np.arange(x.shape[1]) / SF)
    assert detect_line_freq(x, SF) == line


def test_box_artifact_marked_over_its_whole_length():
    x = _bg(4, 60, seed=2)
    x[1, int(20 * SF):int(32 * SF)] += 500.0  # a 12 s, 500 µV box on one channel
    res = preprocess(_raw(x, ["C3", "C4", "P3", "P4"]), line_freq=None)
    bad = np.zeros(x.shape[1], bool)
    for a in res.raw.annotations:
        if a["description"].startswith("BAD"):
            bad[int(a["onset"] * SF):int((a["onset"] + a["duration"]) * SF)] = True
    assert bad[int(20 * SF):int(32 * SF)].all(), "box not covered over its whole length"
    # and not the clean stretches far from it
    assert not bad[: int(15 * SF)].any()
    assert not bad[int(37 * SF):].any()
    q = res.quality.set_index("channel")
    assert q.loc["C4", "artifact_fraction"] > q.loc["C3", "artifact_fraction"]


def test_railed_and_flat_channels_marked_bad():
    x = _bg(4, 30)
    x[1] = 187500.0
    x[2] = 0.0
    res = preprocess(_raw(x, ["Fp1", "Fp2", "C3", "C4"]), line_freq=None)
    assert res.raw.info["bads"] == ["Fp2", "C3"]
    assert list(res.quality["status"]) == ["good", "railed", "flat", "good"]


def test_blinks_annotated_on_frontal_channels():
    x = _bg(2, 60, seed=4)
    t = np.arange(x.shape[1]) / SF
    onsets = [10.0, 25.0, 40.0]
    for o in onsets:  # 150 µV, ~300 ms blinks on the frontal channel only
        x[0] += 150 * np.exp(-0.5 * ((t - o) / 0.06) ** 2)
    res = preprocess(_raw(x, ["Fp1", "O1"]), line_freq=None)
    blinks = [a for a in res.raw.annotations if a["description"] == "BAD_blink"]
    assert len(blinks) == 3
    for a, o in zip(blinks, onsets):
        assert a["onset"] <= o <= a["onset"] + a["duration"]


def test_preprocess_keeps_alpha_and_removes_line_noise():
    x = _bg(2, 60)
    t = np.arange(x.shape[1]) / SF
    x = x + 10 * np.sin(2 * np.pi * 10 * t) + 40 * np.sin(2 * np.pi * 50 * t)
    raw = _raw(x, ["O1", "O2"])
    res = preprocess(raw, line_freq="auto")
    assert res.line_freq == 50.0
    psd, f = welch_psd(res.raw.get_data() * 1e6, SF)
    p50 = psd[:, np.argmin(abs(f - 50))]
    p10 = psd[:, np.argmin(abs(f - 10))]
    assert np.all(p50 / p10 < 1e-3)
    # the input is untouched
    np.testing.assert_allclose(raw.get_data() * 1e6, x)


def test_settings_drive_thresholds():
    x = _bg(2, 30)
    x[0, int(10 * SF):int(10.5 * SF)] += 120.0
    s = load_settings()
    loose = preprocess(_raw(x, ["C3", "C4"]), s, line_freq=None)
    strict = preprocess(_raw(x, ["C3", "C4"]),
                        s.replace(preprocessing={"deviation_uv": 60.0, "ptp_uv": 80.0}), line_freq=None)
    assert len(strict.artifacts) > len(loose.artifacts)
