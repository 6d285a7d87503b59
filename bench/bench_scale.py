"""The store at scale (issue 19, item 6): batch import with each runner, and the catalog's queries,
on SQLite and PostgreSQL, at 100 and 1,000 sessions.

Part 1, processing (``--process N`` ten-minute 4-channel 256 Hz sessions from the project's
simulator, N/10 subjects): the same files imported by direct library calls
(``neurofeedback.store.ingest_file`` in a loop, one core; every ``Catalog`` call it makes timed
separately) and by the ``process-recordings`` flow with the ``processes`` and ``dask`` runners
(``max_workers=2``) on SQLite, and with ``processes`` on PostgreSQL. Prefect's temporary server is
started by a warm-up flow first and its start-up reported apart.

Part 2, the catalog at scale (``--sizes 100,1000``): the stored rows of real processed sessions
(session fields, 175 metric rows, blocks) are recorded again through the Catalog API as N sessions
over 100 subjects, one of which (``heavy01``) holds 30 % of them (300 at N = 1,000), into a fresh
SQLite file and a fresh PostgreSQL database (a throwaway cluster with PostgreSQL's default
durability, tests/_postgres.py). Each session costs what ``ingest_file`` asks of the catalog
(open, look up by SHA-256 and by labels, record, read back): the "catalog per session" cost, at the
start and at the end of the fill, is what the batch pays at that size. Then, median of 3:
``sessions()``; ``trends`` for heavy01 (``metrics_frame`` + ``subject_trends``, what
``neurofeedback trends`` computes); the cohort (``metrics_frame()`` of all 100 subjects +
``subject_trends`` of each; one timed run); ``neurofeedback report subject heavy01`` as a whole
process (the faster of 2). Peak memory: tracemalloc's peak of each query (a separate first pass
that also warms up, so the timings are untraced) and the report process's maximum resident set.

    nice -n 10 .venv/bin/python bench/bench_scale.py [--process 100] [--sizes 100,1000]
        [--seconds 600] [--skip-process] [--no-postgres]

The catalog's share of the batch at a size = catalog seconds per session at that size / batch
seconds per session of the runner (measured in part 1). Every time is printed beside its
reference in the same run; this machine is shared, so absolute seconds vary and ratios matter.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # _postgres.py: the throwaway cluster
sys.path.insert(0, str(ROOT / "bench"))

HEAVY = "heavy01"
N_SUBJECTS = 100


# --- part 1: processing ------------------------------------------------------------------


def make_sessions(folder: Path, n: int, seconds: float) -> list[Path]:
    """``n`` 4-channel Muse-like sessions (BrainFlow CSV + sidecar), 10 per subject."""
    from neurofeedback.simulate import simulate_eeg, write_recording

    start = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)
    paths = []
    for i in range(n):
        subject = f"scale{i // 10:03d}"
        when = start + timedelta(days=i % 10 * 3, minutes=i)
        rec = simulate_eeg(duration_s=seconds, sfreq=256.0, ch_names=["TP9", "AF7", "AF8", "TP10"],
                           seed=i, meas_date=when)
        p = folder / f"sub-{subject}" / f"sub-{subject}_ses-{when:%Y%m%dT%H%M%S}_eeg.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        paths.append(write_recording(rec, p, format="brainflow_csv", board="muse_2", subject=subject))
    return paths


class CatalogClock:
    """Time spent inside the ``Catalog`` methods ``ingest_file`` calls (this process only)."""

    METHODS = ("__init__", "find_by_sha", "find_session", "record_session", "session")

    def __init__(self):
        from neurofeedback.store import Catalog

        self.seconds = 0.0
        self._depth = 0
        self._saved = {m: getattr(Catalog, m) for m in self.METHODS}
        for name, fn in self._saved.items():
            setattr(Catalog, name, self._timed(fn))

    def _timed(self, fn):
        clock = self

        def wrapper(*args, **kwargs):
            clock._depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                clock._depth -= 1
                if clock._depth == 0:  # nested calls are counted once
                    clock.seconds += time.perf_counter() - t0
        return wrapper

    def restore(self):
        from neurofeedback.store import Catalog

        for name, fn in self._saved.items():
            setattr(Catalog, name, fn)


def run_processing(tmp: Path, n: int, seconds: float, pg) -> dict:
    """Part 1; returns the measured times and the direct run's catalog URL (the row templates)."""
    out: dict = {"n": n}
    t0 = time.perf_counter()
    files = make_sessions(tmp / "data", n, seconds)
    out["generate_s"] = time.perf_counter() - t0
    print(f"[process] {n} sessions of {seconds:g} s x 4 channels generated in {out['generate_s']:.1f} s "
          f"({out['generate_s'] / n:.2f} s each)", flush=True)

    from neurofeedback.store import ingest_file

    home = tmp / "home-direct"
    clock = CatalogClock()
    t0 = time.perf_counter()
    for f in files:
        ingest_file(f, home=home)
    out["direct_s"] = time.perf_counter() - t0
    out["direct_catalog_s"] = clock.seconds
    clock.restore()
    out["template_url"] = f"sqlite:///{home / 'catalog.sqlite'}"
    print(f"[process] direct library calls: {out['direct_s']:.1f} s; inside the catalog "
          f"{out['direct_catalog_s']:.2f} s = {100 * out['direct_catalog_s'] / out['direct_s']:.2f} %",
          flush=True)

    import pipelines

    pipelines.configure(tmp / "prefect-home")
    from prefect import flow

    from pipelines.process import run_process

    @flow
    def warm_up():
        return 1

    t0 = time.perf_counter()
    warm_up()
    out["prefect_start_s"] = time.perf_counter() - t0
    runs = [("processes", "sqlite"), ("dask", "sqlite")]
    if pg is not None:
        runs.append(("processes", "postgresql"))
    for runner, backend in runs:
        home = tmp / f"home-{runner}-{backend}"
        saved = os.environ.pop("NEUROFEEDBACK_DB_URL", None)
        if backend == "postgresql":
            os.environ["NEUROFEEDBACK_DB_URL"] = pg.url(pg.create_database("nf_process"))
        try:
            t0 = time.perf_counter()
            recs = run_process([tmp / "data"], home=home, runner=runner, max_workers=2)
            took = time.perf_counter() - t0
        finally:
            os.environ.pop("NEUROFEEDBACK_DB_URL", None)
            if saved is not None:
                os.environ["NEUROFEEDBACK_DB_URL"] = saved
        imported = sum(r["status"] == "imported" for r in recs)
        if imported != n:
            raise SystemExit(f"{runner} on {backend}: {imported} of {n} imported: "
                             f"{[r['reason'] for r in recs if r['status'] == 'skipped'][:2]}")
        out[f"{runner}_{backend}_s"] = took
        print(f"[process] {runner:9s} runner, 2 workers, {backend:10s}: {took:.1f} s "
              f"(direct/this {out['direct_s'] / took:.2f}x)", flush=True)
    return out


# --- part 2: the catalog at scale ---------------------------------------------------------


def load_templates(url: str, k: int = 10) -> list[tuple[dict, object, object]]:
    """Up to ``k`` stored sessions of a catalog: (fields, metric rows, block rows)."""
    from neurofeedback.store import Catalog
    from neurofeedback.store._schema import SESSION_FIELDS

    cat = Catalog(url)
    out = []
    for sid in cat.sessions()["session_id"][:k]:
        row = cat.session(sid)
        fields = {f: row[f] for f in SESSION_FIELDS}
        out.append((fields, cat.session_features(sid), cat.session_blocks(sid)))
    return out


def plan(n: int) -> list[tuple[str, datetime]]:
    """``n`` sessions over 100 subjects, 30 % of them heavy01's: (subject, start time)."""
    n_heavy = round(0.3 * n)
    t0 = datetime(2025, 1, 6, 7, 0, tzinfo=timezone.utc)
    out = [(HEAVY, t0 + timedelta(hours=55 * k)) for k in range(n_heavy)]  # ~3 a week
    others = [f"sub{j:03d}" for j in range(2, N_SUBJECTS + 1)]
    for k in range(n - n_heavy):
        out.append((others[k % len(others)], t0 + timedelta(days=3 * (k // len(others)), minutes=k)))
    return out


def fill(url: str, n: int, templates) -> dict:
    """Record ``n`` sessions through the Catalog API as ``ingest_file`` would; per-session costs."""
    import numpy as np

    from neurofeedback.store import Catalog

    rng = np.random.default_rng(19)
    costs = []
    for k, (subject, start) in enumerate(plan(n)):
        fields, metrics, blocks = templates[k % len(templates)]
        drift = 1 + 0.002 * (start - datetime(2025, 1, 6, tzinfo=timezone.utc)).days / 7
        m = metrics.assign(value=metrics["value"] * drift * (1 + 0.05 * rng.standard_normal(len(metrics))))
        label = f"{start:%Y%m%dT%H%M%S}"
        sha = f"{k:064x}"
        f = {**fields, "start_time": start, "input_sha256": sha,
             "source_path": f"/data/sub-{subject}/ses-{label}.csv"}
        t0 = time.perf_counter()
        cat = Catalog(url)
        cat.find_by_sha(sha)
        cat.find_session(subject, label)
        _, sid = cat.record_session(subject, label, f, m, blocks)
        cat.session(sid)
        costs.append(time.perf_counter() - t0)
    tail = max(1, n // 10)
    return {"fill_s": sum(costs), "per_session_first_ms": 1000 * statistics.mean(costs[:tail]),
            "per_session_last_ms": 1000 * statistics.mean(costs[-tail:])}


def _median(fn, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def queries(url: str, home: Path) -> dict:
    from neurofeedback.statements import subject_trends
    from neurofeedback.store import Catalog

    def q_sessions():
        return Catalog(url).sessions()

    def q_trends():
        frame = Catalog(url).metrics_frame(subject=HEAVY)
        return subject_trends(HEAVY, frame=frame)

    def q_cohort():
        frame = Catalog(url).metrics_frame()
        return {s: subject_trends(s, frame=g) for s, g in frame.groupby("subject", sort=True)}

    out = {}
    for name, fn, repeat in (("sessions", q_sessions, 3), ("trends", q_trends, 3),
                             ("cohort", q_cohort, 1)):
        out[f"{name}_peak_mb"] = _peak_mb(fn)  # also the warm-up (imports, connection pool)
        out[f"{name}_s"] = _median(fn, repeat)
    n_heavy = len(Catalog(url).sessions(subject=HEAVY))
    out["heavy_sessions"] = n_heavy
    out["trend_series"] = len(q_trends())
    out["cohort_subjects"] = len(q_cohort())

    env = {**os.environ, "NEUROFEEDBACK_HOME": str(home), "MPLBACKEND": "Agg"}
    if url.startswith("sqlite"):
        env.pop("NEUROFEEDBACK_DB_URL", None)
    else:
        env["NEUROFEEDBACK_DB_URL"] = url
    times, rss = [], []
    for k in range(2):
        html = home / f"report-{k}.html"
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "neurofeedback", "report", "subject", HEAVY,
                                 "-o", str(html), "--home", str(home)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - t0)
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode or not html.is_file():
            raise SystemExit(f"report subject failed ({proc.returncode}): {err.strip()[-500:]}")
        rss.append(usage.ru_maxrss / 1024)
    out["report_s"] = min(times)  # the second run has warm file caches, like a user's
    out["report_rss_mb"] = max(rss)
    return out


def run_catalog(tmp: Path, sizes, templates, pg) -> dict:
    results = {}
    for n in sizes:
        backends = [("sqlite", None)] + ([("postgresql", pg)] if pg is not None else [])
        for backend, cluster in backends:
            home = tmp / f"cat-{backend}-{n}"
            home.mkdir()
            url = (f"sqlite:///{home / 'catalog.sqlite'}" if cluster is None
                   else cluster.url(cluster.create_database(f"nf_scale_{n}")))
            t0 = time.perf_counter()
            r = fill(url, n, templates)
            r.update(queries(url, home))
            results[(backend, n)] = r
            print(f"[catalog] {backend:10s} n={n:5d}: filled in {r['fill_s']:.1f} s "
                  f"({r['per_session_first_ms']:.1f} -> {r['per_session_last_ms']:.1f} ms/session); "
                  f"sessions {r['sessions_s']:.3f} s, trends({r['heavy_sessions']}) {r['trends_s']:.3f} s, "
                  f"cohort({r['cohort_subjects']}) {r['cohort_s']:.2f} s, report subject "
                  f"{r['report_s']:.2f} s [{time.perf_counter() - t0:.0f} s]", flush=True)
    return results


# --- the table ----------------------------------------------------------------------------


def table(proc: dict | None, cat: dict, sizes) -> str:
    lines = []
    if proc:
        n = proc["n"]
        per = {k[:-2]: v / n for k, v in proc.items()
               if k.endswith("_s") and k not in ("generate_s", "prefect_start_s")}
        lines += [f"Processing {n} sessions of 10 min x 4 channels (batch seconds per session; "
                  f"ratio to direct library calls on one core):", ""]
        lines += ["| run | total s | s/session | direct / run |", "|---|---:|---:|---:|"]
        names = {"direct": "direct library calls (1 core, SQLite)",
                 "processes_sqlite": "processes runner, 2 workers, SQLite",
                 "dask_sqlite": "dask runner, 2 workers, SQLite",
                 "processes_postgresql": "processes runner, 2 workers, PostgreSQL"}
        for key, label in names.items():
            if f"{key}_s" in proc:
                lines.append(f"| {label} | {proc[f'{key}_s']:.1f} | {per[key]:.2f} | "
                             f"{proc['direct_s'] / proc[f'{key}_s']:.2f} |")
        lines += ["", f"Inside the catalog during the direct run: {proc['direct_catalog_s']:.2f} s = "
                  f"{100 * proc['direct_catalog_s'] / proc['direct_s']:.2f} % of it. Prefect's temporary "
                  f"server start: {proc['prefect_start_s']:.1f} s (once per process, not in the table). "
                  f"Generating the files: {proc['generate_s'] / n:.2f} s each.", ""]
    backends = sorted({b for b, _ in cat})
    lines += ["The catalog with N sessions over 100 subjects (heavy01: 30 % of them); median of 3 "
              "(cohort: 1 run, report: the faster of 2):", ""]
    head = "| | " + " | ".join(f"{b} N={n}" for b in backends for n in sizes) + " | growth " + \
        " | growth ".join(backends) + " |"
    lines += [head, "|---|" + "---:|" * (len(backends) * len(sizes) + len(backends))]

    def row(label, key, fmt):
        cells = [fmt.format(cat[(b, n)][key]) for b in backends for n in sizes]
        growth = [f"{cat[(b, sizes[-1])][key] / cat[(b, sizes[0])][key]:.1f}x" for b in backends]
        lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(growth) + " |")

    row("catalog per session, first 10 % (ms)", "per_session_first_ms", "{:.1f}")
    row("catalog per session, last 10 % (ms)", "per_session_last_ms", "{:.1f}")
    row("`sessions()` (s)", "sessions_s", "{:.3f}")
    row("heavy01 sessions", "heavy_sessions", "{:d}")
    row("`trends` heavy01 (s)", "trends_s", "{:.3f}")
    row("cohort: frame + trends of 100 subjects (s)", "cohort_s", "{:.2f}")
    row("`report subject heavy01`, whole process (s)", "report_s", "{:.2f}")
    row("peak traced memory, trends (MB)", "trends_peak_mb", "{:.0f}")
    row("peak traced memory, cohort (MB)", "cohort_peak_mb", "{:.0f}")
    row("report process max RSS (MB)", "report_rss_mb", "{:.0f}")
    if proc:
        n_big = sizes[-1]
        lines += ["", f"Catalog share of the batch at N={n_big} (catalog ms per session at the end of the "
                  "fill / batch ms per session of the runner):", ""]
        lines += ["| runner | " + " | ".join(backends) + " |", "|---|" + "---:|" * len(backends)]
        for key, label in (("direct", "direct, 1 core"), ("processes_sqlite", "processes, 2 workers"),
                           ("dask_sqlite", "dask, 2 workers")):
            batch_ms = 1000 * proc[f"{key}_s"] / proc["n"]
            cells = [f"{100 * cat[(b, n_big)]['per_session_last_ms'] / batch_ms:.2f} %" for b in backends]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--process", type=int, default=100, help="sessions processed in part 1")
    ap.add_argument("--seconds", type=float, default=600.0, help="length of each session")
    ap.add_argument("--sizes", default="100,1000", help="catalog sizes of part 2")
    ap.add_argument("--skip-process", action="store_true",
                    help="part 2 only (templates from 4 sessions processed here)")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="nf-bench-scale-"))
    os.environ["NEUROFEEDBACK_HOME"] = str(tmp / "nf-home")
    os.environ.pop("NEUROFEEDBACK_DB_URL", None)
    pg = None
    t_start = time.perf_counter()
    try:
        if not args.no_postgres:
            from _postgres import PostgresCluster

            pg = PostgresCluster(durable=True)
            print(f"[setup] PostgreSQL cluster on 127.0.0.1:{pg.port} (default durability)", flush=True)
        proc = None
        if args.skip_process:
            from neurofeedback.store import ingest_file

            files = make_sessions(tmp / "data", 4, args.seconds)
            for f in files:
                ingest_file(f, home=tmp / "home-direct")
            template_url = f"sqlite:///{tmp / 'home-direct' / 'catalog.sqlite'}"
        else:
            proc = run_processing(tmp, args.process, args.seconds, pg)
            template_url = proc["template_url"]
        templates = load_templates(template_url)
        print(f"[catalog] {len(templates)} template sessions, {len(templates[0][1])} metric rows and "
              f"{len(templates[0][2])} block rows each", flush=True)
        cat = run_catalog(tmp, sizes, templates, pg)
        print()
        print(table(proc, cat, sizes))
        print(f"\nbench process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
              f"whole run {time.perf_counter() - t_start:.0f} s")
        if args.json:
            args.json.write_text(json.dumps({"process": proc, "catalog": {
                f"{b}-{n}": v for (b, n), v in cat.items()}}, indent=1, default=str))
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
