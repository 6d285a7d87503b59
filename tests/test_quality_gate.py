"""The pre-recording quality gate (``quality.check_signal``) on known signals and real data."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import ROOT, shared_file

from neurofeedback.acquisition.playback import prepare_playback
from neurofeedback.boards import board_info
from neurofeedback.config import load_settings
from neurofeedback.io import read_recording
from neurofeedback.quality import (
    LINE_TO_EEG_POWER_MAX,
    PTP_MAX_UV,
    STD_MAX_UV,
    QualityCheck,
    check_signal,
)
from neurofeedback.simulate import simulate_eeg

CYTON = ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2")
DAISY = CYTON + ("F7", "F8", "F3", "F4", "T7", "T8", "P3", "P4")
ROFL = "roflecopter__openbci-session/OpenBCI-GUI-2024-01-24_16-28-32.txt"
MUSE_2017 = "NeuroTechX__eeg-notebooks_v0.1/data_2017-02-04-15_45_13.csv"


def clean(seed=0, *, ch_names=CYTON, sfreq=250.0, duration_s=4.0, **kw):
    return simulate_eeg(ch_names=ch_names, sfreq=sfreq, duration_s=duration_s, seed=seed, **kw)


def only_problem(check: QualityCheck, channel: str, word: str) -> str:
    """Assert ``channel`` is the only failing one, with a problem starting with ``word``."""
    assert not check.ok
    assert check.bads == (channel,)
    (line,) = check.problems()
    assert line.startswith(f"{channel}: {word}")
    return line


@pytest.mark.parametrize("ch_names, sfreq, dc", [
    (("TP9", "AF7", "AF8", "TP10"), 256.0, 0.0),          # Muse
    (CYTON, 250.0, [3e4, -5e4, 1e4, 8e4, -2e4, 4e4, 6e4, -7e4]),  # Cyton with DC offsets
    (DAISY, 125.0, 0.0),                                   # Cyton + Daisy
])
def test_clean_simulated_recording_passes(ch_names, sfreq, dc):
    rec = clean(1, ch_names=ch_names, sfreq=sfreq, dc_offset_uv=dc, line_freq=50,
                line_amplitude_uv=5.0, blink_rate_per_min=0.0)
    check = check_signal(rec.data_uv, rec.sfreq, rec.ch_names)
    assert check.ok, check.problems()
    t = check.table
    assert list(t.columns) == ["channel", "railed_fraction", "flat_fraction", "line_to_eeg_power",
                               "ptp_uv", "std_uv", "ok", "problem"]
    assert list(t["channel"]) == list(ch_names)
    assert (t["problem"] == "").all() and check.problems() == [] and check.bads == ()
    assert (t["railed_fraction"] == 0).all() and (t["flat_fraction"] < 0.01).all()
    # the simulator's background: offset 100 µV²/Hz, χ = 1.5 → ~13 µV std in 1–45 Hz, despite
    # DC offsets of 10^4 µV (detrended before the band-pass)
    assert np.all((t["std_uv"] > 8) & (t["std_uv"] < 20))
    assert np.all(t["line_to_eeg_power"] < 0.3)


def test_clean_sample_recording_passes():
    raw = read_recording(ROOT / "sample_data" / "muse_eyes_open_closed.csv")
    # 4 s of eyes-closed (strong alpha), no blinks there
    x = raw.get_data(picks="eeg", start=int(40 * 256), stop=int(44 * 256)) * 1e6
    check = check_signal(x, 256.0, raw.copy().pick("eeg").ch_names, line_freq=50)
    assert check.ok, check.problems()
    assert check.line_freq == 50.0


def test_railed_channel_fails():
    rec = clean(2)
    x = rec.data_uv.copy()
    x[3, ::2] = 187500.0  # half of C4's samples at the Cyton rail
    check = check_signal(x, rec.sfreq, rec.ch_names)
    line = only_problem(check, "C4", "railed")
    assert "50% of samples at the rail" in line
    assert check.table.set_index("channel").loc["C4", "railed_fraction"] == pytest.approx(0.5, abs=1e-3)


def test_flat_channels_fail():
    rec = clean(3)
    x = rec.data_uv.copy()
    x[0] = 1234.5  # constant: every sample repeats
    check = check_signal(x, rec.sfreq, rec.ch_names)
    line = only_problem(check, "Fp1", "flat")
    assert "100% of samples repeat" in line
    # not repeating but tiny: 0.1 µV of noise (band-passed std below flat_uv = 0.5 µV)
    x = rec.data_uv.copy()
    x[6] = 5000 + np.random.default_rng(0).normal(0, 0.1, x.shape[1])
    check = check_signal(x, rec.sfreq, rec.ch_names)
    only_problem(check, "O1", "flat (std")
    assert check.table.set_index("channel").loc["O1", "std_uv"] == pytest.approx(0.1 * np.sqrt(44 / 125), rel=0.2)


def test_strong_line_noise_fails_with_the_expected_ratio():
    rec = clean(4)
    x = rec.data_uv.copy()
    t = np.arange(x.shape[1]) / rec.sfreq
    amp = 60.0
    x[5] += amp * np.sin(2 * np.pi * 50.0 * t + 0.3)
    check = check_signal(x, rec.sfreq, rec.ch_names)
    line = only_problem(check, "P8", "line noise")
    row = check.table.set_index("channel").loc["P8"]
    # known signal: the sine's power amp²/2 over the background's 1–45 Hz power (its variance)
    expected = (amp**2 / 2) / row["std_uv"] ** 2
    assert expected > LINE_TO_EEG_POWER_MAX
    assert row["line_to_eeg_power"] == pytest.approx(expected, rel=0.15)
    assert "50/60 Hz power" in line
    # the mains frequency given as 60 Hz: 50 Hz is not counted as line noise any more
    assert check_signal(x, rec.sfreq, rec.ch_names, line_freq=60).ok
    assert check_signal(x, rec.sfreq, rec.ch_names, line_freq=50).bads == ("P8",)


def test_movement_artifact_fails():
    # same seed, movement on: every other part of the signal is identical, so the difference
    # is the movement component alone; put it on one channel
    base = clean(5, duration_s=6.0)
    moved = clean(5, duration_s=6.0, movement_bursts=1, movement_amplitude_uv=800.0)
    movement = moved.data_uv - base.data_uv
    assert np.ptp(movement[1]) > 300
    x = base.data_uv.copy()
    x[1] += movement[1]
    check = check_signal(x, base.sfreq, base.ch_names)
    line = only_problem(check, "Fp2", "large amplitude")
    row = check.table.set_index("channel").loc["Fp2"]
    assert row["ptp_uv"] > PTP_MAX_UV or row["std_uv"] > STD_MAX_UV
    assert "movement or poor contact" in line


def test_real_muse_channel_with_mains_pickup_fails(shared_data):
    """A real Muse 2016 recording: TP9 sits badly (its 60 Hz dwarfs the EEG), AF7/AF8 are fine."""
    raw = read_recording(shared_file(shared_data, MUSE_2017))
    x = raw.get_data(picks="eeg", start=2560, stop=2560 + 1024) * 1e6
    check = check_signal(x, 256.0, ["TP9", "AF7", "AF8", "TP10"])
    t = check.table.set_index("channel")
    assert t.loc["TP9", "problem"].startswith("line noise")
    assert t.loc["TP9", "line_to_eeg_power"] > 50
    assert t.loc["AF7", "ok"] and t.loc["AF8", "ok"]


def test_input_validation():
    rec = clean(6)
    with pytest.raises(ValueError, match="Invalid value for the 'data_uv' parameter"):
        check_signal(rec.data_uv, rec.sfreq, rec.ch_names[:-1])
    with pytest.raises(ValueError, match="at least 1 s"):
        check_signal(rec.data_uv[:, :100], rec.sfreq, rec.ch_names)
    with pytest.raises(ValueError, match="Invalid value for the 'sfreq' parameter"):
        check_signal(rec.data_uv, 0, rec.ch_names)


def test_thresholds_come_from_the_settings():
    rec = clean(7)
    x = rec.data_uv.copy()
    x[2] = 5000 + np.random.default_rng(1).normal(0, 1.0, x.shape[1])  # ~0.6 µV in 1–45 Hz
    assert check_signal(x, rec.sfreq, rec.ch_names).ok
    strict = load_settings().replace(preprocessing={"flat_uv": 2.0})
    assert check_signal(x, rec.sfreq, rec.ch_names, settings=strict).bads == ("C3",)


def test_gate_on_replayed_roflecopter_flags_the_readers_railed_channels(shared_data, tmp_path):
    """Acceptance: the bad-signal OpenBCI recording replayed through the playback board."""
    from brainflow.board_shim import BoardIds, BoardShim

    path = shared_file(shared_data, ROFL)
    raw = read_recording(path)
    assert raw.info["bads"] == ["EEG 4", "EEG 5", "EEG 6", "EEG 7", "EEG 8"]

    src = prepare_playback(path, tmp_path, speed=5)
    board = BoardShim(BoardIds.PLAYBACK_FILE_BOARD, src.input_params())
    board.prepare_session()
    chunks, have = [], 0
    try:
        board.start_stream()
        limit = time.monotonic() + 60.0  # a safety net: the loop ends when every sample is in
        while have < src.n_samples and time.monotonic() < limit:
            time.sleep(0.05)
            chunk = board.get_board_data()
            chunks.append(chunk)
            have += chunk.shape[1]
        board.stop_stream()
    finally:
        board.release_session()
    data = np.concatenate(chunks, axis=1)
    eeg = data[list(board_info(src.master_board).eeg_rows)]  # µV, as the recorder sees it
    assert eeg.shape == (8, src.n_samples)

    # the whole replay (11.4 s of signal in 2.3 s): the same railed channels as the reader
    check = check_signal(eeg, src.sfreq, src.channel_names)
    t = check.table.set_index("channel")
    railed = [c for c in src.channel_names if t.loc[c, "problem"].startswith("railed")]
    assert railed == raw.info["bads"]
    assert not check.ok
    # the other three are not railed but unusable too: 10^4–10^5 µV swings (a bad recording)
    for c in ("EEG 1", "EEG 2", "EEG 3"):
        assert t.loc[c, "problem"].startswith("large amplitude") and t.loc[c, "std_uv"] > 5000

    # the first 4 s, as the recorder's gate takes them: railing here is intermittent, so only
    # some of those channels are at the rail in this window, but every one of them fails
    first = check_signal(eeg[:, :1000], src.sfreq, src.channel_names)
    t4 = first.table.set_index("channel")
    railed4 = {c for c in src.channel_names if t4.loc[c, "problem"].startswith("railed")}
    assert railed4 == {"EEG 5", "EEG 7", "EEG 8"}
    assert set(raw.info["bads"]) <= set(first.bads)
