"""Artifacts at the right grain: per channel and segment, never strong alpha (issue 15).

Known signals and real recordings: spectra come from each channel's clean Welch segments (checked
against scipy's Welch on the same segments), a blink costs its frontal channel a second and the
other channels nothing, strong eyes-closed alpha is never an artifact, shared movement spoils
every channel, and the recordings the issue measured keep the data it asked for.
"""

import mne
import numpy as np
import pytest
import scipy.signal
from _signals import powerlaw_noise
from conftest import shared_file

from neurofeedback.config import load_settings
from neurofeedback.features import channel_bad_mask, compute_features_array
from neurofeedback.preprocessing import preprocess
from neurofeedback.process import process_raw, process_recording

SF = 256.0
MUSE = ["TP9", "AF7", "AF8", "TP10"]


def _raw(data_uv, names, sfreq=SF):
    return mne.io.RawArray(data_uv * 1e-6, mne.create_info(list(names), sfreq, "eeg"), verbose="error")


def _background(n_ch, seconds, seed, std=10.0):
    rng = np.random.default_rng(seed)
    return np.array([powerlaw_noise(int(seconds * SF), SF, 1.2, rng, std=std) for _ in range(n_ch)])


def _alpha_bursts(n, rng, peak_uv, *, freq=None):
    """Waxing and waning alpha: Hann-enveloped bursts of 1-4 s, one every ~3 s, each peaking at
    up to ``peak_uv`` (the first one exactly at it), at 8-12 Hz."""
    t = np.arange(n) / SF
    x = np.zeros(n)
    onset, first = 0.5, True
    while onset < t[-1] - 1.0:
        dur = rng.uniform(1.0, 4.0)
        i0, i1 = int(onset * SF), min(int((onset + dur) * SF), n)
        amp = peak_uv if first else rng.uniform(0.5, 1.0) * peak_uv
        f = freq or rng.uniform(8.0, 12.0)
        x[i0:i1] += amp * np.hanning(i1 - i0) * np.sin(2 * np.pi * f * t[i0:i1] + rng.uniform(0, 6.3))
        onset += dur + rng.uniform(0.2, 1.0)
        first = False
    return x


@pytest.mark.parametrize("peak_uv", [100.0, 150.0])
def test_eyes_closed_alpha_bursts_are_never_rejected(peak_uv):
    """Alpha bursts up to 150 µV amplitude (300 µV peak to peak, above the 200 µV floor) on
    every channel, frontal ones included: no artifact anywhere, all data used."""
    rng = np.random.default_rng(7)
    n = int(120 * SF)
    x = _background(6, 120, seed=3)
    for c in range(6):
        x[c] += _alpha_bursts(n, rng, peak_uv)
    assert np.ptp(x[0, : int(5 * SF)]) > 200  # the bursts do exceed the old fixed floor
    names = ["TP9", "AF7", "AF8", "TP10", "O1", "O2"]
    proc = process_raw(_raw(x, names), line_freq=None)
    s = proc.summary()
    bad = [a for a in proc.raw.annotations if a["description"].startswith("BAD")]
    assert bad == []
    assert s["clean_fraction"] == 1.0
    assert all(v == 1.0 for v in s["channel_clean_fraction"].values())


def test_a_blink_costs_only_its_channel():
    """Without blink correction (``ocular: none``), blinks on AF7/AF8 only (TP9/TP10 untouched):
    the frontal channels lose about a second per blink, the temporal ones nothing, and their
    spectra equal those of the same data without blinks over the same segments."""
    rng = np.random.default_rng(1)
    x = _background(4, 60, seed=5)
    clean_x = x.copy()
    t = np.arange(int(0.6 * SF)) / SF
    bump = (t / 0.1) ** 4 * np.exp(4 * (1 - t / 0.1))
    peaks = np.arange(3.0, 57.0, 6.0) + rng.uniform(-1, 1, 9)
    for p in peaks:
        i = int(p * SF)
        x[1, i:i + bump.size] += 200 * bump
        x[2, i:i + bump.size] += 180 * bump
    no_correction = load_settings().replace(preprocessing={"ocular": "none"})
    proc = process_raw(_raw(x, MUSE), no_correction, line_freq=None)
    s = proc.summary()
    cf = s["channel_clean_fraction"]
    assert cf["TP9"] == 1.0 and cf["TP10"] == 1.0
    assert 0.5 < cf["AF7"] < 0.95 and 0.5 < cf["AF8"] < 0.95
    ann = proc.raw.annotations
    blinks = [a for a in ann if a["description"] == "BAD_blink"]
    assert {a["ch_names"] for a in blinks} == {("AF7",), ("AF8",)}
    assert len([a for a in blinks if a["ch_names"] == ("AF7",)]) == len(peaks)
    # TP9's session spectrum uses every segment: identical to the blink-free recording's
    ref = process_raw(_raw(clean_x, MUSE), no_correction, line_freq=None)
    np.testing.assert_allclose(proc.features.psd[0], ref.features.psd[0], rtol=1e-5)
    # per-epoch rows: TP9 clean everywhere, AF7 rejected where a blink falls
    ep = proc.features.epochs
    assert ep[ep["channel"] == "TP9"]["clean"].all()
    assert not ep[ep["channel"] == "AF7"]["clean"].all()


def test_session_psd_is_welch_over_each_channels_clean_segments():
    """Independent reference: scipy.signal.welch on each clean 2-s segment (one Hann window,
    detrend='constant'), averaged over the segments clean on that channel."""
    x = _background(2, 30, seed=9)
    n = x.shape[1]
    bad = np.zeros((2, n), bool)
    bad[0, int(10.3 * SF):int(12.1 * SF)] = True   # channel 0: ~2 s bad
    bad[1, int(20.0 * SF):int(25.0 * SF)] = True   # channel 1: 5 s bad
    settings = load_settings()
    _, summary, psd, freqs = compute_features_array(x, SF, ["C3", "C4"], bad_mask=bad,
                                                    settings=settings)
    nper = int(2 * SF)
    starts = np.arange(0, n - nper + 1, nper // 2)
    for c in range(2):
        ok = [s for s in starts if not bad[c, s:s + nper].any()]
        f, p = scipy.signal.welch(np.stack([x[c, s:s + nper] for s in ok]), SF, window="hann",
                                  nperseg=nper, noverlap=0, detrend="constant")
        want = p.mean(axis=0)[: freqs.size]
        np.testing.assert_allclose(psd[c], want, rtol=1e-10)
        covered = np.zeros(n, bool)
        for s in ok:
            covered[s:s + nper] = True
        assert summary["channel_clean_fraction"][["C3", "C4"][c]] == pytest.approx(covered.mean())
    assert summary["clean_fraction"] == pytest.approx(np.mean(list(summary["channel_clean_fraction"].values())))


def test_channel_bad_mask_reads_channel_specific_and_global_annotations():
    ann = mne.Annotations([1.0, 3.0, 5.0, 7.0], [0.5, 0.5, 0.5, 0.5],
                          ["BAD_blink", "BAD_dropout", "eyes-closed", "bad_custom"],
                          ch_names=[["AF7"], [], [], ["TP9", "TP10"]])
    m = channel_bad_mask(ann, MUSE, int(10 * SF), SF)
    sec = lambda a, b: slice(int(a * SF), int(b * SF))  # noqa: E731
    assert m[1, sec(1.0, 1.5)].all() and not m[[0, 2, 3]][:, sec(1.0, 1.5)].any()  # AF7 only
    assert m[:, sec(3.0, 3.5)].all()                         # no names: every channel
    assert not m[:, sec(5.0, 5.5)].any()                     # a block is not an artifact
    assert m[[0, 3]][:, sec(7.0, 7.5)].all() and not m[[1, 2]][:, sec(7.0, 7.5)].any()


def test_shared_movement_spoils_every_channel():
    """A movement that crosses the threshold on most channels (but not all) is marked on all."""
    rng = np.random.default_rng(4)
    x = _background(4, 60, seed=11)
    n = int(2 * SF)
    slow = np.cumsum(rng.normal(size=n))
    slow = (slow - slow.mean()) / np.abs(slow - slow.mean()).max() * np.hanning(n)
    i0 = int(30 * SF)
    for c, amp in enumerate([400, 350, 300, 60]):  # TP10 barely moves
        x[c, i0:i0 + n] += amp * slow
    pre = preprocess(_raw(x, ["C3", "C4", "P3", "P4"]), line_freq=None)
    moves = [a for a in pre.raw.annotations if a["description"] == "BAD_movement"]
    assert moves and all(a["ch_names"] == () for a in moves)
    a = moves[0]
    assert a["onset"] <= 30.0 and a["onset"] + a["duration"] >= 32.0


def test_physionet_eyes_open_rest_keeps_most_of_its_data(shared_data):
    """PhysioNet S001R01 (64 channels, eyes open): 7 of 29 epochs survived the whole-epoch rule
    (24 %); each channel's clean segments now hold >= 60 % of the recording."""
    proc = process_recording(shared_file(shared_data, "Yannkess__EEG_signal_denoise/S001R01.edf"))
    s = proc.summary()
    assert s["clean_fraction"] >= 0.6, s["clean_fraction"]
    assert np.median([v for v in s["channel_clean_fraction"].values() if v is not None]) >= 0.6


@pytest.mark.parametrize("name", ["OpenBCI_GUI-v6-blinks-jawClench-alpha.txt",
                                  "OpenBCI_GUI-v5-blinks-jawClench-alpha.txt",
                                  "OpenBCI-sampleData-1-blinks-jawClench-alpha.txt"])
def test_openbci_sample_eyes_open_against_eyes_closed(shared_data, name):
    """The OpenBCI GUI sample (one recording in three GUI layouts): eyes open with blinks for its
    first 26 s, eyes closed 28-76 s. Its occipital channels (O1/O2 in the Cyton montage) keep
    >= 3 clean eyes-open epochs and >= 12 s (one epoch survived the whole-epoch rule), and their
    eyes-closed/eyes-open alpha ratio is > 1.5."""
    path = shared_file(shared_data, "OpenBCI__OpenBCI_GUI/" + name)
    proc = process_recording(path, board="cyton")
    raw = proc.raw
    names = [c for c in raw.ch_names]
    bm = channel_bad_mask(raw.annotations, names, raw.n_times, raw.info["sfreq"],
                          first_time=raw.first_time)
    table, summary, _, _ = compute_features_array(
        raw.get_data() * 1e6, raw.info["sfreq"], names, bad_channels=raw.info["bads"], bad_mask=bm,
        blocks=[(0.0, 26.0, "eyes-open"), (28.0, 48.0, "eyes-closed")])
    eo, ec = summary["blocks"]["eyes-open"], summary["blocks"]["eyes-closed"]
    for ch in ("O1", "O2"):
        rows = table[(table["channel"] == ch) & (table["band"] == "alpha")]
        assert ((rows["onset_s"] + 4.0 <= 26.0) & rows["clean"]).sum() >= 3
        assert eo["channel_clean_fraction"][ch] * 26.0 >= 12.0
        ratio = ec["band_power"]["absolute"][ch]["alpha"] / eo["band_power"]["absolute"][ch]["alpha"]
        assert ratio > 1.5, (ch, ratio)


@pytest.mark.slow  # simulates and processes 24 sessions of 90 s (~20 s)
def test_cohort_occipital_alpha_growth_recovered(tmp_path):
    """The bundled cohort's alpha01 (Cyton, alpha power +25 %/week of week 0): the least-squares
    slope of the pipeline's O1 and O2 absolute alpha over the sessions above the quality floor is
    within 10 % of the same slope of the alpha the simulator actually put in (its ``realised``
    truth). Strong alpha rejected as artifact flattened it to ~64 % before."""
    from neurofeedback.simulate import simulate_cohort

    truth = simulate_cohort(tmp_path, subjects=("alpha01",))
    sub = truth.subject("alpha01")
    weeks, got, want = [], {"O1": [], "O2": []}, {"O1": [], "O2": []}
    for ses in sub.sessions:
        s = process_recording(tmp_path / ses.path).summary()
        if ses.low_quality:
            assert s["clean_fraction"] < 0.5
            continue
        weeks.append(ses.weeks_since_first)
        for ch in got:
            got[ch].append(s["band_power"]["absolute"][ch]["alpha"])
            want[ch].append(ses.realised["absolute_alpha"][ch])
    for ch in got:
        slope = np.polyfit(weeks, got[ch], 1)[0]
        true = np.polyfit(weeks, want[ch], 1)[0]
        assert slope == pytest.approx(true, rel=0.10), (ch, slope, true)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eyes_open_muse_with_a_blink_every_2_to_5_s_keeps_its_data_and_its_alpha(seed):
    """Acceptance (issue 15): a simulated 4-min eyes-open Muse session with a 150-400 µV blink
    every 2-5 s, through the whole pipeline (correction, per-channel rejection, features), keeps
    >= 60 % of its data and its relative alpha on every channel is within 10 % of the same
    recording without blinks (same seed for everything else). It kept 0 % with whole-epoch
    rejection; the 200-seed distribution is in bench/bench_ocular.py."""
    from neurofeedback.simulate import simulate_eeg

    kw = {"ch_names": MUSE, "duration_s": 240.0, "seed": seed}
    rec = simulate_eeg(blink_interval_s=(2.0, 5.0), blink_amplitude_range_uv=(150.0, 400.0), **kw)
    ref = simulate_eeg(**kw)
    assert len(rec.truth["blink_peaks_s"]) >= 48
    got = process_raw(rec.to_raw(), line_freq=None).summary()
    want = process_raw(ref.to_raw(), line_freq=None).summary()
    assert got["provenance"]["ocular"]["applied"]
    assert got["clean_fraction"] >= 0.6, got["channel_clean_fraction"]
    assert min(got["channel_clean_fraction"].values()) >= 0.6
    for ch in MUSE:
        g = got["band_power"]["relative"][ch]["alpha"]
        w = want["band_power"]["relative"][ch]["alpha"]
        assert g == pytest.approx(w, rel=0.10), (ch, g, w)


@pytest.mark.parametrize("seconds", [0.3, 1.0, 1.6, 2.0, 2.6, 3.1])
def test_short_recordings_process(seconds):
    """A recovered recording can be a second long: the block masks (a few half-second blocks)
    must keep their shape through the movement and blink-vote dilations (a 2-s, 16-channel
    recording once failed on a broadcast)."""
    rng = np.random.default_rng(int(seconds * 10))
    x = rng.normal(0, 10, (16, int(250 * seconds)))
    x[0, : x.shape[1] // 2] += 300.0  # an artifact on one channel
    names = ["Fp1", "Fp2"] + [f"C{i}" for i in range(14)]
    s = process_raw(_raw(x, names, sfreq=250.0), line_freq=None).summary()
    assert 0.0 <= s["clean_fraction"] <= 1.0
    assert s["n_epochs"] == (0 if seconds < 4 else 1)
