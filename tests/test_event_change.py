"""Change around an event (issue 18): the segmented regression and the window comparison against
an independent reference (statsmodels), known truth, a small calibration study, and the frame API
(merging, leaving out, multiplicity, words).

The full calibration (1,000 subjects per design, Monte Carlo SEs) is
``bench/bench_event_calibration.py``; its table is in docs/statistics.md.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from neurofeedback.errors import ConfigError
from neurofeedback.event_change import (
    event_changes,
    event_statement,
    practice_covariate,
    segmented_fit,
    window_difference,
)
from neurofeedback.simulate import EventSeries, simulate_event_series, simulate_event_subject
from neurofeedback.trends import _car1_correlations

START = pd.Timestamp("2026-01-05", tz="UTC")  # a Monday
EVENT = 28.0 + 10 / 24


def _series(seed, **kw):
    return simulate_event_series(np.random.default_rng(seed), **kw)


def test_segmented_fit_equals_statsmodels_gls_on_the_same_design_and_correlation():
    """Our whitened GLS is statsmodels' GLS (same X, same R): coefficients and SEs to 1e-8
    (both solve the same normal equations in double precision; the rest is rounding)."""
    import statsmodels.api as sm

    s = _series(3, level=1.0, slope_change=0.3, nuisance="ou")
    weeks = (s.t_days // 7).astype(int)
    fit = segmented_fit(s.t_days, s.y, weeks, [s.event_day])
    tw, e = s.t_days / 7, s.event_day / 7
    post = (tw >= e).astype(float)
    X = np.column_stack([np.ones_like(tw), tw, post, (tw - e) * post])
    R = next(r for rho, w, r in _car1_correlations(s.t_days)
             if rho == fit["rho_per_day"] and w == fit["state_share"])
    ref = sm.GLS(fit["y_used"], X, sigma=R).fit()
    assert np.allclose(fit["coef"], ref.params, atol=1e-8)
    assert fit["events"][0]["level"]["se"] == pytest.approx(ref.bse[2], rel=1e-8)
    assert fit["events"][0]["slope"]["se"] == pytest.approx(ref.bse[3], rel=1e-8)
    assert fit["df"] == len(set(weeks)) - 4
    # with independence chosen, it is OLS
    ols = sm.OLS(fit["y_used"], X).fit()
    if fit["rho_per_day"] == 0.0:
        assert np.allclose(fit["coef"], ols.params, atol=1e-8)


def test_known_level_and_slope_change_are_recovered_without_noise_and_with_little():
    s = _series(5, level=2.0, slope_change=-0.5, slope=0.2, sd=1e-6)
    weeks = (s.t_days // 7).astype(int)
    fit = segmented_fit(s.t_days, s.y, weeks, [s.event_day])
    assert fit["events"][0]["level"]["estimate"] == pytest.approx(s.level, abs=1e-5)
    assert fit["events"][0]["slope"]["estimate"] == pytest.approx(s.slope_change, abs=1e-5)
    assert fit["pre_slope"]["estimate"] == pytest.approx(s.slope, abs=1e-5)
    s = _series(6, weeks=12, per_week=(5, 5), level=3.0, slope_change=0.5, event_day=42.4)
    fit = segmented_fit(s.t_days, s.y, (s.t_days // 7).astype(int), [s.event_day])
    lv, sl = fit["events"][0]["level"], fit["events"][0]["slope"]
    # one dataset: within 4 SEs of the truth (a miss once in ~15,000 when the SE is right)
    assert abs(lv["estimate"] - 3.0) < 4 * lv["se"] and lv["p"] < 0.05
    assert abs(sl["estimate"] - 0.5) < 4 * sl["se"]


def test_window_difference_is_the_plain_difference_of_means():
    s = _series(7, level=1.0, nuisance="iid")
    w = window_difference(s.t_days, s.y, s.event_day, 14.0)
    before = (s.t_days >= s.event_day - 14) & (s.t_days < s.event_day)
    after = (s.t_days >= s.event_day) & (s.t_days <= s.event_day + 14)
    if w["winsorised"] == 0:
        assert w["estimate"] == pytest.approx(s.y[after].mean() - s.y[before].mean())
    assert (w["n_before"], w["n_after"]) == (before.sum(), after.sum())
    assert w["df"] >= 1 and w["ci"][0] < w["estimate"] < w["ci"][1]
    with pytest.raises(ValueError, match="sessions before"):
        window_difference(s.t_days, s.y, s.t_days.max() + 1, 14.0)


def test_small_calibration_nulls_and_coverage():
    """200 subjects per design (the bench runs 1,000; ~7-15 s here). Nulls with a lingering day-to-day state:
    the false-positive rate of each test must stay under 0.06 + 2 MC SEs (0.094); at a level
    change of 1 SD the CIs must cover the truth in >= 0.94 - 2 MC SEs (0.906)."""
    n = 200
    fp = {"level": 0, "slope": 0, "window": 0}
    cover = {"level": 0, "slope": 0, "window": 0}
    for i in range(n):
        for kind, level in (("null", 0.0), ("change", 1.0)):
            s = _series([11, i, int(level)], nuisance="ou", level=level, event_day=EVENT)
            weeks = (s.t_days // 7).astype(int)
            fit = segmented_fit(s.t_days, s.y, weeks, [s.event_day])
            w = window_difference(s.t_days, s.y, s.event_day, 14.0, errors=fit)
            tests = {"level": (fit["events"][0]["level"], level),
                     "slope": (fit["events"][0]["slope"], 0.0),
                     "window": (w, s.window_truth(14.0))}
            for name, (t, truth) in tests.items():
                if kind == "null":
                    fp[name] += t["p"] < 0.05
                else:
                    cover[name] += t["ci"][0] <= truth <= t["ci"][1]
    bar_fp = 0.06 + 2 * math.sqrt(0.06 * 0.94 / n)
    bar_cov = 0.94 - 2 * math.sqrt(0.94 * 0.06 / n)
    assert all(v / n <= bar_fp for v in fp.values()), fp
    assert all(v / n >= bar_cov for v in cover.values()), cover


def _frame(series_by_metric, subject="k01"):
    rows = []
    for (metric, channel), s in series_by_metric.items():
        for i, (t, y) in enumerate(zip(s.t_days, s.y, strict=True)):
            rows.append({"subject": subject, "session_id": f"{subject}-{i:03d}",
                         "start_time": START + pd.Timedelta(days=float(t)), "clean_fraction": 1.0,
                         "metric": metric, "channel": channel, "value": float(y),
                         "block": "session"})
    return pd.DataFrame(rows)


def _events(*rows, subject="k01"):
    return pd.DataFrame([{"event_id": i + 1, "subject": subject, "time": START + pd.Timedelta(days=d),
                          "kind": k, "quantity": np.nan, "unit": None, "text": t}
                         for i, (d, k, t) in enumerate(rows)])


def test_event_changes_on_the_frame_primary_holm_and_words():
    big = _series(21, weeks=10, per_week=(4, 5), level=4.0, nuisance="iid", event_day=35.4,
                  base=0.25, sd=0.02)
    rng = np.random.default_rng(21)  # the same schedule for the null series
    null = simulate_event_series(rng, weeks=10, per_week=(4, 5), event_day=35.4, base=10.0, sd=0.2)
    frame = _frame({("relative_alpha", "posterior"): big})
    frame2 = _frame({("iaf", "mean"): null})
    frame2["session_id"] = frame2["session_id"] + "x"
    frame = pd.concat([frame, frame2], ignore_index=True)
    ev = _events((35.4, "ketamine", "infusion <b>1</b>"), (2.0, "note", "not analysed"))
    res = {r["metric"]: r for r in event_changes(frame, ev)}
    a = res["relative_alpha"]
    assert a["family"] == "primary" and res["iaf"]["family"] == "secondary"
    (e,) = a["events"]  # the note is context, not analysed
    assert e["kind"] == "ketamine" and e["level"]["change"] == "rose"
    assert e["level"]["ci"][0] < 0.08 < e["level"]["ci"][1]
    assert e["window"]["change"] == "rose" and e["window"]["p_adjusted"] == e["window"]["p"]
    text = event_statement(a, 0)
    assert text.startswith("Around the ketamine event of 2026-02-09, relative_alpha (posterior) rose by")
    assert "percentage points at the event (95% CI" in text and "so the two agree" in text
    assert "not evidence of what caused it" in text
    iaf = res["iaf"]["events"][0]
    for test in ("level", "slope", "window"):  # the only secondary series: a family of one
        assert iaf[test]["family_size"] == 1 and iaf[test]["p_adjusted"] == iaf[test]["p"]
        assert iaf[test]["change"] in ("rose", "fell", "no clear change")
    assert "p = " in event_statement(res["iaf"], 0) or "p < " in event_statement(res["iaf"], 0)


def test_close_events_are_merged_and_thin_segments_left_out_with_a_reason():
    s = _series(31, weeks=8, per_week=(3, 4), event_day=EVENT)
    frame = _frame({("relative_alpha", "posterior"): s})
    ev = _events((EVENT, "ketamine", "1"), (EVENT + 3, "ketamine", "2"), (EVENT + 7, "ketamine", "3"),
                 (54.5, "therapy", "too late"))
    (r,) = event_changes(frame, ev)
    (e,) = r["events"]
    assert e["event_id"] == 1 and [m["event_id"] for m in e["merged"]] == [2, 3]
    (left,) = r["left_out"]
    assert left["event_id"] == 4 and left["reason"].startswith("not enough data:")
    assert "after it" in left["reason"]
    # several events far enough apart: one level and slope term each
    ev2 = _events((21.4, "ketamine", "1"), (42.4, "ketamine", "2"))
    s2 = _series(32, weeks=9, per_week=(3, 5), event_day=21.4)
    (r2,) = event_changes(_frame({("relative_alpha", "posterior"): s2}), ev2)
    assert [e["event_id"] for e in r2["events"]] == [1, 2]
    assert len(r2["fit"]["coef"]) == 2 + 2 * 2
    # no room for a fit: not enough data with a reason, never an exception
    few = _series(33, weeks=3, per_week=(1, 1), event_day=14.4)
    (r3,) = event_changes(_frame({("relative_alpha", "posterior"): few}), _events((14.4, "therapy", "")))
    assert r3["events"] == [] and r3["left_out"][0]["reason"].startswith("not enough data")
    # only context events (a note), or none: nothing analysed, no error
    for only in (_events((10.0, "note", "x")), _events()):
        (r4,) = event_changes(frame, only)
        assert r4["events"] == [] and r4["left_out"] == []
    with pytest.raises(ConfigError, match="window_weeks"):
        event_changes(frame, ev, window_weeks=0)


def test_practice_covariate_is_recovered():
    """A covariate effect of 0.05 per minute/day (0.5 per 10 min/day) is found with its CI."""
    rng = np.random.default_rng(41)
    s = simulate_event_series(rng, weeks=10, per_week=(4, 5), event_day=35.4)
    days = pd.date_range(START, periods=70, freq="D")
    minutes = pd.Series(rng.choice([0.0, 10.0, 20.0, 40.0], size=70), index=days)
    practice = pd.DataFrame({"date": days.tz_localize(None), "minutes": minutes.to_numpy()})
    times = pd.Series(START + pd.to_timedelta(s.t_days, unit="D"))
    cov = practice_covariate(times, practice)
    day = times.dt.floor("D")
    by_hand = [minutes[(minutes.index > d - pd.Timedelta(days=7)) & (minutes.index <= d)].sum() / 7
               for d in day]
    assert np.allclose(cov, by_hand)
    s_y = s.y + 0.05 * cov
    frame = _frame({("relative_alpha", "posterior"): EventSeries(s.t_days, s_y, s.mean, s.event_day,
                                                                 0.0, 0.0, 0.0)})
    (r,) = event_changes(frame, _events((35.4, "practice-change", "")), practice=practice)
    lo, hi = r["practice"]["ci"]
    assert lo < 0.5 < hi and r["practice"]["estimate"] > 0


def test_demo_subject_truth_is_covered():
    sim = simulate_event_subject()
    rows = []
    for s in sim["sessions"]:
        m = s["metrics"].assign(subject=sim["subject"], session_id=s["session"],
                                start_time=pd.Timestamp(s["fields"]["start_time"]),
                                clean_fraction=1.0)
        rows.append(m)
    frame = pd.concat(rows, ignore_index=True)
    ev = pd.DataFrame([{"event_id": 1, "subject": sim["subject"], **sim["event"]}])
    res = {(r["metric"], r["channel"]): r for r in event_changes(frame, ev)}
    for key, truth in sim["truth"].items():
        metric, channel = key.split(":")
        lv = res[(metric, channel)]["events"][0]["level"]
        assert lv["ci"][0] <= truth["level"] <= lv["ci"][1], (key, lv)
    assert res[("relative_alpha", "posterior")]["events"][0]["level"]["change"] == "rose"
