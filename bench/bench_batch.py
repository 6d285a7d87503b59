"""The batch path on ≥ 200 sessions: sessions per minute, and Prefect's overhead.

The same files are imported twice into fresh data homes: once by direct library calls
(``neurofeedback.store.ingest_file`` in a loop), once by the ``process_recordings`` flow (one
task per file). Both run one file at a time (``--workers 1``) so the difference is Prefect's own
cost; Prefect's temporary server is started by a warm-up flow run first, and its start-up time
is reported separately. Then a second flow run over the same folder shows the cache (no work).

    .venv/bin/python bench/bench_batch.py [--sessions 200] [--seconds 600] [--workers 1]

Prefect's cost is per task (~25 ms here), the processing cost grows with the recording, so the
ratio depends on the session length: 600 s (a typical 10-minute practice session) is the
default; ``--seconds 60`` shows the worst case of very short sessions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def make_sessions(folder: Path, n: int, seconds: float) -> list[Path]:
    """``n`` short 4-channel Muse-like sessions (BrainFlow CSV + sidecar), one subject per 50."""
    from datetime import datetime, timedelta, timezone

    from neurofeedback.simulate import simulate_eeg, write_recording

    start = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)
    paths = []
    for i in range(n):
        subject = f"bench{i // 50:02d}"
        when = start + timedelta(days=i % 50, minutes=i)
        rec = simulate_eeg(duration_s=seconds, sfreq=256.0, ch_names=["TP9", "AF7", "AF8", "TP10"],
                           seed=i, meas_date=when)
        label = when.strftime("%Y%m%dT%H%M%S")
        p = folder / f"sub-{subject}" / f"sub-{subject}_ses-{label}_eeg.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        paths.append(write_recording(rec, p, format="brainflow_csv", board="muse_2", subject=subject))
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nf-bench-batch-"))
    os.environ["NEUROFEEDBACK_HOME"] = str(tmp / "home-flow")
    try:
        t0 = time.perf_counter()
        files = make_sessions(tmp / "data", args.sessions, args.seconds)
        print(f"{len(files)} sessions of {args.seconds:g} s generated in {time.perf_counter() - t0:.1f} s")

        from neurofeedback.store import ingest_file

        t0 = time.perf_counter()
        for f in files:
            ingest_file(f, home=tmp / "home-direct")
        direct = time.perf_counter() - t0

        from prefect import flow

        import pipelines.process as pp

        @flow
        def warm_up():
            return 1

        t0 = time.perf_counter()
        warm_up()
        startup = time.perf_counter() - t0

        t0 = time.perf_counter()
        recs = pp.run_process([tmp / "data"], home=tmp / "home-flow", runner="threads",
                              max_workers=args.workers)
        via_flow = time.perf_counter() - t0
        assert sum(r["status"] == "imported" for r in recs) == len(files), recs[:3]

        t0 = time.perf_counter()
        recs2 = pp.run_process([tmp / "data"], home=tmp / "home-flow", runner="threads",
                               max_workers=args.workers)
        again = time.perf_counter() - t0
        cached = sum(bool(r["cached"]) for r in recs2)

        n = len(files)
        print(f"direct library calls : {direct:7.1f} s  {60 * n / direct:6.1f} sessions/min")
        print(f"process_recordings   : {via_flow:7.1f} s  {60 * n / via_flow:6.1f} sessions/min "
              f"(workers={args.workers})")
        print(f"Prefect overhead     : {via_flow - direct:+7.1f} s = {100 * (via_flow - direct) / direct:+.1f}% "
              f"of the processing time (ratio flow/direct {via_flow / direct:.3f})")
        print(f"Prefect server start : {startup:7.1f} s (once per process; not in the ratio)")
        print(f"second run, same folder: {again:.1f} s, {cached}/{n} found in the catalog (no work)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
