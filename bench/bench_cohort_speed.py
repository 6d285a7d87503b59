"""Time ``neurofeedback.cohort.cohort_trends`` on 100 subjects (the target: ≤ 10 s).

100 simulated subjects (50 course, 50 waitlist) × 8 weeks × 2–5 sessions a week, 7 metrics (the
default series of a cohort analysis), one call with ``vs`` (both groups in one model per
series), median of ``--repeat`` runs, wall and CPU time. One BLAS thread (see
``bench_cohort_calibration.py``).

In the same run, the previous optimiser order (BFGS first, then L-BFGS + Powell from the default
start; ``_previous_mixedlm`` below, a verbatim copy of ``cohort._mixedlm`` at main 3863745 but
for the order) is timed as the reference, and the two results are compared: the largest
relative difference of every group slope, difference, SE and p, and the models chosen.

    nice -n 10 env PYTHONPATH=. python bench/bench_cohort_speed.py [--repeat 3]
"""
# ruff: noqa: E402

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import statistics
import time
import warnings

import numpy as np
import pandas as pd

import neurofeedback.cohort as cohort
from neurofeedback.cohort import DEFAULT_COHORT_METRICS, cohort_trends
from neurofeedback.simulate import simulate_cohort_series


def _previous_mixedlm(y, X, subjects, Z, start_params=None):
    """``cohort._mixedlm`` before the optimiser order changed (main at 3863745)."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    attempts = (["bfgs"], ["lbfgs", "powell"])
    reason = "did not converge"
    for i, method in enumerate(attempts):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = MixedLM(y, X, groups=subjects, exog_re=Z)
                res = model.fit(reml=True, method=method,
                                start_params=start_params if i == 0 else None)
            except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
                reason = f"failed ({type(exc).__name__}: {exc})"
                continue
        k = X.shape[1]
        bse = np.asarray(res.bse_fe, float) if res.converged else np.full(k, np.nan)
        cov_re = np.asarray(res.cov_re, float)
        try:
            res.random_effects  # noqa: B018 (statsmodels refuses BLUPs of a singular covariance)
        except ValueError as exc:
            reason = f"has no random effects ({exc})"
            continue
        if (res.converged and np.all(np.isfinite(bse)) and np.all(np.isfinite(cov_re))
                and np.all(np.linalg.eigvalsh(cov_re) > -1e-8)):
            notes = sorted({str(w.message).split("\n")[0] for w in caught
                            if "boundary" in str(w.message)})
            return res, notes
    return None, reason


def _timed(frame, groups, repeat):
    walls, cpus, res = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = cohort_trends(frame, groups, group="course", vs="waitlist")
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus, res


def _numbers(res):
    out = {}
    for r in res:
        for k, t in r["tests"].items():
            for q in ("analysis_per_week", "se", "p"):
                v = t.get(q)
                if isinstance(v, float):
                    out[r["metric"], k, q] = v
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    frames = []
    groups = {}
    for i, m in enumerate(DEFAULT_COHORT_METRICS):
        f, g, _, _ = simulate_cohort_series(i, groups=(("course", 50, 0.3), ("waitlist", 50, 0.0)),
                                            metric=m, channel="mean" if m != "faa" else "F4/F3",
                                            base=10.0 if m == "absolute_alpha" else 0.3,
                                            unit=0.5 if m == "absolute_alpha" else 0.03)
        frames.append(f)
        groups = g
    frame = pd.concat(frames, ignore_index=True)
    current = cohort._mixedlm
    runs = {}
    for name, fn in (("now", current), ("previous", _previous_mixedlm)):
        cohort._mixedlm = fn
        try:
            walls, cpus, res = _timed(frame, groups, args.repeat)
        finally:
            cohort._mixedlm = current
        runs[name] = res
        a, b, c = os.getloadavg()
        print(f"{name:8s}: {len(groups)} subjects, {frame['session_id'].nunique()} sessions, "
              f"{len(res)} series: median wall {statistics.median(walls):.2f} s, CPU "
              f"{statistics.median(cpus):.2f} s (runs: {', '.join(f'{w:.2f}' for w in walls)}); "
              f"models: {sorted({r['model'] for r in res})}; load average {a:.1f} {b:.1f} {c:.1f}",
              flush=True)
    new, old = _numbers(runs["now"]), _numbers(runs["previous"])
    assert new.keys() == old.keys()
    worst = max(abs(new[k] - old[k]) / max(abs(old[k]), 1e-300) for k in new)
    same_models = [r["model"] for r in runs["now"]] == [r["model"] for r in runs["previous"]]
    print(f"now vs previous: same models {same_models}; largest relative difference of "
          f"{len(new)} slopes, differences, SEs and p: {worst:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
