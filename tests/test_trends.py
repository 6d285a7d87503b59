"""Statistics of change: hand-computed weekly CIs, slopes, effect sizes, MDC, ISO weeks, limits."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from neurofeedback.trends import (
    compute_trends,
    default_block,
    hedges_g,
    trend_slope,
    weekly_aggregates,
)

MONDAY = pd.Timestamp("2026-01-05 09:00", tz="UTC")  # ISO 2026-W02, a Monday


def _frame(times, values, *, clean=None, metric="iaf", channel="mean", subject="s1"):
    times = [pd.Timestamp(t) if not isinstance(t, pd.Timestamp) else t for t in times]
    times = [t.tz_localize("UTC") if t.tzinfo is None else t for t in times]
    n = len(values)
    return pd.DataFrame({
        "subject": subject,
        "session_id": [f"{subject}-{i:03d}" for i in range(n)],
        "start_time": pd.to_datetime(times, utc=True),
        "clean_fraction": np.ones(n) if clean is None else np.asarray(clean, float),
        "metric": metric,
        "channel": channel,
        "value": np.asarray(values, float),
    })


def _weekly_times(n_weeks, days=(0, 3), start=MONDAY):
    return [start + pd.Timedelta(weeks=w, days=d) for w in range(n_weeks) for d in days]


def _one(frame, **kw):
    (res,) = compute_trends(frame, **kw)
    json.dumps(res, allow_nan=False)  # every result must be strict JSON
    return res


def test_perfectly_linear_series_gives_its_slope_with_zero_width_ci():
    times = _weekly_times(6, days=(0, 2, 5))
    t = np.array([(x - times[0]).total_seconds() / (7 * 86400) for x in times])
    res = _one(_frame(times, 3.0 + 0.25 * t))
    assert res["slope_per_week"] == pytest.approx(0.25, abs=1e-12)
    lo, hi = res["slope_ci"]
    assert hi - lo < 1e-9 and lo <= 0.25 + 1e-9 and hi >= 0.25 - 1e-9
    assert res["status"] == "ok" and res["reasons"] == []
    assert res["n_sessions"] == 18 and res["n_weeks"] == 6


def test_weekly_mean_and_ci_equal_a_hand_t_interval():
    times = [MONDAY, MONDAY + pd.Timedelta(days=2), MONDAY + pd.Timedelta(days=6),
             MONDAY + pd.Timedelta(days=8)]
    res = _one(_frame(times, [1.0, 2.0, 4.0, 7.0], clean=[0.9, 0.8, 0.7, 1.0]))
    w1, w2 = res["weeks"]
    assert (w1["week"], w1["n"], w2["week"], w2["n"]) == ("2026-W02", 3, "2026-W03", 1)
    # hand: mean 7/3, sd = sqrt(((1-7/3)^2 + (2-7/3)^2 + (4-7/3)^2) / 2) = sqrt(7/3)
    sd = math.sqrt(7.0 / 3.0)
    half = 4.302652729749464 * sd / math.sqrt(3)  # t_0.975(2) from tables
    assert w1["mean"] == pytest.approx(7.0 / 3.0)
    assert w1["sd"] == pytest.approx(sd)
    assert w1["ci_low"] == pytest.approx(7.0 / 3.0 - half)
    assert w1["ci_high"] == pytest.approx(7.0 / 3.0 + half)
    assert w1["clean_coverage"] == pytest.approx(0.8)
    # a single session gets the pooled SD's interval too (the only within-week df is week 1's)
    assert w2["mean"] == 7.0 and w2["sd"] is None
    assert w2["ci_high"] - w2["mean"] == pytest.approx(4.302652729749464 * sd)


def test_weekly_ci_uses_the_pooled_sd_so_a_two_session_week_does_not_dominate():
    # 4 weeks of 5 sessions with SD 1 and one week of 2: the 2-session week gets
    # t(df pooled) * sp / sqrt(2), not its own t(1) * s / sqrt(2) (12.7 times its SD)
    rng = np.random.default_rng(3)
    times = _weekly_times(4, days=(0, 1, 2, 3, 4)) + [MONDAY + pd.Timedelta(weeks=4, days=d)
                                                      for d in (0, 3)]
    y = rng.normal(10.0, 1.0, len(times))
    w = weekly_aggregates(_frame(times, y))
    labels = np.repeat(np.arange(5), [5, 5, 5, 5, 2])
    dof = int(sum(n - 1 for n in (5, 5, 5, 5, 2)))
    sp = math.sqrt(sum(np.var(y[labels == k], ddof=1) * (np.sum(labels == k) - 1)
                       for k in range(5)) / dof)
    half = stats.t.ppf(0.975, dof) * sp / math.sqrt(2)
    assert w["ci_high"].iloc[-1] - w["mean"].iloc[-1] == pytest.approx(half)
    own = stats.t.ppf(0.975, 1) * np.std(y[-2:], ddof=1) / math.sqrt(2)
    assert w["sd"].iloc[-1] == pytest.approx(np.std(y[-2:], ddof=1))
    assert own > 0 and half != pytest.approx(own)


def test_powers_are_analysed_on_log10_and_reported_in_percent():
    # absolute alpha grows 10 % a week with multiplicative noise: the slope is +10 %/week,
    # weekly means are geometric, and no interval reaches 0 even with 2 sessions a week
    rng = np.random.default_rng(11)
    times = _weekly_times(8, days=(0, 3))
    t = np.array([(x - times[0]).total_seconds() / (7 * 86400) for x in times])
    y = 50.0 * 1.10 ** t * 10 ** rng.normal(0.0, 0.05, t.size)
    res = _one(_frame(times, y, metric="absolute_alpha"))
    assert (res["scale"], res["unit"], res["change_unit"]) == ("log10", "uV^2", "%")
    assert res["slope_per_week"] == pytest.approx(
        100 * (10 ** res["slope_analysis_per_week"] - 1))
    lo, hi = res["slope_ci"]
    assert lo < 10.0 < hi and lo > 0  # the truth is inside; the rise is clear
    assert res["change"] == "rose"
    for wk, k in zip(res["weeks"], range(8), strict=True):
        pair = y[2 * k:2 * k + 2]
        assert wk["mean"] == pytest.approx(math.sqrt(pair[0] * pair[1]))  # geometric mean
        assert wk["ci_low"] > 0
    bc = res["baseline_change"]
    ratio = math.sqrt(y[-2] * y[-1]) / math.sqrt(y[0] * y[1])
    assert bc["difference"] == pytest.approx(100 * (ratio - 1))
    # a power of 0 cannot be logged: left out and said
    y0 = y.copy()
    y0[3] = 0.0
    res0 = _one(_frame(times, y0, metric="absolute_alpha"))
    assert res0["n_sessions"] == y.size - 1
    assert "1 session with a power <= 0 left out" in res0["reasons"][0]
    # relative powers, ratios, IAF, FAA and the exponent stay linear
    for m in ("relative_alpha", "ratio_alpha_theta", "faa", "aperiodic_exponent", "log10_alpha"):
        assert _one(_frame(times, np.abs(y) / 1000, metric=m))["scale"] == "linear"


def test_iso_weeks_across_the_year_boundary_and_sunday_vs_monday():
    times = [
        pd.Timestamp("2026-12-28 08:00", tz="UTC"),  # Monday, 2026-W53
        pd.Timestamp("2026-12-31 20:00", tz="UTC"),  # Thursday, 2026-W53
        pd.Timestamp("2027-01-03 23:30", tz="UTC"),  # Sunday, still 2026-W53
        pd.Timestamp("2027-01-04 00:30", tz="UTC"),  # Monday, 2027-W01
    ]
    res = _one(_frame(times, [1.0, 2.0, 3.0, 10.0]))
    assert [(w["week"], w["n"]) for w in res["weeks"]] == [("2026-W53", 3), ("2027-W01", 1)]
    # in Berlin (UTC+1) the Sunday 23:30 UTC session is already Monday 00:30 of 2027-W01
    res = _one(_frame(times, [1.0, 2.0, 3.0, 10.0]), tz="Europe/Berlin")
    assert [(w["week"], w["n"]) for w in res["weeks"]] == [("2026-W53", 2), ("2027-W01", 2)]
    assert res["weeks"][1]["mean"] == pytest.approx(6.5)


def test_weekly_aggregates_table_is_in_time_order():
    times = [pd.Timestamp("2027-01-05", tz="UTC"), pd.Timestamp("2026-12-29", tz="UTC")]
    weeks = weekly_aggregates(pd.DataFrame({"start_time": times, "value": [2.0, 1.0]}))
    assert list(weeks["week"]) == ["2026-W53", "2027-W01"]
    assert list(weeks["mean"]) == [1.0, 2.0]
    assert weeks["ci_low"].isna().all()


def test_quality_floor_excludes_and_counts():
    times = _weekly_times(4)
    values = np.arange(8.0)
    clean = [1.0, 0.2, 0.9, 0.9, 0.49, 0.5, np.nan, 1.0]
    res = _one(_frame(times, values, clean=clean), quality_floor=0.5)
    assert res["excluded_sessions"] == 3  # 0.2, 0.49 and the unknown coverage
    assert res["excluded_session_ids"] == ["s1-001", "s1-004", "s1-006"]
    assert res["quality_floor"] == 0.5
    assert res["n_sessions"] == 5
    assert [w["n"] for w in res["weeks"]] == [1, 2, 1, 1]
    assert res["weeks"][1]["clean_coverage"] == pytest.approx(0.9)
    # floor 0 keeps the numeric ones
    assert _one(_frame(times, values, clean=clean), quality_floor=0.0)["excluded_sessions"] == 1


def test_not_enough_data_is_none_with_a_reason():
    res = _one(_frame(_weekly_times(1), [1.0, 2.0]))
    assert res["slope_per_week"] is None and res["slope_ci"] == [None, None]
    assert res["slope_reason"].startswith("not enough data: 2 sessions in 1 week")
    bc = res["baseline_change"]
    assert bc["effect_size"] is None and bc["ci"] == [None, None]
    assert bc["reason"].startswith("not enough data: 1 week")
    assert res["mdc"] is not None  # one week with two sessions is enough for the SEM
    assert res["status"] == "partial"

    res = _one(_frame(_weekly_times(3, days=(0,)), [1.0, 2.0, 3.0]))
    assert res["mdc"] is None and "no week with 2 or more sessions" in res["mdc_reason"]
    assert res["baseline_change"]["difference"] == 2.0  # shown, but no effect size with n=1
    assert res["baseline_change"]["effect_size"] is None
    assert res["slope_per_week"] is None  # 3 sessions < 5

    res = _one(_frame(_weekly_times(2), [1.0, 2.0, 3.0, 4.0], clean=[0.1] * 4))
    assert res["status"] == "not enough data" and res["n_sessions"] == 0
    assert res["weeks"] == [] and res["excluded_sessions"] == 4
    assert res["reasons"][0].startswith("not enough data: no session")


def test_one_wild_outlier_neither_flips_the_slope_nor_blows_up_its_ci():
    rng = np.random.default_rng(7)
    times = _weekly_times(8, days=(0, 3))
    t = np.array([(x - times[0]).total_seconds() / (7 * 86400) for x in times])
    clean_y = 10.0 + 0.3 * t + rng.normal(0.0, 0.5, t.size)
    dirty_y = clean_y.copy()
    dirty_y[1] += 60.0  # one session with an artifact nobody caught, early on

    ref = stats.linregress(t, clean_y)
    ols = stats.linregress(t, dirty_y)
    assert ols.slope < 0  # plain OLS is dragged to the wrong sign
    crit = stats.t.ppf(0.975, t.size - 2)

    clean_res = _one(_frame(times, clean_y))
    res = _one(_frame(times, dirty_y))
    assert res["slope_per_week"] > 0
    assert res["slope_per_week"] == pytest.approx(ref.slope, abs=0.1)
    assert res["slope_winsorised"] >= 1
    width = res["slope_ci"][1] - res["slope_ci"][0]
    clean_width = clean_res["slope_ci"][1] - clean_res["slope_ci"][0]
    assert width < 1.5 * clean_width
    assert width < 0.25 * (2 * crit * ols.stderr)
    assert res["slope_ci"][0] <= 0.3 <= res["slope_ci"][1]


def test_trend_slope_is_ols_with_week_df_when_reml_picks_independence():
    # alternating residuals: the REML profile prefers independence; the fit is then OLS
    # (statsmodels' GLS with an identity covariance) with t(n_weeks - 2), not t(n - 2)
    t_days = np.array([0, 2, 7, 9, 14, 16, 21, 23, 28, 30], float)
    y = 2.0 + 0.5 * t_days / 7 + np.array([1, -1, -1, 1, 1, -1, -1, 1, 1, -1]) * 0.3
    weeks = (t_days // 7).astype(int)
    fit = trend_slope(t_days, y, weeks)
    assert (fit["rho_per_day"], fit["state_share"], fit["winsorised"]) == (0.0, 0.0, 0)
    ref = stats.linregress(t_days / 7, y)
    assert fit["slope"] == pytest.approx(ref.slope, rel=1e-12)
    assert fit["intercept"] == pytest.approx(ref.intercept, rel=1e-12)
    assert fit["se"] == pytest.approx(ref.stderr, rel=1e-10)
    assert fit["df"] == 3  # 5 weeks
    assert fit["ci"][1] - fit["slope"] == pytest.approx(stats.t.ppf(0.975, 3) * ref.stderr)
    assert fit["p"] == pytest.approx(2 * stats.t.sf(abs(ref.slope) / ref.stderr, 3))


def test_trend_slope_finds_a_lingering_state_and_matches_statsmodels_gls():
    from statsmodels.regression.linear_model import GLS

    # a slow day-to-day state (rho 0.8/day) dominates: REML must leave independence, and the
    # estimate must be statsmodels' GLS with the chosen correlation matrix
    rng = np.random.default_rng(5)
    t_days = np.sort(rng.choice(56, size=11, replace=False)).astype(float) + 0.4  # < 12: no winsorising
    state = np.empty(t_days.size)
    state[0] = rng.normal()
    for i in range(1, t_days.size):
        a = 0.8 ** (t_days[i] - t_days[i - 1])
        state[i] = a * state[i - 1] + math.sqrt(1 - a * a) * rng.normal()
    y = 3 * state + rng.normal(0, 0.3, t_days.size)
    fit = trend_slope(t_days, y, (t_days // 7).astype(int))
    assert fit["winsorised"] == 0
    assert fit["rho_per_day"] >= 0.6 and fit["state_share"] >= 0.75
    lag = np.abs(t_days[:, None] - t_days[None, :])
    R = fit["state_share"] * fit["rho_per_day"] ** lag
    np.fill_diagonal(R, 1.0)
    X = np.column_stack([np.ones(t_days.size), t_days / 7])
    ref = GLS(y, X, sigma=R).fit()
    assert fit["slope"] == pytest.approx(ref.params[1], rel=1e-9)
    assert fit["se"] == pytest.approx(ref.bse[1], rel=1e-9)
    assert fit["df"] == np.unique(t_days // 7).size - 2


# ---------------------------------------------------------------------------------------------
# the O(n) REML grid and GLS against the dense computation and statsmodels


def _dense_reml(X, y, R):
    """The dense REML profile the library used before the O(n) path (main at 3863745,
    ``trends._reml_profile``): Cholesky of the n × n R, O(n³)."""
    n, p = X.shape
    try:
        L = np.linalg.cholesky(R)
    except np.linalg.LinAlgError:
        return -np.inf
    Xs = np.linalg.solve(L, X)
    ys = np.linalg.solve(L, y)
    xtx = Xs.T @ Xs
    beta = np.linalg.solve(xtx, Xs.T @ ys)
    r = ys - Xs @ beta
    s2 = float(r @ r) / (n - p)
    if s2 <= 0:
        return -np.inf
    return -0.5 * ((n - p) * math.log(s2) + 2.0 * float(np.log(np.diag(L)).sum())
                   + float(np.linalg.slogdet(xtx)[1]))


def _irregular_design(seed, n, *, ties=0, near_tie=False, segmented=False):
    """Sessions at random times over 3-40 weeks (unsorted), a slow state, white noise."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, rng.uniform(21, 280), n)
    for k in range(ties):  # sessions recorded at exactly the same time
        t[2 * k + 1] = t[2 * k]
    if near_tie:  # two sessions 1 s apart
        t[-1] = t[-2] + 1 / 86400
    order = np.argsort(t)
    state = np.empty(n)
    state[order[0]] = rng.normal()
    for a, b in zip(order[:-1], order[1:], strict=True):
        phi = 0.8 ** (t[b] - t[a])
        state[b] = phi * state[a] + math.sqrt(1 - phi * phi) * rng.normal()
    tw = t / 7
    cols = [np.ones(n), tw - tw.mean()]
    if segmented:  # a level and a slope change, as event_change fits
        e = np.median(tw)
        cols += [(tw >= e).astype(float), (tw - e) * (tw >= e)]
    X = np.column_stack(cols)
    y = 10 + 0.05 * tw + rng.uniform(0.2, 2) * state + rng.normal(0, 0.5, n)
    return t, X, y


@pytest.mark.parametrize("seed, n, kw", [
    (1, 5, {}), (2, 9, {"ties": 1}), (3, 16, {}), (4, 30, {"near_tie": True}),
    (5, 47, {"ties": 2, "segmented": True}), (6, 80, {"segmented": True}),
    (7, 120, {"ties": 1, "near_tie": True}), (8, 300, {}),
])
def test_car1_gls_equals_the_dense_reml_and_statsmodels_gls(seed, n, kw):
    """Every REML value of the grid equals the dense Cholesky computation, the chosen (ρ, w) is
    the dense argmax, and β and its SEs are statsmodels' GLS with the dense R (to 1e-8)."""
    from statsmodels.regression.linear_model import GLS

    from neurofeedback.trends import _GRID, _car1_correlations, _car1_gls

    t, X, y = _irregular_design(seed, n, **kw)
    fit = _car1_gls(X, y, t, values=True)
    dense = np.array([_dense_reml(X, y, R) for _, _, R in _car1_correlations(t)])
    tied = np.unique(t).size < t.size
    for (rho, w), fast, ref in zip(_GRID, fit["values"], dense, strict=True):
        if tied and w == 1.0:
            # R = C is singular: no likelihood. The dense Cholesky fails, or succeeds on a
            # rounding-sized pivot and returns a meaningless number; the O(n) path says -inf.
            assert fast == -np.inf
            continue
        assert np.isfinite(fast)
        assert fast == pytest.approx(ref, rel=1e-8, abs=1e-8), (rho, w)
    if tied:
        dense[[i for i, (_, w) in enumerate(_GRID) if w == 1.0]] = -np.inf
    best = int(np.argmax(dense))
    assert (fit["rho"], fit["share"]) == _GRID[best]
    assert fit["reml"] == pytest.approx(dense[best], rel=1e-8)
    R = next(R for rho, w, R in _car1_correlations(t) if (rho, w) == _GRID[best])
    ref = GLS(y, X, sigma=R).fit()
    assert fit["beta"] == pytest.approx(ref.params, rel=1e-8, abs=1e-10)
    assert np.sqrt(fit["s2"] * np.diag(fit["xtx_inv"])) == pytest.approx(ref.bse, rel=1e-8)
    assert fit["s2"] == pytest.approx(ref.scale, rel=1e-8)


def test_car1_gls_does_not_depend_on_the_order_of_the_sessions():
    from neurofeedback.trends import _car1_gls

    t, X, y = _irregular_design(11, 40, ties=1)
    a = _car1_gls(X, y, t, values=True)
    order = np.argsort(t)
    b = _car1_gls(X[order], y[order], t[order], values=True)
    assert np.allclose(a["values"], b["values"], rtol=1e-12, atol=0)
    assert (a["rho"], a["share"]) == (b["rho"], b["share"])
    assert a["beta"] == pytest.approx(b["beta"], rel=1e-12)


def test_trend_slope_equals_the_dense_path_it_replaces():
    """``trend_slope`` against what it computed before the O(n) path: the dense REML grid and
    statsmodels' GLS on the same winsorised values (300 sessions over 40 weeks and smaller)."""
    from statsmodels.regression.linear_model import GLS

    from neurofeedback.trends import WINSOR_K, _car1_correlations, _winsorise

    for seed, n in ((21, 300), (22, 40), (23, 12)):
        t, _, y = _irregular_design(seed, n)
        t -= t.min()
        weeks = (t // 7).astype(int)
        fit = trend_slope(t, y, weeks)
        tw = t / 7
        yw, n_out = _winsorise(tw, y, WINSOR_K)
        X = np.column_stack([np.ones(n), tw - tw.mean()])
        rho, w, R = max(_car1_correlations(t), key=lambda c: _dense_reml(X, yw, c[2]))
        ref = GLS(yw, X, sigma=R).fit()
        assert (fit["rho_per_day"], fit["state_share"], fit["winsorised"]) == (rho, w, n_out)
        assert fit["slope"] == pytest.approx(ref.params[1], rel=1e-8)
        assert fit["se"] == pytest.approx(ref.bse[1], rel=1e-8)
        assert fit["intercept"] == pytest.approx(ref.params[0] - ref.params[1] * tw.mean(),
                                                 rel=1e-8)


def test_trend_slope_needs_three_weeks():
    with pytest.raises(ValueError, match="3 distinct weeks"):
        trend_slope([0, 1, 8, 9], [1, 2, 3, 4], [0, 0, 1, 1])


def test_hedges_g_and_its_exact_ci():
    a = np.array([10.0, 12.0, 11.0, 13.0])
    b = np.array([14.0, 15.0, 13.0, 16.0, 17.0])
    g = hedges_g(a, b)
    sp = math.sqrt((3 * np.var(a, ddof=1) + 4 * np.var(b, ddof=1)) / 7)
    d = (b.mean() - a.mean()) / sp
    assert g["pooled_sd"] == pytest.approx(sp)
    assert g["effect_size"] == pytest.approx(d * (1 - 3 / (4 * 7 - 1)))
    # the CI bounds put the observed t at the 97.5th / 2.5th centiles of the noncentral t
    scale = math.sqrt(1 / 4 + 1 / 5)
    lo, hi = g["ci"]
    assert stats.nct.cdf(d / scale, 7, lo / scale) == pytest.approx(0.975, abs=1e-8)
    assert stats.nct.cdf(d / scale, 7, hi / scale) == pytest.approx(0.025, abs=1e-8)
    assert lo < g["effect_size"] < hi
    welch = stats.ttest_ind(b, a, equal_var=False)
    ci = welch.confidence_interval(0.95)
    assert g["difference_ci"] == pytest.approx((ci.low, ci.high))


def test_baseline_change_uses_first_and_last_weeks():
    times = _weekly_times(4, days=(0, 2))
    values = [1.0, 2.0, 5.0, 6.0, 7.0, 8.0, 3.0, 5.0]
    res = _one(_frame(times, values))
    bc = res["baseline_change"]
    assert bc["baseline_weeks"] == ["2026-W02"] and bc["latest_weeks"] == ["2026-W05"]
    assert (bc["n_baseline"], bc["n_latest"]) == (2, 2)
    assert bc["difference"] == pytest.approx(4.0 - 1.5)
    ref = hedges_g([1.0, 2.0], [3.0, 5.0])
    assert bc["effect_size"] == pytest.approx(ref["effect_size"])
    bc2 = _one(_frame(times, values), baseline_weeks=2, latest_weeks=2)["baseline_change"]
    assert bc2["baseline_weeks"] == ["2026-W02", "2026-W03"] and bc2["n_latest"] == 4
    assert bc2["difference"] == pytest.approx(np.mean(values[4:]) - np.mean(values[:4]))
    assert _one(_frame(times, values), baseline_weeks=3, latest_weeks=2)["baseline_change"][
        "reason"].startswith("not enough data: 4 weeks")


def test_mdc_from_pooled_within_week_sd():
    times = _weekly_times(2, days=(0, 1)) + [MONDAY + pd.Timedelta(days=9)]
    values = [1.0, 3.0, 2.0, 2.0, 5.0]  # week 1: [1, 3]; week 2: [2, 2, 5]
    res = _one(_frame(times, values))
    pooled_var = (1 * 2.0 + 2 * 3.0) / 3  # variances 2 and 3 with 1 and 2 df
    assert res["sem"] == pytest.approx(math.sqrt(pooled_var))
    assert res["sem_df"] == 3
    t3 = 3.182446305284263  # t_0.975(3)
    assert res["mdc"] == pytest.approx(t3 * math.sqrt(2 * pooled_var))
    lo, hi = res["mdc_ci"]  # chi-square interval of the SEM, 3 df
    assert lo == pytest.approx(t3 * math.sqrt(2 * 3 * pooled_var / stats.chi2.ppf(0.975, 3)))
    assert hi == pytest.approx(t3 * math.sqrt(2 * 3 * pooled_var / stats.chi2.ppf(0.025, 3)))
    # the MDC of the baseline -> latest difference of two means (2 and 3 sessions)
    bc = res["baseline_change"]
    assert bc["mdc_difference"] == pytest.approx(t3 * math.sqrt(pooled_var * (1 / 2 + 1 / 3)))
    assert bc["beyond_mdc"] is (abs(bc["difference"]) > bc["mdc_difference"])


def test_groups_by_subject_metric_channel_and_filters():
    times = _weekly_times(3)
    frame = pd.concat([
        _frame(times, np.arange(6.0) + 1, subject="a", metric="absolute_alpha"),
        _frame(times, np.arange(6.0), subject="b", metric="faa", channel="F4/F3"),
        _frame(times, np.arange(6.0), subject="a", metric="iaf", channel="O1"),
    ], ignore_index=True)
    res = compute_trends(frame)
    assert [(r["subject"], r["metric"], r["channel"], r["unit"]) for r in res] == [
        ("a", "absolute_alpha", "mean", "uV^2"), ("a", "iaf", "O1", "Hz"),
        ("b", "faa", "F4/F3", "ln ratio")]
    assert len(compute_trends(frame, subject="a", metrics=["iaf"])) == 1
    assert compute_trends(frame, channels="F4/F3")[0]["metric"] == "faa"
    json.dumps(res, allow_nan=False)


def test_invalid_arguments_have_mne_style_messages():
    frame = _frame(_weekly_times(2), np.arange(4.0))
    with pytest.raises(ValueError, match="Invalid value for the 'metrics' parameter. Allowed"):
        compute_trends(frame, metrics="alpha")
    with pytest.raises(ValueError, match="'quality_floor'.*between 0 and 1"):
        compute_trends(frame, quality_floor=1.5)
    with pytest.raises(ValueError, match="'baseline_weeks'"):
        compute_trends(frame, baseline_weeks=0)
    with pytest.raises(ValueError, match="'tz'"):
        compute_trends(frame, tz="Mars/Olympus")
    with pytest.raises(ValueError, match="value missing"):
        compute_trends(frame.drop(columns="value"))
    naive = frame.assign(start_time=frame["start_time"].dt.tz_localize(None))
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_trends(naive)
    with pytest.raises(ValueError, match="more than once"):
        compute_trends(pd.concat([frame, frame.iloc[:1]]))
    with pytest.raises(TypeError, match="'frame'"):
        compute_trends(frame.to_dict())


def _family_frame(rng, slopes: dict, *, n_weeks=8, days=(0, 2, 4), block=None):
    times = _weekly_times(n_weeks, days=days)
    t = np.array([(x - times[0]).total_seconds() / (7 * 86400) for x in times])
    parts = []
    for (metric, channel), b in slopes.items():
        parts.append(_frame(times, 0.5 + b * t + rng.normal(0, 0.02, t.size), metric=metric,
                            channel=channel))
    frame = pd.concat(parts, ignore_index=True)
    if block is not None:
        frame["block"] = block
    return frame


def test_primary_is_tested_alone_and_the_rest_adjusted_by_holm():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(2)
    slopes = {("relative_alpha", "mean"): 0.01, ("relative_alpha", "posterior"): 0.0,
              ("relative_theta", "mean"): -0.02, ("iaf", "mean"): 0.0,
              ("aperiodic_exponent", "mean"): 0.004, ("faa", "F4/F3"): 0.0}
    res = compute_trends(_family_frame(rng, slopes))
    by = {(r["metric"], r["channel"]): r for r in res}
    primary = by[("relative_alpha", "posterior")]  # posterior before mean
    assert (primary["family"], primary["family_size"]) == ("primary", 1)
    assert primary["slope_p_adjusted"] == primary["slope_p"]
    others = [r for r in res if r is not primary]
    assert all(r["family"] == "secondary" and r["family_size"] == 5 for r in others)
    ref = multipletests([r["slope_p"] for r in others], method="holm")[1]
    assert [r["slope_p_adjusted"] for r in others] == pytest.approx(list(ref))
    for r in res:
        assert r["change"] in ("rose", "fell", "no clear change")
        clear = r["slope_p_adjusted"] < 0.05
        assert (r["change"] != "no clear change") == clear
        if clear:
            assert r["change"] == ("rose" if r["slope_per_week"] > 0 else "fell")
    assert by[("relative_theta", "mean")]["change"] == "fell"
    assert by[("relative_alpha", "mean")]["change"] == "rose"
    # an explicit primary, a BH family, or no primary at all
    res2 = compute_trends(_family_frame(np.random.default_rng(2), slopes), primary="iaf:mean",
                          adjustment="fdr_bh")
    assert [r["family"] for r in res2 if r["metric"] == "iaf"] == ["primary"]
    assert {r["adjustment"] for r in res2} == {"none (primary)", "fdr_bh"}
    res3 = compute_trends(_family_frame(np.random.default_rng(2), slopes), primary=None)
    assert {r["family_size"] for r in res3} == {6}
    # a series without a slope is "not enough data" and is not in the family
    short = _frame(_weekly_times(2), [0.1, 0.2, 0.3, 0.4], metric="relative_beta")
    res4 = compute_trends(pd.concat([_family_frame(np.random.default_rng(2), slopes), short]))
    beta = next(r for r in res4 if r["metric"] == "relative_beta")
    assert (beta["change"], beta["slope_p_adjusted"]) == ("not enough data", None)
    assert {r["family_size"] for r in res4 if r["family"] == "secondary"} == {5}


def test_blocks_are_separate_analyses_and_the_main_block_is_the_default():
    rng = np.random.default_rng(4)
    slopes = {("relative_alpha", "mean"): 0.01}
    frame = pd.concat([
        _family_frame(rng, slopes, block="session"),
        _family_frame(rng, slopes, block="eyes-closed"),
        _family_frame(rng, slopes, block="meditation"),
    ], ignore_index=True)
    frame["session_id"] = frame["session_id"]  # same sessions, three blocks each
    res = compute_trends(frame)
    assert [r["block"] for r in res] == ["eyes-closed", "meditation", "session"]
    assert all(r["family"] == "primary" for r in res)  # one analysis per block
    assert default_block(frame) == "meditation"
    assert default_block(frame[frame["block"] != "meditation"]) == "session"
    assert default_block(frame.drop(columns="block")) == "session"
    (med,) = compute_trends(frame, block="meditation")
    assert med["block"] == "meditation"
    # a frame without a block column is the whole session (the documented input contract)
    assert compute_trends(frame[frame["block"] == "session"].drop(columns="block"))[0][
        "block"] == "session"
    with pytest.raises(ValueError, match="Invalid value for the 'block' parameter. Allowed"):
        compute_trends(frame, block="breathing")


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/Los_Angeles", "Pacific/Kiritimati", None])
def test_iso_week_labels_are_pandas_isocalendar(tz):
    """``_iso_week`` (NumPy) gives pandas' ``dt.isocalendar()`` labels: 20,000 random times over
    1990-2040 and every 5 h across two year ends whose ISO weeks straddle them (2020/21: 53
    weeks; 2026/27), in several zones and naive."""
    from neurofeedback.trends import _iso_week

    rng = np.random.default_rng(0)
    lo, hi = pd.Timestamp("1990-01-01").value, pd.Timestamp("2040-01-01").value
    times = pd.to_datetime(rng.integers(lo, hi, 20_000), utc=True).append(
        pd.date_range("2020-12-24", "2021-01-11", freq="5h", tz="UTC")).append(
        pd.date_range("2026-12-24", "2027-01-06", freq="5h", tz="UTC"))
    ts = pd.Series(times, index=np.arange(len(times)) * 3)
    ts = ts.dt.tz_convert(tz) if tz else ts.dt.tz_localize(None)
    iso = ts.dt.isocalendar()
    want = iso["year"].astype(str) + "-W" + iso["week"].astype(int).map("{:02d}".format)
    got = _iso_week(ts)
    assert got.index.equals(ts.index)
    assert (got.to_numpy() == want.to_numpy()).all()
    assert "2020-W53" in set(got)
