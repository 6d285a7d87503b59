"""BrainFlow CSV reader: files written by BrainFlow's own DataFilter.write_file, read back."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from brainflow.board_shim import BoardShim
from brainflow.data_filter import DataFilter

from neurofeedback.boards import board_info
from neurofeedback.errors import RecordingFormatError
from neurofeedback.io import detect_format, read_brainflow_csv, read_recording
from neurofeedback.io.sidecar import make_sidecar, write_sidecar

T0 = 1_700_000_000.0


def make_board_data(board, n, *, seed=0, markers=None, stamps=None):
    """A (num_rows, n) BrainFlow data array for ``board``: EEG in µV, Unix timestamps."""
    info = board_info(board)
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 30, (info.num_rows, n))
    data[list(info.eeg_rows)] += 100 * np.arange(1, len(info.eeg_rows) + 1)[:, None]
    data[info.timestamp_row] = T0 + np.arange(n) / info.sfreq if stamps is None else stamps
    data[info.marker_row] = 0.0
    for i, v in (markers or {}).items():
        data[info.marker_row, i] = v
    return info, data


def write_csv(path, data):
    DataFilter.write_file(np.ascontiguousarray(data, dtype=np.float64), str(path), "w")
    return path


@pytest.mark.parametrize("board", ["synthetic", "muse_2"])
def test_round_trip_with_sidecar(tmp_path, board):
    n = 2000
    info, data = make_board_data(board, n, markers={100: 1, 600: 2, 900: 3})
    sfreq = info.sfreq
    p = write_csv(tmp_path / "rec.csv", data)
    blocks = [{"label": "eyes-open", "duration_s": 2.0, "marker": 1},
              {"label": "eyes-closed", "duration_s": 60.0, "marker": 2}]
    write_sidecar(p, make_sidecar(info.board_id, markers={"1": "eyes-open", "2.0": "eyes-closed"},
                                  blocks=blocks, subject="s01"))
    assert detect_format(p) == "brainflow_csv"
    raw = read_recording(p)
    assert raw.info["sfreq"] == sfreq
    assert raw.ch_names == list(info.eeg_names)
    assert set(raw.get_channel_types()) == {"eeg"}
    # write_file keeps 6 decimals of µV: equal to that precision, and in volts
    np.testing.assert_allclose(raw.get_data() * 1e6, data[list(info.eeg_rows)], rtol=0, atol=5.1e-7)
    assert raw.info["meas_date"].timestamp() == pytest.approx(T0)
    got = [(round(a["onset"] * sfreq), a["duration"], a["description"]) for a in raw.annotations]
    end = n / sfreq
    assert got == [
        (100, 2.0, "eyes-open"),
        (600, pytest.approx(end - 600 / sfreq), "eyes-closed"),  # 60 s block clipped to the end
        (900, 0.0, "marker/3"),
    ]
    assert raw.info["device_info"]["model"] == info.name
    if board == "muse_2":
        assert raw.get_montage() is not None


def test_board_argument_without_sidecar(tmp_path):
    info, data = make_board_data("muse_2", 500, markers={10: 4})
    p = write_csv(tmp_path / "muse.csv", data)
    for board in ("muse_2", "MUSE_2_BOARD", info.board_id, str(info.board_id)):
        raw = read_recording(p, board=board)
        assert raw.ch_names == ["TP9", "AF7", "AF8", "TP10"]
        assert raw.info["sfreq"] == 256.0
        np.testing.assert_allclose(raw.get_data() * 1e6, data[1:5], atol=5.1e-7)
        assert [a["description"] for a in raw.annotations] == ["marker/4"]


def test_board_argument_disagreeing_with_sidecar(tmp_path):
    info, data = make_board_data("muse_2", 100)
    p = write_csv(tmp_path / "m.csv", data)
    write_sidecar(p, make_sidecar(info.board_id))
    with pytest.raises(RecordingFormatError, match="disagrees with its sidecar"):
        read_recording(p, board="muse_s_bled")


def test_sidecar_channel_names_and_board_descr_are_used(tmp_path):
    info, data = make_board_data("muse_2", 300)
    p = write_csv(tmp_path / "m.csv", data)
    descr = dict(BoardShim.get_board_descr(info.board_id))
    doc = make_sidecar(info.board_id, channel_names=["a", "b", "c", "d"], board_descr=descr)
    write_sidecar(p, doc)
    assert read_brainflow_csv(p).ch_names == ["a", "b", "c", "d"]
    assert read_brainflow_csv(p, channel_names=["w", "x", "y", "z"]).ch_names == ["w", "x", "y", "z"]


def test_partial_last_line_is_dropped(tmp_path, caplog):
    info, data = make_board_data("muse_2", 400)
    p = write_csv(tmp_path / "crash.csv", data)
    with open(p, "a") as fh:
        fh.write("399.000000\t12.5\t-3")  # SIGKILL mid-line
    with caplog.at_level(logging.WARNING, logger="neurofeedback"):
        raw = read_recording(p, board="muse_2")
    assert raw.n_times == 400
    np.testing.assert_allclose(raw.get_data() * 1e6, data[1:5], atol=5.1e-7)
    assert "partial last line" in caplog.text


def test_timestamp_gap_is_annotated_not_filled(tmp_path):
    sfreq = 250.0
    n = 3000
    lost = np.arange(1000, 1050)  # 50 samples (0.2 s) never reached the file
    keep = np.setdiff1d(np.arange(n), lost)
    info, data = make_board_data("synthetic", n)
    p = write_csv(tmp_path / "gap.csv", data[:, keep])
    raw = read_recording(p, board="synthetic")
    assert raw.n_times == keep.size
    bad = [a for a in raw.annotations if a["description"] == "BAD_dropout"]
    assert len(bad) == 1
    assert bad[0]["onset"] == pytest.approx(1000 / sfreq)
    assert bad[0]["duration"] == pytest.approx(50 / sfreq)


def test_packetised_and_jittery_timestamps_are_not_dropouts(tmp_path):
    # BLE boards stamp a packet of samples at arrival: 12 samples share one time, then a jump
    n = 256 * 20
    rng = np.random.default_rng(3)
    stamps = T0 + (np.arange(n) // 12) * 12 / 256 + rng.uniform(0, 0.01, n // 12 + 1)[np.arange(n) // 12]
    info, data = make_board_data("muse_2", n, stamps=stamps)
    p = write_csv(tmp_path / "ble.csv", data)
    raw = read_recording(p, board="muse_2")
    assert not [a for a in raw.annotations if a["description"] == "BAD_dropout"]


def test_gap_in_packetised_timestamps_is_found_and_sized(tmp_path):
    n = 256 * 30
    rng = np.random.default_rng(4)
    stamps = T0 + (np.arange(n) // 12) * 12 / 256 + rng.uniform(0, 0.01, n // 12 + 1)[np.arange(n) // 12]
    keep = np.r_[0:3000, 3100:n]  # 100 samples lost mid-packet
    info, data = make_board_data("muse_2", n, stamps=stamps)
    p = write_csv(tmp_path / "ble_gap.csv", data[:, keep])
    raw = read_recording(p, board="muse_2")
    bad = [a for a in raw.annotations if a["description"] == "BAD_dropout"]
    assert len(bad) == 1
    assert bad[0]["onset"] == pytest.approx(3000 / 256)
    assert abs(bad[0]["duration"] * 256 - 100) <= 2  # packet stamps: within a couple of samples
