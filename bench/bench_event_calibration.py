"""Calibration of the change-around-an-event tests (issue 18): level change, slope change and
window difference, on simulated subjects with known truth.

Each design simulates one subject's sessions (:func:`neurofeedback.simulate.simulate_event_series`:
the schedule and the nuisance of the trend study, ``bench/bench_trend_calibration.py``) around
one event (two in the "2 events" designs) and analyses them with the library's core,
:func:`neurofeedback.event_change.segmented_fit` and :func:`~neurofeedback.event_change.window_difference`
(what :func:`~neurofeedback.event_change.event_changes` calls on the catalog's frame, the window
with the error model of the whole series' segmented fit; ISO weeks = weeks since the first
Monday here). Per design and test it counts:

* the false-positive rate (p < 0.05 when the test's truth is 0) and
* the coverage of the 95 % CI (the truth inside: the level change, the slope change, and for the
  window the expected difference of the window means on the subject's own sessions),
* the power (p < 0.05) where the truth is not 0,

each with its Monte Carlo SE √(p(1 − p)/n), and the share of subjects with not enough data
(counted as no claim and left out of the coverage). Bars of issue 18: false-positive rate
≤ 0.06 and coverage ≥ 0.94 (bold where missed).

    PYTHONPATH=. nice -n 10 python bench/bench_event_calibration.py [--subjects 1000] [--workers 2]

It prints a Markdown table (for docs/statistics.md) and writes
``bench/results/event_calibration.json``.
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

from neurofeedback.event_change import segmented_fit, window_difference
from neurofeedback.simulate import simulate_event_series

EVENT = 28.0 + 10.0 / 24.0  # Monday of week 5 (weeks 0-3 before it), 10:00
W_DAYS = 14.0
#: name: (weeks, sessions per week, nuisance, event days, level, slope change, slope)
DESIGNS = {
    # nulls: no change at the event
    "null, 8 wk, independent": (8, (2, 5), "iid", (EVENT,), 0.0, 0.0, 0.0),
    "null, 8 wk, lingering state (OU 3 d)": (8, (2, 5), "ou", (EVENT,), 0.0, 0.0, 0.0),
    "null, 8 wk, week effect SD 0.5": (8, (2, 5), "week", (EVENT,), 0.0, 0.0, 0.0),
    "null, 8 wk, 5% outliers +6 SD": (8, (2, 5), "outliers", (EVENT,), 0.0, 0.0, 0.0),
    "null, 8 wk, heavy tails t3": (8, (2, 5), "t3", (EVENT,), 0.0, 0.0, 0.0),
    "null, 6 wk x 1-2 sessions": (6, (1, 2), "iid", (21.0 + 10 / 24,), 0.0, 0.0, 0.0),
    "null, trend 0.15/wk under way": (8, (2, 5), "ou", (EVENT,), 0.0, 0.0, 0.15),
    "null, 2 events (wk 3, wk 6), OU": (9, (2, 5), "ou", (21.4, 42.4), 0.0, 0.0, 0.0),
    # changes: coverage and power
    "level +1 SD, independent": (8, (2, 5), "iid", (EVENT,), 1.0, 0.0, 0.0),
    "level +1 SD, OU": (8, (2, 5), "ou", (EVENT,), 1.0, 0.0, 0.0),
    "level +2 SD, OU": (8, (2, 5), "ou", (EVENT,), 2.0, 0.0, 0.0),
    "slope +0.5 SD/wk, OU": (8, (2, 5), "ou", (EVENT,), 0.0, 0.5, 0.0),
    "level +1, slope -0.3 (fades), week effect": (8, (2, 5), "week", (EVENT,), 1.0, -0.3, 0.0),
    "level +2 SD, 12 wk (event wk 6), OU": (12, (2, 5), "ou", (42.0 + 10 / 24,), 2.0, 0.0, 0.0),
    "level +2 SD, 6 wk x 1-2 sessions": (6, (1, 2), "iid", (21.0 + 10 / 24,), 2.0, 0.0, 0.0),
    "level +1 SD, 5% outliers": (8, (2, 5), "outliers", (EVENT,), 1.0, 0.0, 0.0),
}
TESTS = ("level", "slope", "window")
BAR_FPR, BAR_COVERAGE = 0.06, 0.94
# per subject and test: estimate, low, high, p, truth
N_FIELDS = 5


def one_subject(rng, design) -> np.ndarray:
    weeks, per_week, nuisance, events, level, dslope, slope = design
    # one series; for 2 events the change (if any) is at each event
    s = simulate_event_series(rng, weeks=weeks, per_week=per_week, nuisance=nuisance,
                              event_day=events[0], level=level, slope_change=dslope, slope=slope)
    out = np.full((len(TESTS), N_FIELDS), np.nan)
    labels = (s.t_days // 7).astype(int)
    seg = segmented_fit(s.t_days, s.y, labels, list(events))
    e0 = seg["events"][0]
    for j, (name, truth) in enumerate((("level", level), ("slope", dslope))):
        f = e0[name]
        out[j] = (f["estimate"], f["ci"][0], f["ci"][1], f["p"], truth)
    try:
        w = window_difference(s.t_days, s.y, events[0], W_DAYS, errors=seg)
        out[2] = (w["estimate"], w["ci"][0], w["ci"][1], w["p"], s.window_truth(W_DAYS))
    except ValueError:
        out[2, 4] = s.window_truth(W_DAYS)
    return out


def run_chunk(task):
    seed, name, i0, i1 = task
    design = DESIGNS[name]
    res = np.full((i1 - i0, len(TESTS), N_FIELDS), np.nan)
    errors, warns = Counter(), Counter()
    for i in range(i0, i1):
        rng = np.random.default_rng(np.random.SeedSequence([seed, list(DESIGNS).index(name), i]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res[i - i0] = one_subject(rng, design)
            except Exception as exc:  # noqa: BLE001 (counted and printed, never hidden)
                errors[(type(exc).__name__, str(exc)[:120])] += 1
        for w in caught:
            warns[(w.category.__name__, str(w.message)[:120])] += 1
    return name, i0, res, errors, warns


def rate(hits: np.ndarray) -> dict:
    n = int(hits.size)
    p = float(hits.mean()) if n else float("nan")
    return {"p": p, "se": math.sqrt(p * (1 - p) / n) if n else float("nan"), "n": n}


def summarise(arr: np.ndarray) -> dict:
    out = {}
    for j, test in enumerate(TESTS):
        est, lo, hi, p, truth = arr[:, j].T
        ok = np.isfinite(p)
        claim = np.where(ok, p < 0.05, False)
        t = {"analysable": rate(ok), "claim": rate(claim)}
        fin = ok & np.isfinite(truth)
        t["coverage"] = rate((lo[fin] <= truth[fin]) & (truth[fin] <= hi[fin]))
        t["truth_mean"] = float(np.nanmean(truth))
        t["bias"] = float(np.nanmean(est[fin] - truth[fin])) if fin.any() else float("nan")
        t["null"] = bool(np.all(truth[np.isfinite(truth)] == 0.0))
        out[test] = t
    return out


def cell(r: dict, bad: bool) -> str:
    text = f"{r['p']:.3f} ± {r['se']:.3f}"
    return f"**{text}**" if bad else text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=50)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "event_calibration.json"))
    args = ap.parse_args(argv)
    n = args.subjects
    tasks = [(args.seed, name, i0, min(i0 + args.chunk, n)) for name in DESIGNS
             for i0 in range(0, n, args.chunk)]
    t0 = time.perf_counter()
    parts = {name: {} for name in DESIGNS}
    errors, warns = Counter(), Counter()
    with Pool(args.workers) as pool:
        for done, (name, i0, res, e, w) in enumerate(pool.imap_unordered(run_chunk, tasks), 1):
            parts[name][i0] = res
            errors.update({(name,) + k: v for k, v in e.items()})
            warns.update({(name,) + k: v for k, v in w.items()})
            if done % max(1, len(tasks) // 10) == 0:
                print(f"  {done}/{len(tasks)} tasks, {time.perf_counter() - t0:.0f} s", flush=True)
    wall = time.perf_counter() - t0
    summary = {name: summarise(np.concatenate([parts[name][i] for i in sorted(parts[name])]))
               for name in DESIGNS}
    misses = []
    lines = [f"{n} simulated subjects per design; seed {args.seed}; ± = Monte Carlo SE; window "
             f"W = {W_DAYS / 7:g} weeks; wall {wall:.0f} s with {args.workers} workers.", "",
             "| design | test | truth (mean) | analysable | p < 0.05 (FPR or power) | CI coverage |",
             "|---|---|---|---|---|---|"]
    for name, s in summary.items():
        for test in TESTS:
            t = s[test]
            fpr_bad = t["null"] and t["claim"]["p"] > BAR_FPR
            cov_bad = t["coverage"]["p"] < BAR_COVERAGE
            if fpr_bad:
                misses.append((name, test, "false-positive rate", t["claim"]))
            if cov_bad:
                misses.append((name, test, "coverage", t["coverage"]))
            what = ("FPR " if t["null"] else "power ") + cell(t["claim"], fpr_bad)
            lines.append(f"| {name} | {test} | {t['truth_mean']:+.2f} | {t['analysable']['p']:.3f} "
                         f"| {what} | {cell(t['coverage'], cov_bad)} |")
    print("\n".join(lines))
    if errors:
        print("\nerrors:", *[f"  {k}: {v}" for k, v in errors.most_common(20)], sep="\n")
    if warns:
        print("\nwarnings:", *[f"  {k}: {v}" for k, v in warns.most_common(10)], sep="\n")
    print("\nbars missed:" if misses else "\nall bars met", *[f"  {m}" for m in misses], sep="\n")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"subjects": n, "seed": args.seed, "window_days": W_DAYS,
                               "wall_s": wall, "designs": {k: list(map(str, v)) for k, v in DESIGNS.items()},
                               "summary": summary, "errors": {" | ".join(k): v for k, v in errors.items()},
                               "misses": [list(map(str, m)) for m in misses]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
