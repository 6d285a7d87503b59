"""Crash safety: a recording process killed with SIGKILL at random moments loses at most 1 s,
and ``recover`` turns its partial files into a normal session."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from neurofeedback.cli import app
from neurofeedback.io.sidecar import read_sidecar

runner = CliRunner()
SFREQ = 250.0
TS_ROW = 30  # synthetic board's timestamp row


def _wait_for_csv(home, proc, timeout=60.0):
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        found = list((home / "recordings").rglob("*_eeg.csv")) if (home / "recordings").exists() else []
        if found and found[0].stat().st_size > 0:
            return found[0]
        if proc.poll() is not None:
            raise AssertionError(f"recorder exited early: {proc.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError("no recording appeared")


def test_sigkill_at_random_moments_loses_at_most_one_second(tmp_path):
    """Acceptance 3: 5 kills at seeded random moments; each recovered session ends within 1 s
    of the kill and holds every sample from the start (no gaps)."""
    rng = np.random.default_rng(7)
    losses = []
    for k in range(5):
        home = tmp_path / f"home{k}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "neurofeedback", "record", "--board", "synthetic",
             "--duration", "60s", "--subject", f"k{k}", "--check-seconds", "0", "--home", str(home),
             "--no-display"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "NEUROFEEDBACK_HOME": str(home)})
        try:
            csv = _wait_for_csv(home, proc)
            time.sleep(float(rng.uniform(0.2, 4.0)))
            t_kill = time.time()
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        doc = read_sidecar(csv.with_suffix(".json"))
        assert doc["ended_cleanly"] is False  # the sidecar written at start survives the kill

        res = runner.invoke(app, ["recover", str(csv.parent), "--json"])
        assert res.exit_code == 0, res.output
        summary = json.loads(res.stdout.strip().splitlines()[-1])
        doc = read_sidecar(csv.with_suffix(".json"))
        assert doc["end_reason"] == "recovered"
        data = np.loadtxt(csv, delimiter="\t")
        ts = data[:, TS_ROW]
        loss = t_kill - ts[-1]
        losses.append(loss)
        assert loss <= 1.0, f"kill {k}: lost {loss:.3f} s"
        # contiguous from the start: no sample is missing inside the file
        assert np.diff(ts).max() < 3 / SFREQ
        assert doc["n_samples"] == len(ts)
        assert summary["duration_s"] == pytest.approx(len(ts) / SFREQ)
        assert next(csv.parent.glob("*_raw.fif")).is_file()
    assert len(losses) == 5
