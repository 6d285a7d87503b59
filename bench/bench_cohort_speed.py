"""Time ``neurofeedback.cohort.cohort_trends`` on 100 subjects (the target: ≤ 10 s).

100 simulated subjects (50 course, 50 waitlist) × 8 weeks × 2–5 sessions a week, 7 metrics (the
default series of a cohort analysis), one call with ``vs`` (both groups in one model per
series), median of ``--repeat`` runs, wall and CPU time. One BLAS thread (see
``bench_cohort_calibration.py``).

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

import pandas as pd

from neurofeedback.cohort import DEFAULT_COHORT_METRICS, cohort_trends
from neurofeedback.simulate import simulate_cohort_series


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
    walls, cpus = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = cohort_trends(frame, groups, group="course", vs="waitlist")
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    print(f"{len(groups)} subjects, {frame['session_id'].nunique()} sessions, {len(res)} series: "
          f"median wall {statistics.median(walls):.2f} s, CPU {statistics.median(cpus):.2f} s "
          f"(runs: {', '.join(f'{w:.2f}' for w in walls)}); models: "
          f"{sorted({r['model'] for r in res})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
