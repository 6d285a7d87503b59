"""What a person meets on the command line: help, tables that keep the IDs people need next,
protocol words, ``-v`` output and ``trends --tz``. Tables are checked in a subprocess at a fixed
terminal width (rich reads ``COLUMNS`` when the console is made)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "cyton_meditation.csv"
COMMANDS = [["inspect"], ["features"], ["boards"], ["record"], ["recover"], ["feedback"],
            ["protocols"], ["process"], ["sessions"], ["trends"], ["serve"], ["demo"],
            ["sample-data", "cohort"], ["event", "add"], ["report", "session"], ["report", "subject"],
            ["cohort", "trends"], ["cohort", "import"], ["subject", "set-group"]]


def nf(*args, columns=120, **env):
    return subprocess.run([sys.executable, "-m", "neurofeedback", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": str(columns), **env})


def test_help_shows_no_type_markers_and_upper_case_arguments():
    # one process renders every command's help (a subprocess per command would cost ~1 s each)
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom neurofeedback.cli import app\n"
            f"for cmd in {COMMANDS!r}:\n"
            "    r = CliRunner().invoke(app, [*cmd, '--help'], env={'COLUMNS': '120'})\n"
            "    assert r.exit_code == 0, (cmd, r.output)\n"
            "    print('=====', ' '.join(cmd)); print(r.output)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    pages = dict(re.findall(r"===== (.*?)\n(.*?)(?====== |\Z)", r.stdout, re.S))
    assert len(pages) == len(COMMANDS)
    for cmd, text in pages.items():
        assert not re.search(r"<(bool|str|int|float|path)>", text), cmd   # typer 0.27+ style
        assert "{" not in text.split("\n", 3)[1], cmd                     # usage line: no {path}
    assert "Usage: neurofeedback inspect [OPTIONS] PATH" in " ".join(pages["inspect"].split())
    assert re.search(r"--help\s+Show this message", pages["inspect"])


def test_protocols_are_listed_in_words_not_python_tuples():
    r = nf("protocols")
    assert r.returncode == 0, r.stderr
    assert "('" not in r.stdout and "(12.0" not in r.stdout
    flat = " ".join(r.stdout.replace("│", " ").split())
    assert "band_ratio theta/alpha" in flat
    assert "absolute_power of 12–15" in flat
    assert "inhibits EMG > 2.5×" in flat


def test_inspect_verbose_logs_each_step_on_stderr():
    quiet, loud = nf("inspect", SAMPLE), nf("inspect", "-v", SAMPLE)
    assert quiet.returncode == loud.returncode == 0
    assert "INFO" not in quiet.stderr
    steps = [line for line in loud.stderr.splitlines() if "INFO" in line]
    assert len(steps) == 4, loud.stderr
    assert "read as brainflow_csv" in steps[0] and "8 channels at 250 Hz, 180.0 s" in steps[0]
    assert re.search(r"Blink correction: \d+ blinks on Fp1, Fp2", steps[1])
    assert "notch 50 Hz" in steps[2] and "band-pass 1-45 Hz" in steps[2]
    assert re.search(r"\d+% clean data; \d+ of \d+ 4-s epochs clean", steps[3])
    assert loud.stdout == quiet.stdout  # the report itself is unchanged


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Six weekly sessions, each at 23:30 UTC on a Sunday (00:30 on Monday in Berlin)."""
    from neurofeedback.simulate import simulate_eeg, write_recording
    from neurofeedback.store import ingest_file

    folder, home = tmp_path_factory.mktemp("rec"), tmp_path_factory.mktemp("home")
    first = datetime(2026, 1, 4, 23, 30, tzinfo=timezone.utc)  # a Sunday
    for week in range(6):
        rec = simulate_eeg(duration_s=20, seed=week, meas_date=first + timedelta(weeks=week))
        path = write_recording(rec, folder / f"sub-longsubjectname01_w{week}_raw.fif", format="fif")
        ingest_file(path, home=home, subject="longsubjectname01")
    return home


@pytest.mark.parametrize("columns", [120, 80])
def test_sessions_table_shows_whole_session_ids(store, columns):
    ids = [r["session_id"] for r in json.loads(nf("sessions", "--home", store, "--json").stdout)]
    assert len(ids) == 6 and all(len(i) > 30 for i in ids)
    r = nf("sessions", "--home", store, columns=columns)
    assert r.returncode == 0, r.stderr
    assert max(len(line) for line in r.stdout.splitlines()) <= columns
    for session_id in ids:  # each whole on one line, so it can be copied into 'report session'
        assert re.search(rf"│ {re.escape(session_id)}\s+│", r.stdout), (session_id, r.stdout)
    assert "6 sessions" in r.stdout


def test_trends_tz_moves_sessions_into_local_weeks(store):
    def weeks(*extra):
        r = nf("trends", "--subject", "longsubjectname01", "--metric", "relative_alpha",
               "--channels", "mean", "--home", store, "--json", *extra)
        assert r.returncode == 0, r.stderr
        (t,) = json.loads(r.stdout)
        return [w["week"] for w in t["weeks"]], t["method"]["tz"]

    utc, berlin = weeks(), weeks("--tz", "Europe/Berlin")
    assert utc == (["2026-W01", "2026-W02", "2026-W03", "2026-W04", "2026-W05", "2026-W06"], "UTC")
    assert berlin == (["2026-W02", "2026-W03", "2026-W04", "2026-W05", "2026-W06", "2026-W07"],
                      "Europe/Berlin")
    bad = nf("trends", "--subject", "longsubjectname01", "--home", store, "--tz", "Mars/Olympus")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "'Mars/Olympus'" in bad.stderr


def test_skipped_files_table_keeps_file_names_whole(tmp_path):
    from rich.console import Console

    from neurofeedback.cli.store import _skipped_table

    folder = tmp_path / "a-rather-long-folder-name-of-recordings" / "week-07"
    names = ["sub-alpha01_ses-20260119T121500_corrupted_eeg.csv", "sub-beta02_ses-20260120T080000_eeg.csv"]
    rows = [{"path": str(folder / n), "reason": f"{folder / n}: non-numeric value 'x' at line 9001"}
            for n in names]
    console = Console(width=80, record=True)
    console.print(_skipped_table(rows))
    text = console.export_text()
    for n in names:
        assert re.search(rf"│ {re.escape(n)}\s+│", text), text
    assert "non-numeric value" in text
    assert str(folder / names[0]) + ":" not in " ".join(text.split())  # the path is not repeated


def test_boards_advertise_only_options_that_record_and_feedback_take():
    boards = json.loads(nf("boards", "--json", "--all").stdout)
    params = {p for b in boards for p in b["connection"]}
    assert {"master_board", "other_info", "serial_port", "mac_address"} <= params
    for command in ("record", "feedback"):
        help_text = nf(command, "--help", columns=200).stdout
        for p in params:
            assert "--" + p.replace("_", "-") in help_text, (command, p)


def test_streaming_board_needs_and_takes_master_board():
    r = nf("record", "--board", "streaming", "--subject", "s1", "--duration", "2s")
    assert r.returncode == 2
    assert r.stderr.strip().endswith("is right") and "--master-board" in r.stderr


@pytest.mark.slow
def test_record_from_a_streaming_board_with_master_board(tmp_path):
    """A synthetic board streams over localhost multicast; record receives it as its master
    board's layout (rate and channel names), as BrainFlow's streaming board documents."""
    streamer = subprocess.Popen([sys.executable, "-c", (
        "import time\nfrom brainflow.board_shim import BoardShim, BrainFlowInputParams, BoardIds\n"
        "b = BoardShim(BoardIds.SYNTHETIC_BOARD.value, BrainFlowInputParams())\n"
        "b.prepare_session(); b.start_stream(45000, 'streaming_board://225.1.1.97:6697')\n"
        "time.sleep(20); b.stop_stream(); b.release_session()\n")])
    try:
        r = nf("record", "--board", "streaming", "--ip-address", "225.1.1.97", "--ip-port", 6697,
               "--master-board", "synthetic", "--subject", "s1", "--duration", "4s",
               "--check-seconds", 0, "--no-display", "--json", "--home", tmp_path)
    finally:
        streamer.kill()
        streamer.wait()
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads(r.stdout[r.stdout.index("{"):])
    assert summary["sfreq"] == 250.0
    assert [c if isinstance(c, str) else c["name"] for c in summary["channels"]][:3] == ["Fz", "C3", "Cz"]
    assert 3.5 <= summary["duration_s"] <= 4.5


@pytest.mark.slow
def test_record_flow_with_bad_connection_is_one_line_not_a_prefect_traceback(tmp_path):
    """Through the Prefect record flow, a user error (here: a Muse and no Bluetooth adapter; a
    missing option or a no-go gate take the same path) is still one line and exit 2: the task
    returns it, the flow run ends Failed with it. One case: each costs a Prefect server start."""
    r = nf("record", "--flow", "--board", "muse_2", "--subject", "s1", "--duration", "5s",
           "--home", tmp_path)
    assert r.returncode == 2, r.stderr[-3000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("neurofeedback: error: "), r.stderr[-3000:]
    assert "Traceback" not in r.stderr
