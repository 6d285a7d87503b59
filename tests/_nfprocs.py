"""Helpers of the multi-process tests: run ``neurofeedback`` as a command in an environment of the
test's own (its own ``HOME``, no inherited Prefect settings), talk to Prefect's REST API with
the standard library (no ``import prefect`` in the test process), start and stop Prefect's own
server and other process groups, and start a real recorder to ``kill -9``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def clean_env(user_home: Path, **extra) -> dict:
    """This process's environment with ``HOME=user_home``, this tree first on ``PYTHONPATH`` and
    no ``PREFECT_*``/``NEUROFEEDBACK_*`` settings inherited (each test says what it uses)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "NEUROFEEDBACK_"))}
    user_home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(user_home)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.update({k: str(v) for k, v in extra.items()})
    return env


def nf(*args, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m neurofeedback ARGS`` and return the completed process (text output)."""
    return subprocess.run([sys.executable, "-m", "neurofeedback", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(url: str, path: str, body: dict | None = None):
    """GET (``body`` None) or POST JSON to Prefect's REST API at ``url`` (ends in ``/api``)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url.rstrip("/") + path, data=data,
                                 headers={"Content-Type": "application/json"},
                                 method="GET" if body is None else "POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


def flow_runs(url: str, *, flow: str | None = None, deployment_id: str | None = None,
              state: str | None = None) -> list[dict]:
    """Flow runs of the server, filtered by flow name, deployment and state type."""
    body: dict = {"flow_runs": {}}
    if flow:
        body["flows"] = {"name": {"any_": [flow]}}
    if deployment_id:
        body["flow_runs"]["deployment_id"] = {"any_": [deployment_id]}
    if state:
        body["flow_runs"]["state"] = {"type": {"any_": [state]}}
    return api(url, "/flow_runs/filter", body)


def end_groups(*procs: subprocess.Popen, timeout: float = 30) -> None:
    """Stop processes started with ``start_new_session=True``, each with everything it started:
    SIGTERM to their process groups, then SIGKILL to a group still there after ``timeout`` s."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def wait_healthy(url: str, proc: subprocess.Popen, *, timeout: float = 180) -> None:
    """Wait until the Prefect API at ``url`` answers ``/health``; fail with the server's output
    when ``proc`` (the server) exits first or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if api(url, "/health") is True:
                return
        except OSError:
            pass
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-3000:] if proc.stderr else ""
            raise AssertionError(f"the Prefect server at {url} exited with {proc.returncode}: {err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the Prefect server at {url} did not become healthy in {timeout:.0f} s")
        time.sleep(0.5)


def prefect_server_start(port: int, env: dict) -> subprocess.Popen:
    """Start Prefect's own ``prefect server start`` on ``127.0.0.1:port`` (its state in the
    ``PREFECT_HOME`` of ``env``; its own process group, see :func:`end_groups`), healthy on return."""
    prefect = Path(sys.executable).parent / "prefect"
    server = subprocess.Popen([str(prefect), "server", "start", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/api", server)
    except BaseException:
        end_groups(server)
        raise
    return server


def start_recording(home: Path, subject: str, *, min_bytes: int = 1,
                    timeout: float = 60) -> tuple[subprocess.Popen, Path]:
    """Start ``neurofeedback record`` on the synthetic board (60 s, no quality check, no display)
    into ``home``; return ``(process, its CSV)`` once the CSV holds at least ``min_bytes``
    (the process's stderr is a pipe, read when it exits early). Kill it with :func:`sigkill`."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "neurofeedback", "record", "--board", "synthetic", "--duration",
         "60s", "--subject", subject, "--check-seconds", "0", "--home", str(home), "--no-display"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
             "NEUROFEEDBACK_HOME": str(home)})
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        found = list((home / "recordings").rglob("*_eeg.csv")) if (home / "recordings").exists() else []
        if found and found[0].stat().st_size >= min_bytes:
            return proc, found[0]
        if proc.poll() is not None:
            raise AssertionError(f"recorder exited early: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise AssertionError("no recording appeared")


def sigkill(proc: subprocess.Popen) -> float:
    """``kill -9`` the process and reap it; return the time of the kill (Unix seconds)."""
    try:
        t_kill = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    return t_kill
