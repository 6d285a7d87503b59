"""Mains detection from the good channels only, and the per-channel line peak it reports.

Railed or dead inputs have spectra of their own (a rail-clipped pickup is a square wave with a
huge, clean peak); on a board with one or two wired electrodes they outvote the only channels
that see the mains. Known truth: simulated recordings with mains on the good channels and
clipped pickup at the *other* mains frequency on the railed ones; the real OpenBCI recordings
of EEGHacker (made on 60 Hz mains, one wired electrode out of eight).
"""

import json

import mne
import numpy as np
import pytest
from conftest import shared_file
from typer.testing import CliRunner

from neurofeedback.cli import app
from neurofeedback.preprocessing import (
    LINE_PEAK_MIN,
    LINE_PEAK_STRONG,
    detect_line_freq,
    line_peak_ratio,
    preprocess,
)
from neurofeedback.simulate import simulate_eeg
from neurofeedback.spectral import welch_psd

SF = 250.0
RAIL_UV = 187500.0
EEGHACKER = [
    "chipaudette__EEGHacker/openBCI_raw_2014-10-04_18-55-41_O1_Alpha.txt",
    "chipaudette__EEGHacker/openBCI_raw_2014-10-04_19-06-13_O1_Alpha.txt",
    "chipaudette__EEGHacker/openBCI_raw_2014-10-05_17-14-45_O1_Alpha_noCaffeine.txt",
]
runner = CliRunner()


def _railed_pickup(n, freq, rng):
    """An unconnected input: mains pickup far beyond the ADC range, clipped at the rail."""
    t = np.arange(n) / SF
    x = 3 * RAIL_UV * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    return np.clip(x, -RAIL_UV, RAIL_UV)


def _two_good_two_railed(mains, seed=3):
    """Four channels, 60 s: C3/C4 simulated EEG with ``mains`` (5 µV), P3/P4 railed pickup of
    the other mains frequency."""
    rec = simulate_eeg(ch_names=("C3", "C4", "P3", "P4"), duration_s=60, sfreq=SF, line_freq=mains,
                       line_amplitude_uv=5.0, seed=seed)
    data = rec.data_uv.copy()
    rng = np.random.default_rng(seed)
    for c in (2, 3):
        data[c] = _railed_pickup(data.shape[1], 110.0 - mains, rng)
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(list(rec.ch_names), SF, "eeg"), verbose="error")
    return raw, data


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_mains_from_two_good_channels_despite_two_railed(mains):
    raw, data = _two_good_two_railed(mains)
    other = 110.0 - mains
    # the trap: over all four channels the railed ones' clipped pickup wins
    assert detect_line_freq(data, SF) == other
    assert detect_line_freq(data, SF, good=[True, True, False, False]) == mains
    res = preprocess(raw, line_freq="auto")
    assert list(res.quality["status"]) == ["good", "good", "railed", "railed"]
    assert res.line_freq == mains
    ratio = res.quality.set_index("channel")["line_peak_ratio"]
    assert ratio["C3"] > 30 and ratio["C4"] > 30  # 5 µV mains over 1/f EEG: measured 80-110


def test_one_good_channel_with_a_strong_peak_is_enough():
    """Eight good channels, mains on one (a loose electrode): the median channel has no peak,
    the single strong one decides; a weak single peak does not."""
    names = ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2")
    data = simulate_eeg(ch_names=names, duration_s=60, sfreq=SF, seed=5).data_uv.copy()  # no mains
    assert detect_line_freq(data, SF) is None
    t = np.arange(data.shape[1]) / SF
    strong = data.copy()
    strong[4] += 20 * np.sin(2 * np.pi * 60 * t)
    r = line_peak_ratio(strong, SF)
    assert np.median(r[1]) < LINE_PEAK_MIN and r[1, 4] > LINE_PEAK_STRONG
    assert detect_line_freq(strong, SF) == 60.0
    weak = data.copy()
    weak[4] += 1.0 * np.sin(2 * np.pi * 60 * t)  # measured ratio 5.4
    r = line_peak_ratio(weak, SF)
    assert LINE_PEAK_MIN < r[1, 4] < LINE_PEAK_STRONG  # a peak, but one channel's weak one
    assert detect_line_freq(weak, SF) is None


def test_no_good_channel_detects_nothing():
    raw, data = _two_good_two_railed(60.0)
    assert detect_line_freq(data, SF, good=np.zeros(4, bool)) is None


def test_a_burst_does_not_hide_a_steady_peak():
    """The spectrum is the median of segments: 10 s of 50x louder broadband noise in a 60-s
    recording leave the mains peak standing (the mean spectrum's peak drowns: ratio ~1)."""
    rec = simulate_eeg(ch_names=("O1",), duration_s=60, sfreq=SF, line_freq=60.0, line_amplitude_uv=5.0,
                       seed=2)
    data = rec.data_uv.copy()
    clean = line_peak_ratio(data, SF, (60.0,))[0, 0]
    rng = np.random.default_rng(0)
    data[:, int(10 * SF):int(20 * SF)] += 1000 * rng.standard_normal(int(10 * SF))
    burst = line_peak_ratio(data, SF, (60.0,))[0, 0]
    assert clean > LINE_PEAK_STRONG and burst > clean / 2  # measured 107 and 83
    psd, freqs = welch_psd(data, SF)  # the mean of the same segments
    off = np.abs(freqs - 60.0)
    assert psd[0, off <= 0.5].max() / np.median(psd[0, (off >= 2) & (off <= 6)]) < LINE_PEAK_MIN
    assert detect_line_freq(data, SF) == 60.0


@pytest.mark.parametrize("rel", EEGHACKER)
def test_eeghacker_recordings_are_60_hz(shared_data, rel):
    """OpenBCI V3, 2014, US mains; only channel 2 (O1) wired, the rest railed or zero."""
    res = runner.invoke(app, ["inspect", str(shared_file(shared_data, rel)), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["line_freq"] == 60.0
    q = {r["channel"]: r for r in s["quality"]}
    good = [c for c, r in q.items() if r["status"] == "good"]
    assert good == ["EEG 2"]
    # measured 190,000-250,000: the mains peak of the wired electrode, not x1.1
    assert q["EEG 2"]["line_peak_ratio"] > 10_000
    assert "line_noise_ratio" not in q["EEG 2"]  # renamed (README, Units and definitions)
    text = runner.invoke(app, ["inspect", str(shared_file(shared_data, rel))], env={"COLUMNS": "120"})
    assert text.exit_code == 0, text.output
    assert "notch 60" in text.stdout and "line peak / neighbours" in text.stdout
