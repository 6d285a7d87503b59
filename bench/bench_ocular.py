"""Blink correction and muscle detection, measured on simulations with known truth and on real files.

Blink correction (:func:`neurofeedback.ocular.correct_ocular`, default settings). For each seed
and scenario, the same simulated recording is made with and without blinks (same seed: the
blinks have their own random stream), both band-passed 1–45 Hz as the product does
(:func:`neurofeedback.preprocessing.filter_data`), the blink one corrected, and relative alpha
(8–13 Hz over 1–45 Hz, :func:`neurofeedback.spectral.welch_psd` over the whole signal) compared
per channel with the blink-free one. Scenarios (4 min, 256 Hz, eyes open, a 150–400 µV blink
every 2–5 s, uniform):

* ``muse4``: TP9, AF7, AF8, TP10;
* ``muse2_front``: AF7, AF8; ``muse2_mixed``: TP9, AF7 (two channels);
* ``cyton8``: Fp1, Fp2, F3, F4, C3, C4, O1, O2;
* ``muse4_trains``: muse4 with blinks 0.6–3 s apart (quick trains of blinks);
* ``eyes_closed``: muse4 in one eyes-closed block without blinks (must be unchanged).

Reported per scenario and channel: relative-alpha error after (and before) correction, mean ±
Monte Carlo SE, 95th percentile and maximum of its absolute value; absolute alpha error; the
share of seeds with every channel within 10 % (± SE); blinks found vs simulated; the share of
4-s epochs (step 2 s) free of the current artifact annotations
(:func:`neurofeedback.preprocessing.find_artifacts`) before and after correction.

Muscle (:func:`neurofeedback.muscle.muscle_mask`): the fraction of samples flagged on clean,
alpha-burst (20 µV RMS) and blink simulations (false positives); the share of a 2-s EMG burst
(> 20 Hz noise of 5, 7 and 10 µV RMS on AF7) found, and the share flagged on the other
channels; the fractions flagged on the real Muse files (the Muse sample in ``sample_data``,
NeuroTechX) and the OpenBCI v6 sample (jaw clench). The Mind Monitor files
(amisepa__import_muse) hold about one raw row per second: no spectrum above 0.5 Hz, nothing
to measure.

Real blinks: peak values on the proxies before and after correction (Muse sample, OpenBCI v6).
Timing: a 10-min 4-channel recording, median of 5 runs of each function.

    PYTHONPATH=. python bench/bench_ocular.py [--seeds 200]

Prints Markdown tables and writes ``bench/results/ocular.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import scipy.signal

from neurofeedback.config import load_settings
from neurofeedback.io import read_recording
from neurofeedback.muscle import muscle_mask
from neurofeedback.ocular import blink_peaks, correct_ocular
from neurofeedback.preprocessing import filter_data, find_artifacts
from neurofeedback.simulate import simulate_eeg
from neurofeedback.spectral import welch_psd

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
SFREQ = 256.0
BLINKS = {"blink_interval_s": (2.0, 5.0), "blink_amplitude_range_uv": (150.0, 400.0)}
SCENARIOS = {
    "muse4": {"ch_names": ("TP9", "AF7", "AF8", "TP10")},
    "muse2_front": {"ch_names": ("AF7", "AF8")},
    "muse2_mixed": {"ch_names": ("TP9", "AF7")},
    "cyton8": {"ch_names": ("Fp1", "Fp2", "F3", "F4", "C3", "C4", "O1", "O2")},
    "muse4_trains": {"ch_names": ("TP9", "AF7", "AF8", "TP10"), "blinks": (0.6, 3.0)},
    "eyes_closed": {"ch_names": ("TP9", "AF7", "AF8", "TP10"), "blocks": [("eyes-closed", 240.0)],
                    "no_blinks": True},
}


def _alpha(x):
    psd, f = welch_psd(x, SFREQ, fmax=46.0)
    a = psd[:, (f >= 8) & (f <= 13)].sum(axis=1)
    return a / psd[:, (f >= 1) & (f <= 45)].sum(axis=1), a


def _kept_epochs(raw_uv, filt_uv, names):
    """Share of 4-s epochs (2-s step) that touch no artifact annotation."""
    p = load_settings().preprocessing
    annots, _, _ = find_artifacts(raw_uv, filt_uv, SFREQ, list(names), np.ones(len(names), bool), p)
    dur = raw_uv.shape[1] / SFREQ
    starts = np.arange(0.0, dur - 4.0 + 1e-9, 2.0)
    bad = np.zeros(starts.size, bool)
    for on, du, _ in annots:
        bad |= (starts < on + du) & (starts + 4.0 > on)
    return float(1 - bad.mean())


def run_scenario(name, cfg, seeds):
    names = cfg["ch_names"]
    kw = {k: v for k, v in cfg.items() if k not in ("no_blinks", "blinks")}
    blinks = dict(BLINKS, blink_interval_s=cfg.get("blinks", BLINKS["blink_interval_s"]))
    rows = []
    for seed in seeds:
        clean = simulate_eeg(duration_s=240.0, seed=seed, **kw)
        rec = clean if cfg.get("no_blinks") else simulate_eeg(duration_s=240.0, seed=seed, **kw, **blinks)
        x = filter_data(rec.data_uv, SFREQ)
        xc = filter_data(clean.data_uv, SFREQ)
        y, rep = correct_ocular(x, SFREQ, list(names), np.ones(len(names), bool))
        rt, at = _alpha(xc)
        rb, _ = _alpha(x)
        ra, aa = _alpha(y)
        # what the current rejection keeps: raw = corrected band-passed + (raw - band-passed)
        rows.append({
            "rel_err_after": (ra / rt - 1).tolist(), "rel_err_before": (rb / rt - 1).tolist(),
            "abs_err_after": (aa / at - 1).tolist(), "n_blinks_true": len(rec.truth["blink_peaks_s"]),
            "n_blinks_found": rep["n_blinks"], "applied": rep["applied"],
            "max_abs_change_uv": float(np.max(np.abs(y - x))),
            "kept_before": _kept_epochs(rec.data_uv, x, names),
            "kept_after": _kept_epochs(rec.data_uv - x + y, y, names),
        })
    return rows


def _mse(v):
    v = np.asarray(v, float)
    return f"{v.mean():+.4f} ± {v.std(ddof=1) / np.sqrt(v.size):.4f}"


def report_scenario(name, names, rows):
    after = np.array([r["rel_err_after"] for r in rows])
    before = np.array([r["rel_err_before"] for r in rows])
    absa = np.array([r["abs_err_after"] for r in rows])
    ok = (np.abs(after) <= 0.10).all(axis=1)
    print(f"\n### {name} ({len(rows)} seeds)\n")
    print("| channel | rel. alpha error after (mean ± MC SE) | 95th pct abs | max abs | before (mean) "
          "| abs. alpha error after |")
    print("|---|---|---|---|---|---|")
    for j, ch in enumerate(names):
        print(f"| {ch} | {_mse(after[:, j])} | {np.percentile(np.abs(after[:, j]), 95):.4f} | "
              f"{np.abs(after[:, j]).max():.4f} | {before[:, j].mean():+.3f} | {_mse(absa[:, j])} |")
    p = ok.mean()
    n_true = np.array([r["n_blinks_true"] for r in rows])
    n_found = np.array([r["n_blinks_found"] for r in rows])
    kb = np.array([r["kept_before"] for r in rows])
    ka = np.array([r["kept_after"] for r in rows])
    print(f"\nEvery channel within 10 %: {p:.3f} ± {np.sqrt(p * (1 - p) / ok.size):.3f}; "
          f"corrected in {np.mean([r['applied'] for r in rows]):.3f} of seeds; blinks simulated "
          f"{n_true.mean():.1f}, found {n_found.mean():.1f} (mean); max |change| "
          f"{max(r['max_abs_change_uv'] for r in rows):.3g} µV; 4-s epochs kept by today's "
          f"rejection: {kb.mean():.3f} before, {ka.mean():.3f} after correction.")
    return {"every_channel_within_10pct": p, "rel_err_after_mean": after.mean(0).tolist(),
            "rel_err_after_max_abs": np.abs(after).max(0).tolist(),
            "abs_err_after_mean": absa.mean(0).tolist(), "kept_before": kb.mean(),
            "kept_after": ka.mean(), "n_blinks_true": n_true.mean(), "n_blinks_found": n_found.mean()}


def _emg(n, rms, rng):
    sos = scipy.signal.butter(4, 20.0, btype="high", fs=SFREQ, output="sos")
    e = scipy.signal.sosfilt(sos, rng.standard_normal(n))
    return e * (rms / e.std())


def muscle_bench(seeds):
    out = {}
    print("\n## Muscle\n")
    print("| simulation (2 min, muse4) | flagged fraction, mean ± MC SE | max |")
    print("|---|---|---|")
    for label, kw in (("clean", {}), ("alpha 20 µV RMS", {"alpha_amplitude_uv": 20.0}),
                      ("blinks 150-400 µV", BLINKS)):
        fr = [muscle_mask(simulate_eeg(duration_s=120.0, seed=s, **kw).data_uv, SFREQ).mean()
              for s in seeds]
        print(f"| {label} | {np.mean(fr):.5f} ± {np.std(fr, ddof=1) / np.sqrt(len(fr)):.5f} | {np.max(fr):.4f} |")
        out[label] = float(np.mean(fr))
    print("\n| EMG burst (2 s, AF7) | found on AF7 | flagged on TP9/AF8/TP10 |")
    print("|---|---|---|")
    for rms in (5.0, 7.0, 10.0):
        hit, other = [], []
        for s in seeds:
            x = simulate_eeg(duration_s=60.0, seed=s).data_uv.copy()
            i0, i1 = int(20 * SFREQ), int(22 * SFREQ)
            x[1, i0:i1] += _emg(i1 - i0, rms, np.random.default_rng(s))
            m = muscle_mask(x, SFREQ)
            hit.append(m[1, i0:i1].mean())
            other.append(m[[0, 2, 3]].mean())
        se = np.std(hit, ddof=1) / np.sqrt(len(hit))
        print(f"| {rms:g} µV RMS | {np.mean(hit):.3f} ± {se:.3f} | {np.mean(other):.5f} |")
        out[f"emg_{rms:g}uv_found"] = float(np.mean(hit))
    print("\n| real file | channels | flagged fraction per channel |")
    print("|---|---|---|")
    files = [ROOT / "sample_data" / "muse_eyes_open_closed.csv",
             *sorted((SHARED / "NeuroTechX__eeg-notebooks_v0.1").glob("*.csv")),
             SHARED / "OpenBCI__OpenBCI_GUI" / "OpenBCI_GUI-v6-blinks-jawClench-alpha.txt"]
    for f in files:
        if not f.is_file():
            print(f"| {f.name} | absent | |")
            continue
        raw = read_recording(f).pick("eeg")
        m = muscle_mask(raw.get_data() * 1e6, raw.info["sfreq"],
                        line_freq=60.0 if "OpenBCI" in f.name else None)
        print(f"| {f.name} | {', '.join(raw.ch_names)} | {', '.join(f'{v:.3f}' for v in m.mean(axis=1))} |")
        out[f.name] = m.mean(axis=1).tolist()
    print("| amisepa__import_muse (Mind Monitor) | RAW at ~1 row/s | not measurable |")
    return out


def real_blinks():
    print("\n## Real blinks: peak values on the proxies (µV, 10th/50th/90th percentile)\n")
    print("| file | channel | blinks | before | after |")
    print("|---|---|---|---|---|")
    out = {}
    for f, line in ((ROOT / "sample_data" / "muse_eyes_open_closed.csv", None),
                    (SHARED / "OpenBCI__OpenBCI_GUI" / "OpenBCI_GUI-v6-blinks-jawClench-alpha.txt", 60.0)):
        if not f.is_file():
            continue
        raw = read_recording(f).pick("eeg")
        sf = raw.info["sfreq"]
        x = filter_data(raw.get_data() * 1e6, sf, line_freq=line)
        y, rep = correct_ocular(x, sf, raw.ch_names, np.ones(len(raw.ch_names), bool))
        for ch in rep["proxy_channels"]:
            i = raw.ch_names.index(ch)
            p = blink_peaks(x[i], sf)
            if line is not None:  # the OpenBCI sample: its blinks are in the first 26 s
                p = p[(p > 3 * sf) & (p < 26 * sf)]
            b, a = np.percentile(x[i, p], [10, 50, 90]), np.percentile(y[i, p], [10, 50, 90])
            print(f"| {f.name} | {ch} ({rep['proxy_rule']}) | {p.size} | "
                  f"{' / '.join(f'{v:.0f}' for v in b)} | {' / '.join(f'{v:.0f}' for v in a)} |")
            out[f"{f.name}:{ch}"] = {"before": b.tolist(), "after": a.tolist(), "n": int(p.size)}
        out[f.name] = {k: rep[k] for k in ("n_blinks", "proxy_channels", "proxy_rule", "corrected_fraction")}
    return out


def timing():
    rec = simulate_eeg(duration_s=600.0, seed=1, **BLINKS)
    x = filter_data(rec.data_uv, SFREQ)
    good = np.ones(4, bool)
    names = list(rec.ch_names)
    t_oc, t_mu, t_f = [], [], []
    for _ in range(5):
        t0 = time.perf_counter()
        correct_ocular(x, SFREQ, names, good)
        t_oc.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        muscle_mask(rec.data_uv, SFREQ, good)
        t_mu.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        filter_data(rec.data_uv, SFREQ)
        t_f.append(time.perf_counter() - t0)
    res = {"correct_ocular_s": float(np.median(t_oc)), "muscle_mask_s": float(np.median(t_mu)),
           "filter_data_s (for scale)": float(np.median(t_f))}
    print("\n## Time on a 10-min 4-channel recording at 256 Hz (median of 5)\n")
    for k, v in res.items():
        print(f"- {k}: {v * 1000:.0f} ms")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=200)
    args = ap.parse_args()
    seeds = range(args.seeds)
    t0 = time.time()
    result = {"seeds": args.seeds, "scenarios": {}}
    print(f"# Blink correction ({args.seeds} seeds per scenario)")
    for name, cfg in SCENARIOS.items():
        rows = run_scenario(name, cfg, seeds)
        result["scenarios"][name] = report_scenario(name, cfg["ch_names"], rows)
    result["muscle"] = muscle_bench(range(min(args.seeds, 50)))
    result["real_blinks"] = real_blinks()
    result["timing"] = timing()
    print(f"\nWall time: {time.time() - t0:.0f} s")
    out = ROOT / "bench" / "results" / "ocular.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
