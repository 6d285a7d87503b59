"""Time ``neurofeedback.cohort.cohort_trends`` on 100 subjects (the target: ≤ 10 s).

100 simulated subjects (50 course, 50 waitlist) × 8 weeks × 2–5 sessions a week, 7 metrics (the
default series of a cohort analysis), one call with ``vs`` (both groups in one model per
series), median of ``--repeat`` runs, wall and CPU time. One BLAS thread (see
``bench_cohort_calibration.py``).

In the same run, an alternative optimiser order (L-BFGS + Powell first, then BFGS;
``_lbfgs_first_mixedlm`` below, a copy of ``cohort._mixedlm`` at main 3863745 but for the order)
is timed beside the product's (BFGS first), and the two results are compared: the largest
relative difference of every group slope, difference, SE and p, and the models chosen. It
halves the time on these series (BFGS fails on each) but was not adopted: on the ``--cli`` store
BFGS converges and L-BFGS needs Powell (docs/statistics.md, *Cohorts*, Speed).

With ``--cli``, also the whole process ``neurofeedback cohort trends --group course --vs
waitlist`` on a fresh SQLite store of 100 subjects (50 + 50) × 8 weeks × 2–3 sessions a week:
one imported simulated recording's rows recorded again through the Catalog API
(``bench_trends_speed.record_copies``; course subjects drift up 1 % a week), with the current and
the alternative optimiser order, once each, wall and CPU of the child.

    nice -n 10 env PYTHONPATH=. python bench/bench_cohort_speed.py [--repeat 3] [--cli]
"""
# ruff: noqa: E402

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import neurofeedback.cohort as cohort
from neurofeedback.cohort import DEFAULT_COHORT_METRICS, cohort_trends
from neurofeedback.simulate import simulate_cohort_series


def _lbfgs_first_mixedlm(y, X, subjects, Z, start_params=None):
    """``cohort._mixedlm`` (main at 3863745) with L-BFGS + Powell tried before BFGS."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    attempts = (["lbfgs", "powell"], ["bfgs"])
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


def _cli(tmp: Path) -> None:
    """The whole ``neurofeedback cohort trends`` process on a 100-subject store, both orders."""
    from datetime import datetime, timezone

    from _proc import run_timed  # bench/_proc.py (this script's folder)
    from bench_trends_speed import record_copies, template_session

    from neurofeedback.store import Catalog

    home = tmp / "home"
    rng = np.random.default_rng(7)
    t0 = datetime(2025, 1, 6, 7, 0, tzinfo=timezone.utc)
    subjects = [(f"c{i:03d}", "course" if i < 50 else "waitlist") for i in range(100)]
    template = template_session(home, subjects[0][0], t0)
    key, n = 1, 1
    c0 = time.perf_counter()
    for i, (subject, group) in enumerate(subjects):
        days = np.sort(np.concatenate([
            7 * w + rng.choice(np.arange(7), rng.integers(2, 4), replace=False) + rng.uniform(0.3, 0.6)
            for w in range(8)]))
        if i == 0:
            days = days[days > 1]
        key = record_copies(home, subject, template, t0, days, rng,
                            per_week=0.01 if group == "course" else 0.0, first_key=key)
        n += days.size
        Catalog(home=home).set_group(subject, group)
    print(f"store: {len(subjects)} subjects, {n} sessions in {time.perf_counter() - c0:.0f} s",
          flush=True)
    args = ["cohort", "trends", "--group", "course", "--vs", "waitlist", "--home", str(home)]
    here = str(Path(__file__).resolve().parent)
    for name, code in (
            ("product", "import runpy, sys; sys.argv = ['neurofeedback'] + {a!r}; "
                    "runpy.run_module('neurofeedback', run_name='__main__')"),
            ("L-BFGS first", "import runpy, sys; sys.path.insert(0, {h!r}); "
                             "import bench_cohort_speed as b; import neurofeedback.cohort as c; "
                             "c._mixedlm = b._lbfgs_first_mixedlm; "
                         "sys.argv = ['neurofeedback'] + {a!r}; "
                         "runpy.run_module('neurofeedback', run_name='__main__')")):
        r = run_timed([sys.executable, "-c", code.format(a=args, h=here)])
        if r.returncode != 0 or not r.stdout.strip():
            raise SystemExit(f"cohort trends failed: {r.stderr.strip()[-500:]}")
        a, b, c = os.getloadavg()
        print(f"process `neurofeedback cohort trends`, {name}: wall {r.wall_s:.1f} s, CPU "
              f"{r.cpu_s:.1f} s; load average {a:.1f} {b:.1f} {c:.1f}",
              flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cli", action="store_true", help="also time the CLI on a 100-subject store")
    ap.add_argument("--cli-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cli or args.cli_only:
        with tempfile.TemporaryDirectory(prefix="bench-cohort-") as tmp:
            _cli(Path(tmp))
        if args.cli_only:
            return 0
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
    for name, fn in (("product", current), ("L-BFGS first", _lbfgs_first_mixedlm)):
        cohort._mixedlm = fn
        try:
            walls, cpus, res = _timed(frame, groups, args.repeat)
        finally:
            cohort._mixedlm = current
        runs[name] = res
        a, b, c = os.getloadavg()
        print(f"{name:12s}: {len(groups)} subjects, {frame['session_id'].nunique()} sessions, "
              f"{len(res)} series: median wall {statistics.median(walls):.2f} s, CPU "
              f"{statistics.median(cpus):.2f} s (runs: {', '.join(f'{w:.2f}' for w in walls)}); "
              f"models: {sorted({r['model'] for r in res})}; load average {a:.1f} {b:.1f} {c:.1f}",
              flush=True)
    new, old = _numbers(runs["L-BFGS first"]), _numbers(runs["product"])
    assert new.keys() == old.keys()
    worst = max(abs(new[k] - old[k]) / max(abs(old[k]), 1e-300) for k in new)
    same_models = [r["model"] for r in runs["product"]] == [r["model"] for r in runs["L-BFGS first"]]
    print(f"L-BFGS first vs product: same models {same_models}; largest relative difference of "
          f"{len(new)} slopes, differences, SEs and p: {worst:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
