"""A Prefect server the project manages: ``neurofeedback server start|stop|status``.

It runs Prefect's own server (``prefect server start``, the one its docs describe; nothing of it
is re-implemented here) in the background, with its state in ``PREFECT_HOME`` (``<home>/prefect``:
its SQLite database ``prefect.db``, or PostgreSQL when ``PREFECT_API_DATABASE_CONNECTION_URL``
says so), and records where it listens in ``<home>/prefect/server.json``. Every command of the
project that runs a flow reads that file (:func:`pipelines._env.configure`) and talks to the
running server instead of starting Prefect's temporary one (10-30 s per command on 2 cores).

Why not ``prefect server start --background``: it returns before the server answers, records
only a pid (not the port, so no client can find it), sends the server's output nowhere, and its
``prefect server stop`` signals without waiting. Here :func:`start` waits for ``/api/health``,
writes the port and URL, keeps the log in ``<home>/prefect/server.log``, and :func:`stop` ends
the server's whole process group and waits for it.

Standard library only: no ``import prefect`` in the command that starts, checks or stops it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from neurofeedback.errors import OrchestrationError

from ._env import (
    STATE_FILE,
    _healthy,
    _read_state,
    _state_path,
    running_api_url,
    server_environment,
    settled_prefect_home,
)

__all__ = ["STATE_FILE", "running_api_url", "start", "status", "stop"]

#: The server's stdout and stderr, in ``PREFECT_HOME``.
LOG_FILE = "server.log"
#: Seconds :func:`start` waits for the server to answer (measured: ~24 s cold on 2 cores with
#: SQLite, ~8 s with PostgreSQL; a busy machine needs more).
START_TIMEOUT_S = 180.0
#: Seconds :func:`stop` waits after SIGTERM before SIGKILL.
STOP_TIMEOUT_S = 30.0
#: Prefect's default port (what its docs and UI links assume).
DEFAULT_PORT = 4200

def _alive(pid: int) -> bool:
    """Whether ``pid`` runs and is a Prefect server (not a zombie, not a reused pid)."""
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child (a test's in-process start)
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)  # no /proc (macOS): trust the signal
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z" and b"prefect" in cmdline


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (bind to port 0 and ask)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _database(env: dict, prefect_dir: Path) -> str:
    url = env.get("PREFECT_API_DATABASE_CONNECTION_URL") or env.get("PREFECT_SERVER_DATABASE_CONNECTION_URL")
    if not url:
        return f"sqlite {prefect_dir / 'prefect.db'}"
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"  # no password in the state file or the output


def status(home=None) -> dict:
    """The server of ``home``: whether it runs, where, since when.

    A state file whose process is gone (the machine restarted, the server was killed) is
    removed; the result then says ``stale``.

    Parameters
    ----------
    home : str | Path | None
        The data home (``PREFECT_HOME`` is ``<home>/prefect`` unless set in the environment).

    Returns
    -------
    state : dict
        ``running`` (bool), ``healthy`` (bool: it answers ``/api/health``), and when known
        ``pid``, ``port``, ``url`` (the API URL), ``ui``, ``prefect_home``, ``database``, ``log``,
        ``started_at``; ``stale`` (the pid of a server that is gone) when a stale file was
        removed.
    """
    state = _read_state(home)
    if state is None:
        return {"running": False, "healthy": False, "prefect_home": str(settled_prefect_home(home))}
    pid = state.get("pid")
    if not pid or not _alive(int(pid)):
        _state_path(home).unlink(missing_ok=True)
        return {"running": False, "healthy": False, "stale": pid,
                "prefect_home": str(settled_prefect_home(home))}
    return {**state, "running": True, "healthy": _healthy(state["url"])}


def start(home=None, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          timeout: float = START_TIMEOUT_S) -> dict:
    """Start Prefect's server in the background for ``home``, or find the one running.

    Parameters
    ----------
    home : str | Path | None
        The data home; the server's state goes to its ``prefect/`` folder.
    host : str
        Address to listen on: ``127.0.0.1`` (this machine only) or ``0.0.0.0`` for a team
        server that workers on other machines reach.
    port : int
        TCP port; 0 picks a free one.
    timeout : float
        Seconds to wait for ``/api/health``.

    Returns
    -------
    state : dict
        As :func:`status`, plus ``already`` (True when a server was running already).

    Raises
    ------
    OrchestrationError
        The port is taken, or the server exited or did not answer within ``timeout`` (one line
        naming the log file).
    """
    current = status(home)
    if current["running"]:
        return {**current, "already": True}
    prefect_dir = settled_prefect_home(home)
    prefect_dir.mkdir(parents=True, exist_ok=True)
    bind = "127.0.0.1" if host in ("0.0.0.0", "", "localhost") else host
    if port == 0:
        port = free_port(bind)
    elif not _port_free(host, port):
        raise OrchestrationError(
            f"port {port} on {host} is in use (another Prefect server?); choose another with "
            "--port, or --port 0 for a free one")
    url = f"http://{bind}:{port}/api"
    env = server_environment(prefect_dir, url)
    log = prefect_dir / LOG_FILE
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    with open(log, "ab") as out:
        out.write(f"\n--- {datetime.now(timezone.utc).isoformat()} {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=prefect_dir, start_new_session=True)
    t0 = time.monotonic()
    while not _healthy(url, timeout=2.0):
        if proc.poll() is not None:
            raise OrchestrationError(
                f"Prefect's server exited at start with code {proc.returncode}: "
                f"{_last_line(log)} (see {log})")
        if time.monotonic() - t0 > timeout:
            _kill_group(proc.pid, STOP_TIMEOUT_S)
            raise OrchestrationError(
                f"Prefect's server did not answer at {url} within {timeout:.0f} s (see {log})")
        time.sleep(0.5)
    state = {"pid": proc.pid, "host": host, "port": port, "url": url,
             "ui": url[: -len("/api")], "prefect_home": str(prefect_dir),
             "database": _database(env, prefect_dir), "log": str(log),
             "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "start_seconds": round(time.monotonic() - t0, 1)}
    _state_path(home).write_text(json.dumps(state, indent=1))
    return {**state, "running": True, "healthy": True, "already": False}


def _last_line(log: Path) -> str:
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no log)"
    return lines[-1][:300] if lines else "(the log is empty)"


def _kill_group(pid: int, timeout: float) -> None:
    """SIGTERM the process group of ``pid``, wait up to ``timeout`` s, then SIGKILL it."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    t0 = time.monotonic()
    while _alive(pid) and time.monotonic() - t0 < timeout:
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)  # anything of the group still there
    except ProcessLookupError:
        pass
    while _alive(pid) and time.monotonic() - t0 < timeout + 5:
        time.sleep(0.1)


def stop(home=None, *, timeout: float = STOP_TIMEOUT_S) -> dict:
    """Stop the server :func:`start` left running for ``home`` and wait until it is gone.

    Returns
    -------
    state : dict
        What :func:`status` said before stopping (``running`` False: there was none).
    """
    current = status(home)
    if current["running"]:
        _kill_group(int(current["pid"]), timeout)
        _state_path(home).unlink(missing_ok=True)
    return current
