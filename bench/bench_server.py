"""What a running Prefect server (``neurofeedback server start``) saves, measured as whole processes.

1. ``process`` of 3 short sessions, wall time of the command: with Prefect's temporary server
   (no server running) against a running ``server start``; the reference in the same run is
   ``neurofeedback --help`` (the interpreter and the CLI's imports, no work).
2. Unchanged files recognised: ``process`` over ``--files`` files that are all in the catalog
   (hard links to the imported sessions: same bytes, other paths, so each is hashed and looked
   up like a distinct file); with ``--reference-tree`` also the same command of another tree
   (e.g. ``/work/main``, one Prefect task per unchanged file) on ``--reference-files`` files, as
   a per-file ratio.
3. Flow overhead for 10-minute sessions: ``process`` of ``--long`` sessions of ``--seconds`` s
   with a running server against the same files imported by ``ingest_file`` in a plain Python
   process (the library alone, no Prefect), both into fresh homes, one file at a time.

    PYTHONPATH=. .venv/bin/python bench/bench_server.py [--files 1000] [--long 2 --seconds 600]
        [--reference-tree /work/main --reference-files 200] [--json out.json]

Wall times on a shared machine are noisy: compare the ratios of one run, not runs of two days.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _env(tree: Path = ROOT, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEUROFEEDBACK_"))}
    env["PYTHONPATH"] = str(tree)
    env.update({k: str(v) for k, v in extra.items()})
    return env


#: CPU seconds (user + system) of the last :func:`run`, children included: what the command
#: costs whatever else the machine is doing (wall time on a shared 2-core machine is not).
LAST_CPU = [0.0]


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(*args, env=None, check=True) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of ``python -m neurofeedback ARGS`` as a whole process, and its result."""
    c0, t0 = _children_cpu(), time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "neurofeedback", *map(str, args)], env=env or _env(),
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    LAST_CPU[0] = _children_cpu() - c0
    if check and r.returncode:
        raise SystemExit(f"neurofeedback {' '.join(map(str, args))} failed:\n{r.stderr[-3000:]}")
    return wall, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000, help="unchanged files to recognise")
    ap.add_argument("--long", type=int, default=2, help="long sessions for the overhead")
    ap.add_argument("--seconds", type=float, default=600.0, help="length of a long session")
    ap.add_argument("--reference-tree", type=Path, default=None)
    ap.add_argument("--reference-files", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of the 3-session `process` with the running server (and the references)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from bench_batch import make_sessions

    tmp = Path(tempfile.mkdtemp(prefix="nf-bench-server-"))
    out: dict = {"tmp": str(tmp)}
    server_home = tmp / "home-server"
    try:
        small = make_sessions(tmp / "small", 3, 30.0)
        print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        ref, _ = run("--help")
        out["help_s"], out["help_cpu_s"] = ref, LAST_CPU[0]
        print(f"reference: neurofeedback --help {ref:.1f} s wall, {LAST_CPU[0]:.1f} s CPU")

        # 1. three short sessions, temporary server against a running one
        t_tmp, r = run("process", tmp / "small", "--home", tmp / "home-temporary")
        c_tmp = LAST_CPU[0]
        t_start, r = run("server", "start", "--home", server_home, "--port", 0, "--json")
        out["server_start_s"] = t_start
        t_srv, r = run("process", tmp / "small", "--home", server_home)
        c_srv = LAST_CPU[0]
        out.update(process3_temporary_s=t_tmp, process3_temporary_cpu_s=c_tmp,
                   process3_server_s=t_srv, process3_server_cpu_s=c_srv)
        print(f"process, 3 sessions of 30 s: temporary server {t_tmp:.1f} s wall ({c_tmp:.1f} s CPU), "
              f"running server {t_srv:.1f} s wall ({c_srv:.1f} s CPU): {t_tmp / t_srv:.1f}x faster "
              f"(server start, once: {t_start:.1f} s)")
        # 1b. the same 3 sessions, against the running server, into fresh homes: this tree, the
        # reference tree (if any) and the library alone in one process, alternated --repeat times
        url = json.loads(run("server", "status", "--home", server_home, "--json")[1].stdout)["url"]
        code = ("import sys; from neurofeedback.store import ingest_file\n"
                "[ingest_file(p, home=sys.argv[1]) for p in sys.argv[2:]]\n")
        kinds = ["library", "this tree"] + (["reference"] if args.reference_tree is not None else [])
        times: dict = {k: [] for k in kinds}
        for rep in range(args.repeat):
            for kind in kinds:
                home = tmp / f"home-small-{kind.replace(' ', '-')}-{rep}"
                if kind == "library":
                    c0, t0 = _children_cpu(), time.perf_counter()
                    subprocess.run([sys.executable, "-c", code, str(home), *map(str, small)], env=_env(),
                                   check=True)
                    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
                else:
                    tree = ROOT if kind == "this tree" else args.reference_tree
                    wall, _ = run("process", tmp / "small", "--home", home,
                                  env=_env(tree, PREFECT_API_URL=url))
                    cpu = LAST_CPU[0]
                times[kind].append((wall, cpu, os.getloadavg()[0]))
        for kind, ts in times.items():
            w = statistics.median(t[0] for t in ts)
            c = statistics.median(t[1] for t in ts)
            out[f"small3_{kind.replace(' ', '_')}"] = {"wall_s": w, "cpu_s": c, "runs": ts}
            print(f"3 sessions of 30 s, running server, median of {len(ts)}: {kind:9s} {w:.1f} s wall, "
                  f"{c:.2f} s CPU (load {min(t[2] for t in ts):.1f}-{max(t[2] for t in ts):.1f})")

        # 2. unchanged files
        many = tmp / "many"
        many.mkdir()
        for i in range(args.files):
            src = small[i % len(small)]
            os.link(src, many / f"copy{i:05d}_{src.name}")
        t_many, r = run("process", many, "--home", server_home, "--json")
        recs = json.loads(r.stdout)["records"]
        assert all(x["status"] == "unchanged" for x in recs), "not all unchanged"
        out.update(unchanged_files=args.files, unchanged_s=t_many, unchanged_cpu_s=LAST_CPU[0],
                   unchanged_bytes=sum(f.stat().st_size for f in small) * args.files // len(small))
        print(f"{args.files} unchanged files ({out['unchanged_bytes'] / 1e6:.0f} MB) recognised in "
              f"{t_many:.1f} s wall, {LAST_CPU[0]:.1f} s CPU "
              f"({1000 * (t_many - ref) / args.files:.2f} ms a file above --help)")
        if args.reference_tree is not None:
            url = json.loads(run("server", "status", "--home", server_home, "--json")[1].stdout)["url"]
            few = tmp / "few"
            few.mkdir()
            for f in sorted(many.iterdir())[: args.reference_files]:
                os.link(f, few / f.name)
            t_ref, r = run("process", few, "--home", server_home, "--json",
                           env=_env(args.reference_tree, PREFECT_API_URL=url))
            c_ref = LAST_CPU[0]
            mine, _ = run("process", few, "--home", server_home, "--json")
            out.update(reference_files=args.reference_files, reference_unchanged_s=t_ref,
                       reference_unchanged_cpu_s=c_ref, mine_on_reference_files_s=mine,
                       mine_on_reference_files_cpu_s=LAST_CPU[0])
            print(f"{args.reference_files} unchanged files, same server: {args.reference_tree} "
                  f"{t_ref:.1f} s wall ({c_ref:.1f} s CPU), this tree {mine:.1f} s wall "
                  f"({LAST_CPU[0]:.1f} s CPU)")

        # 3. flow overhead on long sessions, one file at a time
        if args.long:
            long = make_sessions(tmp / "long", args.long, args.seconds)
            code = ("import sys, time; from neurofeedback.store import ingest_file\n"
                    "t0 = time.perf_counter()\n"
                    "[ingest_file(p, home=sys.argv[1]) for p in sys.argv[2:]]\n")
            c0, t0 = _children_cpu(), time.perf_counter()
            subprocess.run([sys.executable, "-c", code, str(tmp / "home-lib"), *map(str, long)],
                           env=_env(), check=True)
            t_lib, c_lib = time.perf_counter() - t0, _children_cpu() - c0
            t_flow, r = run("process", tmp / "long", "--home", server_home, "--workers", 1)
            c_flow = LAST_CPU[0]
            out.update(long_sessions=args.long, long_seconds=args.seconds, library_s=t_lib,
                       library_cpu_s=c_lib, flow_s=t_flow, flow_cpu_s=c_flow,
                       overhead_wall=(t_flow - t_lib) / t_lib, overhead_cpu=(c_flow - c_lib) / c_lib)
            print(f"{args.long} sessions of {args.seconds:g} s, one at a time: library alone "
                  f"{t_lib:.1f} s wall ({c_lib:.1f} s CPU), process with the running server "
                  f"{t_flow:.1f} s wall ({c_flow:.1f} s CPU): flow overhead "
                  f"{100 * (t_flow - t_lib) / t_lib:+.1f} % wall, {100 * (c_flow - c_lib) / c_lib:+.1f} % CPU")
        out["load_average_end"] = os.getloadavg()[0]
        print(f"load average at the end: {out['load_average_end']:.1f}")
    finally:
        run("server", "stop", "--home", server_home, check=False)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
