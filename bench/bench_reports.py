"""The report commands as a user waits for them (issue 19): ``report session`` of a stored 1-h
session (target ≤ 3 s) and ``report subject`` of a subject with 300 sessions (target ≤ 6 s).

    nice -n 10 .venv/bin/python bench/bench_reports.py [--sessions 300] [--minutes 60]
        [--repeats 3] [--home DIR]

It builds a data home in a temporary folder (or reuses ``--home`` from an earlier run, which it
then keeps):

* ``bench01``: one 1-h 16-channel 250 Hz session (bench_offline's simulation: 1/f background,
  alpha, 50 Hz mains, blinks; FIF with positions), imported by ``ingest_file`` — so its report
  reads the stored spectra (``…_psd.npz``) and processes nothing;
* ``heavy01``: ``--sessions`` sessions, ~3 a week, recorded through the Catalog API as
  ``bench_scale.py`` does (the stored rows of 6 really processed 1-minute sessions of the
  project's cohort simulator, values drifting slowly), with a ketamine infusion and a practice
  change on its timeline (so the report has its event-change figures).

Then, each a fresh process (imports included; one warm-up run, then the median of
``--repeats``), wall and CPU time (user + system) beside a reference in the same run,
``python -c "import neurofeedback"``; and, inside one process, ``report subject``'s parts:
the catalog reads, ``subject_trends`` (the trends' statistics, being made O(n) separately),
``subject_event_changes``, building the figures, and rendering the HTML — so the whole can be
predicted when the trends change. The machine is shared: the load average is printed, and the
CPU time is what an idle core would take.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(var, "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

HEAVY = "heavy01"
SESSION_SUBJECT = "bench01"


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def build_session_home(home: Path, minutes: float) -> str:
    """Store one ``minutes``-long 16-channel session; its session ID."""
    from bench_offline import _simulate, _write_fif

    from neurofeedback.store import Catalog, ingest_file

    have = Catalog(home=home).sessions(subject=SESSION_SUBJECT) \
        if (home / "catalog.sqlite").exists() else None
    if have is not None and len(have):
        return str(have["session_id"].iloc[0])
    folder = home.parent / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    path = _write_fif(_simulate(minutes, seed=3), folder, name=f"bench{minutes:g}min_raw.fif")
    return ingest_file(path, home=home, subject=SESSION_SUBJECT,
                       session="20260105T070000").session_id


def build_subject_home(home: Path, n: int) -> None:
    """``n`` sessions of ``heavy01`` through the Catalog API (as bench_scale.py fills it)."""
    import numpy as np

    from neurofeedback.errors import RecordingFormatError
    from neurofeedback.simulate import simulate_cohort
    from neurofeedback.store import Catalog, ingest_file
    from neurofeedback.store._schema import SESSION_FIELDS

    cat = Catalog(home=home)
    if HEAVY in cat.subjects():
        return
    src = home.parent / "cohort"
    simulate_cohort(src, subjects=("stable01",), weeks=2, sessions_per_week=3, duration_s=60.0)
    for p in sorted(src.rglob("*.csv")):
        try:
            ingest_file(p, home=home)
        except RecordingFormatError:
            pass  # the cohort simulator's deliberately corrupted file
    templates = []
    for sid in cat.sessions(subject="stable01")["session_id"]:
        row = cat.session(sid)
        templates.append(({f: row[f] for f in SESSION_FIELDS}, cat.session_features(sid),
                          cat.session_blocks(sid)))
    rng = np.random.default_rng(19)
    t0 = datetime(2025, 1, 6, 7, 0, tzinfo=timezone.utc)
    for k in range(n):
        start = t0 + timedelta(hours=55 * k)  # ~3 a week
        fields, metrics, blocks = templates[k % len(templates)]
        drift = 1 + 0.002 * (start - t0).days / 7
        m = metrics.assign(value=metrics["value"] * drift
                           * (1 + 0.05 * rng.standard_normal(len(metrics))))
        label = f"{start:%Y%m%dT%H%M%S}"
        f = {**fields, "start_time": start, "input_sha256": f"{k:064x}",
             "source_path": f"/data/sub-{HEAVY}/ses-{label}.csv"}
        cat.record_session(HEAVY, label, f, m, blocks)
    cat.add_event(HEAVY, t0 + timedelta(days=7 * 40), "ketamine", "infusion 0.5 mg/kg")
    cat.add_event(HEAVY, t0 + timedelta(days=7 * 20), "practice", "switched to 20-minute sits")


def process_seconds(argv, repeats: int, env: dict, cwd: Path) -> dict:
    """Median wall and CPU (user + system) of ``argv`` as fresh processes, after a warm-up;
    and the largest resident set (MB).

    The resident set is GNU time's (``/usr/bin/time -f %M``): Linux keeps a process's peak
    across ``exec``, so a child forked from this (large) process would report this process's
    peak; time's own child starts from time's small one. NaN without ``/usr/bin/time``.
    ``cwd`` must not hold a ``neurofeedback`` package: ``python -m``/``-c`` put the working
    folder first on ``sys.path``, before the tree in ``PYTHONPATH``.
    """
    from _proc import run_timed  # bench/_proc.py (this script's folder)

    def run():
        r = run_timed(argv, env=env, cwd=cwd)
        if r.returncode:
            raise SystemExit(f"{' '.join(map(str, argv))} failed: {r.stderr[-2000:]}")
        return r.wall_s, r.cpu_s, r.rss_mb

    run()
    runs = [run() for _ in range(repeats)]
    return {"wall": statistics.median(r[0] for r in runs), "min": min(r[0] for r in runs),
            "cpu": statistics.median(r[1] for r in runs), "rss": max(r[2] for r in runs)}


def subject_parts(home: Path) -> dict:
    """``report subject``'s parts inside one process (CPU seconds, imports warmed first)."""
    from neurofeedback.event_change import subject_event_changes
    from neurofeedback.report.subject import build_subject_report, subject_report
    from neurofeedback.statements import subject_trends
    from neurofeedback.store import Catalog
    from neurofeedback.trends import default_block

    subject_report(HEAVY, home=home).close()  # warm-up: imports, font cache, connection
    out = {}

    def clock(name, fn):
        t0 = time.process_time()
        r = fn()
        out[name] = time.process_time() - t0
        return r

    import pandas as pd

    cat = Catalog(home=home)
    block = default_block(pd.DataFrame({"block": cat.blocks(HEAVY)}))
    sessions, frame, events = clock("catalog reads", lambda: (  # as subject_report reads them
        cat.sessions(subject=HEAVY), cat.metrics_frame(subject=HEAVY, block=block),
        cat.events(subject=HEAVY)))
    trends = clock("subject_trends (trends.py)", lambda: subject_trends(HEAVY, frame=frame,
                                                                          block=block))
    changes = clock("subject_event_changes", lambda: subject_event_changes(
        HEAVY, frame=frame, events=events, practice=cat.practice(HEAVY), block=block))
    rep = clock("build the report (figures)", lambda: build_subject_report(
        HEAVY, sessions=sessions, frame=frame, events=events, trends=trends, block=block,
        changes=changes))
    clock("render PNGs + HTML", rep.to_html)
    out["figures"] = len(rep.figures)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tree", type=Path, action="append", default=None,
                    help="time the commands of this source tree (repeatable, e.g. a checkout of "
                         "main and this one, interleaved in the same run; default this one)")
    ap.add_argument("--home", type=Path, default=None,
                    help="build the home here (kept), or reuse the one built there before")
    args = ap.parse_args()

    tmp = None
    if args.home is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench-reports-"))
        home = tmp / "home"
    else:
        home = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        sid = build_session_home(home, args.minutes)
        build_subject_home(home, args.sessions)
        print(f"home {home} ready in {time.perf_counter() - t0:.0f} s (load {_load()})", flush=True)

        py = [sys.executable]
        out = home.parent / "out"
        out.mkdir(exist_ok=True)
        trees = [t.resolve() for t in (args.tree or [ROOT])]
        commands = [
            ('python -c "import neurofeedback" (reference)', ["-c", "import neurofeedback"]),
            ("neurofeedback --help", ["-m", "neurofeedback", "--help"]),
            (f"report session <stored {args.minutes:g}-min 16-ch session>",
             ["-m", "neurofeedback", "report", "session", sid, "-o", str(out / "session.html"),
              "--home", str(home)]),
            (f"report subject {HEAVY} ({args.sessions} sessions)",
             ["-m", "neurofeedback", "report", "subject", HEAVY, "-o", str(out / "subject.html"),
              "--home", str(home)]),
        ]
        results = {}
        for name, argv in commands:  # the trees interleaved command by command
            for tree in trees:
                env = {**os.environ, "NEUROFEEDBACK_HOME": str(home), "MPLBACKEND": "Agg",
                       "PYTHONPATH": str(tree)}
                env.pop("NEUROFEEDBACK_DB_URL", None)
                results[name, tree] = process_seconds(py + argv, args.repeats, env, cwd=out)
        print(f"\nwhole processes, median of {args.repeats} after a warm-up; load average now "
              f"{_load()}:")
        print(f"{'command':<58}{'tree':<28}{'wall s':>8}{'min s':>8}{'CPU s':>8}{'RSS MB':>8}")
        for (name, tree), r in results.items():
            print(f"{name:<58}{str(tree)[-27:]:<28}{r['wall']:>8.2f}{r['min']:>8.2f}"
                  f"{r['cpu']:>8.2f}{r['rss']:>8.0f}")
        for tree in trees:
            ref = results[commands[0][0], tree]
            for name, _ in commands[2:]:
                r = results[name, tree]
                print(f"[{tree.name}] {name}: {r['cpu'] - ref['cpu']:.2f} s CPU beyond the import "
                      f"reference")
        if len(trees) > 1:
            for name, _ in commands[2:]:
                a, b = results[name, trees[0]], results[name, trees[-1]]
                print(f"{name}: {trees[-1].name} / {trees[0].name}: wall {b['wall'] / a['wall']:.2f}×, "
                      f"CPU {b['cpu'] / a['cpu']:.2f}×")
        s_rep, sub_rep = results[commands[2][0], trees[-1]], results[commands[3][0], trees[-1]]
        print(f"\nreport subject {HEAVY}, its parts in one process (CPU s; load {_load()}):")
        parts = subject_parts(home)
        n_fig = parts.pop("figures")
        for name, s in parts.items():
            print(f"  {name:<40}{s:>7.2f}")
        outside = sum(s for k, s in parts.items() if not k.startswith("subject_trends"))
        print(f"  outside subject_trends: {outside:.2f} s ({n_fig} figures); the whole process ≈ "
              f"import reference + this + subject_trends")
        print(f"\ntargets (issue 19), wall / CPU: report session ≤ 3 s -> "
              f"{'MET' if s_rep['wall'] <= 3 else 'NOT MET'} / "
              f"{'MET' if s_rep['cpu'] <= 3 else 'NOT MET'}; report subject ≤ 6 s -> "
              f"{'MET' if sub_rep['wall'] <= 6 else 'NOT MET'} / "
              f"{'MET' if sub_rep['cpu'] <= 6 else 'NOT MET'}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
