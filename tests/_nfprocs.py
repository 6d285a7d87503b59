"""Helpers of the multi-process tests: run ``neurofeedback`` as a command in an environment of the
test's own (its own ``HOME``, no inherited Prefect settings) and talk to Prefect's REST API with
the standard library (no ``import prefect`` in the test process)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
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
