"""The simulator's ground truth is recoverable, and every writer produces its real format."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest
from scipy.signal import welch

from neurofeedback.simulate import (
    FORMATS,
    SimulatedRecording,
    add_box_artifact,
    blink_weight,
    make_sample_data,
    simulate_eeg,
    write_recording,
)

CYTON = ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2")


def _welch(rec, seconds=4.0):
    return welch(rec.data_uv, rec.sfreq, nperseg=int(seconds * rec.sfreq))


def _fit_aperiodic(freqs, psd):
    """Log-log line over 2-40 Hz with alpha (7-14 Hz) left out: (exponent, PSD at 1 Hz)."""
    m = (freqs >= 2) & (freqs <= 40) & ~((freqs >= 7) & (freqs <= 14))
    slope, intercept = np.polyfit(np.log10(freqs[m]), np.log10(psd[..., m].T), 1)
    return -slope, 10**intercept


def _peak_hz(freqs, psd, lo=7.0, hi=13.0):
    """Welch peak in [lo, hi] Hz, refined by a parabola through the log-PSD at the top bin."""
    idx = np.flatnonzero((freqs >= lo) & (freqs <= hi))
    k = idx[np.argmax(psd[idx])]
    y0, y1, y2 = np.log(psd[k - 1 : k + 2])
    return freqs[k] + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) * (freqs[1] - freqs[0])


def _band_power(rec, lo, hi, t0=0.0, t1=None):
    i0, i1 = int(t0 * rec.sfreq), int((t1 or rec.duration_s) * rec.sfreq)
    f, p = welch(rec.data_uv[:, i0:i1], rec.sfreq, nperseg=int(4 * rec.sfreq))
    m = (f >= lo) & (f <= hi)
    return p[:, m].sum(axis=1) * (f[1] - f[0])


# --- spectral ground truth ---------------------------------------------------------------------


@pytest.mark.parametrize("exponent", [1.0, 1.5, 2.0])
def test_aperiodic_exponent_and_offset_recovered(exponent):
    rec = simulate_eeg(
        duration_s=60, aperiodic_exponent=exponent, aperiodic_offset_uv2=100.0, seed=1
    )
    freqs, psd = _welch(rec)
    chi, offset = _fit_aperiodic(freqs, psd)
    # measured: |error| <= 0.01 for these seeds; 0.1 is the contract
    np.testing.assert_allclose(chi, exponent, atol=0.1)
    np.testing.assert_allclose(offset, 100.0, rtol=0.1)
    assert rec.truth["aperiodic_exponent"] == dict.fromkeys(rec.ch_names, exponent)


def test_per_channel_exponents_recovered():
    chis = [1.0, 1.3, 1.7, 2.0]
    rec = simulate_eeg(duration_s=60, aperiodic_exponent=chis, seed=2)
    chi, _ = _fit_aperiodic(*_welch(rec))
    np.testing.assert_allclose(chi, chis, atol=0.1)


@pytest.mark.parametrize("iaf", [9.3, 10.0, 11.2])
def test_alpha_peak_recovered(iaf):
    rec = simulate_eeg(duration_s=120, alpha_peak_hz=iaf, seed=0)
    freqs, psd = _welch(rec)
    peaks = np.array([_peak_hz(freqs, p) for p in psd])
    # per channel: SD of this estimate over 40 seeds was ~0.1 Hz (unbiased)
    np.testing.assert_allclose(peaks, iaf, atol=0.25)
    assert abs(peaks.mean() - iaf) < 0.1


def test_per_channel_alpha_and_channel_without_alpha():
    rec = simulate_eeg(duration_s=120, alpha_peak_hz=[9.3, 10.0, 11.2, None], seed=3)
    freqs, psd = _welch(rec)
    np.testing.assert_allclose([_peak_hz(freqs, p) for p in psd[:3]], [9.3, 10.0, 11.2], atol=0.25)
    chi, offset = _fit_aperiodic(freqs, psd[3])
    m = (freqs >= 8) & (freqs <= 12)
    background = offset * freqs[m] ** -chi
    assert np.all(psd[3, m] < 1.5 * background)  # no peak on the alpha-free channel
    assert rec.truth["alpha_peak_hz"]["TP10"] is None


def test_alpha_amplitude_is_rms_and_parts_are_separable():
    """Same seed without alpha leaves the background bit-identical: the difference is alpha."""
    with_alpha = simulate_eeg(duration_s=60, alpha_amplitude_uv=[2.0, 4.0, 6.0, 8.0], seed=5)
    without = simulate_eeg(duration_s=60, alpha_peak_hz=None, seed=5)
    alpha = with_alpha.data_uv - without.data_uv
    np.testing.assert_allclose(np.sqrt(np.mean(alpha**2, axis=1)), [2.0, 4.0, 6.0, 8.0], rtol=1e-9)
    f, p = welch(alpha, with_alpha.sfreq, nperseg=1024)
    assert np.all(p[:, (f >= 8) & (f <= 12)].sum(1) / p.sum(1) > 0.95)


def test_eyes_closed_alpha_power_exceeds_eyes_open():
    rec = simulate_eeg(
        blocks=[("eyes-open", 30), ("eyes-closed", 30)],
        block_alpha_gain={"eyes-closed": 3.0, "eyes-open": 1.0},
        seed=4,
    )
    eo = _band_power(rec, 8, 12, 1, 29)
    ec = _band_power(rec, 8, 12, 31, 59)
    assert np.all(ec > 2 * eo), (eo, ec)
    assert [
        (b["label"], b["onset_s"], b["duration_s"], b["alpha_gain"]) for b in rec.truth["blocks"]
    ] == [
        ("eyes-open", 0.0, 30.0, 1.0),
        ("eyes-closed", 30.0, 30.0, 3.0),
    ]
    assert rec.duration_s == 60.0


def test_default_gain_and_blocks_shorter_than_recording():
    rec = simulate_eeg(duration_s=50, blocks=[("eyes-open", 20), ("eyes-closed", 20)], seed=0)
    assert rec.n_times == 50 * 256
    assert rec.truth["blocks"][1]["alpha_gain"] == 3.0  # DEFAULT_BLOCK_ALPHA_GAIN
    with pytest.raises(ValueError, match="longer than duration_s"):
        simulate_eeg(duration_s=30, blocks=[("eyes-open", 20), ("eyes-closed", 20)])


# --- artifacts -----------------------------------------------------------------------------------


def test_blinks_at_truth_positions_are_large_and_frontal():
    rec = simulate_eeg(
        duration_s=60,
        blocks=[("eyes-open", 30), ("eyes-closed", 30)],
        blink_rate_per_min=20,
        blink_amplitude_uv=150,
        seed=6,
    )
    peaks = rec.truth["blink_peaks_s"]
    assert len(peaks) >= 4
    assert all(p < 30 for p in peaks)  # nobody blinks with eyes closed
    af7, tp9 = rec.ch_names.index("AF7"), rec.ch_names.index("TP9")
    for t, amp in zip(peaks, rec.truth["blink_amplitudes_uv"]):
        i = int(round(t * rec.sfreq))
        baseline = np.median(rec.data_uv[:, max(i - 256, 0) : i + 256], axis=1)
        deflection = rec.data_uv[:, i] - baseline
        assert deflection[af7] > 0.5 * 0.7 * amp  # AF weight 0.7, background ~13 uV
        assert abs(deflection[tp9]) < 0.5 * deflection[af7]
    blink_events = [e for e in rec.events if e[2] == "BAD_blink"]
    assert [e[0] for e in blink_events] == rec.truth["blink_onsets_s"]
    assert len([a for a in rec.truth["artifacts"] if a["type"] == "blink"]) == len(peaks)


def test_blink_weights_fall_off_from_the_front():
    w = [blink_weight(c) for c in ("Fp1", "AF7", "F3", "Fz", "FC1", "C3", "P7", "O1", "Right AUX")]
    assert w[0] == 1.0 and w[-1] == 0.0
    assert w[:8] == sorted(w[:8], reverse=True)


@pytest.mark.parametrize("line_freq", [50.0, 60.0])
def test_line_noise_at_chosen_frequency(line_freq):
    rec = simulate_eeg(duration_s=30, line_freq=line_freq, line_amplitude_uv=5.0, seed=7)
    f, p = _welch(rec)
    other = 110.0 - line_freq  # 60 when 50, 50 when 60
    at = p[:, np.argmin(np.abs(f - line_freq))]
    near = np.median(p[:, (np.abs(f - line_freq) > 2) & (np.abs(f - line_freq) < 6)], axis=1)
    assert np.all(at > 100 * near)
    assert np.all(p[:, np.argmin(np.abs(f - other))] < 3 * near)
    # the line part alone (same seed without it) is a 5 uV-peak sine: RMS 5/sqrt(2)
    line = rec.data_uv - simulate_eeg(duration_s=30, seed=7).data_uv
    np.testing.assert_allclose(np.sqrt(np.mean(line**2, axis=1)), 5 / np.sqrt(2), rtol=1e-3)


def test_movement_bursts_recorded_and_large():
    rec = simulate_eeg(duration_s=60, movement_bursts=2, movement_amplitude_uv=300, seed=8)
    moves = [a for a in rec.truth["artifacts"] if a["type"] == "movement"]
    assert len(moves) == 2 == len([e for e in rec.events if e[2] == "BAD_movement"])
    clean = simulate_eeg(duration_s=60, seed=8)
    diff = rec.data_uv - clean.data_uv
    inside = np.zeros(rec.n_times, bool)
    for a in moves:
        i0 = int(round(a["onset_s"] * rec.sfreq))
        inside[i0 : i0 + int(round(a["duration_s"] * rec.sfreq))] = True
        assert 1.0 <= a["duration_s"] <= 3.0
    assert np.all(diff[:, ~inside] == 0)
    np.testing.assert_allclose(
        np.abs(diff).max(axis=1), [max(a["amplitude_uv"][c] for a in moves) for c in rec.ch_names]
    )
    assert np.abs(diff).max() > 120


def test_box_artifact_added_without_touching_the_original():
    rec = simulate_eeg(duration_s=20, seed=9)
    boxed = add_box_artifact(rec, channel="AF8", onset_s=5.0, duration_s=2.0, amplitude_uv=500.0)
    diff = boxed.data_uv - rec.data_uv
    expected = np.zeros_like(diff)
    expected[2, 5 * 256 : 7 * 256] = 500.0
    np.testing.assert_allclose(diff, expected, rtol=0, atol=1e-9)
    assert (5.0, 2.0, "BAD_box") in boxed.events and (5.0, 2.0, "BAD_box") not in rec.events
    assert boxed.truth["artifacts"][-1] == {
        "type": "box",
        "onset_s": 5.0,
        "duration_s": 2.0,
        "channels": ["AF8"],
        "amplitude_uv": 500.0,
    }
    assert rec.truth["artifacts"] == []
    with pytest.raises(ValueError, match="inside the recording"):
        add_box_artifact(rec, channel=0, onset_s=19.0, duration_s=2.0)
    with pytest.raises(ValueError, match="'channel' parameter"):
        add_box_artifact(rec, channel="Cz", onset_s=1.0, duration_s=1.0)


def test_dc_offsets_per_channel():
    dc = [61379.0, -16597.0, 6703.0, 1740.0]
    rec = simulate_eeg(duration_s=20, dc_offset_uv=dc, seed=0)
    np.testing.assert_allclose(rec.data_uv.mean(axis=1), dc, atol=5)
    assert rec.truth["dc_offset_uv"] == dict(zip(rec.ch_names, dc))


# --- determinism, object, validation ------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data():
    kw = dict(
        duration_s=20,
        blocks=[("eyes-open", 10), ("eyes-closed", 10)],
        blink_rate_per_min=15,
        line_freq=50.0,
        movement_bursts=1,
    )
    a, b, c = simulate_eeg(seed=11, **kw), simulate_eeg(seed=11, **kw), simulate_eeg(seed=12, **kw)
    np.testing.assert_array_equal(a.data_uv, b.data_uv)
    assert a.events == b.events and a.truth == b.truth
    assert not np.allclose(a.data_uv, c.data_uv)


def test_recording_is_frozen_and_truth_is_json():
    rec = simulate_eeg(duration_s=10, blink_rate_per_min=30, movement_bursts=1)
    with pytest.raises(ValueError):
        rec.data_uv[0, 0] = 1.0  # read-only array
    with pytest.raises(AttributeError):
        rec.sfreq = 100.0
    assert json.loads(json.dumps(rec.truth)) == rec.truth
    assert rec.meas_date == datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def test_to_raw_volts_montage_and_block_annotations_only():
    rec = simulate_eeg(
        duration_s=20,
        blocks=[("eyes-open", 10), ("eyes-closed", 10)],
        blink_rate_per_min=30,
        line_freq=60.0,
        seed=1,
    )
    raw = rec.to_raw()
    np.testing.assert_allclose(raw.get_data(), rec.data_uv * 1e-6, rtol=1e-12)
    assert raw.ch_names == list(rec.ch_names) and raw.info["sfreq"] == 256.0
    assert raw.info["line_freq"] == 60.0
    assert raw.info["meas_date"] == rec.meas_date
    assert list(raw.annotations.description) == ["eyes-open", "eyes-closed"]
    assert all(np.isfinite(ch["loc"][:3]).all() and np.any(ch["loc"][:3]) for ch in raw.info["chs"])


def test_invalid_arguments_have_clear_messages(tmp_path):
    rec = simulate_eeg(duration_s=5)
    with pytest.raises(
        ValueError,
        match=r"Invalid value for the 'format' parameter\. Allowed values are 'fif', .* but got 'xdf' instead\.",
    ):
        write_recording(rec, tmp_path / "x.xdf", format="xdf")
    with pytest.raises(ValueError, match="sequence of 4 numbers"):
        simulate_eeg(alpha_peak_hz=[10.0, 11.0])
    with pytest.raises(ValueError, match="timezone-aware"):
        simulate_eeg(duration_s=5, meas_date=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="'alpha_peak_hz' parameter"):
        simulate_eeg(duration_s=5, alpha_peak_hz=200.0)
    with pytest.raises(ValueError, match="Cannot choose a BrainFlow board"):
        write_recording(
            simulate_eeg(ch_names=("Cz", "Pz"), duration_s=5),
            tmp_path / "r.csv",
            format="brainflow_csv",
        )
    with pytest.raises(ValueError, match="CYTON_BOARD has 8 EEG rows"):
        write_recording(rec, tmp_path / "r.csv", format="brainflow_csv", board="cyton")
    with pytest.raises(ValueError, match="8 channels at 250 Hz"):
        write_recording(rec, tmp_path / "r.txt", format="openbci_txt")
    with pytest.raises(ValueError, match="TP9, AF7, AF8, TP10"):
        write_recording(
            simulate_eeg(ch_names=CYTON, sfreq=250.0, duration_s=5),
            tmp_path / "m.csv",
            format="muselsl_csv",
        )


# --- writers ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cyton_rec() -> SimulatedRecording:
    rec = simulate_eeg(
        ch_names=CYTON,
        sfreq=250.0,
        blocks=[("eyes-open", 6), ("eyes-closed", 6), ("meditation", 4)],
        blink_rate_per_min=20,
        line_freq=50.0,
        movement_bursts=1,
        dc_offset_uv=[52000.0, 41500.0, -18200.0, -23750.0, 8100.0, -3900.0, 9650.0, 2300.0],
        seed=21,
    )
    return add_box_artifact(rec, channel="O1", onset_s=3.0, duration_s=1.0)


@pytest.fixture(scope="module")
def muse_rec() -> SimulatedRecording:
    return simulate_eeg(
        blocks=[("eyes-open", 6), ("eyes-closed", 6)], blink_rate_per_min=20, seed=22
    )


def _edf_step(data_uv, bits):
    """One quantisation step per channel for a channelwise physical range, µV."""
    return (data_uv.max(axis=1) - data_uv.min(axis=1)) / (2**bits - 2)


def _tolerance_uv(fmt, data_uv):
    """Largest read-back error allowed per channel, µV, and why."""
    if fmt == "fif":
        return np.full(len(data_uv), 1e-9)  # float64 volts
    if fmt == "edf":
        return _edf_step(data_uv, 16)  # 16-bit: half a step + 8-character header rounding
    if fmt == "bdf":
        return _edf_step(data_uv, 24)
    if fmt == "brainvision":
        return 1.2e-7 * np.abs(data_uv).max(axis=1)  # float32 µV (2**-23 relative)
    if fmt == "brainflow_csv":
        return np.full(len(data_uv), 5.1e-7)  # 6 decimals
    return np.full(len(data_uv), 5.1e-4)  # openbci_txt, muselsl_csv: 3 decimals


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("fif", "r_raw.fif"), ("edf", "r.edf"), ("bdf", "r.bdf"), ("brainvision", "r.vhdr")],
)
def test_mne_formats_read_back_with_mne(cyton_rec, tmp_path, fmt, name):
    import mne

    path = write_recording(cyton_rec, tmp_path / name, format=fmt)
    raw = mne.io.read_raw(path, preload=True, verbose=False)
    assert raw.ch_names == list(cyton_rec.ch_names)
    assert raw.info["sfreq"] == cyton_rec.sfreq
    assert raw.info["meas_date"] == cyton_rec.meas_date
    err = np.abs(raw.get_data() * 1e6 - cyton_rec.data_uv).max(axis=1)
    assert np.all(err <= _tolerance_uv(fmt, cyton_rec.data_uv)), err
    labels = [d.split("/")[-1] for d in raw.annotations.description]  # BrainVision: "Comment/…"
    assert labels == ["eyes-open", "eyes-closed", "meditation"]
    np.testing.assert_allclose(raw.annotations.onset, [0.0, 6.0, 12.0], atol=1 / 250)


def test_brainflow_csv_layout_and_sidecar(cyton_rec, tmp_path):
    from brainflow.data_filter import DataFilter

    from neurofeedback.io.sidecar import read_sidecar

    path = write_recording(cyton_rec, tmp_path / "rec.csv", format="brainflow_csv", subject="s01")
    table = DataFilter.read_file(str(path))
    assert table.shape == (24, cyton_rec.n_times)
    np.testing.assert_allclose(table[1:9], cyton_rec.data_uv, atol=5.1e-7, rtol=0)
    np.testing.assert_allclose(
        table[22], cyton_rec.meas_date.timestamp() + np.arange(cyton_rec.n_times) / 250.0, atol=1e-6
    )
    assert {int(i): table[23, i] for i in np.flatnonzero(table[23])} == {
        0: 1.0,
        1500: 2.0,
        3000: 3.0,
    }
    others = np.delete(table, [*range(1, 9), 22, 23], axis=0)
    assert not others.any()
    doc = read_sidecar(tmp_path / "rec.json")
    assert doc["board_id"] == 0 and doc["board_name"] == "CYTON_BOARD"
    assert doc["channel_names"] == list(CYTON) and doc["subject"] == "s01"
    assert doc["blocks"] == [
        {"label": "eyes-open", "duration_s": 6.0, "marker": 1},
        {"label": "eyes-closed", "duration_s": 6.0, "marker": 2},
        {"label": "meditation", "duration_s": 4.0, "marker": 3},
    ]
    assert doc["markers"] == {"1": "eyes-open", "2": "eyes-closed", "3": "meditation"}
    assert doc["n_samples"] == cyton_rec.n_times and doc["ended_cleanly"] is True
    assert datetime.fromisoformat(doc["start_time"]) == cyton_rec.meas_date


@pytest.mark.parametrize(
    ("ch_names", "sfreq", "board_name", "n_rows"),
    [
        (("TP9", "AF7", "AF8", "TP10"), 256.0, "MUSE_2_BOARD", 8),
        (tuple(f"E{i}" for i in range(16)), 250.0, "SYNTHETIC_BOARD", 32),
    ],
)
def test_brainflow_board_chosen_from_layout(tmp_path, ch_names, sfreq, board_name, n_rows):
    from brainflow.data_filter import DataFilter

    rec = simulate_eeg(ch_names=ch_names, sfreq=sfreq, duration_s=4, seed=0)
    path = write_recording(rec, tmp_path / "rec.csv", format="brainflow_csv")
    assert DataFilter.read_file(str(path)).shape == (n_rows, rec.n_times)
    doc = json.loads((tmp_path / "rec.json").read_text())
    assert doc["board_name"] == board_name and doc["channel_names"] == list(ch_names)


def test_openbci_txt_mirrors_gui_v6(cyton_rec, tmp_path, shared_data):
    path = write_recording(cyton_rec, tmp_path / "OpenBCI-RAW.txt", format="openbci_txt")
    lines = path.read_text().splitlines()
    real = shared_data / "OpenBCI__OpenBCI_GUI/OpenBCI_GUI-v6-blinks-jawClench-alpha.txt"
    if not real.is_file():
        pytest.skip(f"{real} is absent")
    real_lines = real.read_text().splitlines()
    assert lines[:5] == real_lines[:5]  # % header and the column-name row, verbatim
    assert len(lines[5].split(",")) == len(real_lines[5].split(",")) == 25
    rows = np.array([ln.split(",")[:24] for ln in lines[5:]], dtype=float)
    assert rows.shape == (cyton_rec.n_times, 24)
    np.testing.assert_array_equal(rows[:, 0], np.arange(cyton_rec.n_times) % 256)
    np.testing.assert_allclose(rows[:, 1:9].T, cyton_rec.data_uv, atol=5.1e-4, rtol=0)
    np.testing.assert_allclose(
        rows[:, 22],
        np.rint((cyton_rec.meas_date.timestamp() + np.arange(cyton_rec.n_times) / 250) * 1000),
    )
    assert {int(i): rows[i, 23] for i in np.flatnonzero(rows[:, 23])} == {
        0: 1.0,
        1500: 2.0,
        3000: 3.0,
    }
    assert lines[5].endswith(", 09:00:00.000") and lines[6].endswith(", 09:00:00.004")


def test_muselsl_csv_layout(muse_rec, tmp_path):
    path = write_recording(muse_rec, tmp_path / "muse.csv", format="muselsl_csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker"
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    np.testing.assert_allclose(
        table[:, 0], muse_rec.meas_date.timestamp() + np.arange(muse_rec.n_times) / 256, atol=5.1e-4
    )
    np.testing.assert_allclose(table[:, 1:5].T, muse_rec.data_uv, atol=5.1e-4, rtol=0)
    assert not table[:, 5].any()
    assert {int(i): table[i, 6] for i in np.flatnonzero(table[:, 6])} == {0: 1.0, 6 * 256: 2.0}


def _read_recording():
    try:
        from neurofeedback.io import read_recording
    except ImportError:
        pytest.skip("readers not landed (neurofeedback.io.read_recording)")
    return read_recording


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("fif", "r_raw.fif"),
        ("edf", "r.edf"),
        ("bdf", "r.bdf"),
        ("brainvision", "r.vhdr"),
        ("brainflow_csv", "r.csv"),
        ("openbci_txt", "r.txt"),
    ],
)
def test_round_trip_through_project_reader_cyton(cyton_rec, tmp_path, fmt, name):
    read_recording = _read_recording()
    path = write_recording(cyton_rec, tmp_path / name, format=fmt)
    raw = read_recording(path)
    assert raw.info["sfreq"] == pytest.approx(cyton_rec.sfreq)
    if fmt == "openbci_txt":  # the format carries no channel names: the first 8 EEG channels
        got = raw.get_data(picks="eeg")[:8]
    else:
        assert set(cyton_rec.ch_names) <= set(raw.ch_names)
        got = raw.get_data(picks=list(cyton_rec.ch_names))
    assert got.shape == cyton_rec.data_uv.shape
    err = np.abs(got * 1e6 - cyton_rec.data_uv).max(axis=1)
    assert np.all(err <= _tolerance_uv(fmt, cyton_rec.data_uv)), err


def test_round_trip_through_project_reader_muselsl(muse_rec, tmp_path):
    read_recording = _read_recording()
    path = write_recording(muse_rec, tmp_path / "muse.csv", format="muselsl_csv")
    raw = read_recording(path)
    # muselsl keeps timestamps to the millisecond: the rate is estimated, not exact
    assert raw.info["sfreq"] == pytest.approx(256.0, rel=1e-3)
    got = raw.get_data(picks=list(muse_rec.ch_names))
    assert got.shape == muse_rec.data_uv.shape
    assert np.abs(got * 1e6 - muse_rec.data_uv).max() <= 5.1e-4


# --- bundled sample data ------------------------------------------------------------------------


def test_make_sample_data_writes_the_documented_files(tmp_path):
    """What the files hold; tests/test_sample_data.py checks them byte for byte."""
    import mne
    from brainflow.data_filter import DataFilter

    paths = make_sample_data(tmp_path)
    names = {p.name for p in paths}
    assert {
        "muse_eyes_open_closed.csv",
        "muse_eyes_open_closed.truth.json",
        "cyton_meditation.csv",
        "cyton_meditation.json",
        "cyton_meditation_raw.fif",
        "cyton_meditation.truth.json",
        "README.md",
    } <= names
    assert sum(p.stat().st_size for p in paths) < 15e6
    truth = json.loads((tmp_path / "cyton_meditation.truth.json").read_text())
    assert [b["label"] for b in truth["blocks"]] == ["eyes-open", "eyes-closed", "meditation"]
    assert (
        truth["line_freq"] == 50.0
        and len([a for a in truth["artifacts"] if a["type"] == "movement"]) == 1
    )
    raw = mne.io.read_raw_fif(tmp_path / "cyton_meditation_raw.fif", verbose=False)
    csv = DataFilter.read_file(str(tmp_path / "cyton_meditation.csv"))
    assert np.abs(raw.get_data() * 1e6 - csv[1:9]).max() < 0.005  # FIF is float32 volts


def test_formats_constant_lists_every_writer():
    assert FORMATS == (
        "fif",
        "edf",
        "bdf",
        "brainvision",
        "brainflow_csv",
        "openbci_txt",
        "muselsl_csv",
    )


def test_uniform_blink_intervals_and_amplitudes_change_nothing_else():
    kw = {"duration_s": 240.0, "seed": 31}
    rec = simulate_eeg(blink_interval_s=(2.0, 5.0), blink_amplitude_range_uv=(150.0, 400.0), **kw)
    plain = simulate_eeg(**kw)
    onsets = np.array(rec.truth["blink_onsets_s"])
    gaps = np.diff(onsets)
    assert gaps.min() >= 2.0 - 1 / 256 and gaps.max() <= 5.0 + 1 / 256
    assert 240 / 5 - 2 <= onsets.size <= 240 / 2
    amps = np.array(rec.truth["blink_amplitudes_uv"])
    assert amps.min() >= 150 and amps.max() <= 400 and amps.max() - amps.min() > 150
    # everything but the blinks is the same recording: the difference is the blinks alone
    diff = rec.data_uv - plain.data_uv
    w = rec.truth["blink_weights"]
    for i, ch in enumerate(rec.ch_names):
        assert np.abs(diff[i]).max() == pytest.approx(w[ch] * amps.max(), rel=0.01)
    outside = np.ones(rec.n_times, bool)
    for a in rec.truth["artifacts"]:
        i0 = int(round(a["onset_s"] * 256))
        outside[i0: i0 + int(round(a["duration_s"] * 256))] = False
    assert not diff[:, outside].any()
    with pytest.raises(ValueError, match="blink_interval_s"):
        simulate_eeg(blink_interval_s=(2.0, 5.0), blink_rate_per_min=10, **kw)
    with pytest.raises(ValueError, match="low <= high"):
        simulate_eeg(blink_amplitude_range_uv=(400.0, 150.0), blink_interval_s=(2.0, 5.0), **kw)
