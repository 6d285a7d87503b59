"""Benchmark: the offline path (read + preprocess + per-epoch features) on 1 h × 16 ch × 250 Hz.

Run by hand (not part of the tests)::

    .venv/bin/python bench/bench_offline.py [--minutes 60] [--repeats 3] [--all-cores]

It simulates one hour of 16-channel EEG (1/f background, alpha, 50 Hz mains, blinks), saves it as
FIF (the project's canonical on-disk format), then times, in the same process and on one core
(CPU affinity pinned, BLAS/FFT threads 1):

* **ours**: ``neurofeedback.process.process_recording`` — read, SHA-256 of the input, notch +
  band-pass, bad channels, artifact annotations, 4 s epochs (2 s step), per-epoch Welch PSD,
  band powers, the per-epoch long table and the session summary;
* **plain MNE route**: ``read_raw_fif`` → ``notch_filter(50)`` → ``filter(1, 45)`` →
  ``make_fixed_length_epochs(4, overlap=2)`` → ``epochs.compute_psd("welch", 2 s Hann segments,
  50 % overlap)`` → the same band integration. (Also reported without the notch, the bare
  ``raw.filter`` route the issue names.)

It prints the speed as × real time, the ratio against the MNE route, and how far the per-epoch
band powers of the two routes differ (they should be the same numbers: same FIR designs, same
Welch windows).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# One core, for real: must happen before NumPy/SciPy load their thread pools.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SF = 250.0
N_CH = 16
NAMES = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "C3", "Cz", "C4", "P7", "P3", "P4", "P8", "O1", "O2"]
BANDS = [("delta", 1, 4), ("theta", 4, 8), ("alpha", 8, 13), ("beta", 13, 30), ("gamma", 30, 45)]


def _simulate(minutes: float, seed: int = 0) -> np.ndarray:
    """1/f^1.5 background + 10 Hz alpha bursts + 50 Hz mains + blinks, in µV."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * SF)
    f = np.fft.rfftfreq(n, 1 / SF)
    amp = np.zeros_like(f)
    amp[1:] = f[1:] ** -0.75
    alpha = np.exp(-0.5 * ((f - 10.0) / 0.8) ** 2)
    t = np.arange(n) / SF
    env = 1 + 0.8 * np.sin(2 * np.pi * t / 7.0)
    out = np.empty((N_CH, n))
    for c in range(N_CH):
        bg = np.fft.irfft(amp * np.exp(2j * np.pi * rng.random(f.size)), n)
        al = np.fft.irfft(alpha * np.exp(2j * np.pi * rng.random(f.size)), n)
        out[c] = 12 * bg / bg.std() + 6 * env * al / al.std() + 8 * np.sin(2 * np.pi * 50 * t + c)
    for onset in rng.uniform(5, n / SF - 5, size=int(minutes * 12)):  # 12 blinks a minute
        i0 = int((onset - 0.5) * SF)
        seg = np.arange(int(SF))
        out[:2, i0:i0 + seg.size] += 150 * np.exp(-0.5 * ((seg - SF / 2) / (0.07 * SF)) ** 2)
    return out


def _write_fif(data_uv: np.ndarray, folder: Path) -> Path:
    import mne

    info = mne.create_info(NAMES, SF, "eeg")
    raw = mne.io.RawArray(data_uv * 1e-6, info, verbose="error")
    raw.set_montage("colin27_1005", on_missing="ignore", verbose="error")
    path = folder / "bench_raw.fif"
    raw.save(path, overwrite=True, verbose="error")
    return path


def _ours(path: Path):
    from neurofeedback.process import process_recording

    proc = process_recording(path, line_freq=50.0)
    t = proc.features.epochs
    return t["absolute_uv2"].to_numpy().reshape(-1, N_CH, len(BANDS)), proc


def _mne_route(path: Path, notch: bool):
    import mne

    from neurofeedback.spectral import band_power

    raw = mne.io.read_raw_fif(path, preload=True, verbose="error")
    if notch:
        raw.notch_filter(50.0, verbose="error")
    raw.filter(1.0, 45.0, verbose="error")
    epochs = mne.make_fixed_length_epochs(raw, duration=4.0, overlap=2.0, preload=True, verbose="error")
    spec = epochs.compute_psd("welch", fmin=0.0, fmax=46.0, n_fft=500, n_per_seg=500, n_overlap=250,
                              window="hann", verbose="error")
    psd, freqs = spec.get_data(return_freqs=True)
    return band_power(psd * 1e12, freqs, BANDS)  # V²/Hz -> µV²/Hz, µV²


def _best_of(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    args = ap.parse_args()
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import mne

    mne.set_log_level("ERROR")
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        print(f"simulating {args.minutes:g} min × {N_CH} ch × {SF:g} Hz ...", flush=True)
        path = _write_fif(_simulate(args.minutes), Path(tmp))
        print(f"FIF {path.stat().st_size / 1e6:.0f} MB; cores used: "
              f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}")
        _ours(path)  # warm-up: imports, filter design cache
        t_ours, t_ours_min, (ours_bp, proc) = _best_of(lambda: _ours(path), args.repeats)
        t_mne, t_mne_min, mne_bp = _best_of(lambda: _mne_route(path, notch=True), args.repeats)
        t_bare, _, _ = _best_of(lambda: _mne_route(path, notch=False), max(1, args.repeats - 1))
    rel = np.abs(ours_bp - mne_bp) / mne_bp
    inner = rel[3:-3]  # first/last 6 s: the two routes pad the signal edges differently
    print()
    print(f"{'route':<42}{'median s':>10}{'min s':>9}{'× real time':>14}")
    print(f"{'ours (read+preprocess+features+table)':<42}{t_ours:>10.3f}{t_ours_min:>9.3f}{seconds / t_ours:>14.0f}")
    print(f"{'plain MNE (notch+filter+epochs+psd)':<42}{t_mne:>10.3f}{t_mne_min:>9.3f}{seconds / t_mne:>14.0f}")
    print(f"{'plain MNE without notch':<42}{t_bare:>10.3f}{'':>9}{seconds / t_bare:>14.0f}")
    print()
    print(f"speed-up vs plain MNE route: {t_mne / t_ours:.2f}×  (vs the route without notch: {t_bare / t_ours:.2f}×)")
    print("steps of ours (last run): " + ", ".join(f"{k} {v:.3f}" for k, v in proc.timings.items()))
    print(f"per-epoch band powers, ours vs MNE route ({ours_bp.shape[0]} epochs): "
          f"max relative difference {inner.max():.2e} (interior epochs), {rel.max():.2e} (all epochs), "
          f"median {np.median(rel):.1e}")
    target_rt, target_ratio = 2000, 3.0
    print(f"targets: ≥ {target_rt}× real time on one core -> {'MET' if seconds / t_ours >= target_rt else 'NOT MET'}; "
          f"≥ {target_ratio:g}× faster than the MNE route -> {'MET' if t_mne / t_ours >= target_ratio else 'NOT MET'}")


if __name__ == "__main__":
    main()
