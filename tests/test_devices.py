"""Every BrainFlow EEG board by name, the Muse S Athena, and how each board connects (issue 17).

The truth is BrainFlow's own board descriptions (``BoardShim.get_board_descr``), read here
independently of :mod:`neurofeedback.boards`; no hardware is needed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowPresets
from brainflow.data_filter import DataFilter
from brainflow.exit_codes import BrainFlowError
from typer.testing import CliRunner

from neurofeedback.boards import (
    board_info,
    connection_hint,
    connection_kind,
    connection_params,
    eeg_boards,
    friendly_name,
    resolve_board,
)
from neurofeedback.cli import app
from neurofeedback.errors import RecordingFormatError
from neurofeedback.io import read_brainflow_csv, read_recording
from neurofeedback.io._reference import recording_reference
from neurofeedback.io.sidecar import make_sidecar, write_sidecar

runner = CliRunner()
T0 = 1_760_000_000.0
ATHENA = BoardIds.MUSE_S_ATHENA_BOARD.value


def _brainflow_eeg_boards() -> dict[str, dict]:
    """BrainFlow's own answer: every BoardIds member whose description has EEG channels."""
    out = {}
    for b in BoardIds:
        try:
            descr = BoardShim.get_board_descr(b.value)
        except BrainFlowError:
            continue
        if descr.get("eeg_channels"):
            out[b.name] = descr
    return out


def test_every_brainflow_eeg_board_is_listed_as_brainflow_describes_it():
    truth = _brainflow_eeg_boards()
    listed = {b.name: b for b in eeg_boards()}
    assert set(listed) == set(truth)
    assert "MUSE_S_ATHENA_BOARD" in listed and len(listed) >= 50
    for name, descr in truth.items():
        info = listed[name]
        assert info.eeg_rows == tuple(descr["eeg_channels"]), name
        assert info.sfreq == float(descr["sampling_rate"]), name
        assert info.num_rows == descr["num_rows"], name
        assert info.timestamp_row == descr["timestamp_channel"], name
        names = [n for n in str(descr.get("eeg_names", "")).split(",") if n]
        expected = names if len(names) == len(descr["eeg_channels"]) else [
            f"EEG {i + 1}" for i in range(len(descr["eeg_channels"]))]
        assert list(info.eeg_names) == expected, name
        # every listed board resolves back from its short name and says how it connects
        assert resolve_board(friendly_name(info.board_id)) == info.board_id
        assert connection_kind(info.board_id)


@pytest.mark.parametrize("name, kind", [
    ("muse_2", "native BLE"), ("muse_s", "native BLE"), ("muse_s_athena", "native BLE"),
    ("muse_2_bled", "BLED112"), ("muse_s_bled", "BLED112"), ("brainbit_bled", "BLED112"),
    ("cyton", "USB dongle"), ("cyton_daisy", "USB dongle"), ("cyton_wifi", "WiFi Shield"),
    ("cyton_daisy_wifi", "WiFi Shield"), ("ganglion", "Ganglion BLE dongle"),
    ("ganglion_native", "native BLE"), ("crown", "Neurosity"), ("notion_2", "Neurosity"),
    ("unicorn", "Unicorn"), ("enophone", "paired"), ("callibri", "Windows, macOS"),
    ("freeeeg32", "serial"),
])
def test_connection_family(name, kind):
    assert kind in connection_kind(name)


def test_athena_in_brainflow_and_its_eeg_rows_exclude_other_rows():
    info = board_info("muse_s_athena")
    assert info.board_id == ATHENA and info.name == "MUSE_S_ATHENA_BOARD"
    assert resolve_board("MUSE_S_ATHENA_BOARD") == resolve_board(str(ATHENA)) == ATHENA
    assert info.sfreq == 256.0
    assert info.eeg_names == ("TP9", "AF7", "AF8", "TP10")
    descr = BoardShim.get_board_descr(ATHENA)
    assert info.eeg_rows == tuple(descr["eeg_channels"]) == (1, 2, 3, 4)
    non_eeg = set(descr.get("other_channels", ())) | {descr["timestamp_channel"],
                                                       descr["marker_channel"],
                                                       descr["package_num_channel"]}
    assert non_eeg and not non_eeg & set(info.eeg_rows)
    # the optics (fNIRS/PPG) and IMU live in other presets, never in the EEG preset's rows
    anc = BoardShim.get_board_descr(ATHENA, BrainFlowPresets.ANCILLARY_PRESET)
    aux = BoardShim.get_board_descr(ATHENA, BrainFlowPresets.AUXILIARY_PRESET)
    assert anc.get("optical_channels") and "eeg_channels" not in anc
    assert aux.get("accel_channels") and "eeg_channels" not in aux
    # native BLE like the Muse S: MAC optional (discovery without), device name optional
    assert connection_params("muse_s_athena") == {"mac_address": "optional",
                                                  "serial_number": "optional"}
    assert "Bluetooth" in connection_hint("muse_s_athena")


def test_boards_cli_lists_athena_and_what_each_needs():
    res = runner.invoke(app, ["boards", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    a = rows["muse_s_athena"]
    assert a["board"] == "MUSE_S_ATHENA_BOARD" and a["board_id"] == ATHENA and a["sfreq"] == 256
    assert a["eeg_channels"] == ["TP9", "AF7", "AF8", "TP10"]
    assert a["connection"] == {"mac_address": "optional", "serial_number": "optional"}
    assert "native BLE" in a["connects_via"]
    assert rows["muse_2_bled"]["connection"]["serial_port"] == "required"
    assert "BLED112" in rows["muse_2_bled"]["connects_via"]
    assert rows["cyton"]["connection"] == {"serial_port": "required"}
    # every BrainFlow EEG board is there by name
    listed = {r["board"] for r in rows.values()}
    assert set(_brainflow_eeg_boards()) <= listed
    table = runner.invoke(app, ["boards"], env={"COLUMNS": "220"})
    assert table.exit_code == 0
    assert "muse_s_athena" in table.stdout and "how it connects" in table.stdout
    assert "BLED112" in table.stdout and "Devices" in table.stdout


def _athena_csv(path, n=256 * 8, seed=3):
    """A BrainFlow CSV in the Athena's 11-row layout; the non-EEG rows hold huge values."""
    descr = BoardShim.get_board_descr(ATHENA)
    rng = np.random.default_rng(seed)
    data = np.zeros((descr["num_rows"], n))
    data[descr["package_num_channel"]] = np.arange(n) % 256
    eeg = rng.normal(0, 20, (4, n)) + 800.0 + 10 * np.arange(4)[:, None]  # µV, as the Muse sends
    data[descr["eeg_channels"]] = eeg
    data[descr["other_channels"]] = 5.0e5  # would dominate if read as EEG
    data[descr["timestamp_channel"]] = T0 + np.arange(n) / 256.0
    data[descr["marker_channel"]] = 0.0
    DataFilter.write_file(np.ascontiguousarray(data), str(path), "w")
    return eeg


@pytest.mark.parametrize("with_sidecar", [True, False])
def test_athena_brainflow_csv_reads_back(tmp_path, with_sidecar):
    p = tmp_path / "athena.csv"
    eeg = _athena_csv(p)
    if with_sidecar:
        write_sidecar(p, make_sidecar(ATHENA))
        raw = read_recording(p)
    else:
        raw = read_brainflow_csv(p, board="muse_s_athena")
    assert raw.ch_names == ["TP9", "AF7", "AF8", "TP10"]
    assert raw.info["sfreq"] == 256.0 and raw.n_times == eeg.shape[1]
    assert set(raw.get_channel_types()) == {"eeg"}
    # DataFilter keeps 6 decimals of µV; values in volts
    np.testing.assert_allclose(raw.get_data() * 1e6, eeg, rtol=0, atol=5.1e-7)
    assert recording_reference(raw) == "Fpz"
    assert raw.info["device_info"]["model"] == "MUSE_S_ATHENA_BOARD"


def test_athena_csv_without_board_suggests_athena(tmp_path):
    p = tmp_path / "athena.csv"
    _athena_csv(p, n=512)
    with pytest.raises(RecordingFormatError, match="muse_s_athena"):
        read_brainflow_csv(p)


def test_inspect_cli_on_athena_csv(tmp_path):
    p = tmp_path / "athena.csv"
    _athena_csv(p, n=256 * 30)
    res = runner.invoke(app, ["inspect", str(p), "--board", "muse_s_athena", "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["sfreq"] == 256 and list(s["band_power"]["relative"]) == ["TP9", "AF7", "AF8", "TP10"]
