"""Delay of real-time feedback on an LSL stream, with and without a marker stream.

A pylsl outlet in another process (``tests/_lsl_sender.py``) replays a real Muse recording from
``../shared/data`` at real time; ``neurofeedback feedback --source lsl`` runs a short session on
it, once with ``--marker-stream none`` and once recording the sender's marker stream (the
samples are then handed on :data:`neurofeedback.acquisition.lsl.MARKER_HOLD_S` after they
arrive, so markers land on their samples). The delay is the feedback runner's own measure: the
clock-corrected timestamp of the window's last sample → the feedback sent. Run by hand:

    .venv/bin/python bench/bench_lsl.py [--repeats 2] [--duration 8s]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUSE = ROOT.parent / "shared" / "data" / "NeuroTechX__eeg-notebooks_v0.1" / "data_2017-02-04-15_45_13.csv"


def one_run(tmp: Path, markers: bool, duration: str) -> dict:
    tag = uuid.uuid4().hex[:10]
    name, mname = f"nf-bench-{tag}", f"nf-bench-m-{tag}"
    sender = subprocess.Popen([sys.executable, str(ROOT / "tests" / "_lsl_sender.py"), "--file",
                               str(MUSE), "--name", name, "--markers", mname, "--log",
                               str(tmp / f"{tag}.npz"), "--seconds", "60"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc = subprocess.run([sys.executable, "-m", "neurofeedback", "feedback", "--source", "lsl",
                               "--stream", name, "--marker-stream", mname if markers else "none",
                               "--protocol", "alpha-up", "--subject", "bench", "--duration",
                               duration, "--baseline", "3s", "--artifact-uv", "2000",
                               "--check-seconds", "0", "--lsl-timeout", "10", "--home",
                               str(tmp / "home"), "--json"], capture_output=True, text=True,
                              timeout=300)
    finally:
        sender.send_signal(signal.SIGTERM)
        sender.wait(timeout=30)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])["feedback"]["delay"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--duration", default="8s")
    args = ap.parse_args()
    if not MUSE.is_file():
        raise SystemExit(f"{MUSE} is absent (clone with ../shared beside the project)")
    with tempfile.TemporaryDirectory() as tmp:
        for markers in (False, True):
            for _ in range(args.repeats):
                d = one_run(Path(tmp), markers, args.duration)
                print(f"marker stream {'yes' if markers else 'no '}: delay median "
                      f"{d['median_ms']:.1f} ms, p99 {d['p99_ms']:.1f} ms ({d['n']} updates)")


if __name__ == "__main__":
    main()
