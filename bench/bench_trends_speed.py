"""Time ``trends`` for a subject with 300 sessions (issue 19: ≤ 1 s), O(n) path against dense.

One subject, ``heavy01``, 300 sessions over 40 weeks (7–8 a week at random hours) in a fresh
store: one simulated 60-s Muse-like recording (TP9, AF7, AF8, TP10) is imported by
``ingest_file`` and its stored rows (175 metric rows, the product's metric set over channels)
recorded again through the Catalog API 299 times at other times, as ``bench_scale.py`` does,
every value scaled by a slow drift, a day-to-day AR(1) state (ρ 0.8 per day) and session noise,
and ~5 % of the sessions below the quality floor. Then, in one process and run:

* ``metrics_frame`` of the analysed metrics + ``subject_trends`` (what ``neurofeedback trends``
  reads and computes), with the
  library's O(n) REML grid and with the dense path it replaced (``bench/_dense_trend.py``, main
  at 3863745), median of ``--repeat`` runs (the dense one once), wall and CPU; the two results
  are compared (slope, SE, chosen correlation);
* ``compute_trends`` of every series of the subject (all 175 metric × channel rows), O(n) only;
* the whole process ``neurofeedback trends --subject heavy01`` (imports included), new and with
  the dense path installed, best of 2, wall and CPU (user + system of the child).

    nice -n 10 env PYTHONPATH=. python bench/bench_trends_speed.py [--sessions 300] [--repeat 3]
"""
# ruff: noqa: E402

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import math
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SUBJECT = "heavy01"
WEEKS = 40


def _load() -> str:
    a, b, c = os.getloadavg()
    return f"load average {a:.1f} {b:.1f} {c:.1f}"


def template_session(home: Path, subject: str, t0: datetime, seed: int = 19):
    """Import one simulated 60-s Muse-like recording of ``subject`` at ``t0`` into ``home``;
    return its stored ``(fields, metric rows, block rows)``."""
    from neurofeedback.simulate import simulate_eeg, write_recording
    from neurofeedback.store import Catalog, ingest_file
    from neurofeedback.store._schema import SESSION_FIELDS

    rec = simulate_eeg(duration_s=60.0, sfreq=256.0, ch_names=["TP9", "AF7", "AF8", "TP10"],
                       seed=seed, meas_date=t0)
    path = home.parent / "data" / f"sub-{subject}" / f"sub-{subject}_ses-{t0:%Y%m%dT%H%M%S}_eeg.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_recording(rec, path, format="brainflow_csv", board="muse_2", subject=subject)
    ingest_file(path, home=home)
    cat = Catalog(home=home)
    (sid,) = cat.sessions(subject=subject)["session_id"]
    row = cat.session(sid)
    return {f: row[f] for f in SESSION_FIELDS}, cat.session_features(sid), cat.session_blocks(sid)


def record_copies(home: Path, subject: str, template, t0: datetime, days, rng, *,
                  per_week: float = 0.002, first_key: int = 1) -> int:
    """Record the template's rows again for ``subject`` at ``t0`` + ``days``, every value scaled
    by a drift (``per_week``), a day-to-day AR(1) state (ρ 0.8 per day) and session noise; ~5 %
    of the sessions below the quality floor. Returns the next unused ``input_sha256`` key."""
    from neurofeedback.store import Catalog

    fields, metrics, blocks = template
    state, last = 0.0, 0.0
    for k, d in enumerate(days, first_key):
        phi = 0.8 ** (d - last)
        state = phi * state + math.sqrt(1 - phi * phi) * rng.standard_normal()
        last = d
        scale = (1 + per_week * d / 7) * (1 + 0.04 * state) * (1 + 0.05 * rng.standard_normal(len(metrics)))
        clean = float(rng.uniform(0.3, 0.5) if rng.random() < 0.05 else rng.uniform(0.6, 1.0))
        m = metrics.assign(value=np.where(metrics["metric"] == "clean_fraction", clean,
                                          metrics["value"] * scale))  # the floor reads these
        start = t0 + timedelta(days=float(d))
        label = f"{start:%Y%m%dT%H%M%S}"
        f = {**fields, "start_time": start, "input_sha256": f"{k:064x}", "clean_fraction": clean,
             "source_path": f"/data/sub-{subject}/ses-{label}.csv"}
        Catalog(home=home).record_session(subject, label, f, m, blocks)
    return first_key + len(days)


def build_home(home: Path, n: int, seed: int = 19) -> None:
    """A store with ``n`` sessions of :data:`SUBJECT` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2025, 1, 6, 7, 0, tzinfo=timezone.utc)  # a Monday
    template = template_session(home, SUBJECT, t0, seed)
    # session times: 7-8 a week over WEEKS weeks, random day and hour
    record_copies(home, SUBJECT, template, t0, np.sort(rng.uniform(1.0, 7.0 * WEEKS, n - 1)), rng)


def _timed(fn, repeat: int):
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def _process(home: Path, dense: bool) -> tuple[float, float]:
    """Best of 2 whole processes of ``neurofeedback trends``: (wall s, CPU s of the child)."""
    from _proc import run_timed  # bench/_proc.py (this script's folder)

    args = ["trends", "--subject", SUBJECT, "--home", str(home)]
    if dense:
        code = (f"import runpy, sys; sys.path.insert(0, {str(HERE)!r}); import _dense_trend; "
                f"_dense_trend.install(); sys.argv = ['neurofeedback'] + {args!r}; "
                "runpy.run_module('neurofeedback', run_name='__main__')")
        cmd = [sys.executable, "-c", code]
    else:
        cmd = [sys.executable, "-m", "neurofeedback", *args]
    best = (math.inf, math.inf)
    for _ in range(2):
        r = run_timed(cmd)
        if r.returncode != 0 or not r.stdout.strip():
            raise SystemExit(f"neurofeedback trends failed: {r.stderr.strip()[-500:]}")
        best = min(best, (r.wall_s, r.cpu_s))
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-process", action="store_true", help="skip the whole-process timing")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    import _dense_trend

    import neurofeedback.trends as trends
    from neurofeedback.statements import subject_trends
    from neurofeedback.store import Catalog

    with tempfile.TemporaryDirectory(prefix="bench-trends-") as tmp:
        home = Path(tmp) / "home"
        t0 = time.perf_counter()
        build_home(home, args.sessions)
        print(f"store: {args.sessions} sessions of {SUBJECT} over {WEEKS} weeks in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)

        from neurofeedback.statements import DEFAULT_METRICS

        def q_frame():  # what `neurofeedback trends` reads: the analysed metrics (+ the primary's)
            return Catalog(home=home).metrics_frame(subject=SUBJECT,
                                                    metrics=set(DEFAULT_METRICS) | {"relative_alpha"})

        def q_trends():
            return subject_trends(SUBJECT, frame=q_frame())

        frame = q_frame()
        print(f"sessions kept by the quality floor (heavy01's series): "
              f"{sorted({r['n_sessions'] for r in q_trends()})}")
        print(f"metric frame: {len(frame)} rows, "
              f"{frame.groupby(['metric', 'channel', 'block']).ngroups} series; {_load()}")
        q_trends()  # warm-up: imports, connection
        w_f, c_f, _ = _timed(q_frame, args.repeat)
        print(f"metrics_frame alone: wall {w_f:.3f} s, CPU {c_f:.3f} s")
        w_new, c_new, new = _timed(q_trends, args.repeat)
        print(f"trends, O(n):  wall {w_new:.3f} s, CPU {c_new:.3f} s "
              f"(median of {args.repeat}; {len(new)} series); {_load()}", flush=True)
        fast = trends.trend_slope
        _dense_trend.install()
        try:
            w_old, c_old, old = _timed(q_trends, 1)
        finally:
            trends.trend_slope = fast
        print(f"trends, dense: wall {w_old:.3f} s, CPU {c_old:.3f} s (one run); {_load()}")
        print(f"dense / O(n): wall {w_old / w_new:.1f}x, CPU {c_old / c_new:.1f}x")
        worst = 0.0
        for a, b in zip(new, old, strict=True):
            assert (a["metric"], a["channel"]) == (b["metric"], b["channel"])
            assert a["slope_model"] == b["slope_model"], (a["metric"], a["slope_model"], b["slope_model"])
            for key in ("slope_analysis_per_week", "slope_se", "slope_p"):
                if a[key] is not None:
                    worst = max(worst, abs(a[key] - b[key]) / max(abs(b[key]), 1e-300))
        print(f"same results: chosen (rho, w) identical in all {len(new)} series; largest relative "
              f"difference of slope, SE, p: {worst:.1e}")
        one = next(r for r in new if r["slope_analysis_per_week"] is not None)
        series = frame[(frame["metric"] == one["metric"]) & (frame["channel"] == one["channel"])
                       & (frame["block"] == one["block"]) & (frame["clean_fraction"] >= 0.5)]
        t = (series["start_time"] - series["start_time"].min()).dt.total_seconds().to_numpy() / 86400
        y = np.log10(series["value"].to_numpy()) if one["scale"] == "log10" else series["value"].to_numpy()
        labels = trends._iso_week(series["start_time"]).to_numpy()
        w1, c1, _ = _timed(lambda: [fast(t, y, labels) for _ in range(10)], 3)
        w2, c2, _ = _timed(lambda: _dense_trend.trend_slope(t, y, labels), 3)
        print(f"trend_slope of one series ({one['metric']}, {len(t)} sessions kept): O(n) "
              f"{100 * w1:.1f} ms wall, {100 * c1:.1f} ms CPU; dense {1000 * w2:.0f} ms wall, "
              f"{1000 * c2:.0f} ms CPU ({c2 / (c1 / 10):.0f}x CPU); {_load()}", flush=True)
        everything = _timed(lambda: trends.compute_trends(q_frame()), args.repeat)
        n_series = len(everything[2])
        print(f"compute_trends of all {n_series} series, O(n): wall {everything[0]:.2f} s, "
              f"CPU {everything[1]:.2f} s ({1000 * everything[1] / n_series:.1f} ms CPU a series)",
              flush=True)
        if not args.no_process:
            wn, cn = _process(home, dense=False)
            print(f"process `neurofeedback trends`, O(n): wall {wn:.2f} s, CPU {cn:.2f} s; {_load()}",
                  flush=True)
            wd, cd = _process(home, dense=True)
            print(f"process `neurofeedback trends`, dense: wall {wd:.2f} s, CPU {cd:.2f} s; {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
