"""Session metrics in long form (the catalog's rows) from a processed summary."""

import numpy as np
import pytest

from neurofeedback.metrics import metric_unit, session_metrics


def _summary():
    return {
        "bad_channels": ["O2"],
        "band_power": {
            "relative": {"O1": {"alpha": 0.6, "theta": 0.4}, "Fp1": {"alpha": 0.2, "theta": 0.8},
                         "O2": None},
            "absolute": {"O1": {"alpha": 30.0, "theta": 20.0}, "Fp1": {"alpha": 10.0, "theta": 40.0},
                         "O2": None},
        },
        "ratios": {"O1": {"alpha/theta": 1.5}, "Fp1": {"alpha/theta": 0.25}, "O2": None},
        "iaf_hz": {"O1": 10.2, "Fp1": None, "O2": None},
        "aperiodic": {"O1": {"exponent": 1.8, "offset": 2.0}, "Fp1": {"exponent": 1.4, "offset": 2.1},
                      "O2": None},
        "faa": {"F4/F3": -0.1},
    }


def test_rows_units_and_channel_means():
    df = session_metrics(_summary())
    v = {(r.metric, r.channel): r.value for r in df.itertuples()}
    assert v[("relative_alpha", "O1")] == 0.6
    assert v[("relative_alpha", "mean")] == pytest.approx(0.4)
    assert v[("absolute_theta", "mean")] == pytest.approx(30.0)
    assert v[("ratio_alpha_theta", "mean")] == pytest.approx(0.875)
    assert v[("iaf", "mean")] == 10.2  # Fp1 has no clear peak: not averaged in
    assert v[("aperiodic_exponent", "mean")] == pytest.approx(1.6)
    assert v[("faa", "F4/F3")] == -0.1
    assert not any(ch == "O2" for ch in df["channel"])  # the bad channel gives no rows
    assert np.isfinite(df["value"]).all()
    assert metric_unit("absolute_alpha") == "uV^2" and metric_unit("relative_theta") == "fraction"
    assert set(df.loc[df.metric == "iaf", "unit"]) == {"Hz"}


def _block(scale, reason=None):
    if reason:
        return {"n_epochs": 3, "n_clean_epochs": 3, "clean_fraction": 1.0, "reason": reason,
                "band_power": None, "ratios": None, "iaf_hz": None, "iaf_cog_hz": None,
                "faa": None, "aperiodic": None}
    return {"n_epochs": 10, "n_clean_epochs": 9, "clean_fraction": 0.9, "reason": None,
            "band_power": {"relative": {"O1": {"alpha": 0.6 * scale}, "Fp1": {"alpha": 0.2 * scale},
                                        "O2": None}},
            "iaf_hz": {"O1": 10.0, "Fp1": None, "O2": None}, "faa": {}}


def test_block_rows_session_rows_unchanged():
    s = _summary()
    base = session_metrics(s)
    s["blocks"] = {"eyes-open": _block(0.5), "eyes-closed": _block(1.0),
                   "meditation": _block(0.8), "tired": _block(1.0, reason="too few clean epochs")}
    df = session_metrics(s)
    assert list(df.columns) == ["metric", "channel", "value", "unit", "block"]
    sess = df[df["block"] == "session"].drop(columns="block").reset_index(drop=True)
    assert sess.equals(base.drop(columns="block"))  # the whole-session rows are as before
    assert set(base["block"]) == {"session"}
    assert set(df["block"]) == {"session", "eyes-open", "eyes-closed", "meditation"}  # not 'tired'
    v = {(r.block, r.metric, r.channel): r.value for r in df.itertuples()}
    assert v[("meditation", "relative_alpha", "O1")] == pytest.approx(0.48)
    assert v[("eyes-open", "relative_alpha", "mean")] == pytest.approx(0.2)
    assert not df.duplicated(["block", "metric", "channel"]).any()


def test_alpha_vs_eyes_closed_is_a_within_session_difference():
    s = _summary()
    s["blocks"] = {"eyes-open": _block(0.5), "eyes-closed": _block(1.0), "meditation": _block(0.8)}
    df = session_metrics(s)
    a = df[df["metric"] == "alpha_vs_eyes_closed"].set_index(["block", "channel"])["value"]
    assert a[("meditation", "O1")] == pytest.approx(0.48 - 0.6)
    assert a[("meditation", "Fp1")] == pytest.approx(0.16 - 0.2)
    assert a[("meditation", "mean")] == pytest.approx((-0.12 - 0.04) / 2)
    assert a[("meditation", "posterior")] == pytest.approx(-0.12)  # O1 only (O2 is bad)
    assert a[("eyes-open", "O1")] == pytest.approx(-0.3)
    assert "eyes-closed" not in a.index.get_level_values("block")
    assert metric_unit("alpha_vs_eyes_closed") == "fraction"
    # no eyes-closed block with values: no such metric
    s["blocks"]["eyes-closed"] = _block(1.0, reason="too few clean epochs")
    assert "alpha_vs_eyes_closed" not in set(session_metrics(s)["metric"])


def test_posterior_rows_mean_the_posterior_channels_present():
    df = session_metrics(_summary())
    post = df[df["channel"] == "posterior"].set_index("metric")["value"]
    assert post["relative_alpha"] == 0.6  # O1 (O2 is bad, Fp1 is frontal)
    assert post["iaf"] == 10.2
    assert "faa" not in post.index  # a pair, not a per-channel metric
    s = _summary()
    for key in ("relative", "absolute"):
        s["band_power"][key].pop("O1")
    s["ratios"].pop("O1")
    s["iaf_hz"].pop("O1")
    s["aperiodic"].pop("O1")
    assert "posterior" not in set(session_metrics(s)["channel"])  # only Fp1 left


def test_posterior_channels_are_the_alpha_up_protocols():
    """One list: the metric's posterior channels are those the alpha-up feedback uses."""
    from neurofeedback.feedback.protocol import load_protocol
    from neurofeedback.metrics import posterior_channels

    assert posterior_channels() == tuple(load_protocol("alpha-up").channels)
    assert {"O1", "O2", "Pz", "TP9", "TP10"} <= set(posterior_channels())
    assert "AF7" not in posterior_channels() and "Fp1" not in posterior_channels()
