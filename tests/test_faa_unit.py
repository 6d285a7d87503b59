"""FAA = ln(α right) − ln(α left) is a log ratio without a unit: no output calls it ln(µV²)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from neurofeedback.cli import app
from neurofeedback.metrics import METRIC_UNITS, metric_unit, session_metrics
from neurofeedback.statements import format_change, trend_statement
from neurofeedback.trends import analysis_scale, compute_trends

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "cyton_meditation.csv"
OLD = ("ln(uV^2)", "ln(µV²)", "ln(uV2)", "ln(µV^2)")


def _clean(text: str) -> None:
    for old in OLD:
        assert old not in text, (old, text)


def test_faa_unit_is_a_unitless_ln_ratio_on_the_linear_scale():
    assert METRIC_UNITS["faa"] == metric_unit("faa") == "ln ratio"
    assert analysis_scale("faa") == "linear"
    # dimensionless in sentences: no unit words
    assert format_change(0.05, "ln ratio", per="week") == "0.05 per week"
    assert format_change(0.12, "ln ratio") == "0.12"


def test_no_output_calls_faa_ln_uv2():
    runner = CliRunner()
    res = runner.invoke(app, ["inspect", str(SAMPLE), "--json"])
    assert res.exit_code == 0, res.output
    _clean(res.output)
    summary = json.loads(res.output)
    assert summary["faa"], "the sample needs a frontal pair for this test"
    assert summary["units"]["faa"].startswith("ln ratio")
    assert summary["provenance"]["units"]["faa"].startswith("ln ratio")

    text = runner.invoke(app, ["inspect", str(SAMPLE)])
    assert text.exit_code == 0, text.output
    assert "Frontal alpha asymmetry" in text.output
    _clean(text.output)

    rows = session_metrics(summary)
    faa = rows[rows["metric"] == "faa"]
    assert len(faa) and set(faa["unit"]) == {"ln ratio"}

    # trends over weekly sessions, and the sentences said about them
    times = [pd.Timestamp("2026-01-05", tz="UTC") + pd.Timedelta(weeks=w, days=d)
             for w in range(6) for d in (0, 3)]
    rng = np.random.default_rng(0)
    weeks = np.array([(t - times[0]).days / 7 for t in times])
    frame = pd.DataFrame({
        "subject": "s1", "session_id": [f"s{i}" for i in range(len(times))],
        "start_time": pd.to_datetime(times, utc=True), "clean_fraction": 1.0,
        "metric": "faa", "channel": "F4/F3",
        "value": 0.05 * weeks + rng.normal(0, 0.01, len(times))})
    (trend,) = compute_trends(frame)
    assert trend["unit"] == trend["change_unit"] == "ln ratio"
    assert trend["scale"] == "linear"
    _clean(json.dumps(trend, allow_nan=False))
    sentence = trend_statement(trend)
    _clean(sentence)
    assert sentence.startswith("faa (F4/F3) rose by 0.0")
    assert " per week (95% CI" in sentence and "ln ratio" not in sentence


def test_old_catalog_rows_keep_their_stored_unit_but_trends_say_ln_ratio(tmp_path):
    """Rows stored before FAA became unitless say ln(uV^2) in the catalog's unit column; nothing
    analyses that column (the trends' frame has no unit), so their trends say ``ln ratio``."""
    from datetime import datetime, timedelta, timezone

    from neurofeedback.store.catalog import Catalog

    cat = Catalog(home=tmp_path)
    start = datetime(2026, 1, 5, 7, 30, tzinfo=timezone.utc)
    for i in range(6):
        t = start + timedelta(days=3 * i)
        fields = {"start_time": t, "clean_fraction": 0.9, "input_sha256": f"{i}" * 64,
                  "config_hash": "cfg", "pipeline_version": "0.1.0"}
        old = pd.DataFrame({"metric": ["faa"], "channel": ["F4/F3"], "value": [0.01 * i],
                            "unit": ["ln(uV^2)"], "block": ["session"]})
        _, sid = cat.record_session("alpha01", t.strftime("%Y%m%dT%H%M%S"), fields, old)
    assert cat.session_features(sid)["unit"].tolist() == ["ln(uV^2)"]   # stored as it was
    frame = cat.metrics_frame("alpha01")
    assert "unit" not in frame.columns
    (trend,) = compute_trends(frame)
    assert trend["unit"] == "ln ratio"
    _clean(json.dumps(trend, allow_nan=False) + trend_statement(trend))
