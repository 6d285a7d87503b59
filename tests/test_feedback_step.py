"""The neurofeedback step on known signals: metric against scipy, bursts rewarded, artifacts and
inhibits, the adaptive threshold, immutability and the summary."""

import copy
import dataclasses
import json
import math

import numpy as np
import pytest
import scipy.signal
from _signals import alpha_peak, powerlaw_noise
from scipy.integrate import trapezoid

from neurofeedback.errors import ConfigError
from neurofeedback.feedback import init_state, load_protocol, step, summarize
from neurofeedback.feedback.step import MIN_BASELINE_WINDOWS
from neurofeedback.simulate import simulate_eeg

MUSE = ("TP9", "AF7", "AF8", "TP10")
CYTON = ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2")


def run(data, sfreq, state, *, start=0, stop=None):
    """Step through ``data`` at the protocol's update rate with sliding windows.

    Yields ``(t_end, state, output)``; ``t_end`` is the end of the window in seconds.
    """
    p = state.protocol
    n = int(round(p.window_s * sfreq))
    hop = int(round(sfreq / p.update_hz))
    stop = data.shape[1] if stop is None else stop
    for end in range(start + n, stop + 1, hop):
        state, out = step(state, data[:, end - n:end])
        yield end / sfreq, state, out


def last(iterable):
    item = None
    for item in iterable:
        pass
    return item


# ---------------------------------------------------------------------------------------------
# 1. The metric against an independent reference

def reference_band_powers(x, sfreq, bands):
    """scipy: linear detrend, Welch (1-s Hann segments, 50 % overlap), trapezoid over [lo, hi].

    Band edges fall on the 1-Hz bins, so the plain trapezoid over the bins inside the band is
    the exact integral of the piecewise-linear PSD.
    """
    x = scipy.signal.detrend(np.asarray(x, dtype=np.float64), axis=-1, type="linear")
    nperseg = int(round(sfreq))
    f, pxx = scipy.signal.welch(x, sfreq, window="hann", nperseg=nperseg, noverlap=nperseg // 2,
                                detrend="constant")
    out = []
    for lo, hi in bands:
        m = (f >= lo) & (f <= hi)
        out.append(trapezoid(pxx[..., m], f[m], axis=-1))
    return np.stack(out, axis=-1)  # (n_channels, n_bands)


def first_metric(protocol, window, sfreq, ch_names):
    state = init_state(protocol, sfreq, ch_names, baseline_s=60)
    _, out = step(state, window)
    return state, out


@pytest.mark.parametrize("sfreq", [250.0, 125.0, 256.0])
def test_metrics_equal_scipy_welch_and_trapezoid(sfreq):
    rng = np.random.default_rng(7)
    n4 = int(round(4 * sfreq))
    data = np.stack([powerlaw_noise(n4, sfreq, 1.5, rng, std=12)
                     + alpha_peak(n4, sfreq, 10, rng, std=12 if i == 1 else 6)
                     for i in range(len(CYTON))])
    # Cyton-like DC offsets and a slow drift: the linear detrend must remove them
    data += rng.uniform(-3e4, 3e4, (len(CYTON), 1)) + np.linspace(0, 40, n4)[None, :]
    n2 = int(round(2 * sfreq))
    win2 = data[:, -n2:]
    rel = {"alpha": (8.0, 13.0), "broad": (1.0, 45.0)}

    # relative power: mean over channels of the per-channel fractions
    state, out = first_metric(load_protocol("alpha-up"), win2, sfreq, CYTON)
    x = win2[list(state.picks)]
    bp = reference_band_powers(x, sfreq, [rel["alpha"], rel["broad"]])
    expected = np.mean(bp[:, 0] / bp[:, 1])
    assert state.used_channels == ("O1", "O2", "P7", "P8")
    assert out.metric == pytest.approx(expected, rel=1e-9)

    # absolute power (SMR 12-15 Hz, explicit edges), µV²
    state, out = first_metric(load_protocol("smr"), win2, sfreq, CYTON)
    bp = reference_band_powers(win2[list(state.picks)], sfreq, [(12.0, 15.0)])
    assert out.metric == pytest.approx(bp[:, 0].mean(), rel=1e-9)

    # band ratio on a 4-s window: mean theta / mean alpha
    state, out = first_metric(load_protocol("alpha-theta"), data, sfreq, CYTON)
    bp = reference_band_powers(data[list(state.picks)], sfreq, [(4.0, 8.0), (8.0, 13.0)])
    assert out.metric == pytest.approx(bp[:, 0].mean() / bp[:, 1].mean(), rel=1e-9)

    # FAA: ln(alpha right) - ln(alpha left) on Fp1/Fp2 (channels 0 and 1)
    state, out = first_metric(load_protocol("faa"), win2, sfreq, CYTON)
    assert state.used_channels == ("Fp1", "Fp2")
    bp = reference_band_powers(win2[:2], sfreq, [(8.0, 13.0)])
    assert out.metric == pytest.approx(np.log(bp[1, 0]) - np.log(bp[0, 0]), rel=1e-9)
    assert out.metric > 0  # Fp2 got the larger alpha (std 12 vs 6 µV)


def test_a_longer_window_uses_its_last_window_s():
    rng = np.random.default_rng(3)
    data = rng.standard_normal((8, 750)) * 10
    state = init_state(load_protocol("alpha-up"), 250.0, CYTON)
    _, a = step(state, data)
    _, b = step(state, data[:, -500:])
    assert a.metric == b.metric


def test_ten_hz_sine_is_relative_alpha_above_09():
    sfreq = 250.0
    t = np.arange(500) / sfreq
    rng = np.random.default_rng(1)
    data = 20 * np.sin(2 * np.pi * 10 * t) + rng.standard_normal((8, 500))
    _, out = first_metric(load_protocol("alpha-up"), data, sfreq, CYTON)
    assert out.metric > 0.9
    assert out.phase == "baseline" and not out.reward and math.isnan(out.threshold)


# ---------------------------------------------------------------------------------------------
# 3. Alpha bursts: rewards fall inside the bursts, not between them

def burst_blocks(rng, total_s):
    blocks, t, label = [], 0.0, "on"
    while t < total_s:
        d = float(rng.uniform(8, 12))  # ~10-s bursts and gaps
        blocks.append((label, d))
        t += d
        label = "off" if label == "on" else "on"
    return blocks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rewards_follow_alpha_bursts(seed):
    """Alpha (8 µV RMS) switches on and off every 8–12 s on a 1/f background (×0.25 between).

    The baseline (60 s) holds both states. The tracker holds the reward rate at its target, so
    the test is only fair when the target is the share of windows that are in bursts: half the
    time is "on", and windows straddling an edge count about half, so ``target_reward_rate =
    0.52`` (the default adapt_rate). With the default 0.65 the tracker must also reward ~15 %
    of windows outside bursts, with 0.4 it must drop ~20 % of the bursts' windows: both would
    be the tracker doing its job, not a failure to follow alpha. "Fully inside" excludes the
    simulator's 1-s cross-fade at block edges.
    """
    rng = np.random.default_rng(seed)
    rec = simulate_eeg(ch_names=CYTON, sfreq=250.0, blocks=burst_blocks(rng, 240.0), alpha_amplitude_uv=8.0,
                       alpha_bursts=False, block_alpha_gain={"on": 1.0, "off": 0.25}, seed=seed)
    protocol = load_protocol("alpha-up").replace(target_reward_rate=0.52)
    state = init_state(protocol, rec.sfreq, rec.ch_names, baseline_s=60.0)
    spans = {lab: [(b["onset_s"] + 0.5, b["onset_s"] + b["duration_s"] - 0.5)
                   for b in rec.truth["blocks"] if b["label"] == lab] for lab in ("on", "off")}

    def inside(lab, t0, t1):
        return any(a <= t0 and t1 <= b for a, b in spans[lab])

    in_bursts, between, base = [], [], {"on": 0, "off": 0}
    for t_end, state, out in run(rec.data_uv, rec.sfreq, state):
        t0 = t_end - protocol.window_s
        if out.phase == "baseline":
            for lab in base:
                base[lab] += inside(lab, t0, t_end)
            continue
        if inside("on", t0, t_end):
            in_bursts.append(out.reward)
        elif inside("off", t0, t_end):
            between.append(out.reward)
    assert base["on"] > 40 and base["off"] > 40  # the baseline saw both states
    assert len(in_bursts) > 200 and len(between) > 200
    assert np.mean(in_bursts) >= 0.90
    assert np.mean(between) <= 0.10


# ---------------------------------------------------------------------------------------------
# 4. Artifacts and inhibits

@pytest.fixture(scope="module")
def trained():
    """alpha-up on a simulated Cyton: 20 s baseline, then training; the state and a rewarded window."""
    rec = simulate_eeg(ch_names=CYTON, sfreq=250.0, duration_s=60.0, alpha_amplitude_uv=8.0, seed=11)
    state = init_state(load_protocol("alpha-up"), rec.sfreq, rec.ch_names, baseline_s=20.0)
    for t_end, state, out in run(rec.data_uv, rec.sfreq, state, stop=int(30 * rec.sfreq)):
        pass
    assert state.phase == "training"
    # a rewarding window: the next one whose metric clears the threshold by a margin
    for end in range(int(30 * rec.sfreq), rec.data_uv.shape[1], 25):
        win = rec.data_uv[:, end - 500:end]
        _, out = step(state, win)
        if out.reward and out.level > 0.75:
            return rec, state, win.copy()
    raise AssertionError("no clearly rewarding window")


def test_artifact_window_gives_no_reward_is_counted_and_leaves_the_threshold(trained):
    rec, state, win = trained
    step_win = win.copy()
    step_win[CYTON.index("O1"), 250:] += 400.0  # a 400 µV electrode step
    new, out = step(state, step_win)
    assert out.artifact and not out.reward and math.isnan(out.metric)
    assert out.reason.startswith("artifact: peak-to-peak") and "O1" in out.reason
    assert out.level == 0.0
    assert new.n_artifact == state.n_artifact + 1 and new.n_training == state.n_training + 1
    assert new.threshold == state.threshold and new.n_clean_training == state.n_clean_training

    blink = win.copy()  # a 400 µV blink-shaped bump (0.4 s) on a used channel
    t = np.arange(500) / 250.0
    blink[CYTON.index("P7")] += 400 * np.exp(-0.5 * ((t - 1.0) / 0.08) ** 2)
    assert step(state, blink)[1].artifact

    flat = win.copy()
    flat[CYTON.index("O2")] = 1234.0 + 0.01 * np.sin(t)  # disconnected: flat with an offset
    _, out = step(state, flat)
    assert out.artifact and "flat signal on O2" in out.reason

    nan = win.copy()
    nan[CYTON.index("P8"), 10] = np.nan
    _, out = step(state, nan)
    assert out.artifact and "non-finite" in out.reason

    # a blink on an unused frontal channel does not matter to alpha-up
    front = win.copy()
    front[CYTON.index("Fp1")] += 400 * np.exp(-0.5 * ((t - 1.0) / 0.08) ** 2)
    _, out = step(state, front)
    assert not out.artifact and out.reward


def band_noise(n, sfreq, lo, hi, rng):
    """Unit-variance noise with a flat spectrum between lo and hi Hz."""
    f = np.fft.rfftfreq(n, 1 / sfreq)
    spec = ((f >= lo) & (f <= hi)) * np.exp(2j * np.pi * rng.random(f.size))
    x = np.fft.irfft(spec, n)
    return x / x.std()


def test_emg_raised_five_fold_inhibits(trained):
    rec, state, win = trained
    assert step(state, win)[1].reward
    median = state.inhibit_medians[0]  # baseline median of 30-45 Hz power, µV²
    rng = np.random.default_rng(5)
    emg = win.copy()
    for row in state.picks:  # adds 4x the median: about 5x the baseline 30-45 Hz power
        emg[row] += math.sqrt(4 * median) * band_noise(500, 250.0, 30.5, 44.5, rng)
    new, out = step(state, emg)
    assert out.inhibited and not out.reward and not out.artifact
    assert out.reason == "inhibit: EMG"
    assert new.n_inhibited == state.n_inhibited + 1 and new.threshold == state.threshold
    # at 1.5x (below the protocol's 2.5x factor) the window is still rewarded
    mild = win.copy()
    for row in state.picks:
        mild[row] += math.sqrt(0.5 * median) * band_noise(500, 250.0, 30.5, 44.5, rng)
    _, out = step(state, mild)
    assert not out.inhibited and out.reward


def test_baseline_without_clean_windows_is_extended():
    rng = np.random.default_rng(2)
    state = init_state(load_protocol("alpha-up"), 250.0, CYTON, baseline_s=5.0)
    flat = np.zeros((8, 500))
    for _ in range(30):  # 7.5 s of flat windows: past the 5-s baseline, still nothing clean
        state, out = step(state, flat)
    assert state.phase == "baseline" and out.artifact and "baseline extended, 0 of" in out.reason
    good = rng.standard_normal((8, 500)) * 10
    for k in range(MIN_BASELINE_WINDOWS):
        state, out = step(state, good)
        assert out.phase == "baseline" and out.reason.startswith("baseline: extended")
    state, out = step(state, good)
    assert out.phase == "training" and np.isfinite(out.threshold)
    assert summarize(state)["baseline"]["n_clean"] == MIN_BASELINE_WINDOWS


# ---------------------------------------------------------------------------------------------
# 5. The adaptive threshold keeps the reward rate near the target

def rate_between(outs, t0, t1):
    """Reward rate over clean, non-inhibited training windows with t0 <= minute-of-training < t1."""
    r = [o.reward for o in outs if o.phase == "training" and not o.artifact and not o.inhibited
         and t0 <= o.t - 60.0 < t1]
    assert len(r) > 300
    return float(np.mean(r))


def session(seed, baseline_gain, adapt_rate=None, direction="up"):
    """300 s of 1/f noise + alpha (10 µV RMS, log-normal burst envelope) on a Muse, alpha-up.

    ``baseline_gain`` scales the alpha amplitude of the first 60 s (the baseline).
    """
    rec = simulate_eeg(sfreq=256.0, duration_s=300.0, alpha_amplitude_uv=10.0,
                       blocks=[("baseline", 60.0), ("training", 240.0)],
                       block_alpha_gain={"baseline": baseline_gain}, seed=seed)
    protocol = load_protocol("alpha-up")
    changes = {"direction": direction}
    if adapt_rate is not None:
        changes["adapt_rate"] = adapt_rate
    protocol = protocol.replace(**changes)
    state = init_state(protocol, rec.sfreq, rec.ch_names, baseline_s=60.0)
    outs = []
    for k, (_, state, out) in enumerate(run(rec.data_uv, rec.sfreq, state)):
        outs.append(out)
    return state, outs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reward_rate_converges_to_target_on_a_stationary_stream(seed):
    state, outs = session(seed, baseline_gain=1.0)
    assert 0.55 <= rate_between(outs, 60, 180) <= 0.75  # minutes 2-4 of training
    assert state.used_channels == ("TP9", "TP10")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reward_rate_recovers_from_an_unrepresentative_baseline(seed):
    """Baseline alpha amplitude half the training's (a quarter of its power).

    Frozen at its baseline value (adapt_rate 0) the threshold rewards ~85–93 % of training
    windows; the tracker brings the rate within ±0.10 of 0.65 by minutes 2–4 (in the runs
    measured here already within the first minute and a half).
    """
    state, outs = session(seed, baseline_gain=0.5)
    assert 0.55 <= rate_between(outs, 60, 180) <= 0.75
    assert state.threshold > state.baseline_threshold  # it had to move up
    _, frozen = session(seed, baseline_gain=0.5, adapt_rate=0.0)
    assert rate_between(frozen, 60, 180) > 0.8  # the test would fail without adaptation


def test_reward_rate_converges_when_training_down():
    state, outs = session(4, baseline_gain=2.0, direction="down")  # baseline alpha too high
    assert 0.55 <= rate_between(outs, 60, 180) <= 0.75
    assert state.threshold < state.baseline_threshold


# ---------------------------------------------------------------------------------------------
# 6. Purity and the summary

def test_step_mutates_neither_window_nor_state():
    rng = np.random.default_rng(9)
    data = rng.standard_normal((8, 250 * 40)) * 10
    state = init_state(load_protocol("alpha-up"), 250.0, CYTON, baseline_s=10.0)
    for _, state, _ in run(data, 250.0, state, stop=250 * 20):
        pass
    assert state.phase == "training"
    window = data[:, -500:].copy()
    window_before = window.copy()
    fields_before = {f.name: copy.deepcopy(getattr(state, f.name)) for f in dataclasses.fields(state)
                     if f.name not in ("kernel", "protocol")}
    new, out = step(state, window)
    np.testing.assert_array_equal(window, window_before)
    for name, value in fields_before.items():
        assert getattr(state, name) == value, name
    assert new is not state and new.n_updates == state.n_updates + 1
    # a read-only window works too (the runner may hand out views of its ring buffer)
    window.flags.writeable = False
    step(state, window)
    # the same state stepped twice gives the same answer (no hidden mutable state)
    assert step(state, window_before)[1] == out


def test_summary_is_json_with_sensible_numbers():
    state, outs = session(1, baseline_gain=0.5)
    s = summarize(state)
    text = json.dumps(s, allow_nan=False)
    assert json.loads(text) == s
    n_baseline = sum(o.phase == "baseline" for o in outs)
    assert s["protocol"] == "alpha-up" and s["used_channels"] == ["TP9", "TP10"]
    assert s["baseline"]["n_windows"] == n_baseline == 240  # 60 s at 4 Hz
    assert s["n_updates"] == len(outs) and s["n_training"] == len(outs) - n_baseline
    assert s["n_rewarded"] == sum(o.reward for o in outs)
    assert s["n_artifact"] == sum(o.artifact for o in outs)
    assert s["n_inhibited"] == sum(o.inhibited for o in outs)
    assert s["baseline"]["percentile"] == pytest.approx(35.0)
    assert s["baseline"]["n_clean"] + s["baseline"]["n_artifact"] == n_baseline
    assert 0.5 < s["reward_rate"] < 0.8
    assert s["time_above_threshold_s"] >= s["n_rewarded"] / 4.0
    # training alpha was 4x the baseline's power: the metric rose, and the threshold with it
    assert s["metric_change"] > 0 and s["metric_change_pct"] > 20
    assert s["final_threshold"] > s["baseline"]["threshold"]
    assert s["training_median"] == pytest.approx(s["baseline"]["median"] + s["metric_change"])
    # outputs: level is 0.5 at the threshold, on the rewarded side above it; reward_rate runs over ~30 s
    train = [o for o in outs if o.phase == "training" and not o.artifact]
    assert all((o.level > 0.5) == (o.metric > o.threshold) for o in train)
    assert all(o.reward <= (o.metric > o.threshold) for o in train)
    assert outs[-1].reward_rate == pytest.approx(np.mean([o.reward for o in outs[-120:]]))
    assert all(math.isnan(o.reward_rate) and math.isnan(o.threshold) for o in outs if o.phase == "baseline")


def test_init_state_errors():
    with pytest.raises(ConfigError, match=r"'smr' needs one of the channels"):
        init_state(load_protocol("smr"), 256.0, MUSE)
    with pytest.raises(ConfigError, match=r"up to 45 Hz, at or above the Nyquist frequency \(40 Hz\)"):
        init_state(load_protocol("alpha-up"), 80.0, CYTON)
    with pytest.raises(ValueError, match=r"'ch_names' parameter"):
        init_state(load_protocol("alpha-up"), 250.0, ("O1", "O1"))
    state = init_state("alpha-up", 250.0, CYTON)  # a name works too
    with pytest.raises(ValueError, match=r"shape \(n_channels=8, n_samples\), but got shape \(4, 500\)"):
        step(state, np.zeros((4, 500)))
    with pytest.raises(ValueError, match=r"at least 250 samples"):
        step(state, np.zeros((8, 100)))
