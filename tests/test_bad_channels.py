"""A bad channel has no band power, in every table and path that carries one.

The field case ``openbci-railed-channels-in-epoch-table`` (``../shared/cases/README.md``): the
first 20 s of the OpenBCI GUI v6 sample with EXG channels 5–7 railed at −187500.02 µV (an
unconnected Cyton input). ``inspect`` lists EEG 6–8 as bad; the per-epoch table, the session and
block summaries, the metric rows, the written tables, the store and the session report must
agree: NaN (table rows kept, ``clean=False``) or ``None``/absent, never 0 µV², −inf log power or
fractions of float residue. The good channels keep their values. The synthetic test makes the
same checks without ``../shared``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import shared_case
from typer.testing import CliRunner

from neurofeedback.cli import app
from neurofeedback.metrics import session_metrics

CASE = "openbci-railed-channels-in-epoch-table/recording.txt"
CASE_BADS = ["EEG 6", "EEG 7", "EEG 8"]
VALUE_COLUMNS = ["absolute_uv2", "relative", "log10_uv2"]
PER_CHANNEL = ("iaf_hz", "iaf_cog_hz", "aperiodic", "ratios", "periodic_alpha", "iaf_ambiguous")

runner = CliRunner()


def assert_epoch_table(table: pd.DataFrame, bads, goods) -> None:
    """Bad channels: rows kept, every value NaN, ``clean=False``; good ones: finite, > 0."""
    channel = table["channel"].astype(str)
    bad_rows, good_rows = table[channel.isin(bads)], table[channel.isin(goods)]
    assert sorted(set(bad_rows["channel"].astype(str))) == sorted(bads)  # the rows are kept
    assert bad_rows[VALUE_COLUMNS].isna().all().all(), bad_rows[VALUE_COLUMNS].describe()
    assert not bad_rows["clean"].any()
    assert len(good_rows) and np.isfinite(good_rows[VALUE_COLUMNS].to_numpy(float)).all()
    assert (good_rows["absolute_uv2"] > 0).all()
    assert good_rows["relative"].between(0, 1).all()
    # per good channel and epoch, the relative powers of the tiling bands sum to 1
    sums = good_rows.groupby(["epoch", "channel"], observed=True)["relative"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-9)


def assert_values(values: dict, bads, goods) -> None:
    """The per-channel values of a summary or of one block: ``None`` for bad channels."""
    for kind in ("absolute", "relative", "log10"):
        per = values["band_power"][kind]
        for ch in bads:
            assert per[ch] is None, (kind, ch, per[ch])
        for ch in goods:
            assert per[ch] and all(v is not None and math.isfinite(v) for v in per[ch].values())
    for key in PER_CHANNEL:
        for ch in bads:
            assert values[key][ch] is None, (key, ch, values[key][ch])
    for pair in values["faa"]:
        assert not set(pair.split("/")) & set(bads)


def assert_summary(summary: dict, bads, goods) -> None:
    assert sorted(summary["bad_channels"]) == sorted(bads)
    assert_values(summary, bads, goods)
    for block in (summary.get("blocks") or {}).values():
        if block.get("band_power"):
            assert_values(block, bads, goods)


def assert_metrics(metrics: pd.DataFrame, bads, goods) -> None:
    """No metric row names a bad channel; every value finite; the good channels are there."""
    assert not metrics["channel"].isin(bads).any(), metrics[metrics["channel"].isin(bads)]
    assert np.isfinite(metrics["value"].to_numpy(float)).all()
    for ch in goods:
        assert ((metrics["channel"] == ch) & (metrics["metric"] == "absolute_alpha")).any()


def _json_has_no_bad_numbers(obj, bads, path=()) -> None:
    """Walk a JSON document: under any key naming a bad channel, no number at all."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in bads and path and path[-1] not in ("quality",):
                assert _numbers(v) == [], (path + (k,), v)
            _json_has_no_bad_numbers(v, bads, path + (k,))
    elif isinstance(obj, list):
        for v in obj:
            _json_has_no_bad_numbers(v, bads, path)


def _numbers(obj) -> list:
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return []
    if isinstance(obj, (int, float)):
        return [obj]
    if isinstance(obj, dict):
        return [n for v in obj.values() for n in _numbers(v)]
    if isinstance(obj, list):
        return [n for v in obj for n in _numbers(v)]
    return [obj]


def assert_report(processed, bads, goods) -> None:
    """The session report: its features and PSD-related tables give bad channels no value."""
    from neurofeedback.report import build_session_report

    rep = build_session_report(processed)
    tables = {b.table.name: b.table.frame for s in rep.sections for b in s.blocks if b.table}
    feats = tables["features"].set_index("channel")
    numeric = feats.drop(columns=[c for c in feats if feats[c].dtype == object and
                                  feats[c].map(lambda v: isinstance(v, str)).any()])
    assert numeric.loc[bads].isna().all().all(), numeric.loc[bads]
    assert np.isfinite(numeric.loc[goods].to_numpy(float)).all()
    iaf = tables["iaf"].set_index("channel")
    assert iaf.loc[bads].isna().all().all()
    import matplotlib.pyplot as plt

    for fig in rep.figures.values():
        plt.close(fig)


def _check_everything(processed, bads, tmp_path, *, cli_path=None, ingest=None):
    goods = [c for c in processed.summary()["channels"] if c not in bads]
    assert goods
    assert sorted(processed.raw.info["bads"]) == sorted(bads)
    feats = processed.features
    assert_epoch_table(feats.epochs, bads, goods)
    assert np.isnan(feats.psd[[feats.epochs["channel"].cat.categories.get_loc(c) for c in bads]]).all()
    summary = processed.summary()
    assert_summary(summary, bads, goods)
    _json_has_no_bad_numbers(json.loads(json.dumps(summary)), bads)
    assert_metrics(session_metrics(summary), bads, goods)
    assert_report(processed, bads, goods)
    if cli_path is not None:
        res = runner.invoke(app, ["inspect", str(cli_path), "--json"])
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        assert_summary(doc, bads, goods)
        _json_has_no_bad_numbers(doc, bads)
        for suffix in (".csv", ".parquet"):
            out = tmp_path / f"features{suffix}"
            res = runner.invoke(app, ["features", str(cli_path), "--out", str(out)])
            assert res.exit_code == 0, res.output
            assert ", ".join(bads) in res.output
            table = pd.read_csv(out) if suffix == ".csv" else pq.read_table(out).to_pandas()
            assert_epoch_table(table, bads, goods)
    if ingest is not None:
        from neurofeedback.store import Catalog, ingest_file

        home = tmp_path / "home"
        result = ingest_file(ingest, home=home, subject="case")
        assert_epoch_table(pq.read_table(result.features_path).to_pandas(), bads, goods)
        stored = json.loads(result.summary_path.read_text())
        assert_summary(stored, bads, goods)
        _json_has_no_bad_numbers(stored, bads)
        assert_metrics(Catalog(home=home).metrics_frame("case"), bads, goods)


def test_railed_openbci_channels_have_no_band_power_anywhere(tmp_path):
    from neurofeedback.process import process_recording

    path = shared_case(CASE)
    processed = process_recording(path)
    _check_everything(processed, CASE_BADS, tmp_path, cli_path=path, ingest=path)


@pytest.fixture(scope="module")
def railed_fif(tmp_path_factory):
    """A simulated 8-channel Cyton recording with O2 railed at −187500 µV and P8 flat (0 µV)."""
    import mne

    from neurofeedback.simulate import simulate_eeg

    rec = simulate_eeg(ch_names=("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"), sfreq=250.0,
                       blocks=[("eyes-open", 30.0), ("eyes-closed", 30.0)], seed=3)
    raw = rec.to_raw()
    data = raw.get_data()
    data[raw.ch_names.index("O2")] = -187500.02e-6  # an unconnected Cyton input
    data[raw.ch_names.index("P8")] = 0.0  # a dead input
    raw = mne.io.RawArray(data, raw.info, verbose=False).set_annotations(raw.annotations)
    path = tmp_path_factory.mktemp("railed") / "railed_raw.fif"
    raw.save(path, verbose=False)
    return path


def test_simulated_railed_and_flat_channels_have_no_band_power(railed_fif, tmp_path):
    from neurofeedback.process import process_recording

    processed = process_recording(railed_fif)
    assert set(processed.features.summary["blocks"]) == {"eyes-open", "eyes-closed"}
    _check_everything(processed, ["P8", "O2"], tmp_path, cli_path=railed_fif, ingest=railed_fif)


def test_bad_channel_in_info_has_no_values_even_with_a_real_signal():
    """A channel marked bad before processing keeps its rows but not its (valid-looking) values."""
    from neurofeedback.config import load_settings
    from neurofeedback.features import compute_features_array

    rng = np.random.default_rng(0)
    data = rng.normal(0.0, 10.0, (3, 250 * 20))
    table, summary, psd, _ = compute_features_array(data, 250.0, ["a", "b", "c"],
                                                    bad_channels=["b"], settings=load_settings())
    assert_epoch_table(table, ["b"], ["a", "c"])
    assert np.isnan(psd[1]).all() and np.isfinite(psd[[0, 2]]).all()
    assert summary["band_power"]["absolute"]["b"] is None


def test_no_inf_log_power_or_residue_fractions_for_zero_power():
    """A good channel with no power in an epoch: NaN log and relative power, never ±inf."""
    from neurofeedback.features import _band_values

    power = np.array([[[0.0, 0.0, 0.0], [1.0, 3.0, 4.0]]])  # (epoch, channel, band + broadband)
    absolute, total, relative, log10 = _band_values(power, np.array([True, True]))
    assert np.isnan(relative[0, 0]).all() and np.isnan(log10[0, 0]).all()
    np.testing.assert_allclose(relative[0, 1], [0.25, 0.75])
    np.testing.assert_allclose(log10[0, 1], np.log10([1.0, 3.0]))
    assert not np.isinf(log10).any()


def test_live_display_shows_no_band_power_for_a_railed_or_flat_channel():
    """The recorder's live table: a rail's detrend residue gives no fractions (it would: 68%
    'delta' from float residue), as the offline tables give a bad channel no value."""
    from neurofeedback.acquisition.recorder import _relative_power
    from neurofeedback.config import load_settings
    from neurofeedback.quality import check_signal

    rng = np.random.default_rng(1)
    names = ["good", "railed", "flat"]
    window = np.vstack([rng.normal(0.0, 10.0, 1000), np.full(1000, -187500.02), np.zeros(1000)])
    settings = load_settings()
    table = check_signal(window, 250.0, names, settings=settings).table
    no_signal = {r.channel for r in table.itertuples() if r.problem.startswith(("railed", "flat"))}
    assert no_signal == {"railed", "flat"}
    rel = _relative_power(window, 250.0, names, settings, no_signal=no_signal)
    assert all(np.isnan(v) for ch in ("railed", "flat") for v in rel[ch].values())
    assert math.isclose(sum(rel["good"].values()), 1.0, rel_tol=1e-9)
