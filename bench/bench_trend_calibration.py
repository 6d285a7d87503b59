"""Calibration of candidate slope-per-week methods on simulated subjects (groundwork for issue 14).

One subject's sessions are simulated with a known true slope (in SD units per week) plus a
nuisance that is independent, heavy-tailed, outlier-contaminated, or correlated between sessions
(a lingering day-to-day state, a shared week effect). Each candidate method estimates the slope
with a 95 % interval and a two-sided p-value; we count how often the interval covers the truth,
how often it excludes 0 at a true slope of 0 (a false "rose/fell"), the power at 0.15 and
0.30 SD/week, and, for 8 independent null series per subject (sharing the subject's session
times; 500 subjects by default), the share of subjects with any claim, uncorrected and with Holm
across the 8 (each method's own p-value).

Methods:

* ``compute_trends``: the library's estimator before issue 14 (Huber M-estimate on sessions,
  HC3 sandwich, t(n - 2)), which this study was made to replace; since issue 14 it runs from its
  verbatim copy in ``bench/_previous_trend.py`` (the library now fits the method chosen here,
  validated in ``bench/bench_trend_validation.py``), so the tables in ``docs/statistics.md``
  stay reproducible;
* ``ols_weekly``: OLS of the weekly means on the weeks' mean session time, t(n_weeks - 2);
* ``mixedlm_week_t`` / ``mixedlm_week_z``: statsmodels MixedLM (REML) with a random intercept
  per ISO week, sessions within weeks; Wald interval with t(n_weeks - 2) or normal quantiles
  (one fit, two intervals);
* ``gls_car1``: statsmodels GLS with continuous-time AR(1) errors, corr = rho ** |days apart|,
  rho per day chosen by the REML profile likelihood on a grid; t(n - 2) interval;
* ``gls_car1_nugget``: the same plus a white-noise share (corr = w * rho ** |days| for distinct
  sessions), (rho, w) on a grid by REML; t(n - 2) interval;
* ``rlm_weekly_median``: statsmodels RLM (Huber) on weekly medians, t(n_weeks - 2) interval.

    PYTHONPATH=. .venv/bin/python bench/bench_trend_calibration.py [--subjects 1000] [--family-subjects 500] \
        [--workers 2]

It prints a markdown table (with Monte Carlo standard errors sqrt(p (1 - p) / n)), the fit
failures and warnings per method, and writes ``bench/results/trend_calibration.json``.
Needs statsmodels (a dependency of the library since issue 14).
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

# the study's session schedule and nuisance: the product's simulator (one copy, which the event
# and cohort simulations use too); bench_trend_validation.py imports them from here
from neurofeedback.simulate._events import simulate_nuisance, simulate_schedule

N_FAMILY = 8
START = pd.Timestamp("2026-01-05", tz="UTC")  # a Monday: weeks since start = ISO weeks
SCENARIOS = {
    # name: (weeks, sessions per week (lo, hi), nuisance)
    "independent": (8, (2, 5), "iid"),
    "heavy-tailed t3": (8, (2, 5), "t3"),
    "5% outliers +6 SD": (8, (2, 5), "outliers"),
    "OU state tau=3 d + noise": (8, (2, 5), "ou"),
    "week effect SD 0.5 + noise": (8, (2, 5), "week"),
    "3 weeks x 2 sessions": (3, (2, 2), "iid"),
    "5 weeks x 1 session": (5, (1, 1), "iid"),
}
KINDS = {"null": 0.0, "null family": 0.0, "slope 0.15": 0.15, "slope 0.30": 0.30}
METHODS = ["compute_trends", "ols_weekly", "mixedlm_week_t", "mixedlm_week_z", "gls_car1",
           "gls_car1_nugget", "rlm_weekly_median"]
RHO_GRID = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95])
W_GRID = np.array([0.25, 0.5, 0.75, 1.0])


# ---------------------------------------------------------------------------------------------
# simulator




# ---------------------------------------------------------------------------------------------
# methods: each returns (estimate, ci_low, ci_high, p) for one series


def _t_fit(est, se, df):
    if not (np.isfinite(est) and np.isfinite(se) and se > 0 and df >= 1):
        raise FloatingPointError(f"degenerate fit (se={se}, df={df})")
    c = stats.t.ppf(0.975, df)
    return est, est - c * se, est + c * se, float(2 * stats.t.sf(abs(est) / se, df))


def _weekly(t_days, y, fn):
    wk = (t_days // 7).astype(int)
    u = np.unique(wk)
    tw = np.array([t_days[wk == k].mean() for k in u]) / 7.0
    yw = np.array([fn(y[wk == k]) for k in u])
    return tw, yw


def fit_ols_weekly(t_days, y):
    tw, yw = _weekly(t_days, y, np.mean)
    r = stats.linregress(tw, yw)
    return _t_fit(r.slope, r.stderr, tw.size - 2)


def fit_mixedlm(t_days, y, sm):
    wk = (t_days // 7).astype(int)
    X = np.column_stack([np.ones(y.size), t_days / 7.0])
    res = sm.MixedLM(y, X, groups=wk).fit(reml=True, method=["powell", "lbfgs"])
    if not res.converged:
        raise RuntimeError("MixedLM did not converge")
    est, se = float(res.fe_params[1]), float(res.bse_fe[1])
    out_t = _t_fit(est, se, np.unique(wk).size - 2)
    z = stats.norm.ppf(0.975)
    out_z = (est, est - z * se, est + z * se, float(2 * stats.norm.sf(abs(est) / se)))
    return out_t, out_z


def _reml_best(X, y, corrs):
    """Index of the correlation matrix (stack, shape (K, n, n)) with the highest REML profile."""
    n, p = X.shape
    L = np.linalg.cholesky(corrs)
    Xs = np.linalg.solve(L, np.broadcast_to(X, (len(corrs), n, p)))
    ys = np.linalg.solve(L, np.broadcast_to(y[:, None], (len(corrs), n, 1)))[..., 0]
    XtX = np.einsum("kip,kiq->kpq", Xs, Xs)
    Xty = np.einsum("kip,ki->kp", Xs, ys)
    beta = np.linalg.solve(XtX, Xty[..., None])[..., 0]
    r = ys - np.einsum("kip,kp->ki", Xs, beta)
    s2 = np.einsum("ki,ki->k", r, r) / (n - p)
    logdet_r = 2 * np.log(np.abs(np.einsum("kii->ki", L))).sum(axis=1)
    logdet_x = np.linalg.slogdet(XtX)[1]
    ll = -0.5 * ((n - p) * np.log(s2) + logdet_r + logdet_x)
    return int(np.nanargmax(ll))


def fit_gls_car1(t_days, y, sm, nugget: bool):
    n = y.size
    X = np.column_stack([np.ones(n), t_days / 7.0])
    lag = np.abs(t_days[:, None] - t_days[None, :])
    eye = np.eye(n)
    grid = [(r, w) for r in RHO_GRID for w in (W_GRID if nugget else [1.0]) if not (r == 0 and w < 1)]
    corrs = np.stack([w * r**lag + (1 - w) * eye if r > 0 else eye for r, w in grid])
    k = _reml_best(X, y, corrs)
    res = sm.GLS(y, X, sigma=corrs[k]).fit()
    return _t_fit(float(res.params[1]), float(res.bse[1]), n - 2), grid[k]


def fit_rlm_weekly_median(t_days, y, sm):
    tw, yw = _weekly(t_days, y, np.median)
    X = np.column_stack([np.ones(tw.size), tw])
    res = sm.RLM(yw, X, M=sm.robust.norms.HuberT()).fit()
    return _t_fit(float(res.params[1]), float(res.bse[1]), tw.size - 2)


def fit_compute_trends(t_days, ys):
    """The pre-issue-14 estimator on each series in ``ys`` (shape (m, n)), as that library ran it."""
    from _previous_trend import previous_slope

    st = pd.to_datetime(START + pd.to_timedelta(t_days, unit="D"), utc=True)
    out = []
    for y in ys:
        fit = previous_slope(st, y)
        out.append(None if fit is None else (fit["slope"], fit["ci"][0], fit["ci"][1], fit["p"]))
    return out


# ---------------------------------------------------------------------------------------------
# one chunk of subjects


def run_chunk(task):
    import statsmodels.api as sm

    seed, sc_name, kind, i0, i1 = task
    weeks, per_week, nuisance = SCENARIOS[sc_name]
    slope = KINDS[kind]
    m = N_FAMILY if kind == "null family" else 1
    sc_idx = list(SCENARIOS).index(sc_name)
    kind_idx = list(KINDS).index(kind)
    res = {meth: np.full((i1 - i0, m, 4), np.nan) for meth in METHODS}
    fails = Counter()
    warns = Counter()
    rho_chosen = Counter()
    seconds = Counter()

    def guarded(meth, fn):
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 (a failed fit is counted and reported, never hidden)
                fails[(meth, type(exc).__name__)] += 1
                return None
            finally:
                for w in caught:
                    warns[(meth, w.category.__name__)] += 1
                seconds[meth] += time.perf_counter() - t0

    for s, i in enumerate(range(i0, i1)):
        rng = np.random.default_rng([seed, sc_idx, kind_idx, i])
        t_days = simulate_schedule(rng, weeks, per_week)
        ys = np.stack([slope * t_days / 7.0 + simulate_nuisance(rng, t_days, nuisance) for _ in range(m)])
        ct = guarded("compute_trends", lambda: fit_compute_trends(t_days, ys))  # noqa: B023
        for j in range(m):
            y = ys[j]
            if ct is not None:
                if ct[j] is None:
                    fails[("compute_trends", "slope None")] += 1
                else:
                    res["compute_trends"][s, j] = ct[j]
            out = guarded("ols_weekly", lambda: fit_ols_weekly(t_days, y))  # noqa: B023
            if out is not None:
                res["ols_weekly"][s, j] = out
            out = guarded("mixedlm_week", lambda: fit_mixedlm(t_days, y, sm))  # noqa: B023
            if out is not None:
                res["mixedlm_week_t"][s, j], res["mixedlm_week_z"][s, j] = out
            for meth, nug in (("gls_car1", False), ("gls_car1_nugget", True)):
                out = guarded(meth, lambda: fit_gls_car1(t_days, y, sm, nug))  # noqa: B023
                if out is not None:
                    res[meth][s, j] = out[0]
                    rho_chosen[(meth, f"rho={out[1][0]:g},w={out[1][1]:g}")] += 1
            out = guarded("rlm_weekly_median", lambda: fit_rlm_weekly_median(t_days, y, sm))  # noqa: B023
            if out is not None:
                res["rlm_weekly_median"][s, j] = out
    return sc_name, kind, i0, res, fails, warns, rho_chosen, seconds


# ---------------------------------------------------------------------------------------------
# summaries


def _rate(hits: np.ndarray) -> dict:
    n = int(hits.size)
    p = float(hits.mean()) if n else float("nan")
    return {"p": p, "mc_se": math.sqrt(p * (1 - p) / n) if n else float("nan"), "n": n}


def summarise(arr: np.ndarray, truth: float) -> dict:
    """``arr`` shape (subjects, series, 4): est, lo, hi, p (NaN where the fit failed)."""
    flat = arr.reshape(-1, 4)
    ok = np.isfinite(flat).all(axis=1)
    f = flat[ok]
    out = {
        "n_series": int(flat.shape[0]), "n_failed": int((~ok).sum()),
        "coverage": _rate((f[:, 1] <= truth) & (truth <= f[:, 2])),
        "excludes_0": _rate((f[:, 1] > 0) | (f[:, 2] < 0)),
        "mean_ci_width": float(np.mean(f[:, 2] - f[:, 1])) if len(f) else float("nan"),
        "median_ci_width": float(np.median(f[:, 2] - f[:, 1])) if len(f) else float("nan"),
        "mean_estimate": float(np.mean(f[:, 0])) if len(f) else float("nan"),
    }
    first = arr[:, 0, :]
    ok1 = np.isfinite(first).all(axis=1)
    out["coverage_first_series"] = _rate((first[ok1, 1] <= truth) & (truth <= first[ok1, 2]))
    if arr.shape[1] > 1:
        p = np.where(np.isfinite(arr[:, :, 3]), arr[:, :, 3], 1.0)  # a failed fit makes no claim
        excl = ((arr[:, :, 1] > 0) | (arr[:, :, 2] < 0)) & np.isfinite(arr).all(axis=2)
        # Holm rejects something iff its first step does: min p <= alpha / m. (Same answer as
        # statsmodels' multipletests(method="holm")[0].any(), which costs ~30 ms a call here.)
        holm = p.min(axis=1) <= 0.05 / p.shape[1]
        out["family_any_claim"] = _rate(excl.any(axis=1))
        out["family_any_claim_holm"] = _rate(holm)
    return out


def fmt(r: dict) -> str:
    return f"{r['p']:.3f} ± {r['mc_se']:.3f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subjects", type=int, default=1000, help="subjects per scenario and slope")
    ap.add_argument("--family-subjects", type=int, default=500,
                    help=f"subjects with {N_FAMILY} independent null series each (family-wise claims)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=50)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), help="subset of scenario names")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "trend_calibration.json"))
    args = ap.parse_args(argv)

    n_of = {kind: args.family_subjects if kind == "null family" else args.subjects for kind in KINDS}
    tasks = [(args.seed, sc, kind, i0, min(i0 + args.chunk, n_of[kind]))
             for sc in args.scenarios for kind in KINDS for i0 in range(0, n_of[kind], args.chunk)]
    t_start = time.time()
    results = {sc: {kind: {} for kind in KINDS} for sc in args.scenarios}
    fails, warns, rho_chosen, seconds = Counter(), Counter(), Counter(), Counter()
    with Pool(args.workers) as pool:
        for done, (sc, kind, i0, res, f, w, rc, sec) in enumerate(pool.imap_unordered(run_chunk, tasks), 1):
            results[sc][kind][i0] = res
            fails.update({(sc,) + k: v for k, v in f.items()})
            warns.update({(sc,) + k: v for k, v in w.items()})
            rho_chosen.update({(sc,) + k: v for k, v in rc.items()})
            seconds.update(sec)
            if done % 10 == 0 or done == len(tasks):
                print(f"  {done}/{len(tasks)} chunks, {time.time() - t_start:.0f} s", flush=True)
    runtime = time.time() - t_start

    summary = {}
    for sc in args.scenarios:
        summary[sc] = {}
        for meth in METHODS:
            summary[sc][meth] = {}
            for kind, truth in KINDS.items():
                arr = np.concatenate([results[sc][kind][i0][meth] for i0 in sorted(results[sc][kind])])
                summary[sc][meth][kind] = summarise(arr, truth)

    print(f"\n{args.subjects} subjects per scenario and slope (one series each: coverage, FPR, power); "
          f"{args.family_subjects} more null subjects with {N_FAMILY} independent series each (any claim); "
          f"± = Monte Carlo SE sqrt(p(1-p)/n); runtime {runtime:.0f} s with {args.workers} workers\n")
    for sc in args.scenarios:
        print(f"### {sc}\n")
        print("| method | coverage (slope 0) | false rose/fell (slope 0) | power 0.15 SD/wk | power 0.30 SD/wk "
              "| any claim of 8 | any claim of 8, Holm | median CI width | failed fits |")
        print("|---|---|---|---|---|---|---|---|---|")
        for meth in METHODS:
            s = summary[sc][meth]
            nul, fam = s["null"], s["null family"]
            nfail = sum(s[k]["n_failed"] for k in KINDS)
            ntot = sum(s[k]["n_series"] for k in KINDS)
            print(f"| {meth} | {fmt(nul['coverage'])} | {fmt(nul['excludes_0'])} "
                  f"| {fmt(s['slope 0.15']['excludes_0'])} | {fmt(s['slope 0.30']['excludes_0'])} "
                  f"| {fmt(fam['family_any_claim'])} | {fmt(fam['family_any_claim_holm'])} "
                  f"| {nul['median_ci_width']:.3f} | {nfail}/{ntot} |")
        print()
    print("Fit failures (scenario, method, reason: count):")
    for k, v in sorted(fails.items()):
        print(f"  {k}: {v}")
    print("Warnings raised during fits (scenario, method, category: count):")
    for k, v in sorted(warns.items()):
        print(f"  {k}: {v}")
    print("CPU seconds per method (all scenarios):")
    for k, v in sorted(seconds.items()):
        print(f"  {k}: {v:.0f}")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "subjects": args.subjects, "family_subjects": args.family_subjects,
        "family_size": N_FAMILY, "seed": args.seed, "workers": args.workers,
        "runtime_s": runtime, "scenarios": {k: SCENARIOS[k] for k in args.scenarios},
        "summary": summary,
        "failures": [list(k) + [v] for k, v in sorted(fails.items())],
        "warnings": [list(k) + [v] for k, v in sorted(warns.items())],
        "gls_grid_choice": [list(k) + [v] for k, v in sorted(rho_chosen.items())],
        "cpu_seconds": dict(seconds),
    }, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
