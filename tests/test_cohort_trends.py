"""Cohort trends (issue 18, item 3): the mixed model against independent references on the same
data, known truth recovered, the CLI's outputs and one-line errors, and a small calibration.

References and tolerances:

* On a balanced design (every subject has the same week times) the generalised least-squares
  estimate of a group's slope equals the mean of the per-subject OLS slopes whatever the
  covariance (X_i identical for all subjects), so MixedLM's slope must equal it to the optimiser's
  precision (1e-6 SD/week); the difference equals the difference of the groups' means of OLS
  slopes. When the REML slope variance is inside its space, MixedLM's SE equals the two-stage
  (summary-statistics) SE too; we allow 2 % (the optimiser's tolerance on the variance).
* The calibration test runs 150 null datasets through the product's fit: its false-positive
  rate must be ≤ 0.05 + 3 MC SE (0.054 at 150). The full study (1,000 datasets per design) is
  ``bench/bench_cohort_calibration.py``; its figures are in docs/statistics.md.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from neurofeedback.cohort import (
    cohort_statement,
    cohort_trends,
    event_anchored,
    fit_cohort,
    load_cohort_csv,
    subject_weeks,
)
from neurofeedback.errors import ConfigError
from neurofeedback.simulate import simulate_cohort_series

runner = CliRunner()


def _balanced(seed, n=10, weeks=8, slopes=(0.3, 0.0), slope_sd=0.15):
    """Subject-week means on identical week times: y = a_i + b_i t + e."""
    rng = np.random.default_rng(seed)
    rows, groups = [], {}
    for g, beta in zip(("course", "waitlist"), slopes, strict=True):
        for i in range(n):
            s = f"{g[0]}{i:02d}"
            groups[s] = g
            a, b = rng.normal(0, 1), beta + rng.normal(0, slope_sd)
            for w in range(weeks):
                rows.append({"subject": s, "week": w, "t_weeks": float(w),
                             "y": a + b * w + rng.normal(0, 0.5), "n_sessions": 3})
    return pd.DataFrame(rows), groups


def _ols_slopes(weeks, groups, g):
    return np.array([np.polyfit(d["t_weeks"], d["y"], 1)[0]
                     for s, d in weeks.groupby("subject") if groups[s] == g])


def test_group_slope_equals_mean_of_subject_ols_slopes_on_balanced_data():
    weeks, groups = _balanced(1)
    fit = fit_cohort(weeks, groups, ["course"])
    a = _ols_slopes(weeks, groups, "course")
    assert fit["status"] == "ok" and fit["df"] == len(a) - 1
    assert fit["groups"]["course"]["slope"] == pytest.approx(a.mean(), abs=1e-6)
    if fit["boundary"] is None:  # the slope variance is inside its space: SEs agree too
        assert fit["groups"]["course"]["se"] == pytest.approx(a.std(ddof=1) / math.sqrt(a.size),
                                                              rel=0.02)


def test_difference_equals_difference_of_ols_slope_means_and_ci_uses_t():
    weeks, groups = _balanced(2)
    fit = fit_cohort(weeks, groups, ["course", "waitlist"])
    a, b = _ols_slopes(weeks, groups, "course"), _ols_slopes(weeks, groups, "waitlist")
    d = fit["difference"]
    assert d["estimate"] == pytest.approx(a.mean() - b.mean(), abs=1e-6)
    assert fit["df"] == a.size + b.size - 2
    from scipy import stats

    half = stats.t.ppf(0.975, fit["df"]) * d["se"]
    assert d["ci"] == pytest.approx([d["estimate"] - half, d["estimate"] + half])
    sp = math.sqrt((a.var(ddof=1) * (a.size - 1) + b.var(ddof=1) * (b.size - 1)) / fit["df"])
    if fit["boundary"] is None:
        assert d["se"] == pytest.approx(sp * math.sqrt(1 / a.size + 1 / b.size), rel=0.02)


def test_shrunken_slopes_are_pulled_toward_the_group():
    weeks, groups = _balanced(3, slope_sd=0.1)
    fit = fit_cohort(weeks, groups, ["course", "waitlist"])
    subj = fit["subjects"]
    for g in ("course", "waitlist"):
        own = np.array([v["slope_ols"] for v in subj.values() if v["group"] == g])
        shrunk = np.array([v["slope_shrunk"] for v in subj.values() if v["group"] == g])
        assert shrunk.std() < own.std()  # closer together than the subjects' own slopes
        assert shrunk.mean() == pytest.approx(own.mean(), abs=1e-3)


def test_known_difference_is_recovered_from_session_level_series():
    frame, groups, _, truth = simulate_cohort_series(5, nuisance="ou")
    res = cohort_trends(frame, groups, group="course", vs="waitlist")
    (r,) = res
    d = r["tests"]["difference"]
    assert d["ci"][0] <= truth.difference <= d["ci"][1]
    assert r["tests"]["slope:course"]["ci"][0] <= truth.group_slopes["course"] <= r["tests"]["slope:course"]["ci"][1]
    assert r["tests"]["difference"]["family"] == "primary"  # the default primary series
    assert r["tests"]["slope:course"]["change"] == "rose"
    text = cohort_statement(r)
    assert "rose more in course than in waitlist" in text and "95% CI" in text and "pp" in text


def test_powers_are_analysed_on_log10_and_reported_in_percent():
    frame, groups, _, _ = simulate_cohort_series(6, metric="absolute_alpha", channel="mean",
                                                 base=0.0, unit=0.05)
    frame["value"] = 10.0 ** (1.0 + frame["value"])  # log10 power slope 0.015/week for course
    (r,) = cohort_trends(frame, groups, group="course", metrics="absolute_alpha")
    assert r["scale"] == "log10" and r["change_unit"] == "%"
    t = r["tests"]["slope:course"]
    assert t["per_week"] == pytest.approx(100 * (10 ** t["analysis_per_week"] - 1))
    assert t["ci"][0] <= 100 * (10 ** 0.015 - 1) <= t["ci"][1]


def test_low_quality_sessions_are_left_out_and_counted():
    frame, groups, _, _ = simulate_cohort_series(7, groups=(("course", 4, 0.0),))
    frame.loc[frame.index[:5], "clean_fraction"] = 0.2
    weeks, quality = subject_weeks(frame, metric="relative_alpha", channel="posterior")
    assert quality["n_excluded"].sum() == 5
    assert weeks["n_sessions"].sum() == len(frame) - 5


def test_multiplicity_other_series_are_holm_adjusted():
    f1, groups, _, _ = simulate_cohort_series(8, metric="relative_alpha")
    f2, _, _, _ = simulate_cohort_series(9, metric="relative_theta")
    f3, _, _, _ = simulate_cohort_series(10, metric="iaf")
    res = cohort_trends(pd.concat([f1, f2, f3]), groups, group="course", vs="waitlist")
    fam = {r["metric"]: r["tests"]["difference"] for r in res}
    assert fam["relative_alpha"]["family"] == "primary"
    for m in ("relative_theta", "iaf"):
        t = fam[m]
        assert t["family"] == "secondary" and t["family_size"] == 2 and t["adjustment"] == "holm"
        assert t["p_adjusted"] >= t["p"]


def test_event_anchored_recovers_a_level_change():
    frame, groups, events, truth = simulate_cohort_series(
        11, groups=(("course", 12, 0.0),), event_week=4, level_change=1.5, slope_sd=0.05)
    r = event_anchored(frame, groups, events, group="course", kind="therapy")
    assert r["status"] == "ok" and r["df"] == 11
    lc = r["level_change"]
    assert lc["ci"][0] <= truth.level_change <= lc["ci"][1] and lc["change"] == "rose"
    with pytest.raises(ConfigError, match="no subject has an event of kind 'ketamine'"):
        event_anchored(frame, groups, events, group="course", kind="ketamine")


def test_bad_input_is_one_clear_error():
    frame, groups, _, _ = simulate_cohort_series(12, groups=(("course", 3, 0.0), ("waitlist", 3, 0.0)))
    with pytest.raises(ConfigError, match="'group' parameter.*'nope'"):
        cohort_trends(frame, groups, group="nope")
    with pytest.raises(ConfigError, match="another group"):
        cohort_trends(frame, groups, group="course", vs="course")
    with pytest.raises(ConfigError, match="'metric' parameter"):
        cohort_trends(frame, groups, group="course", metrics="faa")
    with pytest.raises(ConfigError, match="none of its subjects"):
        cohort_trends(frame, dict(groups, ghost="empty"), group="empty")
    few = cohort_trends(frame[frame["subject"] != frame["subject"].iloc[0]], groups, group="course")
    assert few[0]["status"] == "not enough data" and "needs >= 3" in few[0]["reason"]
    assert few[0]["tests"]["slope:course"]["change"] == "not enough data"


def test_cohort_csv(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("subject,group\nalpha01,course\nbeta02, waitlist\n")
    assert load_cohort_csv(p) == {"alpha01": "course", "beta02": "waitlist"}
    p.write_text("subject,arm\nalpha01,course\n")
    with pytest.raises(ConfigError, match="group missing"):
        load_cohort_csv(p)
    p.write_text("subject,group\nalpha01,co urse\n")
    with pytest.raises(ConfigError, match="line 2"):
        load_cohort_csv(p)


def test_null_calibration_small():
    """150 null studies (2 x 12 x 8 weeks, OU day-to-day state): FPR of the difference and the
    group slope ≤ 0.05 + 3 MC SE; the full study is bench/bench_cohort_calibration.py."""
    hits_d = hits_s = 0
    n = 150
    for seed in range(n):
        frame, groups, _, _ = simulate_cohort_series(1000 + seed, groups=(("course", 12, 0.0), ("waitlist", 12, 0.0)),
                                                     nuisance="ou", per_week=(2, 3))
        weeks, _ = subject_weeks(frame, metric="relative_alpha", channel="posterior")
        fit = fit_cohort(weeks, groups, ["course", "waitlist"])
        hits_d += not (fit["difference"]["ci"][0] <= 0 <= fit["difference"]["ci"][1])
        g = fit["groups"]["course"]
        hits_s += not (g["ci"][0] <= 0 <= g["ci"][1])
    bound = 0.05 + 3 * math.sqrt(0.05 * 0.95 / n)
    assert hits_d / n <= bound and hits_s / n <= bound, (hits_d, hits_s)


test_null_calibration_small = pytest.mark.slow(test_null_calibration_small)


# ---------------------------------------------------------------------------------------------
# the command line on a small store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from neurofeedback.store import Catalog

    home = tmp_path_factory.mktemp("cohort-home")
    frame, groups, _, _ = simulate_cohort_series(
        3, groups=(("course", 4, 0.5), ("waitlist", 4, 0.0)), weeks=4, per_week=(2, 2),
        base=0.3, unit=0.03, prefix="p")
    cat = Catalog(home=home)
    for sid, d in frame.groupby("session_id", sort=False):
        subject, session = sid.removeprefix("sub-").split("_ses-")
        cat.record_session(subject, "s" + session,
                           {"start_time": d["start_time"].iloc[0].to_pydatetime(),
                            "input_sha256": sid, "config_hash": "t", "clean_fraction": 1.0},
                           pd.DataFrame({"metric": d["metric"], "channel": d["channel"],
                                         "value": d["value"], "unit": "fraction"}))
    return home, groups


def _cli(*args):
    from neurofeedback.cli import app

    return runner.invoke(app, [str(a) for a in args])


def test_cli_groups_trends_and_errors(store, tmp_path):
    home, groups = store
    csv = tmp_path / "cohort.csv"
    csv.write_text("subject,group\n" + "".join(f"{s},{g}\n" for s, g in groups.items()))
    r = _cli("cohort", "import", csv, "--home", home)
    assert r.exit_code == 0 and "set the group of 8 subjects: course 4, waitlist 4" in r.output
    r = _cli("cohort", "trends", "--group", "course", "--vs", "waitlist", "--home", home, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    (res,) = doc["results"]
    assert res["df"] == 6 and res["n_subjects"] == {"course": 4, "waitlist": 4}
    assert set(res["tests"]) == {"slope:course", "slope:waitlist", "difference"}
    report = tmp_path / "cohort.html"
    r = _cli("cohort", "trends", "--group", "course", "--vs", "waitlist", "--home", home,
             "--report", report)
    assert r.exit_code == 0 and "wrote" in r.output and report.is_file()
    assert re.search(r"rose|no clear change|fell", r.output)
    for args, msg in (
            (("cohort", "trends", "--group", "nope"), "'--group' parameter"),
            (("cohort", "trends", "--group", "course", "--metric", "iaf"), "'metric' parameter"),
            (("cohort", "trends", "--group", "course", "--block", "meditation"), "'--block' parameter"),
            (("subject", "set-group", "ghost", "course"), "no subject 'ghost'"),
            (("subject", "set-group", sorted(groups)[0], "bad-label"), "group ID must be")):
        r = _cli(*args, "--home", home)
        assert r.exit_code == 2, (args, r.output)
        lines = [x for x in r.output.splitlines() if x.strip()]
        assert len(lines) == 1 and msg in lines[0] and "Traceback" not in r.output, r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,group\nghost,course\n")
    r = _cli("cohort", "import", bad, "--home", home)
    assert r.exit_code == 2 and "not in the catalog: ghost" in r.output
    first = sorted(groups)[0]
    r = _cli("subject", "set-group", first, "--clear", "--home", home)
    assert r.exit_code == 0 and f"{first}: no group" in r.output, r.output
    r = _cli("subject", "set-group", first, groups[first], "--home", home)
    assert r.exit_code == 0 and f"{first}: group {groups[first]}" in r.output


def test_report_escapes_text_and_has_its_sections():
    from neurofeedback.report.cohort import build_cohort_report

    frame, groups, _, _ = simulate_cohort_series(4, groups=(("course", 5, 0.3), ("waitlist", 5, 0.0)),
                                                 weeks=4)
    res = cohort_trends(frame, groups, group="course", vs="waitlist")
    res[0]["metric"] = "<script>alert(1)</script>"
    rep = build_cohort_report({"group": "course", "vs": "waitlist", "block": "session",
                               "results": res, "events": {}, "groups": groups}, simulated=True)
    html = rep.to_html()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert rep.section_ids() == ["summary", "groups", "quality", "method"]
    assert "SIMULATED" in html
    assert re.search(r"t with n_subjects - n_groups", html)


def test_fallback_to_random_intercept_is_named(monkeypatch):
    """When the model with a random slope fails, the random slope is dropped and said so."""
    import neurofeedback.cohort as cohort

    real = cohort._mixedlm

    def no_slope(y, X, subjects, Z, start_params=None):
        if Z.shape[1] == 2:
            return None, "did not converge"
        return real(y, X, subjects, Z, start_params)

    monkeypatch.setattr(cohort, "_mixedlm", no_slope)
    frame, groups, _, truth = simulate_cohort_series(13)
    (r,) = cohort_trends(frame, groups, group="course", vs="waitlist")
    assert r["status"] == "ok" and r["model"] == "random intercept only"
    assert "random intercept only" in r["fallback"] and r["slope_sd"] == 0.0
    assert "Model: the model with a random slope did not converge" in cohort_statement(r)
