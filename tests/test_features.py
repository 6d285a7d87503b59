"""Features on signals with known truth: aperiodic exponent, IAF, FAA, tables, clean epochs."""

import mne
import numpy as np
import pytest
from _signals import alpha_peak, powerlaw_noise

from neurofeedback.config import load_settings
from neurofeedback.features import (
    EPOCH_COLUMNS,
    aperiodic_fit,
    clean_epoch_mask,
    compute_features,
    compute_features_array,
    frontal_alpha_asymmetry,
    individual_alpha_frequency,
)
from neurofeedback.spectral import welch_psd

SF = 250.0


def _signal(seconds, exponent, peak_hz, alpha_std, seed):
    rng = np.random.default_rng(seed)
    n = int(seconds * SF)
    x = powerlaw_noise(n, SF, exponent, rng, std=10)
    if peak_hz:
        x = x + alpha_peak(n, SF, peak_hz, rng, std=alpha_std)
    return x


@pytest.mark.parametrize("exponent", [1.0, 1.5, 2.0])
def test_aperiodic_exponent_recovered_within_0_1(exponent):
    x = np.array([_signal(120, exponent, 10.0, 6.0, seed) for seed in range(4)])
    psd, f = welch_psd(x, SF)
    expo, off = aperiodic_fit(f, psd, freq_range=(2, 40))
    assert np.all(np.abs(expo - exponent) < 0.1), expo


@pytest.mark.parametrize("peak", [8.4, 9.3, 10.0, 11.2, 12.1])
def test_iaf_recovered_within_0_25_hz(peak):
    x = np.array([_signal(120, 1.5, peak, 6.0, seed) for seed in range(3)])
    psd, f = welch_psd(x, SF)
    p, cog = individual_alpha_frequency(f, psd)
    assert np.all(np.abs(p - peak) <= 0.25), p
    assert np.all(np.abs(cog - peak) <= 0.25), cog


def test_iaf_none_without_a_clear_peak():
    x = np.array([_signal(120, 1.5, None, 0, seed) for seed in range(3)])
    psd, f = welch_psd(x, SF)
    p, cog = individual_alpha_frequency(f, psd)
    assert np.all(np.isnan(p)) and np.all(np.isnan(cog))


def test_faa_is_log_ratio_right_minus_left():
    faa = frontal_alpha_asymmetry({"F3": 2.0, "F4": 6.0, "AF7": 1.0, "O1": 3.0}, (("F4", "F3"), ("AF8", "AF7")))
    assert faa == {"F4/F3": pytest.approx(np.log(3.0))}


def test_clean_epoch_mask_excludes_overlapping_bad_annotations():
    ann = mne.Annotations([5.0, 20.0, 30.0], [1.0, 0.0, 2.0], ["BAD_amplitude", "bad_blink", "eyes-closed"])
    starts = np.arange(0, 40 * 250 - 1000 + 1, 500)  # 4 s epochs, 2 s step
    clean = clean_epoch_mask(ann, starts, 1000, 250.0)
    onsets = starts / 250
    dirty = onsets[~clean]
    np.testing.assert_array_equal(dirty, [2, 4, 18, 20])  # overlap [5, 6] and the instant 20 s


def test_epoch_table_schema_and_session_summary():
    names = ["F3", "F4", "O1", "O2"]
    x = np.array([_signal(60, 1.5, 10.0, s, i) for i, s in enumerate([4.0, 8.0, 10.0, 10.0])])
    x[3] = 187500.0  # railed: kept in the table as not clean, no session values
    table, summary, psd, freqs = compute_features_array(x, SF, names, bad_channels=["O2"])
    assert tuple(table.columns) == EPOCH_COLUMNS
    n_ep = summary["n_epochs"]
    assert n_ep == 29 and len(table) == n_ep * 4 * 5
    assert not table.loc[table["channel"] == "O2", "clean"].any()
    assert table.loc[table["channel"] != "O2", "clean"].all()
    # relative powers of every epoch sum to 1 (bands tile the broadband range)
    sums = table[table["channel"] != "O2"].groupby(["epoch", "channel"], observed=True)["relative"].sum()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-12)
    np.testing.assert_allclose(table["log10_uv2"], np.log10(table["absolute_uv2"]))
    assert summary["band_power"]["absolute"]["O2"] is None
    assert summary["iaf_hz"]["O1"] == pytest.approx(10.0, abs=0.25)
    # F4 carries (8/4)^2 the alpha power of F3 -> FAA F4/F3 ~ ln 4 (background shared)
    assert summary["faa"]["F4/F3"] > 0.8
    rel = summary["band_power"]["relative"]["O1"]
    assert sum(rel.values()) == pytest.approx(1.0)
    assert summary["ratios"]["O1"]["alpha/theta"] == pytest.approx(
        summary["band_power"]["absolute"]["O1"]["alpha"] / summary["band_power"]["absolute"]["O1"]["theta"])


def test_session_values_use_clean_epochs_only():
    x = np.array([_signal(60, 1.5, 10.0, 8.0, 1)])
    x_art = x.copy()
    x_art[0, int(20 * SF):int(30 * SF)] += 300 * np.sin(2 * np.pi * 2 * np.arange(int(10 * SF)) / SF)
    raw = mne.io.RawArray(x_art * 1e-6, mne.create_info(["O1"], SF, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations([19.0], [12.0], ["BAD_movement"]))
    f_art = compute_features(raw)
    f_ref = compute_features(mne.io.RawArray(x * 1e-6, raw.info, verbose="error"))
    assert f_art.summary["n_clean_epochs"] < f_art.summary["n_epochs"]
    # delta is not inflated by the artifact because its epochs are excluded
    d_art = f_art.summary["band_power"]["absolute"]["O1"]["delta"]
    d_ref = f_ref.summary["band_power"]["absolute"]["O1"]["delta"]
    assert d_art == pytest.approx(d_ref, rel=0.3)
    dirty = f_art.epochs[~f_art.epochs["clean"]]
    assert dirty["onset_s"].min() >= 16 and dirty["onset_s"].max() <= 30


def test_nyquist_guard():
    x = np.random.default_rng(0).standard_normal((1, 60 * 64))
    with pytest.raises(ValueError, match="Nyquist"):
        compute_features_array(x, 64.0, ["O1"], settings=load_settings())


def test_session_values_computed_on_first_use_equal_the_eager_ones():
    """compute_features defers the session values (summary, psd, n_segments, block_psd) to
    their first access; they are then exactly what compute_features_array computes eagerly on
    the same data, the table is the same, and the object is read-only."""
    import json

    from neurofeedback.features import SessionFeatures

    names = ["F3", "F4", "O1", "O2"]
    x = np.array([_signal(90, 1.5, 10.0, s, i) for i, s in enumerate([4.0, 8.0, 10.0, 10.0])])
    info = mne.create_info(names, SF, "eeg")
    raw = mne.io.RawArray(x * 1e-6, info, verbose="error")
    raw.info["bads"] = ["O2"]
    raw.set_annotations(mne.Annotations([10.0, 40.0], [2.0, 30.0], ["BAD_blink", "eyes_closed"],
                                        ch_names=[["F3"], []]))
    feats = compute_features(raw, provenance={"k": 1})
    assert feats._values is None  # nothing of the session computed yet
    from neurofeedback.features import block_spans, channel_bad_mask

    spectra = {}
    table, summary, psd, freqs = compute_features_array(
        raw.get_data() * 1e6, SF, names, bad_channels=["O2"],
        bad_mask=channel_bad_mask(raw.annotations, names, raw.n_times, SF),
        blocks=block_spans(raw.annotations, SF, raw.n_times), spectra_out=spectra)
    from pandas.testing import assert_frame_equal

    assert_frame_equal(feats.epochs, table)
    assert json.dumps(feats.summary, sort_keys=True) == json.dumps(summary, sort_keys=True)
    assert "eyes_closed" in feats.summary["blocks"]
    np.testing.assert_array_equal(feats.psd, psd)
    np.testing.assert_array_equal(feats.freqs, freqs)
    np.testing.assert_array_equal(feats.n_segments, spectra["n_segments"])
    assert feats.block_psd.keys() == spectra["blocks"].keys()
    for k, (p, n) in spectra["blocks"].items():
        np.testing.assert_array_equal(feats.block_psd[k][0], p)
        np.testing.assert_array_equal(feats.block_psd[k][1], n)
    assert feats.provenance == {"k": 1}
    with pytest.raises(AttributeError):
        feats.summary = {}
    # pickling (a process pool, a cache) and copying carry the values, computed if need be
    import copy
    import pickle

    lazy = compute_features(raw)
    back = pickle.loads(pickle.dumps(lazy))
    assert json.dumps(back.summary, sort_keys=True) == json.dumps(summary, sort_keys=True)
    assert_frame_equal(back.epochs, table)
    np.testing.assert_array_equal(copy.deepcopy(lazy).psd, psd)
    # built from values, as before
    same = SessionFeatures(epochs=table, summary=summary, psd=psd, freqs=freqs)
    assert same.summary is summary and same.block_psd == {} and same.n_segments is None
    with pytest.raises(TypeError):
        SessionFeatures(epochs=table, freqs=freqs)
