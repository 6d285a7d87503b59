"""Prefect flows against Prefect's own local API (one test harness for the module): recording,
batch import with its cache and skip report, the Dask runner, weekly trends, and concurrent
``process`` runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _nfprocs import clean_env, flow_runs, nf

pytestmark = pytest.mark.slow  # each flow test starts Prefect; still runs in CI


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A small cohort: 2 subjects × 3 weeks × 2 sessions of 30 s, plus the corrupted file."""
    from neurofeedback.simulate import simulate_cohort

    folder = tmp_path_factory.mktemp("cohort")
    truth = simulate_cohort(folder, subjects=("alpha01", "stable01"), weeks=3, sessions_per_week=2,
                            duration_s=30.0)
    return folder, truth


def test_record_flow(harness, tmp_path):
    from pipelines.record import record_and_process

    summary = record_and_process(connection={"board": "synthetic"}, subject="fl1", duration_s=4.0,
                                 home=str(tmp_path), gate_s=0)
    assert summary["duration_s"] == pytest.approx(4.0)
    assert len(list((tmp_path / "recordings" / "sub-fl1").rglob("*_raw.fif"))) == 1
    # the session is in the store and its report was written under <home>/reports
    report = Path(summary["report"])
    assert report == tmp_path / "reports" / f"{summary['session_id']}.html"
    html = report.read_text()
    assert 'id="spectrum"' in html and summary["session_id"].split("_ses-")[1] in html


def test_process_flow_imports_skips_and_caches(harness, cohort, tmp_path):
    """Acceptance 1 (at test scale): the cohort is imported, the corrupted file is reported and
    the batch finishes; a second run does no work (every task from the cache)."""
    import pipelines.process as pp
    from neurofeedback.store import Catalog

    folder, truth = cohort
    n_good = sum(len(s.sessions) for s in truth.subjects)
    recs = pp.run_process([folder], home=tmp_path)
    by_status = {}
    for r in recs:
        by_status.setdefault(r["status"], []).append(r)
    assert len(by_status["imported"]) == n_good
    assert len(by_status["skipped"]) == 1
    bad = by_status["skipped"][0]
    assert "corrupted" in bad["path"] and bad["path"] in bad["reason"] or "corrupted" in bad["reason"]
    assert Catalog(home=tmp_path).sessions().shape[0] == n_good

    again = pp.run_process([folder], home=tmp_path)
    # every good file is found in the catalog by its hash + config: nothing is read or processed
    assert sum(r["cached"] for r in again) == n_good
    assert [r["status"] for r in again].count("skipped") == 1
    assert {r["session_id"] for r in again if r["session_id"]} == \
        {r["session_id"] for r in recs if r["session_id"]}

    from prefect import get_client

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts()
    assert any(a.key == "imported-recordings" for a in arts)


def test_dask_runner_gives_identical_results(harness, cohort, tmp_path):
    """Acceptance 4: the same flow on a Dask LocalCluster gives the same catalog."""
    import pipelines.process as pp
    from neurofeedback.store import Catalog

    folder, _ = cohort
    pp.run_process([folder], home=tmp_path / "threads", runner="threads")
    pp.run_process([folder], home=tmp_path / "dask", runner="dask", max_workers=2)
    cols = ["subject", "session_id", "block", "metric", "channel", "value"]
    a = Catalog(home=tmp_path / "threads").metrics_frame()[cols].sort_values(cols[:5]).reset_index(drop=True)
    b = Catalog(home=tmp_path / "dask").metrics_frame()[cols].sort_values(cols[:5]).reset_index(drop=True)
    assert len(a) > 100
    import pandas as pd

    pd.testing.assert_frame_equal(a, b)


def test_weekly_trends_flow(harness, cohort, tmp_path):
    import pipelines.process as pp
    from pipelines.trends import weekly_trends

    folder, _ = cohort
    pp.run_process([folder], home=tmp_path)
    out = weekly_trends(home=str(tmp_path))
    assert set(out["trends"]) == {"alpha01", "stable01"}
    t = {(r["metric"], r["channel"]): r for r in out["trends"]["alpha01"]}
    assert t[("absolute_alpha", "mean")]["n_weeks"] == 3
    json.dumps(out, allow_nan=False)
    # the weekly flow writes each subject's report and links it from a markdown artifact
    assert set(out["reports"]) == {"alpha01", "stable01"}
    for subject, path in out["reports"].items():
        html = Path(path).read_text()
        assert path == str(tmp_path / "reports" / f"sub-{subject}.html")
        assert 'id="trends"' in html and "absolute_alpha (mean)" in html
    from prefect import get_client

    with get_client(sync_client=True) as client:
        data = [a.data for a in client.read_artifacts() if a.key == "subject-report-alpha01"]
    assert data and (tmp_path / "reports" / "sub-alpha01.html").as_uri() in data[0]


def test_eight_concurrent_process_runs(cohort, tmp_path):
    """Acceptance 3: 8 concurrent ``neurofeedback process`` runs over overlapping folders leave
    exactly one session per recording.

    Six of them use the Prefect server ``neurofeedback server start`` runs for the data home (as
    a team running batches does); two have no server and each starts Prefect's temporary one,
    both in one ``PREFECT_HOME`` of their own (as a user in two terminals would). Eight temporary
    servers starting at once cost more CPU than all of the imports (measured: 93 s of CPU for
    eight starts at a load of 40, none of which came up in 120 s; one server and all the work
    71 s), and would test Prefect's start-up, not the catalog.
    """
    folder, truth = cohort
    subs = sorted(p for p in folder.iterdir() if p.is_dir())
    n_good = sum(len(s.sessions) for s in truth.subjects)
    home = tmp_path / "home"
    env = clean_env(tmp_path / "user", NEUROFEEDBACK_HOME=home)
    r = nf("server", "start", "--home", home, "--port", 0, "--json", env=env)
    assert r.returncode == 0, r.stderr
    url = json.loads(r.stdout)["url"]
    temporary = {**env, "PREFECT_HOME": str(tmp_path / "prefect-temporary")}
    try:
        jobs = []
        for k in range(8):
            targets = [str(folder)] if k % 3 == 0 else [str(subs[k % len(subs)]), str(folder)]
            jobs.append(subprocess.Popen([sys.executable, "-m", "neurofeedback", "process", *targets,
                                          "--json", "-v"], env=temporary if k in (3, 7) else env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs = [j.communicate(timeout=900) for j in jobs]
        for k, (j, (_, e)) in enumerate(zip(jobs, outs)):
            assert j.returncode == 0, e[-2000:]
            assert (f"using the Prefect server at {url}" in e) == (k not in (3, 7)), e[-2000:]
        assert len(flow_runs(url, flow="process-recordings", state="COMPLETED")) == 6
    finally:
        nf("server", "stop", "--home", home, env=env)
    from neurofeedback.store import Catalog

    sessions = Catalog(home=home).sessions()
    assert len(sessions) == n_good
    assert sessions["session_id"].is_unique
    feats = Catalog(home=home).metrics_frame()
    assert not feats.duplicated(["session_id", "block", "metric", "channel"]).any()
    # every session with clean data has its metrics (a session without any has no values, only
    # its channels' clean_fraction rows, which say so)
    with_clean = set(sessions.loc[sessions["clean_fraction"] > 0, "session_id"])
    valued = feats[feats["metric"] != "clean_fraction"]
    assert set(valued["session_id"]) == with_clean and len(with_clean) >= n_good - 1
    assert set(feats["session_id"]) == set(sessions["session_id"])
    assert Path(home / "bids").is_dir()
