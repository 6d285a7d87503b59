"""``neurofeedback server start|stop|status``: Prefect's own server run by the project, end to end.

One server for the slow tests of the module (started by the command, in a data home of the
test, with ``HOME`` pointed at a folder of the test so that anything written to ``~/.prefect``
would be seen): ``status``, a ``process`` that uses it, a scheduled run of ``serve`` seconds
ahead that really executes, then ``stop``. The fast tests check the one-line failures.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from _nfprocs import api, clean_env, end_groups, flow_runs, nf

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
    """``server start`` in a fresh home; its scheduler looks for due runs every 5 s and
    ``serve``'s runner polls for them every 2 s (Prefect's defaults, 60 s and 10 s, would only make
    the scheduled-run test wait longer)."""
    from neurofeedback.simulate import simulate_cohort

    base = tmp_path_factory.mktemp("server")
    home, user = base / "home", base / "user"
    env = clean_env(user, PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS=5,
                    PREFECT_RUNNER_POLL_FREQUENCY=2)
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


def _serve(server, cron: str, log) -> subprocess.Popen:
    """``neurofeedback serve <weekly> --cron CRON`` against the module's server (its own session)."""
    return subprocess.Popen([sys.executable, "-m", "neurofeedback", "serve", str(server.weekly),
                             "--cron", cron, "--home", str(server.home)], env=server.env,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


@pytest.mark.slow
def test_a_scheduled_run_executes(server):
    """``serve`` registers the weekly import and trends on the server; a schedule some seconds
    ahead (a cron with a seconds field, UTC, as croniter and Prefect read it) runs, and the new
    recording is in the catalog afterwards.

    The run time is chosen ``lead`` seconds ahead, enough for ``serve`` to register its
    deployments first (a time already past when the deployment arrives is never scheduled); if
    it was not registered in time (a very busy machine), ``serve`` is restarted with a longer
    lead, so the test waits seconds, not up to two minutes for the next cron minute.
    """
    from neurofeedback.store import Catalog

    log_path = server.home / "serve.log"
    for lead in (20, 60):
        when = (datetime.now(timezone.utc) + timedelta(seconds=lead)).replace(microsecond=0)
        cron = f"{when.minute} {when.hour} * * * {when.second}"  # minute hour dom month dow second
        with open(log_path, "ab") as log:
            serve = _serve(server, cron, log)
        try:
            dep, runs, done, registered = None, [], [], None
            deadline = when + timedelta(seconds=150)
            while datetime.now(timezone.utc) < deadline and not done:
                assert serve.poll() is None, log_path.read_text()[-3000:]
                now = datetime.now(timezone.utc)
                if dep is None:
                    deps = api(server.url, "/deployments/filter",
                               {"deployments": {"name": {"any_": ["weekly-import"]}}})
                    if deps and deps[0]["schedules"][0]["schedule"].get("cron") == cron:
                        dep, registered = deps[0]["id"], now
                    elif now > when:
                        break  # not registered in time: again, with a longer lead
                if dep is not None:
                    runs = flow_runs(server.url, deployment_id=dep)
                    done = [r for r in runs if r["state_type"] == "COMPLETED"]
                    if not runs and now > when + timedelta(seconds=20):
                        break  # registered too close to the time for the scheduler: again
                time.sleep(1)
        finally:
            end_groups(serve, timeout=60)
        if runs:
            break
    assert runs, f"serve did not get a run scheduled with a lead of {lead} s: " + \
        log_path.read_text()[-3000:]
    print(f"serve registered the deployments {lead - (when - registered).total_seconds():.0f} s "
          f"after its start; the run was due at {when:%H:%M:%S}, started "
          f"{done[0]['start_time'] if done else None}, ended {done[0]['end_time'] if done else None},"
          f" seen at {datetime.now(timezone.utc):%H:%M:%S}")
    assert done, f"no completed run of weekly-import by {deadline:%H:%M:%S} (cron {cron!r}): " + \
        log_path.read_text()[-3000:]
    started = datetime.fromisoformat(done[0]["start_time"])
    assert started >= when - timedelta(seconds=1)  # the scheduled one, not a manual run
    assert done[0]["expected_start_time"] is not None
    assert datetime.fromisoformat(done[0]["expected_start_time"]) == when
    ids = set(Catalog(home=server.home).sessions()["session_id"])
    assert any(i in server.new_file.name for i in ids)


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
