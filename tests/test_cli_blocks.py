"""``--block`` on ``trends`` and ``report subject``, and in the weekly-trends flow: the block is
passed through to the trends and the report builder; an unknown block is one line, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from neurofeedback.cli import app
from neurofeedback.store import Catalog

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 1, 5, 7, 30, tzinfo=timezone.utc)
#: relative alpha (mean) per block at session k: distinct lines, so each block's trend is known
LINES = {"session": (0.40, 0.010), "eyes-closed": (0.60, 0.0), "meditation": (0.50, 0.020)}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """Subject s1: 6 sessions over 3 weeks with session, eyes-closed and meditation rows."""
    home = tmp_path_factory.mktemp("home")
    cat = Catalog(home=home)
    for k in range(6):
        start = START + timedelta(days=3.5 * k)
        rows = [("relative_alpha", "mean", a + b * k, "fraction", blk) for blk, (a, b) in LINES.items()]
        # the other default metrics of the trends, constant
        rows += [(m, "F4/F3" if m == "faa" else "mean", 1.0, "", blk) for blk in LINES
                 for m in ("absolute_alpha", "relative_theta", "ratio_alpha_theta", "iaf",
                           "aperiodic_exponent", "faa")]
        rows.append(("alpha_vs_eyes_closed", "mean", LINES["meditation"][0] + 0.02 * k - 0.60,
                     "fraction", "meditation"))
        blocks = pd.DataFrame({"block": ["eyes-closed", "meditation"], "onset_s": [0.0, 60.0],
                               "duration_s": [60.0, 60.0], "n_epochs": [29, 29],
                               "n_clean_epochs": [29, 29], "clean_fraction": [1.0, 1.0],
                               "reason": [None, None]})
        cat.record_session("s1", start.strftime("%Y%m%dT%H%M%S"), {
            "start_time": start, "clean_fraction": 0.9, "input_sha256": f"{k}" * 64,
            "source_path": f"/d/{k}.csv", "config_hash": "cfg"},
            pd.DataFrame(rows, columns=["metric", "channel", "value", "unit", "block"]), blocks)
    return home


def _trend(home, *extra):
    res = runner.invoke(app, ["trends", "--subject", "s1", "--home", str(home), "--json",
                              "--metric", "relative_alpha", *extra])
    assert res.exit_code == 0, res.output
    (t,) = json.loads(res.stdout)
    return t


@pytest.mark.parametrize("block", ["meditation", "eyes-closed", "session"])
def test_trends_block_analyses_that_blocks_rows(home, block):
    a, b = LINES[block]
    t = _trend(home, "--block", block)
    weeks_per_session = 3.5 / 7
    assert t["slope_per_week"] == pytest.approx(b / weeks_per_session, abs=1e-9)
    assert t["n_sessions"] == 6
    assert t["weeks"][0]["mean"] == pytest.approx(a + b * 0.5)  # sessions 0 and 1 share week 1


def test_trends_metric_of_a_block_only(home):
    res = runner.invoke(app, ["trends", "--subject", "s1", "--home", str(home), "--json",
                              "--metric", "alpha_vs_eyes_closed", "--block", "meditation"])
    assert res.exit_code == 0, res.output
    (t,) = json.loads(res.stdout)
    assert t["unit"] == "fraction" and t["slope_per_week"] == pytest.approx(0.04)
    res = runner.invoke(app, ["trends", "--subject", "s1", "--home", str(home),
                              "--metric", "alpha_vs_eyes_closed", "--block", "eyes-closed"])
    assert res.exit_code == 2
    assert "'--metric' parameter" in res.output and "relative_alpha" in res.output


def test_trends_table_names_the_block(home):
    res = runner.invoke(app, ["trends", "--subject", "s1", "--home", str(home), "--metric",
                              "relative_alpha", "--block", "meditation"])
    assert res.exit_code == 0, res.output
    assert "Weekly trends of s1, the meditation block" in " ".join(res.stdout.split())
    # without --block the trends choose the block (one row per session and metric either way)
    res = runner.invoke(app, ["trends", "--subject", "s1", "--home", str(home), "--json",
                              "--metric", "relative_alpha"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["n_sessions"] == 6


@pytest.mark.parametrize("command", [
    ["trends", "--subject", "s1"],
    ["report", "subject", "s1", "--out", "x.html"],
])
def test_unknown_block_is_one_line_naming_the_valid_ones(home, command, tmp_path):
    res = runner.invoke(app, [*command, "--home", str(home), "--block", "meditaton"])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert ("Invalid value for the '--block' parameter. Allowed values are eyes-closed, meditation, "
            "session, but got 'meditaton' instead.") in lines[0]
    assert "Traceback" not in res.output


def test_report_subject_passes_the_block_to_the_builder(home, tmp_path, monkeypatch):
    import neurofeedback.report as report

    calls = []

    class Fake:
        def write_html(self, path):
            Path(path).write_text("<html></html>")
            return Path(path)

        def section_ids(self):
            return ["summary"]

    def fake_subject_report(subject, **kw):
        calls.append((subject, kw))
        return Fake()

    monkeypatch.setattr(report, "subject_report", fake_subject_report)
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", "subject", "s1", "--out", str(out), "--home", str(home),
                              "--block", "meditation"])
    assert res.exit_code == 0, res.output
    assert calls == [("s1", {"home": str(home), "date_from": None, "date_to": None,
                             "block": "meditation"})]


def test_the_weekly_trends_flow_tasks_pass_the_block(home, tmp_path):
    """The flow's tasks (their plain functions, no Prefect server) hand the block to the trends
    and to the report builder (in a fresh interpreter: configuring Prefect sets variables)."""
    code = f"""
import json, pipelines
pipelines.configure({str(tmp_path / "phome")!r})
import pipelines.trends as pt, pipelines.reports as pr
import neurofeedback.report as report
seen = {{}}
pt.create_table_artifact = lambda **kw: None
pt.create_markdown_artifact = lambda **kw: None
trends = pt.trends_task.fn("s1", {str(home)!r}, "meditation")
seen["trends"] = sorted({{(t["metric"], t["channel"], round(t["weeks"][0]["mean"], 6)) for t in trends}})
def fake(subject, **kw):
    seen["report"] = kw
    raise SystemExit(0)
report.subject_report = fake
try:
    pr.subject_report_task.fn("s1", None, {str(home)!r}, "meditation")
finally:
    print(json.dumps(seen))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=300, cwd=tmp_path)
    assert r.stdout.strip(), r.stderr[-3000:]
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen["report"] == {"home": str(home), "block": "meditation"}
    assert ["relative_alpha", "mean", pytest.approx(0.51)] in seen["trends"]


def test_inspect_shows_the_blocks():
    sample = ROOT / "sample_data"
    res = runner.invoke(app, ["inspect", str(sample / "cyton_meditation.csv"), "--json"])
    assert res.exit_code == 0, res.output
    blocks = json.loads(res.stdout)["blocks"]
    assert list(blocks) == ["eyes-open", "eyes-closed", "meditation"]
    res = runner.invoke(app, ["inspect", str(sample / "muse_eyes_open_closed.csv")],
                        env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert "Blocks: epochs lying wholly inside each block" in text
    assert "marker/2 │ 30, 90 │ 60 │ 28/28 (100%)" in text
    # the eyes-open block: its 15 blinks rejected 24 of 28 epochs on every channel, and the block
    # had no values; they are corrected now (ocular: template), and it keeps all its data
    assert "marker/1 │ 0, 60 │ 60 │ 28/28 (100%) │ 18.8 │ 23.3 │" in text
    assert "marker/1: no values" not in text


def test_subject_trends_from_the_catalog_reads_only_its_metrics(home, monkeypatch):
    """What the weekly ``trends`` flow runs (``subject_trends`` without a frame) reads only the
    metrics it analyses, chooses the block among all of the subject's blocks, and gives what the
    whole frame gives; an unknown metric still lists every stored one."""
    from neurofeedback.statements import subject_trends

    full = Catalog(home=home).metrics_frame(subject="s1")
    asked = []
    real = Catalog.metrics_frame

    def spy(self, *args, **kwargs):
        asked.append(kwargs.get("metrics"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Catalog, "metrics_frame", spy)
    for kw in ({}, {"metrics": ["alpha_vs_eyes_closed"]}, {"metrics": ["iaf"], "block": "session"}):
        asked.clear()
        got = subject_trends("s1", home=home, **kw)
        want = subject_trends("s1", frame=full, **kw)
        assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
        assert got and {t["block"] for t in got} == {kw.get("block", "meditation")}
        assert asked and asked[0] is not None and "clean_fraction" not in asked[0]
    asked.clear()
    with pytest.raises(ValueError, match="relative_alpha"):
        subject_trends("s1", home=home, metrics=["no_such_metric"])
    assert asked == [None]
