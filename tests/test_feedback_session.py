"""Feedback sessions end to end: the CLI on a replayed real recording with LSL and OSC received
in other processes, the recorded session (feedback log, sidecar summary, FIF channels), and the
session in the store and its trends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, shared_file
from test_feedback_outputs import LSL_RECEIVER, OSC_RECEIVER, _finish, _spawn

pytestmark = pytest.mark.slow  # real time: a 60-s replayed session and 4-8 s synthetic ones

MUSE = "NeuroTechX__eeg-notebooks_v0.1/data_2017-09-13-15.30.01.csv"
# the outputs test's receiver, for a whole session: pull until the stream has been quiet for 5 s
_LSL_SESSION_RECEIVER = LSL_RECEIVER.replace(
    """deadline = time.monotonic() + 20
while len(samples) < n and time.monotonic() < deadline:
    sample, ts = inlet.pull_sample(timeout=1.0)
    if sample is not None:
        samples.append(sample)
        stamps.append(ts)""",
    """deadline = time.monotonic() + 150
quiet = time.monotonic()
while (len(samples) < n and time.monotonic() < deadline
       and (not samples or time.monotonic() - quiet < 5)):
    try:
        sample, ts = inlet.pull_sample(timeout=1.0)
    except pylsl.util.LostError:  # the session ended and closed its outlet
        break
    if sample is not None:
        samples.append(sample)
        stamps.append(ts)
        quiet = time.monotonic()""")
assert _LSL_SESSION_RECEIVER != LSL_RECEIVER


def _cli(*args, env, timeout=300):
    return subprocess.run([sys.executable, "-m", "neurofeedback", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def feedback_run(shared_data, tmp_path_factory):
    """Acceptance 2: ``feedback --board playback --file <real recording> --protocol alpha-up
    --duration 60s --output terminal,lsl,osc`` with LSL and OSC receivers in other processes."""
    rec = shared_file(shared_data, MUSE)
    tmp = tmp_path_factory.mktemp("fb")
    home = tmp / "home"
    env = {**os.environ, "NEUROFEEDBACK_HOME": str(home)}
    env.pop("LSLAPICFG", None)
    name = f"nf-test-{uuid.uuid4().hex[:8]}"
    osc, osc_lines = _spawn(OSC_RECEIVER, tmp, 150)
    port = int(osc_lines.wait_for("PORT", 30).split()[1])
    lsl, lsl_lines = _spawn(_LSL_SESSION_RECEIVER, tmp, name, 100_000,
                            env={**env, "HOME": str(tmp)})
    try:
        r = _cli("feedback", "--board", "playback", "--file", rec, "--protocol", "alpha-up",
                 "--duration", "60s", "--output", "terminal,lsl,osc", "--lsl-name", name,
                 "--osc-port", port, "--subject", "fbtest", env=env)
    finally:
        # tell the OSC receiver to stop; the LSL receiver stops at its deadline
        from pythonosc.udp_client import SimpleUDPClient

        SimpleUDPClient("127.0.0.1", port).send_message("/test/done", 1)
    got_osc = _finish(osc, osc_lines, timeout=60)
    got_lsl = _finish(lsl, lsl_lines, timeout=60)
    folder = next((home / "recordings" / "sub-fbtest").iterdir())
    return {"cli": r, "osc": got_osc, "lsl": got_lsl, "home": home, "env": env, "folder": folder}


def test_feedback_cli_runs_on_a_real_recording(feedback_run):
    r = feedback_run["cli"]
    assert r.returncode == 0, r.stderr[-3000:]
    assert "feedback (alpha-up): reward rate" in r.stdout
    folder = feedback_run["folder"]
    log = pd.read_csv(next(folder.glob("*_feedback.tsv")), sep="\t")
    # 60 s, a 2-s window, 4 updates a second: the first update when the first window is full
    assert len(log) == pytest.approx((60 - 2) * 4 + 1, abs=2)
    np.testing.assert_allclose(np.diff(log["t_s"]), 0.25, atol=1 / 256)
    assert set(log["phase"]) == {"baseline", "training"}
    # the baseline (a quarter of a 60-s session) gives no reward; training rewards some
    base = log[log["phase"] == "baseline"]
    assert base["reward"].sum() == 0 and base["t_s"].max() <= 15.0 + 0.25
    train = log[log["phase"] == "training"]
    assert 0 < train["reward"].mean() < 1
    assert train["threshold"].notna().all()


def test_lsl_and_osc_received_in_other_processes(feedback_run):
    folder = feedback_run["folder"]
    log = pd.read_csv(next(folder.glob("*_feedback.tsv")), sep="\t")
    lsl = feedback_run["lsl"]
    assert lsl["labels"] == ["metric", "threshold", "reward", "level", "artifact", "reward_rate"]
    samples = np.array(lsl["samples"], float)
    # the receiver resolves the stream while the recording starts: it may miss the first few
    assert len(samples) >= len(log) - 12
    tail = log.tail(len(samples))
    np.testing.assert_array_equal(samples[:, 2], tail["reward"].to_numpy(float))
    np.testing.assert_allclose(samples[:, 0], tail["metric"].to_numpy(float), rtol=1e-6)
    osc = feedback_run["osc"]
    updates = [args for addr, args in osc if addr == "/neurofeedback/update"]
    assert len(updates) == len(log)  # UDP on loopback: every update arrived
    rewards = [a[2] for a in updates]
    assert rewards == log["reward"].astype(int).tolist()
    assert {addr for addr, _ in osc} >= {"/neurofeedback/metric", "/neurofeedback/reward",
                                         "/neurofeedback/threshold", "/neurofeedback/level"}


def test_feedback_session_is_recorded_like_record(feedback_run):
    import mne

    from neurofeedback.io.sidecar import read_sidecar

    folder = feedback_run["folder"]
    sc = read_sidecar(next(folder.glob("*_eeg.json")))
    assert sc["ended_cleanly"] and sc["protocol"] == "alpha-up"
    fb = sc["feedback"]
    log = pd.read_csv(next(folder.glob("*_feedback.tsv")), sep="\t")
    train = log[log["phase"] == "training"]
    assert fb["n_updates"] == len(log) and fb["n_training"] == len(train)
    assert fb["reward_rate"] == pytest.approx(train["reward"].mean())
    assert fb["used_channels"] == ["TP9", "TP10"]
    raw = mne.io.read_raw_fif(next(folder.glob("*_raw.fif")), verbose="error")
    assert raw.get_channel_types(picks=["feedback_reward"]) == ["misc"]
    # the reward channel holds each update's reward from its time to the next update
    reward = raw.get_data(picks="feedback_reward")[0]
    sf = raw.info["sfreq"]
    for _, row in train.sample(20, random_state=0).iterrows():
        k = int(round(row["t_s"] * sf))
        assert reward[min(k, raw.n_times - 1)] == row["reward"]


def test_feedback_session_is_in_sessions_and_trends(feedback_run, tmp_path):
    """Acceptance 4: processed by ``neurofeedback process`` (here into a fresh store) it shows
    up in ``sessions`` and ``trends``, with the feedback's own metrics."""
    env = {**feedback_run["env"], "NEUROFEEDBACK_HOME": str(tmp_path / "store")}
    r = _cli("process", feedback_run["home"] / "recordings", "--json", env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    recs = json.loads(r.stdout)["records"]
    # the recorder's CSV (with the sidecar) and its FIF are one session
    assert sum(x["status"] == "imported" for x in recs) == 1, recs
    r = _cli("sessions", "--subject", "fbtest", "--json", env=env)
    sessions = json.loads(r.stdout)
    assert len(sessions) == 1 and sessions[0]["protocol"] == "alpha-up"
    r = _cli("trends", "--subject", "fbtest", "--metric", "feedback_reward_rate",
             "--metric", "relative_alpha", "--channels", "alpha-up,mean", "--json", env=env)
    assert r.returncode == 0, r.stderr
    trends = {(t["metric"], t["channel"]): t for t in json.loads(r.stdout)}
    sc_rate = json.loads(next(feedback_run["folder"].glob("*_eeg.json")).read_text())["feedback"]["reward_rate"]
    fb = trends[("feedback_reward_rate", "alpha-up")]
    assert fb["n_sessions"] == 1 and fb["weeks"][0]["mean"] == pytest.approx(sc_rate)
    assert trends[("relative_alpha", "mean")]["n_sessions"] == 1


def test_feedback_on_the_synthetic_board_measures_its_delay(tmp_path):
    """The runner on a wall-clock board: every update's delay is logged, and the summary's
    figures agree with the log (no timing thresholds here: see bench/bench_feedback.py)."""
    from neurofeedback.acquisition.connection import make_connection
    from neurofeedback.recording import feedback_and_store as run_feedback

    conn = make_connection(-1)
    outs = []
    res = run_feedback(conn, "alpha-up", subject="syn1", duration_s=8.0, baseline_s=3.0,
                       home=tmp_path, gate_s=0, on_output=outs.append, store=False)
    log = pd.read_csv(res.log_path, sep="\t")
    assert len(log) == len(outs) and len(log) >= 20
    assert log["latency_s"].notna().all() and (log["latency_s"] > 0).all()
    assert res.feedback["delay"]["n"] == len(log)
    assert res.feedback["delay"]["p99_ms"] == pytest.approx(np.percentile(log["latency_s"], 99) * 1e3)
    assert res.session.summary is not None


def test_feedback_session_report_shows_the_feedback(feedback_run, open_page, tmp_path):
    """The session's report (by its ID in the store, as an analyst asks for it) has a
    ``feedback`` section: the log's metric, threshold and rewards plotted, the sidecar's summary
    in a table; the page renders in Chromium without errors."""
    from test_report_browser import _check_page

    from neurofeedback.report import session_report

    folder = feedback_run["folder"]
    session_id = next(folder.glob("*_eeg.csv")).name.removesuffix("_eeg.csv")
    out = tmp_path / "fb.html"
    r = _cli("report", "session", session_id, "--out", out, env=feedback_run["env"])
    assert r.returncode == 0, r.stderr
    assert "sections: recording, feedback, quality" in r.stdout
    rep = session_report(session_id, home=feedback_run["home"])
    assert "feedback" in rep.figures
    fb = json.loads(next(folder.glob("*_eeg.json")).read_text())["feedback"]
    table = next(t for t in rep.tables() if t.name == "feedback_summary").frame.set_index("item")
    assert table.loc["reward rate (target)", "value"] == f"{100 * fb['reward_rate']:.1f}% (65.0%)"
    assert table.loc["training updates", "value"] == str(fb["n_training"])
    assert table.loc["channels", "value"] == "TP9, TP10"
    page = open_page(out)
    _check_page(page, rep, "feedback_session_report")
    text = page.evaluate("document.querySelector('#feedback').innerText")
    assert f"Rewarded {100 * fb['reward_rate']:.0f}% of {fb['n_training']} training updates" in text


@pytest.mark.parametrize("extra", [[], ["--artifact-uv", "1500"]])
def test_feedback_on_the_synthetic_board_explains_an_all_artifact_baseline(extra, tmp_path):
    """The synthetic board's test signals (~500 µV) are artifacts at the protocols' 150 µV: the
    CLI says why nothing was trained and how to change it; with --artifact-uv it trains."""
    env = {**os.environ, "NEUROFEEDBACK_HOME": str(tmp_path)}
    r = _cli("feedback", "--board", "synthetic", "--protocol", "alpha-up", "--duration", "8s",
             "--baseline", "3s", "--check-seconds", "0", "--subject", "syn", "--json", *extra,
             env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    fb = json.loads(r.stdout)["feedback"]
    assert fb["protocol_config"]["artifact_ptp_uv"] == (1500.0 if extra else 150.0)
    if extra:
        assert fb["n_training"] > 0 and fb["n_artifact"] == 0
    else:
        assert fb["n_training"] == 0 and fb["n_artifact"] == fb["n_updates"] > 0
        r = _cli("feedback", "--board", "synthetic", "--protocol", "alpha-up", "--duration", "4s",
                 "--baseline", "2s", "--check-seconds", "0", "--subject", "syn",
                 env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "no training: the baseline never had enough clean windows" in r.stdout
        assert "raise --artifact-uv" in r.stdout
        assert "its report: neurofeedback report session sub-syn_ses-" in r.stdout
