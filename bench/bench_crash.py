"""How much does a SIGKILL lose? Our recorder's appends against BrainFlow's file streamer.

Both record the synthetic board (250 Hz) in a child process that is killed with SIGKILL at a
seeded random moment; the loss is the kill time minus the timestamp of the last complete line
on disk. Run by hand:

    .venv/bin/python bench/bench_crash.py [--kills 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TS_ROW = 30

STREAMER = r"""
import sys, time
from brainflow.board_shim import BoardShim, BrainFlowInputParams
BoardShim.disable_board_logger()
b = BoardShim(-1, BrainFlowInputParams())
b.prepare_session()
b.start_stream(450000, "file://" + sys.argv[1] + ":w")
while True:
    time.sleep(0.1)
    b.get_board_data()  # keep the ring buffer drained, as a live display would
"""


def _last_ts(csv: Path):
    if not csv.exists():
        return None
    raw = csv.read_bytes()
    lines = raw.split(b"\n")[:-1]  # complete lines only
    for line in reversed(lines):
        parts = line.split(b"\t")
        if len(parts) > TS_ROW:
            return float(parts[TS_ROW])
    return None


def _run(kind: str, rng, tmp: Path, k: int) -> float:
    home = tmp / f"{kind}{k}"
    home.mkdir()
    if kind == "recorder":
        cmd = [sys.executable, "-m", "neurofeedback", "record", "--board", "synthetic", "--duration",
               "60s", "--subject", "b1", "--check-seconds", "0", "--no-display", "--home", str(home)]
    else:
        cmd = [sys.executable, "-c", STREAMER, str(home / "stream.csv")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    csv = None
    while csv is None:
        found = [p for p in home.rglob("*.csv") if p.stat().st_size > 0]
        csv = found[0] if found else None
        time.sleep(0.02)
    time.sleep(float(rng.uniform(0.5, 5.0)))
    t_kill = time.time()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return t_kill - _last_ts(csv)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=10)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        res = {}
        for kind in ("recorder", "streamer"):
            res[kind] = np.array([_run(kind, rng, Path(tmp), k) for k in range(args.kills)])
    print(f"SIGKILL at random moments, {args.kills} kills each; seconds lost before the kill")
    for kind, loss in res.items():
        print(f"  {kind:9s} median {np.median(loss):.3f}  max {loss.max():.3f}  "
              f"(ms: {', '.join(f'{1000 * x:.0f}' for x in loss)})")
    print(f"ratio of medians recorder/streamer: {np.median(res['recorder']) / np.median(res['streamer']):.2f}")


if __name__ == "__main__":
    main()
