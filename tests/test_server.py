"""``neurofeedback server start|stop|status``: Prefect's own server run by the project, end to end.

One server for the slow tests of the module (started by the command, in a data home of the
test, with ``HOME`` pointed at a folder of the test so that anything written to ``~/.prefect``
would be seen): ``status``, a ``process`` that uses it, a scheduled run of ``serve`` a minute
ahead that really executes, then ``stop``. The fast tests check the one-line failures.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from _nfprocs import api, clean_env, flow_runs, nf

# --- without a server (fast) ------------------------------------------------------------------


def test_status_without_a_server(tmp_path):
    r = nf("server", "status", "--home", tmp_path, env=clean_env(tmp_path / "user"))
    assert r.returncode == 0 and "not running" in r.stdout
    assert str(tmp_path / "prefect") in r.stdout.replace("\n", "")


def test_status_removes_a_stale_record(tmp_path):
    """A server killed (or a machine restarted) leaves server.json behind: status says so and
    removes it, and a command then uses Prefect's temporary server, not a dead URL."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "prefect").mkdir()
    (tmp_path / "prefect" / "server.json").write_text(json.dumps(
        {"pid": gone.pid, "url": "http://127.0.0.1:9/api", "port": 9}))
    r = nf("server", "status", "--home", tmp_path, "--json", env=clean_env(tmp_path / "user"))
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["running"] is False and s["stale"] == gone.pid
    assert not (tmp_path / "prefect" / "server.json").exists()


def test_start_on_a_busy_port_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = nf("server", "start", "--home", tmp_path, "--port", port, env=clean_env(tmp_path / "user"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port} on 127.0.0.1 is in use" in lines[0], r.stderr
    assert not (tmp_path / "prefect" / "server.json").exists()


def test_stop_without_a_server(tmp_path):
    r = nf("server", "stop", "--home", tmp_path, env=clean_env(tmp_path / "user"))
    assert r.returncode == 0 and "no server running" in r.stdout


# --- one real server for the module (slow) -----------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``server start`` in a fresh home; its scheduler looks for due runs every 5 s (Prefect's
    default is 60 s, which would only make the scheduled-run test wait longer)."""
    from neurofeedback.simulate import simulate_cohort

    base = tmp_path_factory.mktemp("server")
    home, user = base / "home", base / "user"
    env = clean_env(user, PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS=5)
    r = nf("server", "start", "--home", home, "--port", 0, "--json", env=env)
    assert r.returncode == 0, r.stderr
    state = json.loads(r.stdout)
    folder, weekly = base / "cohort", base / "weekly"
    simulate_cohort(folder, subjects=("alpha01",), weeks=1, sessions_per_week=4, duration_s=30.0)
    weekly.mkdir()
    last = sorted((folder / "sub-alpha01").glob("*_eeg.csv"))[-1]  # a week later, a new file
    for f in (last, last.with_suffix(".json")):
        shutil.move(f, weekly / f.name)
    yield SimpleNamespace(home=home, user=user, env=env, state=state, url=state["url"],
                          folder=folder, weekly=weekly, new_file=weekly / last.name)
    nf("server", "stop", "--home", home, env=env)  # when a test failed before the stop test


@pytest.mark.slow
def test_start_and_status(server):
    s = server.state
    assert s["running"] and s["healthy"] and not s["already"]
    assert s["prefect_home"] == str(server.home / "prefect")
    assert (server.home / "prefect" / "server.json").exists()
    assert (server.home / "prefect" / "prefect.db").exists()  # its SQLite database, in the home
    r = nf("server", "status", "--home", server.home, "--json", env=server.env)
    st = json.loads(r.stdout)
    assert st["running"] and st["healthy"] and st["url"] == server.url and st["pid"] == s["pid"]
    r = nf("server", "start", "--home", server.home, "--json", env=server.env)
    again = json.loads(r.stdout)
    assert again["already"] and again["pid"] == s["pid"]  # one server per home
    assert api(server.url, "/health") is True


@pytest.mark.slow
def test_process_uses_the_running_server(server):
    """``process`` finds the server (no temporary one), and a second run over files that are all
    in the catalog runs no flow at all."""
    t0 = time.perf_counter()
    r = nf("process", server.folder, "--home", server.home, "-v", env=server.env)
    wall = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"using the Prefect server at {server.url}" in r.stderr
    assert "3 imported" in r.stdout and "1 skipped" in r.stdout  # the corrupted file: skipped
    runs = flow_runs(server.url, flow="process-recordings", state="COMPLETED")
    assert len(runs) == 1
    print(f"process of 3 short files + 1 corrupted, with a running server: {wall:.1f} s wall")

    good = sorted(str(p) for p in (server.folder / "sub-alpha01").glob("*_eeg.csv")
                  if "corrupted" not in p.name)
    r = nf("process", *good, "--home", server.home, "--json", env=server.env)
    assert [x["status"] for x in json.loads(r.stdout)["records"]] == ["unchanged"] * 3
    assert len(flow_runs(server.url, flow="process-recordings")) == 1  # no new flow run


def _next_minute(lead_s: float = 45) -> datetime:
    t = datetime.now(timezone.utc) + timedelta(seconds=lead_s)
    return t.replace(second=0, microsecond=0) + timedelta(minutes=1)


@pytest.mark.slow
def test_a_scheduled_run_executes(server):
    """``serve`` registers the weekly import and trends on the server; a schedule a minute
    ahead (cron, UTC) runs, and the new recording is in the catalog afterwards."""
    from neurofeedback.store import Catalog

    when = _next_minute()
    cron = f"{when.minute} {when.hour} * * *"
    with open(server.home / "serve.log", "wb") as log:
        serve = subprocess.Popen([sys.executable, "-m", "neurofeedback", "serve", str(server.weekly),
                                  "--cron", cron, "--home", str(server.home)], env=server.env,
                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
    try:
        deadline = when + timedelta(seconds=150)
        dep, done = None, []
        while datetime.now(timezone.utc) < deadline and not done:
            assert serve.poll() is None, (server.home / "serve.log").read_text()[-3000:]
            if dep is None:
                deps = api(server.url, "/deployments/filter",
                           {"deployments": {"name": {"any_": ["weekly-import"]}}})
                dep = deps[0]["id"] if deps else None
            if dep is not None:
                done = flow_runs(server.url, deployment_id=dep, state="COMPLETED")
            time.sleep(3)
        assert done, f"no completed run of weekly-import by {deadline:%H:%M:%S} (cron {cron!r}): " + \
            (server.home / "serve.log").read_text()[-3000:]
        started = datetime.fromisoformat(done[0]["start_time"])
        assert started >= when - timedelta(seconds=1)  # the scheduled one, not a manual run
        ids = set(Catalog(home=server.home).sessions()["session_id"])
        assert any(i in server.new_file.name for i in ids)
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()


@pytest.mark.slow
def test_stop_keeps_all_state_in_the_home(server):
    """Acceptance 2: ``server stop`` ends it; Prefect's state is in <home>/prefect, none in
    ~/.prefect."""
    r = nf("server", "stop", "--home", server.home, env=server.env)
    assert r.returncode == 0 and f"stopped the Prefect server at {server.url}" in r.stdout
    r = nf("server", "status", "--home", server.home, "--json", env=server.env)
    assert json.loads(r.stdout)["running"] is False
    assert not (server.home / "prefect" / "server.json").exists()
    with pytest.raises(OSError):
        api(server.url, "/health")
    assert (server.home / "prefect" / "prefect.db").exists()
    assert not (server.user / ".prefect").exists()
