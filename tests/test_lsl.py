"""``record``/``feedback --source lsl``: any LSL stream recorded like a headset (issue 17, item 1).

The real-time tests run a real pylsl outlet in another process (``tests/_lsl_sender.py``)
replaying a real Muse recording from ``../shared/data`` at real-time speed with its markers, and
the real CLI in a subprocess. Stream names carry a uuid so parallel runs on one machine never
see each other's streams. The fast tests use a real outlet in this process.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file

from neurofeedback.io import read_recording
from neurofeedback.io.sidecar import read_sidecar

pylsl = pytest.importorskip("pylsl")

MUSE = "NeuroTechX__eeg-notebooks_v0.1/data_2017-02-04-15_45_13.csv"
SENDER = Path(__file__).resolve().parent / "_lsl_sender.py"
NAMES = ["TP9", "AF7", "AF8", "TP10", "Right AUX"]


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "neurofeedback", *args], capture_output=True,
                          text=True, timeout=timeout)


def _start_sender(path, log, name, markers, *extra):
    return subprocess.Popen([sys.executable, str(SENDER), "--file", str(path), "--name", name,
                             "--markers", markers, "--log", str(log), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _stop_sender(proc, log):
    """SIGTERM the sender (it then writes what it sent) and load its log."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the LSL sender did not stop")
    assert log.is_file(), proc.stderr.read()
    return np.load(log)


def _run_with_go(cmd, home, go, timeout=120):
    """Run the CLI; create ``go`` as soon as the session's CSV exists (recording has begun)."""
    proc = subprocess.Popen([sys.executable, "-m", "neurofeedback", *cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not go.exists():
        if list((home / "recordings").rglob("*_eeg.csv")) if (home / "recordings").is_dir() else []:
            go.touch()
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the recording did not start")
        time.sleep(0.05)
    out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    return proc.returncode, out, err


@pytest.mark.slow  # ~25 s: a real-time replay with a 3-s stall, recorded by the CLI
def test_record_lsl_equals_sent_samples_markers_and_stall(shared_data, tmp_path):
    """Acceptance 1: the session's EEG equals the float32 samples sent (CSV and FIF), the
    markers land within 1 sample of their samples, the 3-s stall is annotated BAD_disconnect
    with its duration, the blocks stay on their samples and the session is in the store."""
    path = shared_file(shared_data, MUSE)
    tag = uuid.uuid4().hex[:10]
    name, mname = f"nf-test-eeg-{tag}", f"nf-test-markers-{tag}"
    home, log, go = tmp_path / "home", tmp_path / "sent.npz", tmp_path / "go"
    sender = _start_sender(path, log, name, mname, "--seconds", "40", "--stall-at", "2.5",
                           "--stall-s", "3", "--go-file", str(go))
    try:
        code, out, err = _run_with_go(
            ["record", "--source", "lsl", "--stream", name, "--marker-stream", mname,
             "--subject", "lsl1", "--duration", "10s", "--blocks", "eyes-open:2,eyes-closed:8",
             "--check-seconds", "2", "--force", "--lsl-timeout", "10", "--home", str(home),
             "--json"], home, go)
    finally:
        sent = _stop_sender(sender, log)
    assert code == 0, err
    csv = next((home / "recordings").rglob("*_eeg.csv"))
    doc = read_sidecar(csv.with_suffix(".json"))
    assert doc["source"]["kind"] == "lsl" and doc["source"]["name"] == name
    assert doc["channel_names"] == NAMES and doc["sfreq"] == 256.0

    # the raw record: every sample as sent, bit for bit (float32 → float64 is exact), in order
    table = np.loadtxt(csv, delimiter="\t")
    rows = doc["board_descr"]["eeg_channels"]
    got = table[:, rows]
    values, index = sent["values"], sent["index"]
    j = np.flatnonzero((values == got[0].astype(np.float32)).all(axis=1))
    assert j.size == 1, "the first recorded sample is one sent sample"
    j = int(j[0])
    n = got.shape[0]
    np.testing.assert_array_equal(got, values[j:j + n].astype(np.float64))

    # the canonical FIF: the sent samples on their own sample positions (the gap filled)
    raw = read_recording(next(csv.parent.glob("*_raw.fif")))
    sfreq = raw.info["sfreq"]
    pos = index[j:j + n] - index[j]
    assert raw.n_times == pos[-1] + 1 == int(round(10 * sfreq))
    fif_uv = np.float32(raw.get_data(picks=NAMES)[:, pos] * 1e6).T
    np.testing.assert_array_equal(fif_uv, values[j:j + n])

    # the stall: one BAD_disconnect where the unsent samples are, 3 s long
    stall = sent["stall"] - index[j]
    assert 0 < stall[0] < n, "the stall happened during the recording"
    bad = [a for a in raw.annotations if a["description"] == "BAD_disconnect"]
    assert len(bad) == 1
    assert bad[0]["onset"] * sfreq == pytest.approx(stall[0], abs=1)
    assert bad[0]["duration"] == pytest.approx(3.0, abs=1.5 / sfreq)
    assert len(doc["disconnects"]) == 1
    assert doc["disconnects"][0]["duration_s"] == pytest.approx(3.0, abs=1.5 / sfreq)

    # the markers: every one sent during the recording, on its sample (within 1 sample)
    mi, ml = sent["marker_index"], sent["marker_label"]
    inside = (mi >= index[j]) & (mi <= index[j + n - 1])
    want = sorted(zip((mi[inside] - index[j]).tolist(), ml[inside].tolist()))
    have = sorted((a["onset"] * sfreq, a["description"]) for a in raw.annotations
                  if a["description"] in ("1", "2"))
    assert len(want) >= 5 and len(have) == len(want)
    for (ws, wl), (hs, hl) in zip(want, have):
        assert hl == wl and abs(hs - ws) <= 1, (ws, wl, hs, hl)

    # the blocks, counted in samples: on their samples
    blocks = {a["description"]: a["onset"] for a in raw.annotations if a["description"].startswith("eyes")}
    assert blocks["eyes-open"] == 0.0
    assert blocks["eyes-closed"] * sfreq == pytest.approx(2 * sfreq, abs=1)

    # the store has it
    sessions = json.loads(_cli("sessions", "--home", str(home), "--json").stdout)
    assert [s["subject"] for s in sessions] == ["lsl1"] and sessions[0]["device"] == "LSL"
    assert sessions[0]["n_channels"] == 5


@pytest.mark.slow  # ~30 s: an outlet that goes away and a new one with the same name
def test_record_lsl_survives_a_lost_stream_that_comes_back(shared_data, tmp_path):
    """A stream without source_id (liblsl cannot recover it) whose sender quits; a new sender
    with the same name starts: the recorder finds it again, the gap is counted and annotated,
    and the samples after it are the new sender's, exactly."""
    path = shared_file(shared_data, MUSE)
    name = f"nf-test-lost-{uuid.uuid4().hex[:10]}"
    home, go = tmp_path / "home", tmp_path / "go"
    first = _start_sender(path, tmp_path / "a.npz", name, "", "--no-source-id", "--seconds", "60",
                          "--go-file", str(go), "--stop-after-go", "2")
    proc = subprocess.Popen([sys.executable, "-m", "neurofeedback", "record", "--source", "lsl",
                             "--stream", name, "--subject", "lsl3", "--duration", "20s",
                             "--check-seconds", "1", "--force", "--stall-timeout", "1",
                             "--lsl-timeout", "10", "--home", str(home), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = None
    try:
        deadline = time.monotonic() + 90
        while not go.exists() and proc.poll() is None and time.monotonic() < deadline:
            if (home / "recordings").is_dir() and list((home / "recordings").rglob("*_eeg.csv")):
                go.touch()
            time.sleep(0.05)
        a = _stop_sender_when_done(first, tmp_path / "a.npz")
        second = _start_sender(path, tmp_path / "b.npz", name, "", "--no-source-id",
                               "--start", "40", "--seconds", "60")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        b = _stop_sender(second, tmp_path / "b.npz") if second is not None else None
    assert proc.returncode == 0, err
    assert "the stream was lost" in err and err.count("the stream was lost") == 1
    csv = next((home / "recordings").rglob("*_eeg.csv"))
    doc = read_sidecar(csv.with_suffix(".json"))
    assert len(doc["disconnects"]) == 1 and doc["disconnects"][0]["reconnected"]
    table = np.loadtxt(csv, delimiter="\t")[:, :5]
    # before the gap: sender A's samples, after it: sender B's, each exactly and in order
    ja = int(np.flatnonzero((a["values"] == table[0].astype(np.float32)).all(axis=1))[0])
    n_a = len(a["index"]) - ja
    np.testing.assert_array_equal(table[:n_a], a["values"][ja:].astype(np.float64))
    rest = table[n_a:]
    assert rest.shape[0] > 256
    np.testing.assert_array_equal(rest, b["values"][:rest.shape[0]].astype(np.float64))
    raw = read_recording(next(csv.parent.glob("*_raw.fif")))
    bad = [x for x in raw.annotations if x["description"] == "BAD_disconnect"]
    assert len(bad) == 1
    assert bad[0]["onset"] * raw.info["sfreq"] == pytest.approx(n_a, abs=1)
    assert bad[0]["duration"] == pytest.approx(doc["disconnects"][0]["duration_s"], abs=2 / 256)


def _stop_sender_when_done(proc, log, timeout=60):
    """Wait for a sender that stops by itself; load its log."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the LSL sender did not stop by itself")
    assert log.is_file(), proc.stderr.read()
    return np.load(log)


@pytest.mark.slow  # ~20 s: a real-time replay closed-loop session
def test_feedback_source_lsl_runs_and_logs(shared_data, tmp_path):
    """Acceptance 1 (end): ``feedback --source lsl`` closes the loop on the stream: training
    updates in its log, a measured delay from the sample's (clock-corrected) time, the session
    recorded with the stream's markers."""
    path = shared_file(shared_data, MUSE)
    tag = uuid.uuid4().hex[:10]
    name, mname = f"nf-test-eeg-{tag}", f"nf-test-markers-{tag}"
    home, log = tmp_path / "home", tmp_path / "sent.npz"
    sender = _start_sender(path, log, name, mname, "--seconds", "40")
    try:
        proc = _cli("feedback", "--source", "lsl", "--stream", name, "--marker-stream", mname,
                    "--protocol", "alpha-up", "--subject", "lsl2", "--duration", "8s",
                    "--baseline", "3s", "--artifact-uv", "2000", "--check-seconds", "0",
                    "--lsl-timeout", "10", "--home", str(home), "--json")
    finally:
        _stop_sender(sender, log)
    assert proc.returncode == 0, proc.stderr
    fb = json.loads(proc.stdout.strip().splitlines()[-1])["feedback"]
    assert fb["used_channels"] == ["TP9", "TP10"] and fb["sfreq"] == 256.0
    # 8 s, 2-s windows at 4 Hz: 25 updates; the baseline is extended while it lacks clean
    # windows (this real Muse recording has large TP9 swings), then training starts
    assert fb["n_updates"] >= 20 and fb["n_training"] > 0 and fb["baseline"]["n_clean"] > 0
    # the delay is measured: the LSL timestamps are on the wall clock after correction
    assert fb["delay"]["n"] == fb["n_updates"] and 0 < fb["delay"]["median_ms"] < 1000
    tsv = next((home / "recordings").rglob("*_feedback.tsv"))
    lines = tsv.read_text().splitlines()
    assert len(lines) - 1 == fb["n_updates"]
    raw = read_recording(next(tsv.parent.glob("*_raw.fif")))
    assert "feedback_metric" in raw.ch_names
    assert {"1", "2"} & set(raw.annotations.description)


def test_absent_stream_one_line_exit_2(tmp_path):
    """Acceptance 4: no such stream → one line naming what was looked for, exit 2, within a
    few seconds, nothing left behind."""
    home = tmp_path / "home"
    name = f"nf-absent-{uuid.uuid4().hex[:10]}"
    t0 = time.monotonic()
    proc = _cli("record", "--source", "lsl", "--stream", name, "--subject", "x1", "--duration",
                "10s", "--lsl-timeout", "2", "--home", str(home), timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("neurofeedback: error: no LSL stream with name") and name in lines[0]
    assert "streams visible:" in lines[0] and "--lsl-scope network" in lines[0]
    assert "Traceback" not in proc.stderr
    assert elapsed < 20, f"took {elapsed:.1f} s"  # a hang guard only (2 s timeout + start-up)
    assert not (home / "recordings").exists() or not any((home / "recordings").iterdir())


def _outlet(name, *, rate=256.0, n=3, labels=None, types=None, units=None, fmt=None, kind="EEG"):
    info = pylsl.StreamInfo(name, kind, n, rate, fmt or pylsl.cf_float32, source_id=name)
    if labels:
        chans = info.desc().append_child("channels")
        for lab, typ, unit in zip(labels, types, units):
            c = chans.append_child("channel")
            c.append_child_value("label", lab)
            c.append_child_value("type", typ)
            c.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info)


def test_irregular_rate_stream_refused_in_one_line(tmp_path):
    """An EEG stream with nominal rate 0 cannot be a recording: one line, exit 2."""
    name = f"nf-irregular-{uuid.uuid4().hex[:10]}"
    outlet = _outlet(name, rate=0.0)
    home = tmp_path / "home"
    proc = _cli("record", "--source", "lsl", "--stream", name, "--subject", "x1", "--duration",
                "10s", "--lsl-timeout", "5", "--home", str(home), timeout=60)
    del outlet
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "irregular rate" in lines[0] and name in lines[0], proc.stderr
    assert not (home / "recordings").exists()


def test_channels_units_and_markers_from_a_real_outlet():
    """Channel labels, types and units from <desc>: mV becomes µV, a non-EEG channel is left
    out; a marker lands on the sample whose timestamp is nearest its own."""
    from neurofeedback.acquisition.lsl import MARKER_CODE_BASE, lsl_connection, open_lsl

    tag = uuid.uuid4().hex[:10]
    name, mname = f"nf-units-{tag}", f"nf-units-m-{tag}"
    outlet = _outlet(name, n=3, labels=["Cz", "Pz", "ACC"], types=["EEG", "EEG", "ACC"],
                     units=["millivolts", "µV", "g"])
    minfo = pylsl.StreamInfo(mname, "Markers", 1, 0.0, pylsl.cf_string, source_id=mname)
    moutlet = pylsl.StreamOutlet(minfo)
    conn = lsl_connection(stream=name, marker_stream=mname, timeout_s=5.0)
    assert conn.channel_names == ("Cz", "Pz")
    assert conn.source["uv_per_unit"] == [1000.0, 1.0] and conn.source["channels_used"] == [0, 1]
    info = conn.layout_info()
    assert info.sfreq == 256.0 and info.eeg_rows == (0, 1) and info.timestamp_row == 2
    src = open_lsl(conn)
    try:
        time.sleep(0.3)  # the inlets are subscribed
        t0 = pylsl.local_clock()
        x = np.float32(np.arange(30).reshape(10, 3) * 0.25)
        moutlet.push_sample(["stim"], t0 + 4 / 256 + 0.3 / 256)  # nearest: sample 4
        for i in range(10):
            outlet.push_sample(x[i].tolist(), t0 + i / 256)
        got = np.zeros((4, 0))
        deadline = time.monotonic() + 5
        while got.shape[1] < 10 and time.monotonic() < deadline:
            got = np.concatenate([got, src.get_board_data()], axis=1)
            time.sleep(0.05)
    finally:
        src.release_session()
    assert got.shape[1] == 10
    np.testing.assert_array_equal(got[0], x[:, 0].astype(np.float64) * 1000.0)  # mV → µV
    np.testing.assert_array_equal(got[1], x[:, 1].astype(np.float64))
    np.testing.assert_allclose(np.diff(got[2]), 1 / 256, atol=1e-6)  # sample times kept
    assert abs(got[2, 0] - time.time()) < 60  # Unix time
    assert np.flatnonzero(got[3]).tolist() == [4] and got[3, 4] == MARKER_CODE_BASE
    assert src.marker_labels == {float(MARKER_CODE_BASE): "stim"}


def test_stream_by_type_and_several_matches():
    """``--stream-type`` alone finds the one stream of that type (any case); two of them are one
    line naming both (a unique type per test: other runs on this machine stream EEG too)."""
    from neurofeedback.acquisition.lsl import lsl_connection
    from neurofeedback.errors import BoardError

    tag = uuid.uuid4().hex[:10]
    kind = f"EEG-{tag}"
    one = _outlet(f"nf-a-{tag}", kind=kind)
    conn = lsl_connection(stream_type=kind.lower(), marker_stream="none", timeout_s=5.0)
    assert conn.source["name"] == f"nf-a-{tag}" and conn.source["marker_streams"] == []
    two = _outlet(f"nf-b-{tag}", kind=kind)
    with pytest.raises(BoardError, match=r"2 LSL streams with type .*nf-a-.*nf-b-.*--stream NAME"):
        lsl_connection(stream_type=kind, timeout_s=5.0)
    del one, two


def test_sources_lists_a_visible_stream():
    name = f"nf-listed-{uuid.uuid4().hex[:10]}"
    outlet = _outlet(name, n=4)
    proc = _cli("sources", "--json", "--wait", "1.5", timeout=60)
    del outlet
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    mine = [s for s in doc["lsl"] if s["name"] == name]
    assert len(mine) == 1
    assert mine[0]["type"] == "EEG" and mine[0]["channel_count"] == 4
    assert mine[0]["nominal_srate"] == 256.0 and mine[0]["source_id"] == name
    assert mine[0]["hostname"] and mine[0]["channel_format"] == "float32"


@pytest.mark.parametrize("args, words", [
    (["record", "--subject", "x1"], ["--board NAME", "--source lsl"]),
    (["record", "--source", "lsl", "--board", "muse_2", "--subject", "x1"],
     ["--board is for BrainFlow boards"]),
    (["record", "--source", "lsl", "--file", "x.csv", "--subject", "x1"], ["--file"]),
    (["record", "--source", "osc", "--subject", "x1"], ["'--source'", "'brainflow' and 'lsl'"]),
    (["record", "--board", "synthetic", "--stream", "S", "--subject", "x1"], ["--source lsl"]),
    (["feedback", "--protocol", "alpha-up"], ["--board NAME"]),
    (["sources", "--lsl-scope", "lan"], ["'--lsl-scope'", "'machine' and 'network'"]),
])
def test_source_options_errors_are_one_line(tmp_path, args, words):
    """Options that do not fit the source: one line, exit 2, before anything is opened."""
    from typer.testing import CliRunner

    from neurofeedback.cli import app

    res = CliRunner().invoke(app, [*args, *(["--home", str(tmp_path / "h")] if args[0] != "sources" else [])])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert not (tmp_path / "h").exists()


@pytest.mark.slow  # ~4 s in real time
def test_recorder_on_an_lsl_stream_keeps_blocks_stream_markers_and_keys(tmp_path):
    """The Recorder itself on an LSL source: a stream marker named like one of the session's
    blocks comes back as ``source/<label>`` (a marker, not the block), keyboard markers are
    kept beside the stream's, and the sidecar maps every code to its label."""
    import threading
    from datetime import datetime, timezone

    from neurofeedback.acquisition.lsl import lsl_connection
    from neurofeedback.acquisition.recorder import Recorder, new_session_paths, parse_blocks
    from neurofeedback.acquisition.session import finalize_session

    tag = uuid.uuid4().hex[:10]
    name, mname = f"nf-rec-{tag}", f"nf-rec-m-{tag}"
    outlet = _outlet(name, n=2, labels=["Cz", "Pz"], types=["EEG", "EEG"], units=["uV", "uV"])
    moutlet = pylsl.StreamOutlet(pylsl.StreamInfo(mname, "Markers", 1, 0.0, pylsl.cf_string,
                                                  source_id=mname))
    conn = lsl_connection(stream=name, marker_stream=mname, timeout_s=5.0)
    stop = threading.Event()
    sent = {}

    def send():
        rng = np.random.default_rng(0)
        t0 = pylsl.local_clock()
        i = 0
        while not stop.is_set():
            ts = t0 + i / 256
            wait = ts - pylsl.local_clock()
            if wait > 0:
                time.sleep(wait)
            if i in (300, 500):
                moutlet.push_sample(["eyes-open" if i == 300 else "stim"], ts)
                sent[i] = ts
            outlet.push_sample((rng.standard_normal(2) * 10).astype(np.float32).tolist(), ts)
            i += 1

    paths = new_session_paths("lslrec", datetime.now(timezone.utc), home=tmp_path)
    rec = Recorder(conn, paths, subject="lslrec", duration_s=3.0, poll_s=0.05,
                   blocks=parse_blocks("eyes-open:1,eyes-closed:2"))
    th = threading.Thread(target=send, daemon=True)
    rec.open()
    th.start()
    threading.Timer(1.5, rec.add_marker, args=("key-press",)).start()
    try:
        result = rec.record()
    finally:
        stop.set()
        th.join(5)
    assert result.end_reason == "completed" and result.n_samples == 3 * 256
    doc = read_sidecar(paths.sidecar)
    assert set(doc["markers"].values()) >= {"eyes-open", "eyes-closed", "source/eyes-open",
                                             "stim", "key-press"}
    raw = read_recording(finalize_session(paths.csv))
    ann = {a["description"]: a for a in raw.annotations}
    assert ann["eyes-open"]["onset"] == 0.0 and ann["eyes-open"]["duration"] == 1.0
    assert ann["eyes-closed"]["onset"] == 1.0
    assert ann["source/eyes-open"]["duration"] == 0.0 and ann["stim"]["duration"] == 0.0
    # the two stream markers are 200 samples apart, as sent
    gap = (ann["stim"]["onset"] - ann["source/eyes-open"]["onset"]) * 256
    assert gap == pytest.approx(200, abs=1)
    assert "key-press" in ann
