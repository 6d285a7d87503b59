"""The store at scale (issue 19, item 6): batch import with each runner, and the catalog's queries,
on SQLite and PostgreSQL, at 100 and 1,000 sessions.

Part 1, processing (``--process-at 100,1000 --per-round K``): at each catalog size N, K new
ten-minute 4-channel 256 Hz sessions (BrainFlow CSV + sidecar, 10 per subject; each derived from
one of 4 simulated recordings by rotating its samples, so every file has its own content and
SHA-256, at ~0.01 s a file instead of ~1.3 s for the simulator and writer) are imported by each
phase into a catalog that already holds N - K sessions (recorded through the Catalog API from the
rows of real processed sessions: one SQLite catalog filled and copied to each SQLite phase's
home, one PostgreSQL database filled), so it holds N at the end:

- direct library calls (``neurofeedback.store.ingest_file`` in a loop in one process, which
  NumPy's and SciPy's threads take to ~1.2-1.5 cores; every ``Catalog`` call it makes timed
  separately),
- the ``process-recordings`` flow with the ``threads`` runner (the command's default) on SQLite,
  the ``processes`` runner (``max_workers=2``) on SQLite and on PostgreSQL, and the ``dask``
  runner on SQLite.

Each phase runs at both sizes in turn before the next phase starts (a deadline, ``--stop-at``,
then leaves complete pairs). The machine is shared, so every phase records its CPU seconds:
this process, its children (workers, Prefect's temporary server; live ones by psutil, reaped ones
by ``RUSAGE_CHILDREN``) and the PostgreSQL cluster; ratios of CPU time hold when the wall time
is a queue for a core. Prefect's temporary server is started by a warm-up flow first and its
start-up reported apart.

Part 2, the catalog at scale (``--sizes 100,1000``): the same rows recorded as N sessions over
100 subjects, one of which (``heavy01``) holds 30 % of them (300 at N = 1,000), into a fresh
SQLite file and a fresh PostgreSQL database (a throwaway cluster with PostgreSQL's default
durability, tests/_postgres.py). Each session costs what ``ingest_file`` asks of the catalog
(open, look up by SHA-256 and by labels, record, read back): the "catalog per session" cost, at the
start and at the end of the fill, is what the batch pays at that size. Then ``sessions()``
(median of 3); ``trends`` for heavy01 (``subject_trends`` from the catalog, which reads only the
metrics it analyses, as ``neurofeedback trends`` does; median of ``--repeat``); the weekly
``trends`` flow's work (``subject_trends`` of each of the 100 subjects; one timed run);
``neurofeedback report subject heavy01`` as a whole process (the faster of ``min(2, --repeat)``).
Wall and CPU seconds. Peak memory: tracemalloc's peak of each query (a separate first pass that
also warms up, so the timings are untraced) and the report process's maximum resident set.

    nice -n 10 .venv/bin/python bench/bench_scale.py [--process-at 100,1000] [--per-round 100]
        [--sizes 100,1000] [--seconds 600] [--skip-process] [--no-postgres] [--repeat 3]
        [--stop-at HH:MM] [--json out.json]
    .venv/bin/python bench/bench_scale.py --table-from out.json   # part 1's table again
    nice -n 10 .venv/bin/python bench/bench_scale.py --skip-process --sizes 100,1000  # queries only

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

N_BASES = 4


class SessionFactory:
    """Cheap distinct sessions: ``N_BASES`` simulated recordings written once by the project's
    simulator and BrainFlow writer (~1.3 s each), then every session derived from one of them as
    text: its EEG rows rotated by a random number of samples (each file a different signal and
    SHA-256; the catalog recognises files by their content, so copies would be "unchanged"), its
    own timestamps from its start time, its own sidecar (subject, start, end). ~0.15 s a file
    instead of ~1.3-2 s."""

    def __init__(self, folder: Path, seconds: float):
        from neurofeedback.simulate import simulate_eeg, write_recording

        self.bases = []
        when = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)
        for b in range(N_BASES):
            rec = simulate_eeg(duration_s=seconds, sfreq=256.0, ch_names=["TP9", "AF7", "AF8", "TP10"],
                               seed=1000 + b, meas_date=when)
            p = write_recording(rec, folder / f"base{b}" / "base_eeg.csv", format="brainflow_csv",
                                board="muse_2", subject="base")
            lines = p.read_bytes().splitlines()
            heads, tails, fracs = [], [], []
            for line in lines:
                head, ts, marker = line.rsplit(b"\t", 2)
                heads.append(head)
                tails.append(marker)
                if len(fracs) < 256:
                    fracs.append(ts.split(b".")[1])
            sidecar = json.loads(p.with_suffix(".json").read_text())
            self.bases.append((heads, tails, fracs, sidecar))
            shutil.rmtree(p.parent)
        self.rng = __import__("numpy").random.default_rng(19)

    def write(self, i: int, folder: Path) -> Path:
        """Session ``i``: subject ``scale{i // 10:03d}`` (100 subjects at 1,000), start time
        ``i`` minutes and ``i % 10 * 3`` days after 2026-01-05 07:00 UTC."""
        heads, tails, fracs, sidecar = self.bases[i % len(self.bases)]
        subject = f"scale{i // 10:03d}"
        when = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc) + timedelta(days=i % 10 * 3, minutes=i)
        t0 = int(when.timestamp())
        n = len(heads)
        k = int(self.rng.integers(1, n))
        rotated = heads[k:] + heads[:k]
        body = b"\n".join(h + b"\t%d." % (t0 + j // 256) + fracs[j % 256] + b"\t" + m
                          for j, (h, m) in enumerate(zip(rotated, tails)))
        p = folder / f"sub-{subject}" / f"sub-{subject}_ses-{when:%Y%m%dT%H%M%S}_eeg.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body + b"\n")
        end = when + timedelta(seconds=n / 256)
        doc = {**sidecar, "subject": subject, "start_time": when.isoformat(), "end_time": end.isoformat(),
               "notes": f"{sidecar['notes']} Rotated by {k} samples (bench_scale.py)."}
        p.with_suffix(".json").write_text(json.dumps(doc, indent=2))
        return p


def make_sessions(folder: Path, n: int, seconds: float) -> list[Path]:
    """``n`` 4-channel Muse-like sessions (BrainFlow CSV + sidecar), 10 per subject."""
    factory = SessionFactory(folder, seconds)
    return [factory.write(i, folder) for i in range(n)]



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


def _pg_processes(pg):
    """The cluster's postmaster (``psutil.Process``) or ``None``."""
    import psutil

    if pg is None:
        return None
    pidfile = Path(pg.data) / "postmaster.pid"
    try:
        return psutil.Process(int(pidfile.read_text().split()[0]))
    except (OSError, ValueError, psutil.Error):
        return None


def cpu_seconds(postmaster=None) -> dict:
    """CPU seconds (user + system) used so far by this process, its children (live ones read by
    psutil, reaped ones by ``RUSAGE_CHILDREN``: process-pool workers, Dask's worker processes,
    Prefect's temporary server) and the PostgreSQL cluster (postmaster, live backends and the
    reaped ones); differences of two calls are a phase's CPU time whatever the load."""
    import psutil

    me = resource.getrusage(resource.RUSAGE_SELF)
    dead = resource.getrusage(resource.RUSAGE_CHILDREN)
    live = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            t = p.cpu_times()
            live += t.user + t.system
            if p.ppid() != os.getpid():  # a grandchild's reaped children are not in RUSAGE_CHILDREN
                live += t.children_user + t.children_system
        except psutil.Error:
            pass
    pg = 0.0
    if postmaster is not None:
        try:
            t = postmaster.cpu_times()
            pg = t.user + t.system + t.children_user + t.children_system
            for p in postmaster.children():
                t = p.cpu_times()
                pg += t.user + t.system
        except psutil.Error:
            pass
    return {"self": me.ru_utime + me.ru_stime, "children": dead.ru_utime + dead.ru_stime + live,
            "postgres": pg}


PHASES = ("direct", "threads_sqlite", "processes_sqlite", "processes_postgresql", "dask_sqlite")


def _copy_sqlite(src: Path, dst: Path) -> None:
    """Copy a SQLite catalog with SQLite's backup API (consistent whatever its WAL holds)."""
    import sqlite3

    dst.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def _pace(times: list[float]) -> dict:
    """Seconds per session over the first and the last 10 % of a batch, from the sorted times at
    which its sessions were finished (the batch's own start is not known for the runners, so the
    first tenth is measured from its first session)."""
    t = sorted(times)
    m = max(1, len(t) // 10)
    if len(t) < 2 * m + 1:
        return {}
    return {"first_s": (t[m] - t[0]) / m, "last_s": (t[-1] - t[-1 - m]) / m}


def _finished_times(url: str, folder: Path) -> list[float]:
    """When each session of ``folder`` was finished: the modification time of its features file
    (the last derivative ``ingest_file`` writes before the catalog row)."""
    from neurofeedback.store import Catalog

    rows = Catalog(url).sessions()
    rows = rows[rows["source_path"].astype(str).str.startswith(str(folder))]
    return [os.stat(p).st_mtime for p in rows["features_path"] if p and os.path.exists(p)]


def run_processing(tmp: Path, sizes, per_round, seconds: float, pg, *, stop_at=None,
                   record=None, phases=PHASES) -> dict:
    """Part 1: at each catalog size N of ``sizes``, ``per_round`` new sessions (an int, or one per
    size) imported by every phase into a catalog that already holds N - ``per_round`` sessions (recorded through the
    Catalog API from the rows of real processed sessions, :func:`fill`; one SQLite catalog
    filled and copied to each SQLite phase's home, one PostgreSQL database filled), so that it
    holds N at the end. The phases run one after the other in an order rotated from size to
    size. Per phase and size: wall seconds, CPU seconds (this process, the workers, Prefect's
    server, PostgreSQL), the load average before and after, and for the direct loop the seconds
    inside the catalog.

    ``stop_at`` (a UTC datetime): no phase starts after it (what ran is reported).
    ``record(out)`` is called after every phase (a JSON dump)."""
    if isinstance(per_round, int):
        per_round = [per_round] * len(sizes)
    out: dict = {"sizes": list(sizes), "per_round": list(per_round), "rounds": [], "seconds": seconds}
    t0 = time.perf_counter()
    factory = SessionFactory(tmp / "bases", seconds)
    out["bases_s"] = time.perf_counter() - t0
    print(f"[process] {N_BASES} base sessions simulated and written in {out['bases_s']:.1f} s", flush=True)

    import pipelines
    from neurofeedback.store import ingest_file

    # the rows the fills copy: 3 sessions imported by the library
    for i in range(2):
        ingest_file(factory.write(100_000 + i, tmp / "template-data"), home=tmp / "home-template")
    templates = load_templates(f"sqlite:///{tmp / 'home-template' / 'catalog.sqlite'}")

    pipelines.configure(tmp / "prefect-home")
    from prefect import flow

    from pipelines.process import run_process

    @flow
    def warm_up():
        return 1

    t0 = time.perf_counter()
    warm_up()
    out["prefect_start_s"] = time.perf_counter() - t0
    phases = [p for p in phases if pg is not None or not p.endswith("postgresql")]
    postmaster = _pg_processes(pg)
    rounds = {}
    for r, (size, k) in enumerate(zip(sizes, per_round)):  # catalogs filled, files written first
        n_fill = size - k
        fill_home = tmp / f"fill-{size}"
        fill_home.mkdir()
        fill_url = f"sqlite:///{fill_home / 'catalog.sqlite'}"
        t0 = time.perf_counter()
        fills = {}
        if n_fill:
            fills["sqlite"] = fill(fill_url, n_fill, templates)
        else:
            from neurofeedback.store import Catalog

            Catalog(fill_url)  # an empty catalog
        pg_url = None
        if pg is not None:
            pg_url = pg.url(pg.create_database(f"nf_process_{size}"))
            if n_fill:
                fills["postgresql"] = fill(pg_url, n_fill, templates)
        rnd = {"size": size, "per_round": k, "filled": n_fill, "fill_s": time.perf_counter() - t0, "fill": fills,
               "pg_url": pg_url, "folder": str(tmp / f"data-{size}")}
        print(f"[process] N={size}: catalogs filled with {n_fill} sessions in {rnd['fill_s']:.0f} s", flush=True)
        t0, c0 = time.perf_counter(), time.process_time()
        start = 1000 * r  # distinct sessions at every size (subjects scale000, scale001, ...)
        rnd["files"] = [factory.write(i, Path(rnd["folder"])) for i in range(start, start + k)]
        rnd.update(generate_s=time.perf_counter() - t0, generate_cpu_s=time.process_time() - c0)
        rounds[size] = rnd
        out["rounds"].append(rnd)
    for j, phase in enumerate(phases):  # each phase at every size in turn: a cut leaves pairs
        for size in (sizes if j % 2 == 0 else sizes[::-1]):
            if stop_at is not None and datetime.now(timezone.utc) > stop_at:
                print(f"[process] {stop_at:%H:%M} UTC passed: {phase} at N={size} not run", flush=True)
                continue
            rnd = rounds[size]
            files, folder, pg_url = rnd["files"], Path(rnd["folder"]), rnd["pg_url"]
            home = tmp / f"home-{phase}-{size}"
            if phase != "processes_postgresql":
                _copy_sqlite(tmp / f"fill-{size}" / "catalog.sqlite", home / "catalog.sqlite")
            load0 = os.getloadavg()[0]
            cpu0 = cpu_seconds(postmaster)
            t0 = time.perf_counter()
            bad = []
            if phase == "direct":
                clock = CatalogClock()
                statuses, finished = [], []
                try:
                    for f in files:
                        statuses.append(ingest_file(f, home=home).status)
                        finished.append(time.time())
                finally:
                    clock.restore()
                rnd["direct_catalog_s"] = clock.seconds
            else:
                runner, backend = phase.split("_")
                saved = os.environ.pop("NEUROFEEDBACK_DB_URL", None)
                if backend == "postgresql":
                    os.environ["NEUROFEEDBACK_DB_URL"] = pg_url
                try:
                    recs = run_process([folder], home=home, runner=runner, max_workers=2)
                finally:
                    os.environ.pop("NEUROFEEDBACK_DB_URL", None)
                    if saved is not None:
                        os.environ["NEUROFEEDBACK_DB_URL"] = saved
                statuses = [rec["status"] for rec in recs]
                bad = [rec["reason"] for rec in recs if rec["status"] != "imported"]
            took = time.perf_counter() - t0
            cpu1 = cpu_seconds(postmaster)
            if phase != "direct":
                finished = _finished_times(pg_url if phase.endswith("postgresql")
                                           else f"sqlite:///{home / 'catalog.sqlite'}", folder)
            imported = statuses.count("imported")
            if imported != len(files):  # reported, and the per-session figures count only these
                print(f"[process] {phase} at N={size}: {imported} of {len(files)} imported: {bad[:2]}",
                      flush=True)
            rnd[phase] = {"wall_s": took, "cpu_s": sum(cpu1.values()) - sum(cpu0.values()),
                          "cpu_postgres_s": cpu1["postgres"] - cpu0["postgres"],
                          "load": [load0, os.getloadavg()[0]], "imported": imported, "skipped": bad,
                          **_pace(finished)}
            print(f"[process] N={size} {phase:21s}: {len(files)} sessions {took:6.1f} s wall, "
                  f"{rnd[phase]['cpu_s']:6.1f} s CPU, load {load0:.1f}->{os.getloadavg()[0]:.1f}"
                  + (f", catalog {rnd['direct_catalog_s']:.2f} s" if phase == "direct" else ""),
                  flush=True)
            if record is not None:
                record(out)
    for rnd in out["rounds"]:
        rnd["files"] = len(rnd["files"])
        rnd.pop("pg_url")
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


def _median(fn, repeat=3) -> tuple[float, float]:
    """Median wall and CPU seconds (this process) of ``repeat`` calls."""
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpu)


def _peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def queries(url: str, home: Path, repeat: int = 3) -> dict:
    from _proc import run_timed  # bench/_proc.py (this script's folder)

    from neurofeedback.statements import subject_trends
    from neurofeedback.store import Catalog

    def q_sessions():
        return Catalog(url).sessions()

    def q_trends():  # what `neurofeedback trends --subject heavy01` computes, and its reads
        return subject_trends(HEAVY, catalog=Catalog(url))

    def q_cohort():  # what the weekly `trends` flow computes for every subject
        cat = Catalog(url)
        return {s: subject_trends(s, catalog=cat) for s in cat.subjects()}

    out = {}
    for name, fn, times in (("sessions", q_sessions, 3), ("trends", q_trends, repeat),
                            ("cohort", q_cohort, 1)):
        out[f"{name}_peak_mb"] = _peak_mb(fn)  # also the warm-up (imports, connection pool)
        out[f"{name}_s"], out[f"{name}_cpu_s"] = _median(fn, times)
    n_heavy = len(Catalog(url).sessions(subject=HEAVY))
    out["heavy_sessions"] = n_heavy
    out["trend_series"] = len(q_trends())
    out["cohort_subjects"] = len(q_cohort())

    env = {**os.environ, "NEUROFEEDBACK_HOME": str(home), "MPLBACKEND": "Agg"}
    if url.startswith("sqlite"):
        env.pop("NEUROFEEDBACK_DB_URL", None)
    else:
        env["NEUROFEEDBACK_DB_URL"] = url
    times, rss, cpu = [], [], []
    for k in range(min(2, repeat)):
        html = home / f"report-{k}.html"
        # its own peak memory (GNU time, bench/_proc.py), not wait4's, which would carry this
        # process's resident set at fork (the ~1 GB reported before)
        r = run_timed([sys.executable, "-m", "neurofeedback", "report", "subject", HEAVY,
                       "-o", html, "--home", home], env=env)
        if r.returncode or not html.is_file():
            raise SystemExit(f"report subject failed ({r.returncode}): {r.stderr.strip()[-500:]}")
        times.append(r.wall_s)
        rss.append(r.rss_mb)
        cpu.append(r.cpu_s)
    out["report_s"] = min(times)  # the second run has warm file caches, like a user's
    out["report_cpu_s"] = cpu[times.index(min(times))]
    out["report_rss_mb"] = max(rss)
    out["load"] = os.getloadavg()[0]
    return out


def run_catalog(tmp: Path, sizes, templates, pg, repeat: int = 3) -> dict:
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
            r.update(queries(url, home, repeat))
            results[(backend, n)] = r
            print(f"[catalog] {backend:10s} n={n:5d}: filled in {r['fill_s']:.1f} s "
                  f"({r['per_session_first_ms']:.1f} -> {r['per_session_last_ms']:.1f} ms/session); "
                  f"sessions {r['sessions_s']:.3f} s, trends({r['heavy_sessions']}) {r['trends_s']:.3f} s, "
                  f"cohort({r['cohort_subjects']}) {r['cohort_s']:.2f} s, report subject "
                  f"{r['report_s']:.2f} s [{time.perf_counter() - t0:.0f} s]", flush=True)
    return results


# --- the table ----------------------------------------------------------------------------


NAMES = {"direct": "direct library calls (`ingest_file` loop, one process, SQLite)",
         "threads_sqlite": "`threads` runner (the default), 2 workers, SQLite",
         "processes_sqlite": "`processes` runner, 2 workers, SQLite",
         "dask_sqlite": "`dask` runner, 2 workers, SQLite",
         "processes_postgresql": "`processes` runner, 2 workers, PostgreSQL"}


def _k(proc: dict, rnd: dict) -> int:
    """Sessions imported per phase in a round (older JSON files kept one ``per_round`` for all)."""
    return rnd.get("per_round", proc["per_round"])


def process_table(proc: dict) -> list[str]:
    """The processing part's table (from :func:`run_processing`'s dict, or its JSON)."""
    rounds = [r for r in proc["rounds"] if any(p in r for p in NAMES)]
    phases = [p for p in NAMES if any(p in r for r in rounds)]
    loads = [x for r in rounds for p in phases if p in r for x in r[p]["load"]]
    sizes = [r["size"] for r in rounds]
    ks = [_k(proc, r) for r in rounds]
    lines = [f"Processing {' and '.join(map(str, ks))} new sessions of {proc['seconds'] / 60:g} min x 4 "
             f"channels into a catalog holding {' and '.join(str(s - k) for s, k in zip(sizes, ks))} "
             f"(-> {' and '.join(map(str, sizes))}); load average {min(loads):.1f}-{max(loads):.1f}. "
             "CPU = this process + its workers + Prefect's server + PostgreSQL; s per session:", ""]
    head = "| run | " + " | ".join(f"N={s}: wall | N={s}: CPU | N={s}: direct / run, CPU" for s in sizes)
    if len(sizes) > 1:
        head += f" | CPU growth {sizes[0]} -> {sizes[-1]}"
    lines += [head + " |", "|---|" + "---:|" * (3 * len(sizes) + (len(sizes) > 1))]
    for p in phases:
        cells = []
        for r, k in zip(rounds, ks):
            if p in r:
                cells += [f"{r[p]['wall_s'] / k:.2f}", f"{r[p]['cpu_s'] / k:.2f}",
                          f"{r['direct']['cpu_s'] / r[p]['cpu_s']:.2f}" if "direct" in r else "-"]
            else:
                cells += ["not run"] * 3
        if len(sizes) > 1:
            cells.append(f"{(rounds[-1][p]['cpu_s'] / ks[-1]) / (rounds[0][p]['cpu_s'] / ks[0]):.2f}x"
                         if p in rounds[0] and p in rounds[-1] else "")
        lines.append(f"| {NAMES[p]} | " + " | ".join(cells) + " |")
    lines += [""]
    paced = [(r, p) for r in rounds for p in phases if p in r and "first_s" in r[p]]
    if paced:
        lines += ["Within each batch, wall seconds per session over its first and its last 10 % "
                  "(from the times the sessions were finished):", "",
                  "| run | " + " | ".join(f"N={s}: first 10 % | N={s}: last 10 %" for s in sizes) + " |",
                  "|---|" + "---:|" * (2 * len(sizes))]
        for p in phases:
            cells = []
            for r in rounds:
                cells += ([f"{r[p]['first_s']:.2f}", f"{r[p]['last_s']:.2f}"] if p in r and "first_s" in r[p]
                          else ["-", "-"])
            lines.append(f"| {NAMES[p]} | " + " | ".join(cells) + " |")
        lines += [""]
    for r, k in zip(rounds, ks):
        if "direct" not in r:
            continue
        lines.append(f"At N={r['size']}: inside the catalog during the direct loop "
                     f"{100 * r['direct_catalog_s'] / r['direct']['wall_s']:.2f} % of its wall time "
                     f"({1000 * r['direct_catalog_s'] / k:.0f} ms a session); the fill of "
                     f"{r['filled']} sessions took {r['fill_s']:.0f} s"
                     + "".join(f"; {b} catalog per filled session {v['per_session_first_ms']:.0f} ms "
                               f"(first 10 %) -> {v['per_session_last_ms']:.0f} ms (last 10 %)"
                               for b, v in r.get("fill", {}).items()) + ".")
    lines += ["", f"Prefect's temporary server start: {proc['prefect_start_s']:.1f} s (once, not in the "
              f"table). Generating the files: {proc['bases_s']:.1f} s for {N_BASES} simulated bases, then "
              f"{sum(r['generate_s'] for r in rounds) / sum(ks):.2f} s a file.", ""]
    if "maxrss_self_mb" in proc:
        # not the workers' RUSAGE_CHILDREN maximum: Linux carries this process's resident set at
        # fork into each child's, so it says nothing about the workers themselves
        lines += [f"Peak resident memory of the benchmark process: {proc['maxrss_self_mb']:.0f} MB.", ""]
    return lines


def table(proc: dict | None, cat: dict, sizes) -> str:
    lines = process_table(proc) if proc else []
    if not cat:
        return "\n".join(lines)
    backends = sorted({b for b, _ in cat})
    lines += ["The catalog with N sessions over 100 subjects (heavy01: 30 % of them); `trends`: median "
              "of --repeat, cohort: 1 run, report: the faster of min(2, --repeat); CPU seconds of this "
              "process (the report: of its process):", ""]
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
    row("`trends` heavy01 (CPU s)", "trends_cpu_s", "{:.3f}")
    row("weekly trends of all 100 subjects (s)", "cohort_s", "{:.2f}")
    row("weekly trends of all (CPU s)", "cohort_cpu_s", "{:.2f}")
    row("`report subject heavy01`, whole process (s)", "report_s", "{:.2f}")
    row("`report subject heavy01` (CPU s)", "report_cpu_s", "{:.2f}")
    row("peak traced memory, trends (MB)", "trends_peak_mb", "{:.0f}")
    row("peak traced memory, weekly trends of all (MB)", "cohort_peak_mb", "{:.0f}")
    row("report process max RSS (MB)", "report_rss_mb", "{:.0f}")
    row("load average during the queries", "load", "{:.1f}")
    if proc:
        n_big = sizes[-1]
        big = [r for r in proc["rounds"] if r["size"] == n_big and "direct" in r]
        if big:
            lines += ["", f"Catalog share of the batch at N={n_big} (catalog ms per session at the end of "
                      "the fill / batch wall ms per session of the runner at that size):", ""]
            lines += ["| runner | " + " | ".join(backends) + " |", "|---|" + "---:|" * len(backends)]
            for key in NAMES:
                if key in big[0]:
                    batch_ms = 1000 * big[0][key]["wall_s"] / _k(proc, big[0])
                    cells = [f"{100 * cat[(b, n_big)]['per_session_last_ms'] / batch_ms:.2f} %"
                             for b in backends]
                    lines.append(f"| {NAMES[key]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--process-at", default="100,1000",
                    help="part 1: catalog sizes at which --per-round new sessions are imported")
    ap.add_argument("--per-round", default="100",
                    help="sessions imported by each phase per size: one number, or one per size "
                         "(100,1000 with --process-at 100,1000: every runner imports 100 and 1,000 "
                         "sessions into empty catalogs)")
    ap.add_argument("--phases", default=",".join(PHASES), help="part 1's phases, in this order")
    ap.add_argument("--seconds", type=float, default=600.0, help="length of each session")
    ap.add_argument("--sizes", default="100,1000", help="catalog sizes of part 2")
    ap.add_argument("--skip-process", action="store_true",
                    help="part 2 only (templates from 4 sessions processed here)")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--repeat", type=int, default=3,
                    help="part 2: runs of `trends` (the median) and of the report (the faster of 2 at most)")
    ap.add_argument("--stop-at", metavar="HH:MM", help="UTC time: start no processing phase after it")
    ap.add_argument("--json", type=Path, help="also write the results here (part 1: after each round)")
    ap.add_argument("--table-from", type=Path, metavar="JSON",
                    help="print the processing table of a --json file and exit")
    args = ap.parse_args()
    if args.table_from:
        print("\n".join(process_table(json.loads(args.table_from.read_text())["process"])))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
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
            def record(out):
                if args.json:
                    args.json.write_text(json.dumps({"process": out}, indent=1, default=str))

            stop_at = None
            if args.stop_at:
                hh, mm = map(int, args.stop_at.split(":"))
                stop_at = datetime.now(timezone.utc).replace(hour=hh, minute=mm, second=0, microsecond=0)
            at = [int(s) for s in args.process_at.split(",")]
            ks = [int(k) for k in args.per_round.split(",")]
            if len(ks) not in (1, len(at)):
                raise SystemExit("--per-round: one number, or one per --process-at size")
            proc = run_processing(tmp, at, ks * len(at) if len(ks) == 1 else ks,
                                  args.seconds, pg, stop_at=stop_at, record=record,
                                  phases=args.phases.split(","))
            proc["maxrss_self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            proc["maxrss_children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            record(proc)
            template_url = f"sqlite:///{tmp / 'home-template' / 'catalog.sqlite'}"
        if not sizes:
            print()
            print(table(proc, {}, sizes))
            return
        templates = load_templates(template_url)
        print(f"[catalog] {len(templates)} template sessions, {len(templates[0][1])} metric rows and "
              f"{len(templates[0][2])} block rows each", flush=True)
        cat = run_catalog(tmp, sizes, templates, pg, args.repeat)
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
