"""Crash safety: a recording process killed with SIGKILL at random moments loses at most 1 s,
and ``recover`` turns its partial files into a normal session."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from _nfprocs import sigkill, start_recording
from typer.testing import CliRunner

from neurofeedback.cli import app
from neurofeedback.io.sidecar import read_sidecar

runner = CliRunner()
SFREQ = 250.0
TS_ROW = 30  # synthetic board's timestamp row
#: BrainFlow's synthetic board numbers its samples in row ``package_num_channel`` (0) and the
#: counter wraps after 255 (checked: 625 samples read 0, 1, ..., 255, 0, ...; every step 1 mod 256).
COUNTER_MODULO = 256


def missing_samples(counter, modulo: int = COUNTER_MODULO) -> np.ndarray:
    """How many samples are missing before each sample, from a wrapping sample counter.

    Parameters
    ----------
    counter : array-like, shape (n_samples,)
        The board's package numbers in file order (0, 1, ..., modulo - 1, 0, ...).
    modulo : int
        Where the counter wraps.

    Returns
    -------
    missing : ndarray of int, shape (n_samples - 1,)
        ``(step - 1) mod modulo`` for each consecutive step: 0 for the next sample, k when k
        samples were skipped, and ``modulo - 1`` for a repeated sample (a step of 0). Unlike
        wall-clock spacing this does not depend on how busy the machine is. Its blind spot: a
        run of exactly a multiple of ``modulo`` lost samples reads as continuous.
    """
    c = np.asarray(counter, dtype=float)
    if not np.array_equal(c, np.round(c)) or (c.size and (c.min() < 0 or c.max() >= modulo)):
        raise AssertionError(f"not a sample counter modulo {modulo}: {np.unique(c)[:10]}")
    return (np.diff(c.astype(np.int64)) - 1) % modulo


def test_missing_samples_detects_a_dropped_sample():
    """The continuity check used below passes on a wrapping counter and fails on a dropped,
    repeated or reordered sample."""
    counter = np.arange(700) % COUNTER_MODULO  # wraps twice
    assert not missing_samples(counter).any()
    dropped = np.delete(counter, 300)  # one sample lost right after a wrap (256 + 44)
    assert np.flatnonzero(missing_samples(dropped)).tolist() == [299]
    assert missing_samples(np.delete(counter, 255)).sum() == 1  # the 255 -> 0 step itself
    assert missing_samples(np.delete(counter, np.s_[10:70])).sum() == 60  # a lost chunk
    assert missing_samples(np.insert(counter, 5, counter[5])).any()  # a repeated sample
    assert missing_samples(counter[[0, 2, 1, 3]]).any()  # out of order
    with pytest.raises(AssertionError, match="not a sample counter"):
        missing_samples([0, 1, 256])


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_at_most_one_second(tmp_path):
    """Acceptance 3: 5 kills at seeded random moments; each recovered session ends within 1 s
    of the kill and holds every sample from the start (no gaps)."""
    rng = np.random.default_rng(7)
    losses = []
    for k in range(5):
        proc, csv = start_recording(tmp_path / f"home{k}", f"k{k}")
        time.sleep(float(rng.uniform(0.2, 4.0)))
        t_kill = sigkill(proc)
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
        # contiguous from the start: no sample is missing inside the file. Judged by the board's
        # sample counter, not by wall-clock spacing (the synthetic board stamps samples with the
        # wall clock, so a busy machine spaces them unevenly although none is lost)
        counter_row = doc["board_descr"]["package_num_channel"]
        missing = missing_samples(data[:, counter_row])
        assert not missing.any(), (
            f"kill {k}: {missing.sum()} samples missing at rows {np.flatnonzero(missing)[:5] + 1}")
        if len(ts) >= COUNTER_MODULO:  # the counter wraps where COUNTER_MODULO says
            assert data[:, counter_row].max() == COUNTER_MODULO - 1
        assert doc["n_samples"] == len(ts)
        assert summary["duration_s"] == pytest.approx(len(ts) / SFREQ)
        assert next(csv.parent.glob("*_raw.fif")).is_file()
    assert len(losses) == 5
