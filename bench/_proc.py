"""One whole-process measurement for the benchmarks: wall time, CPU time and peak memory of a
command run as a fresh process (what a user waits for)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass


@dataclass
class Timed:
    wall_s: float
    cpu_s: float  # user + system of the command (and its reaped children)
    rss_mb: float  # peak resident set; NaN without GNU time
    returncode: int
    stdout: str
    stderr: str


def run_timed(argv, *, env=None, cwd=None) -> Timed:
    """Run ``argv`` to its end; its wall and CPU seconds (``wait4``) and peak resident set.

    The resident set is GNU time's (``/usr/bin/time -f %M``), not ``wait4``'s ``ru_maxrss``:
    Linux keeps a process's peak across ``exec``, so a child forked from a large benchmark
    process would report the benchmark's peak; time's own child starts from time's small one.
    """
    timer = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        cmd = ([timer, "-f", "%M", "-o", rss_file.name] if timer else []) + [str(a) for a in argv]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        # both pipes read to their end (stderr in a thread, so neither fills and blocks the
        # command), then the process reaped with wait4 for its CPU time
        errs: list[bytes] = []
        reader = threading.Thread(target=lambda: errs.append(proc.stderr.read()))
        reader.start()
        out = proc.stdout.read()
        reader.join()
        err = errs[0]
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.stdout.close()
        proc.stderr.close()
        text = rss_file.read().split()
    return Timed(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
                 rss_mb=float(text[-1]) / 1024 if timer and text else float("nan"),
                 returncode=os.waitstatus_to_exitcode(status),
                 stdout=out.decode(errors="replace"), stderr=err.decode(errors="replace"))
