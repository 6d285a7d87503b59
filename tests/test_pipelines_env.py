"""Prefect's settings are an explicit call (``pipelines.configure``), never a side effect of an
import, and they reach Prefect only when set before Prefect is imported.

Each check runs in a fresh interpreter: Prefect reads its settings once, when it is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SETTINGS = """
from prefect.settings import get_current_settings
s = get_current_settings()
print(json.dumps({"home": str(s.home), "analytics": s.server.analytics_enabled,
                  "logging": s.logging.level, "server_logging": s.server.logging_level,
                  "startup_timeout": s.server.ephemeral.startup_timeout_seconds,
                  "env": {k: os.environ.get(k) for k in ("PREFECT_HOME", "DO_NOT_TRACK")}}))
"""


def _python(code: str, tmp_path, **env) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("PREFECT_") and k not in ("DO_NOT_TRACK", "NEUROFEEDBACK_HOME")}
    clean.update(HOME=str(tmp_path / "user"), NEUROFEEDBACK_HOME=str(tmp_path / "default-home"),
                 PYTHONPATH=os.pathsep.join([str(ROOT), clean.get("PYTHONPATH", "")]), **env)
    proc = subprocess.run([sys.executable, "-c", "import json, os\n" + code], cwd=tmp_path,
                          env=clean, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_pipelines_and_every_flow_module_writes_no_environment(tmp_path):
    out = _python("""
import sys
before = dict(os.environ)
import pipelines, pipelines.process, pipelines.record, pipelines.reports, pipelines.serve
import pipelines.trends
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
print(json.dumps({"changed": changed, "prefect": "prefect" in sys.modules,
                  "cli": "neurofeedback.cli" in sys.modules}))
""", tmp_path)
    assert out == {"changed": [], "prefect": True, "cli": False}
    assert not (tmp_path / "default-home").exists()  # nothing created either


def test_configure_before_prefect_sets_its_settings(tmp_path):
    out = _python(f"""
import pipelines
pipelines.configure({str(tmp_path / "home")!r})
{_SETTINGS}""", tmp_path)
    assert out["home"] == str(tmp_path / "home" / "prefect")
    assert out["analytics"] is False and out["env"]["DO_NOT_TRACK"] == "1"
    assert out["logging"] == "WARNING" and out["server_logging"] == "CRITICAL"
    assert out["startup_timeout"] == 120


def test_configure_keeps_what_the_environment_says(tmp_path):
    own = tmp_path / "own-prefect"
    out = _python(f"""
import pipelines
pipelines.configure({str(tmp_path / "home")!r})
{_SETTINGS}""", tmp_path, PREFECT_HOME=str(own), PREFECT_LOGGING_LEVEL="ERROR")
    assert out["home"] == str(own) and out["logging"] == "ERROR"
    assert out["analytics"] is False  # the defaults it does not override are still set


def test_a_flow_reached_through_the_package_is_configured_first(tmp_path):
    """``pipelines.run_process`` (the package's lazy entry point) configures with the default
    data home before its module imports Prefect."""
    out = _python(f"""
import sys
import pipelines
assert "prefect" not in sys.modules
run = pipelines.run_process
assert run.__module__ == "pipelines.process"
{_SETTINGS}""", tmp_path)
    assert out["home"] == str(tmp_path / "default-home" / "prefect")
    assert out["analytics"] is False


def test_the_record_flow_script_runs_without_the_command_line(tmp_path):
    clean = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pipelines.record", "--help"], cwd=tmp_path,
                          env=clean, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "--board" in proc.stdout and "--subject" in proc.stdout
