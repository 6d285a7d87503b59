"""Calibration of the cohort trends (issue 18, item 3): group slope and group difference.

Each dataset is a simulated study (:func:`neurofeedback.simulate.simulate_cohort_series`): two
groups (``course``, ``waitlist``) of subjects with random intercepts (SD 1) and random slopes
(SD 0.1 SD/week) around the group's true slope, sessions 2–5 a week on distinct days, in SD
units of the session noise. Every dataset is analysed the way the product does it:
``neurofeedback.cohort.subject_weeks`` (quality floor, winsorising, subject-week means) and
``neurofeedback.cohort.fit_cohort`` (statsmodels MixedLM, random intercept and slope per
subject, t(n_subjects − n_groups)):

* the group slope: the course group alone (``--group course``), t(n − 1);
* the difference: both groups in one model (``--group course --vs waitlist``), t(n − 2).

For each scenario it reports the rate at which the 95 % CI excludes 0 (the false-positive rate
under the null, the power otherwise) and the coverage of the truth, each with its Monte Carlo SE
√(p(1 − p)/n), for the chosen intervals and for MixedLM's own Wald z intervals (same fits), and
for an independent reference on the same data: the two-stage summary-statistics estimate (OLS
slope per subject on its week means, then a one- or two-sample t test of the slopes). Warm
starts: each fit starts from the previous dataset's estimate of the same model (the optimum is
the same; only the number of iterations changes); a fit that fails warm is retried cold by the
library itself.

    nice -n 10 env PYTHONPATH=. python bench/bench_cohort_calibration.py [--reps 1000] [--workers 2]

Prints Markdown tables and writes ``bench/results/cohort_calibration.json``.
"""
# ruff: noqa: E402

from __future__ import annotations

import os

# one BLAS thread per process: on a shared 2-core machine threaded BLAS in tiny matrices spends
# most of its time waiting (measured here: 3x slower per dataset)
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import math
import sys
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

import _fast_reml as fast
import numpy as np
import pandas as pd
from scipy import stats

from neurofeedback.cohort import event_anchored, fit_cohort, subject_weeks
from neurofeedback.simulate import simulate_cohort_series
from neurofeedback.simulate._cohort_series import _nuisance, _schedule
from neurofeedback.trends import WINSOR_K, _winsorise

#: name: (subjects per group, weeks, sessions per week, nuisance, course slope, waitlist slope,
#: share of --reps): the designs of the acceptance (2 x 12 x 8 weeks, null and 0.3 SD/week, and
#: correlated sessions) at the full count; the other unkind cases at 20 % of it (time: the
#: machine is shared by 6 engineers; their MC SE is quoted).
SCENARIOS = {
    "null, independent": (12, 8, (2, 5), "iid", 0.0, 0.0, 1.0),
    "null, OU tau=3 d": (12, 8, (2, 5), "ou", 0.0, 0.0, 1.0),
    "null, week effect SD 0.5": (12, 8, (2, 5), "week", 0.0, 0.0, 0.2),
    "diff 0.30, independent": (12, 8, (2, 5), "iid", 0.3, 0.0, 1.0),
    "diff 0.30, OU tau=3 d": (12, 8, (2, 5), "ou", 0.3, 0.0, 0.2),
    "null, 5% outliers +6 SD": (12, 8, (2, 5), "outliers", 0.0, 0.0, 0.2),
    "null, 6 subjects a group": (6, 8, (2, 5), "iid", 0.0, 0.0, 0.2),
    "null, 5 weeks x 1 session": (12, 5, (1, 1), "iid", 0.0, 0.0, 0.2),
    "diff 0.15, independent": (12, 8, (2, 5), "iid", 0.15, 0.0, 0.2),
    "diff 0.30, 20 subjects a group": (20, 8, (2, 5), "iid", 0.3, 0.0, 0.2),
}
#: The event-anchored null (statsmodels MixedLM itself, as the product): one event in week 4,
#: no level or slope change; share of --reps.
EVENT_SCENARIOS = {"event null, independent": (12, 8, (2, 5), "iid", 0.03)}
#: Datasets per worker and scenario also fitted with the product's statsmodels MixedLM
#: (``fit_cohort``), to show the fast REML equals it.
CHECK = 2
SLOPE_SD = 0.1
OUT = Path(__file__).parent / "results" / "cohort_calibration.json"
PARTS = OUT.with_suffix(".parts.jsonl")


def two_stage(means, order):
    """Per-subject OLS slopes on week means; one-sample (1 group) or pooled two-sample t."""
    slopes = {g: [] for g in order}
    for g, t, y in means:
        if g in slopes and np.unique(t).size >= 2:
            slopes[g].append(np.polyfit(t, y, 1)[0])
    a = np.array(slopes[order[0]])
    if len(order) == 1:
        est, se, df = a.mean(), a.std(ddof=1) / math.sqrt(a.size), a.size - 1
    else:
        b = np.array(slopes[order[1]])
        df = a.size + b.size - 2
        sp = math.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / df)
        est, se = a.mean() - b.mean(), sp * math.sqrt(1 / a.size + 1 / b.size)
    return est, se, df


def simulate_study(rng, n, weeks, per_week, nuis, b1, b2):
    """The model of ``simulate_cohort_series`` (same schedule and nuisance functions) as arrays:
    ``[(group, t_days since the subject's first Monday, y), ...]``."""
    out = []
    for g, beta in (("course", b1), ("waitlist", b2)):
        for _ in range(n):
            t = _schedule(rng, weeks, per_week)
            b = beta + rng.normal(0.0, SLOPE_SD)
            y = rng.normal(0.0, 1.0) + b * t / 7.0 + _nuisance(rng, t, nuis)
            out.append((g, t, y))
    return out


def week_means(t_days, y):
    """``subject_weeks`` without pandas: winsorise, then means per week since the first Monday
    (the ISO week: subjects start on Mondays), time in weeks since the first session."""
    tw = (t_days - t_days[0]) / 7.0
    yw, _ = _winsorise(tw, y, WINSOR_K)
    wk = np.floor(t_days / 7.0).astype(int)
    u, inv = np.unique(wk, return_inverse=True)
    cnt = np.bincount(inv)
    return np.bincount(inv, tw) / cnt, np.bincount(inv, yw) / cnt


def as_frame(study):
    """The study as the documented long frame (for the product's own path on check datasets)."""
    rows = []
    start = pd.Timestamp("2026-01-05", tz="UTC")
    for i, (_g, t, y) in enumerate(study):
        times = start + pd.to_timedelta(t, unit="D")
        rows += [{"subject": f"s{i:03d}", "session_id": f"s{i:03d}-{k}", "start_time": ts,
                  "clean_fraction": 1.0, "metric": "relative_alpha", "channel": "posterior",
                  "value": float(v), "block": "session"} for k, (ts, v) in enumerate(zip(times, y))]
    groups = {f"s{i:03d}": g for i, (g, _, _) in enumerate(study)}
    return pd.DataFrame(rows), groups


def _row(est, se, df, truth):
    c = stats.t.ppf(0.975, df) if df else stats.norm.ppf(0.975)
    return [est, se, float(abs(est) > c * se), float(abs(est - truth) <= c * se)]


def run_chunk(task):
    name, seeds, kind = task
    warnings.simplefilter("ignore")
    out, fails, fallbacks, boundary, checked, checks = [], 0, 0, 0, 0, []
    start = {"one": None, "two": None, "event": None}
    for seed in seeds:
        if kind == "event":
            n, weeks_n, per_week, nuis, _share = EVENT_SCENARIOS[name]
            frame, groups, ev, _ = simulate_cohort_series(
                int(seed), groups=(("course", n, 0.0),), weeks=weeks_n, per_week=per_week,
                nuisance=nuis, slope_sd=SLOPE_SD, event_week=4)
            r = event_anchored(frame, groups, ev, group="course", kind="therapy",
                               start_params=start["event"])
            if r["status"] != "ok":
                fails += 1
                continue
            start["event"] = r["params"]
            fallbacks += r["fallback"] is not None
            row = []
            for key in ("level_change", "slope_change"):
                b = r[key]
                row += _row(b["analysis_estimate"], b["se"], r["df"], 0.0)
            out.append(row)
            continue
        n, weeks_n, per_week, nuis, b1, b2, _share = SCENARIOS[name]
        study = simulate_study(np.random.default_rng(int(seed)), n, weeks_n, per_week, nuis, b1, b2)
        means = [(g, *week_means(t, y)) for g, t, y in study]
        s1 = fast.sufficient_arrays(means, ["course"])
        s2 = fast.sufficient_arrays(means, ["course", "waitlist"])
        b_1, cov1, start["one"] = fast.fit(s1, start["one"])
        b_2, cov2, start["two"] = fast.fit(s2, start["two"])
        df1, df2 = s1["m"] - 1, s2["m"] - 2
        c = np.array([0.0, 1.0, 0.0, -1.0])
        g = {"slope": b_1[1], "se": math.sqrt(cov1[1, 1])}
        d = {"estimate": c @ b_2, "se": math.sqrt(c @ cov2 @ c)}
        if checked < CHECK:  # the product's own path (subject_weeks, MixedLM) on the same data
            checked += 1
            frame, groups = as_frame(study)
            weeks, _q = subject_weeks(frame, metric="relative_alpha", channel="posterior")
            try:
                one = fit_cohort(weeks, groups, ["course"])
                two = fit_cohort(weeks, groups, ["course", "waitlist"])
            except Exception as exc:  # noqa: BLE001 (counted and shown, never the end of the run)
                print(f"{name}: fit_cohort raised {type(exc).__name__}: {exc}", file=sys.stderr)
                one = two = {"status": "error"}
            if one["status"] != "ok" or two["status"] != "ok":
                fails += 1
            else:
                fallbacks += (one["fallback"] is not None) + (two["fallback"] is not None)
                boundary += (one["boundary"] is not None) + (two["boundary"] is not None)
                sm_g, sm_d = one["groups"]["course"], two["difference"]
                crit1, crit2 = stats.t.ppf(0.975, df1), stats.t.ppf(0.975, df2)
                checks.append([abs(sm_g["slope"] - g["slope"]), abs(sm_g["se"] / g["se"] - 1),
                               abs(sm_d["estimate"] - d["estimate"]), abs(sm_d["se"] / d["se"] - 1),
                               float((abs(sm_g["slope"]) > crit1 * sm_g["se"])
                                     == (abs(g["slope"]) > crit1 * g["se"])),
                               float((abs(sm_d["estimate"]) > crit2 * sm_d["se"])
                                     == (abs(d["estimate"]) > crit2 * d["se"]))])
        row = _row(g["slope"], g["se"], df1, b1)
        row += _row(g["slope"], g["se"], 0, b1)  # Wald z (MixedLM's own)
        row += _row(d["estimate"], d["se"], df2, b1 - b2)
        row += _row(d["estimate"], d["se"], 0, b1 - b2)
        row += _row(*two_stage(means, ["course"]), b1)
        row += _row(*two_stage(means, ["course", "waitlist"]), b1 - b2)
        out.append(row)
    return name, kind, out, fails, fallbacks, boundary, checks


def _rate(x):
    p = float(np.mean(x))
    return p, math.sqrt(p * (1 - p) / len(x))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--only", default=None, help="run only scenarios whose name contains this")
    ap.add_argument("--share", type=float, default=None,
                    help="run every selected scenario at this share of --reps (default: its own)")
    ap.add_argument("--skip", type=int, default=0,
                    help="resume: skip this many chunks (those a stopped run had submitted)")
    ap.add_argument("--summarise", action="store_true",
                    help="only summarise the chunks a previous run wrote to bench/results")
    args = ap.parse_args(argv)
    t0, c0 = time.time(), time.process_time()
    tasks = []
    names = [(n, "cohort") for n in SCENARIOS] + [(n, "event") for n in EVENT_SCENARIOS]
    if args.only:
        names = [(n, k) for n, k in names if args.only in n]
    for i, (name, kind) in enumerate(names):
        share = (SCENARIOS[name][-1] if kind == "cohort" else EVENT_SCENARIOS[name][-1])
        share = args.share if args.share is not None else share
        seeds = np.random.SeedSequence([args.seed, i]).generate_state(int(round(share * args.reps)))
        for chunk in np.array_split(seeds, max(1, args.workers)):
            tasks.append((name, [int(s) for s in chunk], kind))
    # chunks of at most 50 datasets, each written to PARTS as it finishes (a run stopped early
    # still leaves its finished chunks; --summarise reads them)
    # round robin over the scenarios, so that a run stopped early has every scenario
    queues = [[(name, seeds[i:i + 50], kind) for i in range(0, len(seeds), 50)]
              for name, seeds, kind in tasks]
    small = [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)]
    parts = []
    if args.skip:  # resume a stopped run: its finished chunks stay in PARTS
        small = small[args.skip:]
        parts = [json.loads(line) for line in PARTS.read_text().splitlines() if line.strip()]
    if not args.summarise:
        PARTS.parent.mkdir(exist_ok=True)
        if not args.skip:
            PARTS.write_text("")
        with Pool(args.workers) as pool:
            for part in pool.imap_unordered(run_chunk, small, chunksize=1):
                parts.append(part)
                with PARTS.open("a") as fh:
                    fh.write(json.dumps(part) + "\n")
    else:
        parts = [json.loads(line) for line in PARTS.read_text().splitlines() if line.strip()]
    agg = {}
    all_checks = []
    for name, kind, rows, fails, fb, bd, checks in parts:
        a = agg.setdefault(name, {"kind": kind, "rows": [], "fails": 0, "fallbacks": 0, "boundary": 0})
        a["rows"] += rows
        all_checks += checks
        a["fails"] += fails
        a["fallbacks"] += fb
        a["boundary"] += bd
    results = {}
    print("| scenario | n | group slope: excl. 0 | coverage | Wald z excl. 0 | two-stage excl. 0 "
          "| difference: excl. 0 | coverage | Wald z excl. 0 | two-stage excl. 0 | fallbacks | failed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, a in agg.items():
        r = np.array(a["rows"])
        if a["kind"] == "event":
            res = {"n": len(r), "level_excl0": _rate(r[:, 2]), "level_cov": _rate(r[:, 3]),
                   "slope_excl0": _rate(r[:, 6]), "slope_cov": _rate(r[:, 7]),
                   "fallbacks": a["fallbacks"], "failed": a["fails"]}
            results[name] = res
            continue
        res = {"n": len(r),
               "slope_excl0": _rate(r[:, 2]), "slope_cov": _rate(r[:, 3]),
               "slope_z_excl0": _rate(r[:, 6]), "slope_z_cov": _rate(r[:, 7]),
               "diff_excl0": _rate(r[:, 10]), "diff_cov": _rate(r[:, 11]),
               "diff_z_excl0": _rate(r[:, 14]), "diff_z_cov": _rate(r[:, 15]),
               "ts_slope_excl0": _rate(r[:, 18]), "ts_diff_excl0": _rate(r[:, 22]),
               "ts_slope_cov": _rate(r[:, 19]), "ts_diff_cov": _rate(r[:, 23]),
               "max_abs_diff_vs_two_stage": float(np.max(np.abs(r[:, 8] - r[:, 20]))),
               "median_se_ratio_vs_two_stage": float(np.median(r[:, 9] / r[:, 21])),
               "fallbacks": a["fallbacks"], "boundary": a["boundary"], "failed": a["fails"]}
        results[name] = res
        def f(k, res=res):
            return f"{res[k][0]:.3f} ± {res[k][1]:.3f}"

        print(f"| {name} | {res['n']} | {f('slope_excl0')} | {f('slope_cov')} | {f('slope_z_excl0')} "
              f"| {f('ts_slope_excl0')} | {f('diff_excl0')} | {f('diff_cov')} | {f('diff_z_excl0')} "
              f"| {f('ts_diff_excl0')} | {res['fallbacks']} | {res['failed']} |")
    for name, res in results.items():
        if agg[name]["kind"] == "event":
            print(f"\n{name} (n = {res['n']}): level change excl. 0 {res['level_excl0'][0]:.3f} ± "
                  f"{res['level_excl0'][1]:.3f}, slope change excl. 0 {res['slope_excl0'][0]:.3f} ± "
                  f"{res['slope_excl0'][1]:.3f}; fallbacks {res['fallbacks']}, failed {res['failed']}")
    ch = np.array(all_checks)
    check = {}
    if ch.size:
        check = {"n_datasets": len(ch), "max_abs_slope_diff": float(ch[:, 0].max()),
                 "max_rel_slope_se_diff": float(ch[:, 1].max()),
                 "median_rel_slope_se_diff": float(np.median(ch[:, 1])),
                 "max_abs_difference_diff": float(ch[:, 2].max()),
                 "max_rel_difference_se_diff": float(ch[:, 3].max()),
                 "same_slope_decision": float(ch[:, 4].mean()),
                 "same_difference_decision": float(ch[:, 5].mean())}
        print(f"\nfast REML vs statsmodels MixedLM (fit_cohort) on the same {len(ch)} datasets: {check}")
    wall, cpu = time.time() - t0, time.process_time() - c0
    print(f"\nwall {wall:.0f} s, main-process CPU {cpu:.0f} s, {args.workers} workers, "
          f"seed {args.seed}, {os.cpu_count()} cores")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"reps": args.reps, "seed": args.seed, "wall_s": wall,
                               "results": results, "fast_vs_mixedlm": check}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
