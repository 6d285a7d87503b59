"""The recorder with real BrainFlow boards (synthetic; no hardware): sessions on disk, blocks,
stalls and reconnects, and devices that are absent."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import numpy as np
import pytest
from typer.testing import CliRunner

from neurofeedback.acquisition.connection import make_connection
from neurofeedback.acquisition.recorder import Recorder, new_session_paths, parse_blocks, parse_duration
from neurofeedback.acquisition.session import finalize_session
from neurofeedback.cli import app
from neurofeedback.errors import ConfigError
from neurofeedback.io import read_recording
from neurofeedback.io.sidecar import read_sidecar
from neurofeedback.recording import process_and_store

runner = CliRunner()


def test_parse_duration_and_blocks():
    assert parse_duration("20s") == 20
    assert parse_duration("10m") == 600
    assert parse_duration("1h30m") == 5400
    assert parse_duration("90") == 90
    assert parse_duration("1.5m") == 90
    for bad in ("", "ten", "-5s", "0", "5x"):
        with pytest.raises(ConfigError, match="Invalid value for the 'duration' parameter"):
            parse_duration(bad)
    blocks = parse_blocks("eyes-open:60,eyes-closed:1m,meditation:10m,eyes-open:30")
    assert [(b.label, b.duration_s, b.marker) for b in blocks] == [
        ("eyes-open", 60, 1), ("eyes-closed", 60, 2), ("meditation", 600, 3), ("eyes-open", 30, 1)]
    with pytest.raises(ConfigError, match="'blocks' parameter"):
        parse_blocks("eyes-open")


@pytest.mark.slow  # 20 s in real time
def test_record_synthetic_20s_cli(tmp_path):
    """Acceptance 1: 20 s × 250 Hz within 1%, with the sidecar, and the summary printed."""
    home = tmp_path / "home"
    res = runner.invoke(app, ["record", "--board", "synthetic", "--duration", "20s",
                              "--subject", "t1", "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    folder = next((home / "recordings" / "sub-t1").iterdir())
    csv = next(folder.glob("*_eeg.csv"))
    doc = read_sidecar(csv.with_suffix(".json"))
    n_lines = csv.read_text().count("\n")
    assert abs(n_lines - 20 * 250) <= 0.01 * 20 * 250
    assert doc["n_samples"] == n_lines
    assert doc["ended_cleanly"] is True and doc["end_reason"] == "completed"
    assert doc["subject"] == "t1" and doc["board_name"] == "SYNTHETIC_BOARD"
    assert doc["units"]["eeg"] == "uV" and doc["software"]["brainflow"]
    assert datetime.fromisoformat(doc["start_time"]) <= datetime.fromisoformat(doc["end_time"])
    assert summary["duration_s"] == pytest.approx(n_lines / 250)
    assert len(summary["channels"]) == 16
    # the canonical FIF holds the same samples as the CSV (µV → V)
    fif = next(folder.glob("*_raw.fif"))
    import mne

    raw = mne.io.read_raw_fif(fif, preload=True, verbose=False)
    csv_data = np.loadtxt(csv, delimiter="\t")
    np.testing.assert_array_equal(raw.get_data()[0], csv_data[:, 1] * 1e-6)
    # and it is in the session store, like an imported recording
    from neurofeedback.store import Catalog

    sessions = Catalog(home=home).sessions(subject="t1")
    assert len(sessions) == 1
    assert sessions["duration_s"].iloc[0] == pytest.approx(n_lines / 250)


def _record(conn, tmp_path, **kw):
    paths = new_session_paths("r1", datetime.now(timezone.utc), home=tmp_path / "home")
    return Recorder(conn, paths, subject="r1", **kw)


def test_blocks_land_on_their_samples(tmp_path):
    rec = _record(make_connection("synthetic"), tmp_path, duration_s=3.0,
                  blocks=parse_blocks("a:1,b:1.5"))
    result = rec.record()
    assert [m for m in result.markers] == [(0.0, "a"), (1.0, "b")]
    raw = read_recording(rec.paths.csv)
    ann = {a["description"]: (a["onset"], a["duration"]) for a in raw.annotations}
    assert ann["a"] == (0.0, 1.0)
    assert ann["b"] == (1.0, 1.5)
    assert raw.n_times == 750


@pytest.mark.slow  # 8 s in real time
def test_stall_reconnects_and_annotates_the_gap(tmp_path):
    """Acceptance 4: a board stopped mid-session; the recorder reconnects, the gap is
    annotated BAD_disconnect with its real duration (from the timestamps), recording goes on."""
    rec = _record(make_connection("synthetic"), tmp_path, duration_s=8.0, stall_timeout_s=1.0,
                  reconnect_interval_s=0.2, blocks=parse_blocks("before:2,after:6"))
    stopped = {}

    def stop_later():
        time.sleep(2.5)
        stopped["t"] = time.time()
        rec.board.stop_stream()  # the device stops delivering

    rec.open()
    threading.Thread(target=stop_later, daemon=True).start()
    result = rec.record()
    assert result.end_reason == "completed"
    assert len(result.disconnects) == 1 and result.disconnects[0]["reconnected"]
    gap = result.disconnects[0]["duration_s"]
    assert gap >= 1.0  # at least the stall timeout

    ts = np.loadtxt(rec.paths.csv, delimiter="\t")[:, 30]  # synthetic: timestamp row 30
    jump = np.diff(ts).max() - 1 / 250
    assert gap == pytest.approx(jump, abs=1e-3)
    raw = read_recording(rec.paths.csv)
    bad = [a for a in raw.annotations if a["description"] == "BAD_disconnect"]
    assert len(bad) == 1
    assert bad[0]["duration"] == pytest.approx(jump, abs=1.5 / 250)
    # the gap starts where the board stopped (within the poll interval and a few samples)
    first = ts[0]
    assert bad[0]["onset"] == pytest.approx(stopped["t"] - first, abs=0.25)
    # the session keeps the wall-clock length: samples + filled gap = the planned 8 s
    assert raw.n_times / 250 == pytest.approx(8.0, abs=2 / 250)
    doc = read_sidecar(rec.paths.sidecar)
    assert doc["disconnects"][0]["duration_s"] == pytest.approx(gap)
    processed, _ = process_and_store(finalize_session(rec.paths.csv), store=False)
    assert processed.summary()["annotations"]["BAD_disconnect"]["count"] == 1


@pytest.mark.slow  # 6 s in real time
def test_headset_that_never_comes_back_keeps_the_session(tmp_path):
    rec = _record(make_connection("synthetic"), tmp_path, duration_s=6.0, stall_timeout_s=0.8,
                  reconnect_interval_s=0.2)

    def unplug():
        time.sleep(2.0)
        # the device is gone: every reconnect attempt fails like an unplugged dongle
        rec.connection = dataclasses.replace(rec.connection, board_id=0,
                                             params={"serial_port": "/dev/nonexistent-nf"})
        rec.board.stop_stream()

    rec.open()
    threading.Thread(target=unplug, daemon=True).start()
    result = rec.record()
    assert result.end_reason == "disconnected"
    assert result.disconnects[-1]["reconnected"] is False
    doc = read_sidecar(rec.paths.sidecar)
    assert doc["ended_cleanly"] and doc["end_reason"] == "disconnected"
    n = rec.paths.csv.read_text().count("\n")
    assert doc["n_samples"] == n and abs(n - 500) < 60  # ~2 s recorded before the unplug
    fif = finalize_session(rec.paths.csv)
    assert fif.is_file() and read_recording(fif).n_times == n


@pytest.mark.parametrize("args, words", [
    (["--board", "muse_2"], ["MUSE_2_BOARD", "Bluetooth"]),
    (["--board", "cyton", "--serial-port", "/dev/null"], ["CYTON_BOARD", "serial_port=/dev/null",
                                                          "dongle"]),
    (["--board", "cyton", "--serial-port", "/dev/ttyUSB-nf-absent"], ["CYTON_BOARD", "port"]),
    (["--board", "cyton"], ["--serial-port"]),
])
def test_absent_device_one_line_exit_2(tmp_path, args, words):
    """Acceptance 5: no device → one line naming the board and what to check, exit 2, nothing
    left behind in the data home."""
    home = tmp_path / "home"
    proc = subprocess.run([sys.executable, "-m", "neurofeedback", "record", *args,
                           "--subject", "x1", "--duration", "10s", "--home", str(home)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("neurofeedback: error:")
    for w in words:
        assert w in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert not (home / "recordings").exists() or not any((home / "recordings").rglob("*.csv"))
