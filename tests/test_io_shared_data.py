"""Every third-party recording in ../shared/data loads with the right rate, names, length, units."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
from conftest import shared_file

from neurofeedback.errors import PrecomputedFeaturesError
from neurofeedback.io import PrecomputedBandPowers, detect_format, read_precomputed, read_recording

OPENBCI_SAMPLE = [
    "OpenBCI__OpenBCI_GUI/OpenBCI-sampleData-1-blinks-jawClench-alpha.txt",
    "OpenBCI__OpenBCI_GUI/OpenBCI_GUI-v5-blinks-jawClench-alpha.txt",
    "OpenBCI__OpenBCI_GUI/OpenBCI_GUI-v6-blinks-jawClench-alpha.txt",
]
EEGHACKER = {
    "chipaudette__EEGHacker/openBCI_raw_2014-10-04_18-55-41_O1_Alpha.txt": 31744,
    "chipaudette__EEGHacker/openBCI_raw_2014-10-04_19-06-13_O1_Alpha.txt": 21026,
    "chipaudette__EEGHacker/openBCI_raw_2014-10-05_17-14-45_O1_Alpha_noCaffeine.txt": 31426,
}
MUSELSL = {
    "NeuroTechX__eeg-notebooks_v0.1/data_2017-02-04-15_45_13.csv": 1486223115.483,
    "NeuroTechX__eeg-notebooks_v0.1/data_2017-09-13-15.30.01.csv": None,  # LSL clock
}
CYTON8 = [f"EEG {i}" for i in range(1, 9)]


def _utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def _assert_volts(raw):
    """High-passed good EEG has a median |x| of EEG in volts (0.1 µV .. 1 mV)."""
    good = [c for c, t in zip(raw.ch_names, raw.get_channel_types()) if t == "eeg" and c not in raw.info["bads"]]
    assert good
    hp = raw.copy().pick(good).filter(1.0, None, verbose=False)
    med = np.median(np.abs(hp.get_data()))
    assert 1e-7 < med < 1e-3, med


def test_openbci_sample_versions_are_identical(shared_data):
    raws = [read_recording(shared_file(shared_data, rel)) for rel in OPENBCI_SAMPLE]
    for rel, raw in zip(OPENBCI_SAMPLE, raws):
        assert detect_format(shared_data / rel) == "openbci_txt"
        assert raw.info["sfreq"] == 250.0
        assert raw.ch_names == CYTON8
        assert raw.n_times == 22490  # 89.96 s
        assert raw.info["meas_date"] == datetime.fromtimestamp(1557936053.329, tz=timezone.utc)
        assert raw.info["bads"] == []
        assert len(raw.annotations) == 0  # no dropped packets
    for raw in raws[1:]:
        assert raw.ch_names == raws[0].ch_names
        assert raw.info["sfreq"] == raws[0].info["sfreq"]
        np.testing.assert_array_equal(raw.get_data(), raws[0].get_data())
    # the first sample of channel 1 is 61379.36 µV in all three files: converted once, to volts
    assert raws[0].get_data()[0, 0] == pytest.approx(61379.36e-6, rel=1e-12)
    _assert_volts(raws[0])


@pytest.mark.parametrize("rel", list(EEGHACKER))
def test_eeghacker_only_channel_2_is_good(shared_data, rel):
    raw = read_recording(shared_file(shared_data, rel))
    assert raw.info["sfreq"] == 250.0
    assert raw.n_times == EEGHACKER[rel]
    assert 84 <= raw.times[-1] <= 127
    assert raw.info["meas_date"] is None  # the 2014 files carry no timestamps
    assert raw.info["bads"] == [c for c in CYTON8 if c != "EEG 2"]
    _assert_volts(raw)


def test_eeghacker_dropped_packets(shared_data):
    rel = "chipaudette__EEGHacker/openBCI_raw_2014-10-05_17-14-45_O1_Alpha_noCaffeine.txt"
    raw = read_recording(shared_file(shared_data, rel))
    bad = [a for a in raw.annotations if a["description"] == "BAD_dropout"]
    # index jumps of 22, 41, 72, 95, 162, 185, 216 and 235: 1020 samples lost in 8 packets
    assert len(bad) == 8
    assert sum(a["duration"] for a in bad) == pytest.approx(1020 / 250)
    # the first jump: read the file's index column independently
    lines = [ln for ln in (shared_data / rel).read_text().splitlines() if not ln.startswith("%")]
    idx = np.array([int(ln.split(",")[0]) for ln in lines])
    k = int(np.flatnonzero(np.mod(np.diff(idx), 256) != 1)[0])
    assert bad[0]["onset"] == pytest.approx((k + 1) / 250)
    assert bad[0]["duration"] == pytest.approx((np.mod(idx[k + 1] - idx[k], 256) - 1) / 250)


def test_eeghacker_with_channel_names_gets_o1(shared_data):
    from neurofeedback.io import read_openbci_txt

    rel = "chipaudette__EEGHacker/openBCI_raw_2014-10-04_19-06-13_O1_Alpha.txt"
    names = ["EEG 1", "O1"] + [f"EEG {i}" for i in range(3, 9)]
    raw = read_openbci_txt(shared_file(shared_data, rel), channel_names=names)
    assert "O1" not in raw.info["bads"]
    assert np.all(np.isfinite(raw.get_montage().get_positions()["ch_pos"]["O1"]))


def test_roflecopter_railed_channels(shared_data):
    raw = read_recording(shared_file(shared_data, "roflecopter__openbci-session/OpenBCI-GUI-2024-01-24_16-28-32.txt"))
    assert raw.info["sfreq"] == 250.0
    assert raw.ch_names == CYTON8
    assert raw.n_times == 2840  # the all-zero placeholder row is dropped
    assert raw.times[-1] == pytest.approx(11.356)
    assert raw.info["bads"] == ["EEG 4", "EEG 5", "EEG 6", "EEG 7", "EEG 8"]  # 5 railed
    assert abs(raw.info["meas_date"] - _utc(2024, 1, 24, 9, 28, 35, 335049)).total_seconds() < 1e-3
    # a bad-signal recording: even the unrailed channels swing by tens of mV, so check the units
    # on the rail value instead (-187500.02235174447 µV in the file)
    assert raw.get_data()[6, 0] == pytest.approx(-0.18750002235174447, rel=1e-12)


@pytest.mark.parametrize("rel", list(MUSELSL))
def test_muselsl_files(shared_data, rel):
    p = shared_file(shared_data, rel)
    assert detect_format(p) == "muselsl_csv"
    raw = read_recording(p)
    assert raw.info["sfreq"] == 256.0
    assert raw.ch_names == ["TP9", "AF7", "AF8", "TP10", "Right AUX"]
    assert raw.get_channel_types() == ["eeg"] * 4 + ["misc"]
    assert raw.n_times == 30732
    assert raw.times[-1] == pytest.approx(120.0, abs=0.1)
    if MUSELSL[rel] is None:
        assert raw.info["meas_date"] is None
    else:
        assert raw.info["meas_date"].timestamp() == pytest.approx(MUSELSL[rel])
    # markers: 197 in each file, and no false dropouts from jittery or unsorted stamps
    df = pd.read_csv(p)
    marker = df.iloc[:, -1].to_numpy()
    ann = raw.annotations
    assert [a["description"] for a in ann] == [f"marker/{v}" for v in marker[marker != 0]]
    np.testing.assert_array_equal(np.round(ann.onset * 256.0), np.flatnonzero(marker))
    np.testing.assert_allclose(raw.get_data()[0] * 1e6, df["TP9"].to_numpy(), atol=1e-9)
    _assert_volts(raw)


def test_physionet_edf(shared_data):
    raw = read_recording(shared_file(shared_data, "Yannkess__EEG_signal_denoise/S001R01.edf"))
    assert raw.info["sfreq"] == 160.0
    assert len(raw.ch_names) == 64
    assert raw.ch_names[:3] == ["FC5", "FC3", "FC1"]
    assert {"Fpz", "O1", "Oz", "Iz", "AF7", "T10"} <= set(raw.ch_names)
    assert not any(c.endswith(".") for c in raw.ch_names)
    assert raw.times[-1] == pytest.approx(61.0, abs=0.01)
    assert raw.info["meas_date"] == _utc(2009, 8, 12, 16, 15)
    pos = raw.get_montage().get_positions()["ch_pos"]
    assert all(np.all(np.isfinite(xyz)) for xyz in pos.values())
    _assert_volts(raw)


MINDMONITOR = [
    "amisepa__import_muse/museS_monitor1.csv",
    "amisepa__import_muse/muse-monitor2.csv",
]


@pytest.mark.parametrize("rel", MINDMONITOR)
def test_mindmonitor_is_precomputed(shared_data, rel):
    p = shared_file(shared_data, rel)
    assert detect_format(p) == "mindmonitor_csv"
    with pytest.raises(PrecomputedFeaturesError, match="read_precomputed"):
        read_recording(p)
    bp = read_precomputed(p)
    assert isinstance(read_recording(p, allow_precomputed=True), PrecomputedBandPowers)
    assert bp.format == "mindmonitor_csv"
    assert bp.channels == ("TP9", "AF7", "AF8", "TP10")
    assert bp.bands == {"delta": [1.0, 4.0], "theta": [4.0, 8.0], "alpha": [7.5, 13.0],
                        "beta": [13.0, 30.0], "gamma": [30.0, 44.0]}
    assert "Muse SDK" in bp.units
    df = pd.read_csv(p)
    data = df[df["Delta_TP9"].notna()]  # event rows have empty numeric fields
    assert len(bp.table) == len(data) * 4 * 5
    for ch in bp.channels:
        for band in bp.bands:
            got = bp.table.query("channel == @ch and band == @band")["absolute_bels"].to_numpy()
            np.testing.assert_array_equal(got, data[f"{band.capitalize()}_{ch}"].to_numpy(float))
    means = bp.session_means(clean_only=False)
    np.testing.assert_allclose(means.groupby("channel")["precomputed_relative_mean"].sum(), 1.0)


def test_mindmonitor_full_timestamps(shared_data):
    bp = read_precomputed(shared_file(shared_data, MINDMONITOR[0]))
    assert bp.meas_date == _utc(2020, 6, 14, 10, 19, 29, 289000)
    assert bp.duration_s == pytest.approx(57.999)
    assert bp.table["clean"].all()
    assert len(bp.events) == 0


def test_mindmonitor_mangled_timestamps(shared_data):
    bp = read_precomputed(shared_file(shared_data, MINDMONITOR[1]))
    assert bp.meas_date is None
    assert "mangled" in bp.note
    onsets = np.unique(bp.table["onset_s"])
    assert onsets.size == 316
    assert onsets[0] == 0.0
    # 19:19.6 .. 24:34.7
    assert bp.duration_s == pytest.approx(24 * 60 + 34.7 - (19 * 60 + 19.6))
    assert np.all(np.diff(onsets) > 0.5) and np.all(np.diff(onsets) < 1.6)
    assert list(bp.events["description"]) == ["blink"] * 6
    assert bp.events["onset_s"].iloc[0] == pytest.approx(-0.8)  # 19:18.8, before the first row
    # AF7 had a bad fit (HSI 4) throughout: never clean; the others always
    clean = bp.table.groupby("channel")["clean"].mean()
    assert clean["AF7"] == 0.0 and clean[["TP9", "AF8", "TP10"]].eq(1.0).all()
