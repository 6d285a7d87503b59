"""``neurofeedback demo``, the README's main job, end to end as a user runs it: a subprocess in a
directory outside the repository, a fresh data home, the real defaults (cohort, Prefect flows,
a recording played back, trends, reports). It generates its inputs into the data home and
leaves the source tree untouched."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # the whole product: ~3-6 min on 2 cores


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if subprocess.run(["git", "rev-parse"], cwd=ROOT, capture_output=True).returncode:
        pytest.skip("not a git checkout: cannot check that the tree stays untouched")
    work = tmp_path_factory.mktemp("user")
    home = work / "demo-home"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PREFECT_") and k not in ("NEUROFEEDBACK_HOME", "DO_NOT_TRACK")}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
               COLUMNS="200", MPLBACKEND="Agg")
    before = _git_status()
    proc = subprocess.run([sys.executable, "-m", "neurofeedback", "demo", "--home", str(home)],
                          cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    return {"proc": proc, "home": home, "work": work, "before": before, "after": _git_status()}


def test_demo_succeeds_and_leaves_the_tree_untouched(demo):
    proc = demo["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert demo["after"] == demo["before"]
    # its inputs were generated into the data home, not read from sample_data/
    inputs = demo["home"] / "inputs"
    assert (inputs / "cyton_meditation.csv").is_file() and (inputs / "cyton_meditation.json").is_file()
    assert (inputs / "cohort" / "truth.json").is_file()
    assert str(ROOT / "sample_data") not in proc.stdout
    assert sorted(p.name for p in demo["work"].iterdir()) == ["demo-home"]  # nothing beside it


def test_demo_reports_are_written_and_real(demo):
    home, out = demo["home"], demo["proc"].stdout
    reports = sorted((home / "reports").glob("*.html"))
    names = {p.name for p in reports}
    assert {"sub-alpha01.html", "sub-stable01.html"} <= names
    session = [p for p in reports if p.name.startswith("sub-demo01_ses-")]
    assert len(session) == 1, names
    for p in reports:
        html = p.read_text(encoding="utf-8")
        assert p.stat().st_size > 50_000, p  # figures are embedded: a real report, not a stub
        assert html.lstrip().lower().startswith("<!doctype html") and "</html>" in html
        assert str(p) in out  # the demo tells the user where each report is
    assert 'id="trends"' in (home / "reports" / "sub-alpha01.html").read_text(encoding="utf-8")
    assert 'id="spectrum"' in session[0].read_text(encoding="utf-8")


def test_demo_skips_the_corrupted_file_and_imports_the_rest(demo):
    out = demo["proc"].stdout
    truth = json.loads((demo["home"] / "inputs" / "cohort" / "truth.json").read_text())
    (bad,) = truth["corrupted"]
    n_good = sum(len(s["sessions"]) for s in truth["subjects"])
    assert re.search(rf"skipped {re.escape(Path(bad['path']).name)}:\s+\S", out), out
    assert f"{n_good} imported, 1 skipped" in out, out


def test_demo_says_alpha01_rose(demo):
    """alpha01's simulated alpha power grows week by week: the demo's statement of its primary
    metric (relative alpha, posterior channels, in the meditation block) says it rose, in one
    reconciled sentence; stable01's says no clear change."""
    out = demo["proc"].stdout
    lines = {ln.split(":", 1)[0].strip(): ln for ln in out.splitlines()
             if re.match(r"\s+(alpha01|stable01|iaf01):", ln)}
    m = re.search(r"relative_alpha \(posterior\) in the meditation block rose by ([\d.]+) "
                  r"percentage points per week \(95% CI \+([\d.]+) to \+([\d.]+); primary "
                  r"metric, p [=<] [\d.]+\) over 8 weeks and \d+ sessions; the latest week is .* "
                  r"\(MDC95\)", lines["alpha01"])
    assert m, lines["alpha01"]
    slope, low, high = map(float, m.groups())
    assert low < slope < high
    assert "showed no clear weekly change" in lines["stable01"], lines["stable01"]


def test_demo_shows_the_change_around_the_infusion(demo):
    """Issue 18: the simulated subject ket01's relative alpha steps up by 8 percentage points at
    a ketamine infusion; the demo prints the change around it (covering that truth) and its
    subject report has the event-change section."""
    out = demo["proc"].stdout
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("ket01: Around the ketamine"))
    m = re.search(r"relative_alpha \(posterior\) rose by ([\d.]+) percentage points at the event "
                  r"\(95% CI \+([\d.]+) to \+([\d.]+); primary metric", line)
    assert m, line
    est, low, high = map(float, m.groups())
    assert low < 8.0 < high and low < est < high
    html = (demo["home"] / "reports" / "sub-ket01.html").read_text(encoding="utf-8")
    assert 'id="event-change"' in html and "ketamine infusion 1 (simulated)" in html


def test_demo_trend_of_whole_sessions_covers_the_truth(demo):
    """On whole sessions, alpha01's absolute alpha trend (log10, in % per week) covers the
    least-squares growth of the sessions' expected values (cohort truth)."""
    import numpy as np

    truth = json.loads((demo["home"] / "inputs" / "cohort" / "truth.json").read_text())
    subj = next(s for s in truth["subjects"] if s["subject"] == "alpha01")
    kept = [x for x in subj["sessions"] if not x["low_quality"]]
    t = np.array([x["weeks_since_first"] for x in kept])
    y = np.log10([x["expected"]["absolute_alpha"]["mean"] for x in kept])
    true_pct = 100 * (10 ** np.polyfit(t, y, 1)[0] - 1)
    r = subprocess.run([sys.executable, "-m", "neurofeedback", "trends", "--subject", "alpha01",
                        "--metric", "absolute_alpha", "--channels", "mean", "--block", "session",
                        "--home", str(demo["home"]), "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (res,) = json.loads(r.stdout)
    lo, hi = res["slope_ci"]
    assert res["change_unit"] == "%" and lo < true_pct < hi, (true_pct, res["slope_ci"])


def test_demo_cohort_report_of_simulated_series(demo, open_page):
    """Step 5: the cohort-trends flow on the simulated study (metric series, said so), its
    statements, and its report in Chromium with no console errors."""
    out = demo["proc"].stdout
    assert "SIMULATED study (metric series with known truth, no EEG" in out
    assert "rose more in course than in waitlist" in out or "no clear difference" in out
    path = demo["home"] / "reports" / "cohort-course-vs-waitlist.html"
    assert path.is_file() and str(path) in out
    html = path.read_text(encoding="utf-8")
    assert "SIMULATED metric series" in html and 'id="groups"' in html
    page = open_page(path, height=1000)
    assert page.errors == [] and page.dialogs == []
    assert page.evaluate("document.scripts.length") == 0
    # the study never mixes with the EEG cohort: its own catalog
    from neurofeedback.store import Catalog

    assert "alpha01" not in Catalog(home=demo["home"] / "cohort-study").subjects()
    assert set(Catalog(home=demo["home"] / "cohort-study").groups().values()) == {"course", "waitlist"}
