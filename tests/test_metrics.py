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
