"""Playback: recordings replayed through BrainFlow's real playback board (no hardware).

Every streaming test compares the EEG rows BrainFlow delivers with the values parsed
independently from the source file's text (pandas for muselsl, ``float`` per field for OpenBCI),
so the whole chain reader → volts → µV → text → BrainFlow's parser is checked.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, shared_file

from neurofeedback.acquisition.playback import PlaybackSource, _volts_to_uv, prepare_playback
from neurofeedback.boards import board_info
from neurofeedback.errors import RecordingFormatError
from neurofeedback.io import read_recording

MUSE = "NeuroTechX__eeg-notebooks_v0.1/data_2017-02-04-15_45_13.csv"
OPENBCI_V6 = "OpenBCI__OpenBCI_GUI/OpenBCI_GUI-v6-blinks-jawClench-alpha.txt"
ROFL = "roflecopter__openbci-session/OpenBCI-GUI-2024-01-24_16-28-32.txt"
EDF_64 = "Yannkess__EEG_signal_denoise/S001R01.edf"


#: A safety net only: every wait below ends when its samples have arrived, so a busy machine
#: makes a test slower, never failing (at the speeds used, the streams take 0.4-1.2 s).
STREAM_TIMEOUT_S = 60.0


def stream(source: PlaybackSource, *, until: int, timeout_s: float = STREAM_TIMEOUT_S,
           linger_s: float = 0.0) -> np.ndarray:
    """Stream ``source`` on the playback board until ``until`` samples or ``timeout_s``, then
    keep reading for ``linger_s`` seconds (to see samples that should not come).

    Returns the board's data array, shape (num_rows, n_samples).
    """
    from brainflow.board_shim import BoardIds, BoardShim

    board = BoardShim(BoardIds.PLAYBACK_FILE_BOARD, source.input_params())
    board.prepare_session()
    chunks, have = [], 0
    try:
        for cmd in source.config_commands():
            board.config_board(cmd)
        board.start_stream()
        limit = time.monotonic() + timeout_s
        while have < until and time.monotonic() < limit:
            time.sleep(0.05)
            chunk = board.get_board_data()
            chunks.append(chunk)
            have += chunk.shape[1]
        time.sleep(linger_s)
        board.stop_stream()
        chunks.append(board.get_board_data())
    finally:
        board.release_session()
    return np.concatenate(chunks, axis=1)


def openbci_text_uv(path) -> np.ndarray:
    """EEG columns of an OpenBCI GUI text file parsed with ``float`` (µV), without the GUI's
    leading all-zero placeholder rows; shape (8, n_times)."""
    rows = []
    with open(path) as fh:
        for line in fh:
            if line.startswith("%") or line.startswith("Sample Index"):
                continue
            rows.append([float(v) for v in line.split(",")[1:9]])
    eeg = np.array(rows).T
    first = int(np.argmax(np.any(eeg != 0, axis=0)))
    return eeg[:, first:]


def eeg_rows(source: PlaybackSource, data: np.ndarray) -> np.ndarray:
    return data[list(board_info(source.master_board).eeg_rows)]


def test_muselsl_stream_is_bit_exact(shared_data, tmp_path):
    path = shared_file(shared_data, MUSE)
    src = prepare_playback(path, tmp_path, speed=20)
    assert src.master_board == board_info("muse_2").board_id
    assert src.channel_names == ("TP9", "AF7", "AF8", "TP10")
    assert src.sfreq == 256.0
    ref = pd.read_csv(path)[list(src.channel_names)].to_numpy().T
    assert src.n_samples == ref.shape[1]

    got = eeg_rows(src, stream(src, until=6000))
    n = got.shape[1]
    assert 6000 <= n <= src.n_samples
    # in order, no drop, no duplicate, every bit equal: the first n samples of the file
    np.testing.assert_array_equal(got, ref[:, :n])


def test_openbci_stream_is_bit_exact(shared_data, tmp_path):
    path = shared_file(shared_data, OPENBCI_V6)
    src = prepare_playback(path, tmp_path, speed=20)
    assert src.master_board == board_info("cyton").board_id
    assert src.channel_names == tuple(f"EEG {i}" for i in range(1, 9))
    ref = openbci_text_uv(path)
    assert src.n_samples == ref.shape[1] == 22490

    got = eeg_rows(src, stream(src, until=6000))
    n = got.shape[1]
    assert n >= 6000
    np.testing.assert_array_equal(got, ref[:, :n])


def test_full_pass_no_drops_speed_and_17_digit_values(shared_data, tmp_path):
    """The roflecopter file (11.36 s, values with 17 significant digits) in one pass at 10×."""
    path = shared_file(shared_data, ROFL)
    speed = 10.0
    src = prepare_playback(path, tmp_path, speed=speed)
    # the whole file, then 0.5 s more (1250 samples at 10x) in which nothing may arrive
    data = stream(src, until=2840, linger_s=0.5)
    got = eeg_rows(src, data)
    ref = openbci_text_uv(path)

    # exactly one pass, nothing dropped or repeated, and the board stops at the end
    assert got.shape == ref.shape == (8, 2840)
    # bit-exact against the reader's volts: what a recorder stores (µV * 1e-6) is the source Raw
    volts = read_recording(path).get_data()
    np.testing.assert_array_equal(got * 1e-6, volts)
    # against the text: a float64 cannot carry every 17-digit µV value through volts and back;
    # where two neighbouring floats give the same volts the choice is ambiguous (measured: 1.7%
    # of samples), and the error is then one ulp at most
    diff = np.abs(got - ref)
    assert np.all(diff <= np.spacing(np.abs(ref)))
    assert np.mean(diff > 0) < 0.03

    # timestamps in the file advance by 1 / sfreq / speed ...
    ts_file = np.loadtxt(src.file, usecols=[board_info("cyton").timestamp_row])
    np.testing.assert_allclose(np.diff(ts_file), 1 / 250 / speed, atol=1e-6)
    # ... and the board paces the stream by them: its samples (stamped with BrainFlow's clock)
    # span at least the recording's duration / speed, loosely. No upper bound: a busy machine
    # stretches the span, and the file's timestamps above already prove the speed asked for
    ts = data[board_info("cyton").timestamp_row]
    assert ts[-1] - ts[0] > 0.7 * 11.36 / speed


def test_loop_keeps_delivering(shared_data, tmp_path):
    path = shared_file(shared_data, ROFL)
    src = prepare_playback(path, tmp_path, speed=20, loop=True)
    assert src.config_commands() == ("loopback_true",)
    n = src.n_samples
    got = eeg_rows(src, stream(src, until=int(2.3 * n)))
    assert got.shape[1] >= 2 * n + 100
    # the second pass repeats the first from its first sample
    np.testing.assert_array_equal(got[:, n:2 * n], got[:, :n])
    np.testing.assert_array_equal(got[:, 2 * n:], got[:, : got.shape[1] - 2 * n])


def test_brainflow_csv_uses_its_sidecar_board(tmp_path):
    path = ROOT / "sample_data" / "cyton_meditation.csv"
    src = prepare_playback(path, tmp_path / "new" / "dir", speed=2)
    assert src.master_board == board_info("cyton").board_id
    assert src.file.parent == tmp_path / "new" / "dir" and src.file.is_file()
    assert src.config_commands() == ()
    params = src.input_params()
    assert params.master_board == src.master_board and params.file == str(src.file)
    info = board_info("cyton")
    written = np.loadtxt(src.file, delimiter="\t")
    source = np.loadtxt(path, delimiter="\t")
    assert written.shape == (source.shape[0], info.num_rows)
    # EEG rows bit-equal to the source's text (6 decimals), the package row a sample counter
    # (0-255, wrapping), every other row 0 but timestamps
    np.testing.assert_array_equal(written[:, list(info.eeg_rows)], source[:, list(info.eeg_rows)])
    pkg = info.descr["package_num_channel"]
    np.testing.assert_array_equal(written[:, pkg], np.arange(source.shape[0]) % 256)
    others = [r for r in range(info.num_rows)
              if r not in info.eeg_rows and r not in (info.timestamp_row, pkg)]
    assert not written[:, others].any()
    np.testing.assert_allclose(np.diff(written[:, info.timestamp_row]), 1 / 250 / 2, atol=1e-6)


def test_board_override(shared_data, tmp_path):
    path = shared_file(shared_data, MUSE)
    src = prepare_playback(path, tmp_path, board="muse_s")
    assert src.master_board == board_info("muse_s").board_id
    with pytest.raises(RecordingFormatError, match=r"4 EEG channels at 256 Hz but board CYTON_BOARD"):
        prepare_playback(path, tmp_path, board="cyton")


def test_layout_without_board_is_one_line_error(shared_data, tmp_path):
    path = shared_file(shared_data, EDF_64)
    with pytest.raises(RecordingFormatError) as err:
        prepare_playback(path, tmp_path)
    msg = str(err.value)
    assert "\n" not in msg
    assert str(path) in msg and "64 EEG channels at 160 Hz" in msg and "board=" in msg
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("speed", [0, -1.0, float("nan"), "fast"])
def test_speed_must_be_positive(tmp_path, speed):
    with pytest.raises(ValueError, match=r"Invalid value for the 'speed' parameter"):
        prepare_playback(ROOT / "sample_data" / "muse_eyes_open_closed.csv", tmp_path, speed=speed)


def test_unreadable_file_gives_the_readers_error(tmp_path):
    with pytest.raises(RecordingFormatError, match="no such file"):
        prepare_playback(tmp_path / "missing.csv", tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("hello, world\n")
    with pytest.raises(RecordingFormatError, match="unknown format"):
        prepare_playback(bad, tmp_path)


def test_volts_to_uv_inverts_the_readers_scaling():
    """Known values: 3-decimal µV (like muselsl) survive µV → V → µV exactly, where the naive
    ``v * 1e6`` fails for a good share of them."""
    rng = np.random.default_rng(7)
    uv = np.round(rng.normal(0, 50, size=(4, 20000)), 3)
    volts = uv * 1e-6
    assert np.mean(volts * 1e6 != uv) > 0.05
    np.testing.assert_array_equal(_volts_to_uv(volts), uv)
