"""Validation of the chosen slope method against the acceptance bars of issue 14.

The simulated subjects are those of ``bench/bench_trend_calibration.py`` (its ``SCENARIOS``,
``simulate_schedule`` and ``simulate_nuisance``, imported, not copied). Every subject is
analysed the way the product does it: one call of ``neurofeedback.trends.compute_trends`` on
the documented long frame (``subject, session_id, start_time`` tz-aware UTC from a Monday,
``clean_fraction`` = 1, ``metric``, ``channel`` = ``mean``, ``value``), with
``relative_alpha`` as the primary series and ``adjustment="holm"`` for the others. For each
scenario:

* 1,000 subjects at true slope 0, one series (the primary): coverage of ``slope_ci`` and the
  false-positive rate, the share whose ``change`` is ``rose`` or ``fell``;
* 1,000 subjects at 0.15 SD/week and 1,000 at 0.30 SD/week: power, the share whose ``change``
  is ``rose``, and coverage of the true slope;
* 1,000 subjects with 8 independent null series on the subject's sessions (the primary plus 7
  secondary metrics, one ``compute_trends`` call per subject): the share of subjects with any
  ``rose``/``fell``, and the same share uncorrected (any ``slope_p`` < 0.05) from the same fits.

The previous estimator of the library (Huber M-estimate on sessions, HC3 sandwich, t(n − 2);
``bench/_previous_trend.py``, a verbatim copy kept only as the reference) runs on the same
series, so its coverage, false-positive rate, power and family-wise claims sit beside the
chosen method's. Every rate has its Monte Carlo SE √(p(1 − p)/n); differences in power are
paired (same subjects) and their SE is that of the mean paired difference.

    PYTHONPATH=. python bench/bench_trend_validation.py [--subjects 1000] [--workers 2] [--seed 20261214]

It prints Markdown tables (bold where a bar of issue 14 is missed), the warnings and errors
raised by the fits, wall and CPU time, and writes ``bench/results/trend_validation.json``.
Needs statsmodels (the ``bench`` extra). The default seed differs from the calibration bench's
(20261130), whose subjects chose the method: these subjects are new to it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd
from _previous_trend import previous_slope
from bench_trend_calibration import N_FAMILY, SCENARIOS, START, simulate_nuisance, simulate_schedule

from neurofeedback.trends import analysis_scale, compute_trends

#: Subjects of each kind: true slope in SD units per week, and series per subject.
KINDS = {"null": (0.0, 1), "slope 0.15": (0.15, 1), "slope 0.30": (0.30, 1), "null family": (0.0, N_FAMILY)}
#: The primary series first, then the 7 secondary ones of the family (all on a linear scale).
METRICS = ("relative_alpha", "relative_theta", "ratio_alpha_theta", "iaf", "aperiodic_exponent", "faa",
           "relative_beta", "relative_delta")
PRIMARY = f"{METRICS[0]}:mean"
ALPHA = 0.05
#: Acceptance bars of issue 14.
BAR_COVERAGE = 0.94
BAR_FPR = 0.06
BAR_FAMILY = 0.10
CHOSEN, PREVIOUS = "chosen", "previous"
# per series: estimate, CI low, CI high, p, p adjusted (previous: = p), claim (+1 rose, -1 fell, 0 none)
FIELDS = ("est", "lo", "hi", "p", "p_adj", "claim")

assert len(METRICS) == N_FAMILY
assert all(analysis_scale(m) == "linear" for m in METRICS), "every metric of the study must be linear"


# ---------------------------------------------------------------------------------------------
# one subject


def long_frame(subject: str, start_time: pd.DatetimeIndex, ys: np.ndarray) -> pd.DataFrame:
    """The documented long frame of one subject: one row per (session, metric), channel mean."""
    m, n = ys.shape
    return pd.DataFrame({
        "subject": subject,
        "session_id": np.tile([f"{subject}-s{i:03d}" for i in range(n)], m),
        "start_time": np.tile(start_time, m),
        "clean_fraction": 1.0,
        "metric": np.repeat(METRICS[:m], n),
        "channel": "mean",
        "value": ys.ravel(),
    })


def fit_chosen(frame: pd.DataFrame, m: int) -> tuple[np.ndarray, int]:
    """``compute_trends`` as the product calls it; rows in the order of ``METRICS[:m]``."""
    out = np.full((m, len(FIELDS)), np.nan)
    winsorised = 0
    by_metric = {r["metric"]: r for r in compute_trends(frame, primary=PRIMARY, adjustment="holm")}
    for j, metric in enumerate(METRICS[:m]):
        r = by_metric[metric]
        assert r["family"] == ("primary" if j == 0 else "secondary"), (metric, r["family"])
        if r["change"] == "not enough data" or r["slope_ci"][0] is None:
            continue  # left NaN: counted as a failed fit
        claim = {"rose": 1.0, "fell": -1.0, "no clear change": 0.0}[r["change"]]
        out[j] = (r["slope_per_week"], r["slope_ci"][0], r["slope_ci"][1], r["slope_p"],
                  r["slope_p_adjusted"], claim)
        winsorised += int(r["slope_winsorised"] > 0)
    return out, winsorised


def fit_previous(start_time: pd.DatetimeIndex, ys: np.ndarray) -> np.ndarray:
    """The previous estimator on each series; the claim is its CI excluding 0 (p < 0.05)."""
    out = np.full((ys.shape[0], len(FIELDS)), np.nan)
    for j, y in enumerate(ys):
        fit = previous_slope(start_time, y)
        if fit is None:
            continue
        claim = float(np.sign(fit["slope"])) if fit["p"] < ALPHA else 0.0
        out[j] = (fit["slope"], fit["ci"][0], fit["ci"][1], fit["p"], fit["p"], claim)
    return out


def run_chunk(task):
    seed, sc_name, kind, i0, i1 = task
    weeks, per_week, nuisance = SCENARIOS[sc_name]
    slope, m = KINDS[kind]
    sc_idx, kind_idx = list(SCENARIOS).index(sc_name), list(KINDS).index(kind)
    res = {meth: np.full((i1 - i0, m, len(FIELDS)), np.nan) for meth in (CHOSEN, PREVIOUS)}
    errors, warns, cpu = Counter(), Counter(), Counter()
    n_winsorised = 0

    def guarded(meth, fn):
        t0 = time.process_time()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 (every error is counted and printed, never hidden)
                errors[(meth, type(exc).__name__, str(exc)[:200])] += 1
                return None
            finally:
                for w in caught:
                    warns[(meth, w.category.__name__, str(w.message)[:200])] += 1
                cpu[meth] += time.process_time() - t0

    for s, i in enumerate(range(i0, i1)):
        rng = np.random.default_rng([seed, sc_idx, kind_idx, i])
        t_days = simulate_schedule(rng, weeks, per_week)
        ys = np.stack([slope * t_days / 7.0 + simulate_nuisance(rng, t_days, nuisance) for _ in range(m)])
        start_time = pd.DatetimeIndex(START + pd.to_timedelta(t_days, unit="D"))
        frame = long_frame(f"sub-{i:04d}", start_time, ys)
        out = guarded(CHOSEN, lambda: fit_chosen(frame, m))  # noqa: B023
        if out is not None:
            res[CHOSEN][s], w = out
            n_winsorised += w
        out = guarded(PREVIOUS, lambda: fit_previous(start_time, ys))  # noqa: B023
        if out is not None:
            res[PREVIOUS][s] = out
    return sc_name, kind, i0, res, errors, warns, cpu, n_winsorised


# ---------------------------------------------------------------------------------------------
# summaries


def rate(hits: np.ndarray) -> dict:
    n = int(hits.size)
    p = float(hits.mean()) if n else float("nan")
    return {"p": p, "mc_se": math.sqrt(p * (1 - p) / n) if n else float("nan"), "n": n}


def paired(a: np.ndarray, b: np.ndarray) -> dict:
    """Difference of two rates on the same subjects, with the SE of the mean paired difference."""
    d = a.astype(float) - b.astype(float)
    n = int(d.size)
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    pb = float(b.mean()) if n else float("nan")
    return {"diff": float(d.mean()), "mc_se": se, "ratio": float(a.mean()) / pb if pb > 0 else None, "n": n}


def summarise(arr: np.ndarray, truth: float, family: bool, holm_rule: bool) -> dict:
    """``arr``: (subjects, series, FIELDS). ``holm_rule``: recompute the product's rule from p
    (primary at 5 %, Holm across the others) for the previous estimator, which had none."""
    est, lo, hi, p, p_adj, claim = (arr[..., k] for k in range(len(FIELDS)))
    ok = np.isfinite(arr).all(axis=2)
    first = ok[:, 0]
    out = {
        "n_series": int(ok.size), "n_failed": int((~ok).sum()),
        "coverage": rate(((lo[:, 0] <= truth) & (truth <= hi[:, 0]))[first]),
        "rose": rate((claim[:, 0] == 1)[first]),
        "fell": rate((claim[:, 0] == -1)[first]),
        "claim": rate((claim[:, 0] != 0)[first]),
        "median_ci_width": float(np.median((hi - lo)[:, 0][first])) if first.any() else float("nan"),
        "mean_estimate": float(np.mean(est[:, 0][first])) if first.any() else float("nan"),
    }
    if family:
        # a failed fit makes no claim (there are none: see n_failed)
        p1 = np.where(ok, p, 1.0)
        sign = np.where(ok, np.sign(est), 0.0)
        uncorrected = ((p1 < ALPHA) & (sign != 0)).any(axis=1)
        if holm_rule:
            # Holm over the m - 1 secondaries rejects something iff min p < alpha / (m - 1)
            sec = p1[:, 1:].min(axis=1) < ALPHA / (p1.shape[1] - 1)
            prim = (p1[:, 0] < ALPHA) & (sign[:, 0] != 0)
            product = prim | sec
        else:
            product = (np.where(ok, claim, 0.0) != 0).any(axis=1)
            prim = np.where(ok[:, 0], claim[:, 0], 0.0) != 0
        out.update(
            family_any_claim=rate(product),
            family_any_claim_uncorrected=rate(uncorrected),
            family_primary_claim=rate(prim),
            family_coverage_all_series=rate(((lo <= truth) & (truth <= hi))[ok]),
        )
    out["_claims"] = (claim[:, 0] == 1) if truth > 0 else None  # for the paired power difference
    return out


def cell(r: dict, bad: bool = False, digits: int = 3) -> str:
    s = f"{r['p']:.{digits}f} ± {r['mc_se']:.{digits}f}"
    return f"**{s}**" if bad else s


def table(title: str, header: list[str], rows: list[list[str]], note: str) -> str:
    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines + (["", note, ""] if note else [""]))


def _versions() -> dict:
    import scipy
    import statsmodels

    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: the commit is unknown
        head = None
    return {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
            "pandas": pd.__version__, "statsmodels": statsmodels.__version__,
            "platform": platform.platform(), "cpu_count": os.cpu_count(), "git_head": head}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subjects", type=int, default=1000, help="subjects per scenario and kind (null, "
                    "0.15, 0.30 SD/week, family of 8 null series)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=25, help="subjects per task")
    ap.add_argument("--seed", type=int, default=20261214)
    ap.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), help="subset of scenario names")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "trend_validation.json"))
    args = ap.parse_args(argv)

    n = args.subjects
    kinds = ["null family", "null", "slope 0.15", "slope 0.30"]  # the slowest first
    tasks = [(args.seed, sc, kind, i0, min(i0 + args.chunk, n))
             for kind in kinds for sc in args.scenarios for i0 in range(0, n, args.chunk)]
    wall0, self0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    parts = {sc: {kind: {} for kind in KINDS} for sc in args.scenarios}
    errors, warns, cpu, winsorised = Counter(), Counter(), Counter(), Counter()
    pool = Pool(args.workers)
    try:
        for done, (sc, kind, i0, res, e, w, c, nw) in enumerate(pool.imap_unordered(run_chunk, tasks), 1):
            parts[sc][kind][i0] = res
            errors.update({(sc, kind) + k: v for k, v in e.items()})
            warns.update({(sc, kind) + k: v for k, v in w.items()})
            cpu.update(c)
            winsorised[(sc, kind)] += nw
            if done % max(1, len(tasks) // 10) == 0 or done == len(tasks):
                print(f"  {done}/{len(tasks)} tasks, {time.perf_counter() - wall0:.0f} s", flush=True)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    wall = time.perf_counter() - wall0
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_total = (self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime
                 + kids.ru_utime + kids.ru_stime)

    summary, claims = {}, {}
    for sc in args.scenarios:
        summary[sc] = {}
        for meth in (CHOSEN, PREVIOUS):
            summary[sc][meth] = {}
            for kind, (truth, m) in KINDS.items():
                arr = np.concatenate([parts[sc][kind][i0][meth] for i0 in sorted(parts[sc][kind])])
                s = summarise(arr, truth, family=m > 1, holm_rule=meth == PREVIOUS)
                claims[(sc, meth, kind)] = s.pop("_claims")
                summary[sc][meth][kind] = s
        summary[sc]["chosen_minus_previous"] = {
            kind: paired(claims[(sc, CHOSEN, kind)], claims[(sc, PREVIOUS, kind)])
            for kind in ("slope 0.15", "slope 0.30")
        }
        summary[sc][CHOSEN]["null family"]["winsorised_series"] = winsorised[(sc, "null family")]
        for kind in ("null", "slope 0.15", "slope 0.30"):
            summary[sc][CHOSEN][kind]["winsorised_series"] = winsorised[(sc, kind)]

    # acceptance of the chosen method
    misses = []
    for sc in args.scenarios:
        c = summary[sc][CHOSEN]
        for kind in ("null", "slope 0.15", "slope 0.30"):
            if c[kind]["coverage"]["p"] < BAR_COVERAGE:
                misses.append((sc, f"coverage at {kind}", c[kind]["coverage"]))
        if c["null"]["claim"]["p"] > BAR_FPR:
            misses.append((sc, "false-positive rate", c["null"]["claim"]))
        if c["null family"]["family_any_claim"]["p"] > BAR_FAMILY:
            misses.append((sc, "family any claim", c["null family"]["family_any_claim"]))

    # tables
    S = summary
    out = [f"{n} subjects per scenario and kind; seed {args.seed}; ± = Monte Carlo SE; "
           f"{args.workers} workers; wall {wall:.0f} s, CPU {cpu_total:.0f} s\n"]
    rows = []
    for sc in args.scenarios:
        row = [sc]
        for meth in (CHOSEN, PREVIOUS):
            for kind in ("null", "slope 0.15", "slope 0.30"):
                r = S[sc][meth][kind]["coverage"]
                row.append(cell(r, r["p"] < BAR_COVERAGE))
        rows.append(row)
    out.append(table("Coverage of the 95 % CI of the slope (true slope inside)",
                     ["scenario", "chosen method, slope 0", "chosen, 0.15", "chosen, 0.30",
                      "previous estimator, slope 0", "previous, 0.15", "previous, 0.30"], rows,
                     f"{n} subjects per cell. Bold: below {BAR_COVERAGE}."))
    rows = [[sc, cell(S[sc][CHOSEN]["null"]["claim"], S[sc][CHOSEN]["null"]["claim"]["p"] > BAR_FPR),
             cell(S[sc][PREVIOUS]["null"]["claim"], S[sc][PREVIOUS]["null"]["claim"]["p"] > BAR_FPR)]
            for sc in args.scenarios]
    out.append(table("False-positive rate at true slope 0 (`change` is rose or fell)",
                     ["scenario", "chosen method", "previous estimator"], rows,
                     f"{n} subjects per cell. Bold: above {BAR_FPR}."))
    for kind, label in (("slope 0.15", "0.15"), ("slope 0.30", "0.30")):
        rows = []
        for sc in args.scenarios:
            d = S[sc]["chosen_minus_previous"][kind]
            ratio = "–" if d["ratio"] is None else f"{d['ratio']:.2f}"
            rows.append([sc, cell(S[sc][CHOSEN][kind]["rose"]), cell(S[sc][PREVIOUS][kind]["rose"]),
                         f"{d['diff']:+.3f} ± {d['mc_se']:.3f}", ratio])
        out.append(table(f"Power at {label} SD/week (`change` is rose)",
                         ["scenario", "chosen method", "previous estimator", "chosen − previous (paired)",
                          "chosen / previous"], rows,
                         f"{n} subjects per cell. The difference's SE is that of the mean paired difference."))
    rows = []
    for sc in args.scenarios:
        c, p = S[sc][CHOSEN]["null family"], S[sc][PREVIOUS]["null family"]
        rows.append([sc] + [cell(r, r["p"] > BAR_FAMILY) for r in (
            c["family_any_claim"], c["family_any_claim_uncorrected"],
            p["family_any_claim"], p["family_any_claim_uncorrected"])])
    out.append(table(f"Share of subjects with any rose/fell among {N_FAMILY} null series",
                     ["scenario", "chosen method (primary at 5 %, Holm on 7: as shipped)", "chosen, uncorrected",
                      "previous estimator, same rule", "previous, uncorrected"], rows,
                     f"{n} subjects per cell. Bold: above {BAR_FAMILY:.2f}. Uncorrected: any slope_p < 0.05 "
                     "from the same fits."))
    rows = [[sc, f"{S[sc][CHOSEN]['null']['median_ci_width']:.3f}",
             f"{S[sc][PREVIOUS]['null']['median_ci_width']:.3f}",
             f"{S[sc][CHOSEN]['null']['median_ci_width'] / S[sc][PREVIOUS]['null']['median_ci_width']:.2f}"]
            for sc in args.scenarios]
    out.append(table("Median width of the 95 % CI at slope 0 (SD/week)",
                     ["scenario", "chosen method", "previous estimator", "chosen / previous"], rows, ""))
    print("\n" + "\n".join(out))

    print("Acceptance of the chosen method (coverage >= 0.94 at every slope, FPR <= 0.06, family <= 0.10):")
    if not misses:
        print("  every bar met in every scenario")
    for sc, what, r in misses:
        print(f"  MISSED: {sc}: {what} = {r['p']:.3f} ± {r['mc_se']:.3f} (n = {r['n']})")
    n_failed = {(sc, meth): sum(S[sc][meth][k]["n_failed"] for k in KINDS)
                for sc in args.scenarios for meth in (CHOSEN, PREVIOUS)}
    print(f"Failed fits (no slope): {sum(n_failed.values())} of "
          f"{sum(S[sc][meth][k]['n_series'] for sc in args.scenarios for meth in (CHOSEN, PREVIOUS) for k in KINDS)}"
          f" series")
    for k, v in sorted(n_failed.items()):
        if v:
            print(f"  {k}: {v}")
    print(f"Errors raised (scenario, kind, method, type, message: count): {sum(errors.values())}")
    for k, v in sorted(errors.items()):
        print(f"  {k}: {v}")
    print(f"Warnings raised (scenario, kind, method, category, message: count): {sum(warns.values())}")
    for k, v in sorted(warns.items()):
        print(f"  {k}: {v}")
    print(f"Wall time {wall:.0f} s ({wall / 60:.1f} min) with {args.workers} workers; CPU time {cpu_total:.0f} s "
          f"(in the fits: chosen {cpu[CHOSEN]:.0f} s, previous {cpu[PREVIOUS]:.0f} s)")

    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "subjects": n, "seed": args.seed, "workers": args.workers, "chunk": args.chunk,
        "family_size": N_FAMILY, "metrics": METRICS, "primary": PRIMARY, "adjustment": "holm",
        "start": START.isoformat(), "scenarios": {k: SCENARIOS[k] for k in args.scenarios},
        "kinds": KINDS, "bars": {"coverage": BAR_COVERAGE, "fpr": BAR_FPR, "family": BAR_FAMILY},
        "wall_s": wall, "cpu_s": cpu_total, "cpu_s_in_fits": dict(cpu), "versions": _versions(),
        "summary": summary,
        "misses": [{"scenario": sc, "quantity": what, **r} for sc, what, r in misses],
        "errors": [list(k) + [v] for k, v in sorted(errors.items())],
        "warnings": [list(k) + [v] for k, v in sorted(warns.items())],
    }, indent=1))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
