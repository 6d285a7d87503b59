"""Reports: content, escaping, exports, size, and the CLI (the browser checks are in
test_report_browser.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, XSS

SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="module")
def cyton_report():
    from neurofeedback.process import process_recording
    from neurofeedback.report import build_session_report

    processed = process_recording(SAMPLE / "cyton_meditation.csv")
    return processed, build_session_report(processed)


@pytest.fixture(scope="module")
def subject_rep(report_store):
    from neurofeedback.report import subject_report

    home, subject = report_store
    # whole sessions: the fixture's 60 s sessions have 20 s blocks, too short for a clear trend
    return subject_report(subject, home=home, block="session")


def test_subject_report_is_about_the_main_block_by_default(report_store):
    from neurofeedback.report import subject_report

    home, subject = report_store
    rep = subject_report(subject, home=home)
    assert rep.title == f"Weekly trends: subject {subject}, meditation block"
    assert ("About", "the meditation block of each session") in rep.meta
    trends = next(t for t in rep.tables() if t.name == "trends").frame
    assert (trends["family"] == "primary").sum() == 1
    statements = next(b.text for s in rep.sections if s.id == "summary" for b in s.blocks if b.text)
    assert all(" in the meditation block " in t for t in statements)
    whole = subject_report(subject, home=home, block="session")
    assert whole.title == f"Weekly trends: subject {subject}"
    assert ("About", "whole sessions") in whole.meta
    from neurofeedback.errors import ConfigError

    with pytest.raises(ConfigError, match="Invalid value for the 'block' parameter. Allowed"):
        subject_report(subject, home=home, block="breathing")


def test_session_report_has_every_section_and_figure(cyton_report):
    processed, rep = cyton_report
    assert rep.section_ids() == ["recording", "quality", "spectrum", "bands", "topography",
                                 "features", "provenance"]
    assert set(rep.figures) == {"artifact_timeline", "psd", "band_timecourse", "topomap"}
    html = rep.to_html()
    # every figure is inline (PNG data URI): nothing to fetch
    assert html.count('src="data:image/png;base64,') == 4
    assert "http://" not in html and "https://" not in html
    # the blocks of the protocol and the features with their units and provenance
    blocks = next(b.table for s in rep.sections if s.id == "recording" for b in s.blocks)
    assert list(blocks.frame["annotation"]) == ["eyes-open", "eyes-closed", "meditation"]
    np.testing.assert_allclose(blocks.frame["duration_s"], 60.0)
    feats = next(t for t in rep.tables() if t.name == "features").frame
    summary = processed.summary()
    for ch in summary["channels"]:
        row = feats[feats["channel"] == ch].iloc[0]
        assert row["alpha rel"] == pytest.approx(summary["band_power"]["relative"][ch]["alpha"])
        assert row["alpha abs"] == pytest.approx(summary["band_power"]["absolute"][ch]["alpha"])
    assert "µV²" in html and processed.features.provenance["input"]["sha256"] in html


def test_session_report_block_table_shows_eyes_closed_alpha(cyton_report):
    """The per-block band powers are the clean epochs' in each block: the simulated recording
    has 3× alpha amplitude with eyes closed, so relative alpha is much higher there."""
    _, rep = cyton_report
    t = next(t for t in rep.tables() if t.name == "block_band_power").frame.set_index("block")
    assert t.loc["eyes-closed", "alpha"] > 1.5 * t.loc["eyes-open", "alpha"]
    rel = t[["delta", "theta", "alpha", "beta", "gamma"]].sum(axis=1)
    np.testing.assert_allclose(rel, 1.0, atol=1e-9)


def test_topography_needs_eight_positioned_channels():
    from neurofeedback.process import process_recording
    from neurofeedback.report import build_session_report

    rep = build_session_report(process_recording(SAMPLE / "muse_eyes_open_closed.csv"))
    assert "topography" not in rep.section_ids() and "topomap" not in rep.figures
    assert {"quality", "spectrum", "bands"} <= set(rep.section_ids())


def test_artifact_timeline_amplitude_strip_matches_the_signal(cyton_report):
    """The per-channel strip is each channel's peak-to-peak per second, in µV."""
    from neurofeedback.store.spectra import ptp_per_second as _ptp_per_second

    processed, _ = cyton_report
    raw = processed.raw
    ch = processed.summary()["channels"]
    ptp = _ptp_per_second(raw, ch)
    sf = int(raw.info["sfreq"])
    assert ptp.shape == (len(ch), raw.n_times // sf)
    seg = raw.get_data(picks=[ch[3]])[0, 5 * sf:6 * sf] * 1e6
    assert ptp[3, 5] == pytest.approx(seg.max() - seg.min())


def test_user_text_is_escaped_in_session_report(xss_recording):
    from neurofeedback.report import session_report

    html = session_report(xss_recording).to_html()
    assert "<script" not in html.lower()          # no script element of any kind
    assert "<img src=x" not in html                # the hostile tags only as escaped text
    assert "felt calm &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<title>EEG session report: &lt;script&gt;alert(1)&lt;/script&gt;" in html  # subject
    assert "take&lt;img src=x onerror=alert(3)&gt;.csv" in html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html
    # and scripts are forbidden by the page's own policy, should anything slip through
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_subject_report_ten_weeks(subject_rep):
    rep = subject_rep
    assert rep.section_ids() == ["summary", "trends", "event-change", "coverage", "events", "sessions",
                                 "method"]
    html = rep.to_html()
    assert len(html.encode()) < 5e6, "a 10-week subject report must stay under 5 MB"
    cov = next(t for t in rep.tables() if t.name == "coverage").frame
    assert len(cov) == 10 and cov["kept"].sum() + cov["excluded"].sum() == 30
    sessions = next(t for t in rep.tables() if t.name == "sessions").frame
    assert len(sessions) == 30
    # the statements follow the statistics: alpha01 gains alpha, so its trend CI is above 0
    # and the call (Holm-adjusted, absolute alpha is not the primary metric) says it rose
    trends = next(t for t in rep.tables() if t.name == "trends").frame.set_index(["metric", "channel"])
    row = trends.loc[("absolute_alpha", "mean")]
    assert row["slope / week"] > 0 and row["weeks"] == 10
    assert row["change unit"] == "%" and row["family"] == "secondary"
    lo = float(row["slope 95% CI"].split(" to ")[0])
    assert lo > 0
    assert row["change"] == "rose" and row["p adjusted"] < 0.05
    assert "absolute_alpha (mean) rose by" in html and "% per week" in html
    assert set(trends["change"]) <= {"rose", "fell", "no clear change", "not enough data"}
    assert (trends["family"] == "primary").sum() == 1
    assert "not a diagnosis" in html
    assert f"infusion 0.5 mg/kg {XSS}".replace("<", "&lt;").replace(">", "&gt;") in html
    assert "<script" not in html.lower()


def test_subject_report_period_and_not_enough_data(report_store):
    from neurofeedback.report import subject_report

    home, subject = report_store
    rep = subject_report(subject, home=home, date_from="2026-01-05", date_to="2026-01-11")
    html = rep.to_html()
    sessions = next(t for t in rep.tables() if t.name == "sessions").frame
    assert len(sessions) == 3
    assert "not enough data" in html and "rose by" not in html
    assert "(filtered)" in html


def test_export_png_svg_csv(cyton_report, tmp_path):
    _, rep = cyton_report
    files = rep.export(tmp_path)
    names = {f.name for f in files}
    for fig in rep.figures:
        png = (tmp_path / f"{fig}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        root = ET.parse(tmp_path / f"{fig}.svg").getroot()
        assert root.tag.endswith("svg")
    for t in rep.tables():
        assert f"{t.name}.csv" in names
        back = pd.read_csv(tmp_path / f"{t.name}.csv")
        assert list(back.columns) == list(t.frame.columns) and len(back) == len(t.frame)
    feats = pd.read_csv(tmp_path / "features.csv")
    np.testing.assert_allclose(feats["alpha rel"].to_numpy(),
                               next(t for t in rep.tables() if t.name == "features")
                               .frame["alpha rel"].to_numpy(float))


def _cli(*args, home=None):
    env = None
    if home is not None:
        import os

        env = {**os.environ, "NEUROFEEDBACK_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "neurofeedback", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


def test_cli_report_session_and_subject(report_store, tmp_path):
    home, subject = report_store
    from neurofeedback.store import Catalog

    sid = Catalog(home=home).sessions(subject=subject)["session_id"].iloc[0]
    r = _cli("report", "session", sid, "--out", tmp_path / "s.html", "--home", home)
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "s.html").read_text()
    assert f"{subject}" in html and 'id="spectrum"' in html
    r = _cli("report", "subject", subject, "--out", tmp_path / "sub.html", "--home", home,
             "--export", tmp_path / "exp")
    assert r.returncode == 0, r.stderr
    assert "sub.html" in r.stdout and (tmp_path / "exp" / "trend_absolute_alpha_mean.svg").is_file()
    assert (tmp_path / "exp" / "sessions.csv").is_file()


@pytest.mark.parametrize("args, expected", [
    (("report", "session", "no-such-thing", "--out", "x.html"),
     "no-such-thing: no such file, and no session with this ID"),
    (("report", "session", "sample_data/cyton_meditation.csv", "--out", "x.pdf"),
     "Invalid value for the '--out' parameter"),
    (("report", "subject", "../etc", "--out", "x.html"), "subject"),
    (("report", "subject", "nobody", "--out", "x.html"), "nobody: no such subject"),
    (("report", "subject", "alpha01", "--out", "x.html", "--from", "last tuesday"),
     "Invalid value for the from parameter"),
])
def test_cli_report_errors_are_one_line(args, expected, report_store, tmp_path):
    home, _ = report_store
    r = subprocess.run([sys.executable, "-m", "neurofeedback", *args, "--home", str(home)],
                       capture_output=True, text=True, cwd=ROOT if "sample_data" in " ".join(args)
                       else tmp_path, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neurofeedback: error: "), r.stderr
    assert expected in lines[0]
    assert not (tmp_path / "x.html").exists()


def test_trends_json_carries_the_intercept_the_plot_draws(report_store):
    """The trend line of the plots is the fitted one: 10^(intercept + slope · weeks) for a
    power (analysed on log10), with the slope in % per week beside it."""
    from neurofeedback.statements import subject_trends
    from neurofeedback.trends import _iso_week, trend_slope

    home, subject = report_store
    t = next(t for t in subject_trends(subject, home=home) if t["metric"] == "absolute_alpha")
    from neurofeedback.store import Catalog

    f = Catalog(home=home).metrics_frame(subject=subject)
    f = f[(f["metric"] == "absolute_alpha") & (f["channel"] == "mean") & (f["clean_fraction"] >= 0.5)]
    if "block" in f.columns:
        f = f[f["block"] == t["block"]]
    f = f.sort_values("start_time")
    days = (f["start_time"] - f["start_time"].iloc[0]).dt.total_seconds().to_numpy() / 86400
    fit = trend_slope(days, np.log10(f["value"].to_numpy(float)), _iso_week(f["start_time"]))
    assert t["scale"] == "log10"
    assert t["slope_intercept"] == pytest.approx(fit["intercept"])
    assert t["slope_analysis_per_week"] == pytest.approx(fit["slope"])
    assert t["slope_per_week"] == pytest.approx(100 * (10 ** fit["slope"] - 1))
    json.dumps(t, allow_nan=False)


def test_power_trend_plot_stays_above_zero_and_is_not_squashed_by_a_short_week():
    """A power on a log axis; a fraction's axis and bands stop at 0; the y range follows the
    sessions and weekly means, so a wide band of a 2-session week is cut, not obeyed."""
    from neurofeedback.report.plots import plot_trend

    times = pd.date_range("2026-01-05 09:00", periods=16, freq="3D", tz="UTC")
    pts = pd.DataFrame({"start_time": times, "value": np.linspace(40, 60, 16),
                        "excluded": False})
    weeks = [{"week": f"2026-W{k:02d}", "mean": 50.0, "ci_low": 1e-3, "ci_high": 1e4, "n": 2}
             for k in range(2, 9)]
    base = {"metric": "absolute_alpha", "channel": "mean", "unit": "uV^2", "weeks": weeks,
            "slope_per_week": 3.0, "slope_ci": [1.0, 5.0], "slope_analysis_per_week": 0.0128,
            "slope_intercept": math.log10(40), "first_session": times[0].isoformat(),
            "last_session": times[-1].isoformat(), "change": "rose"}
    fig = plot_trend(pts, dict(base, scale="log10"))
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert ax.get_yscale() == "log" and lo > 0
    assert 30 < lo < 40 and 60 < hi < 80  # the sessions and trend, not the 1e-3..1e4 band
    assert "% per week" in ax.get_legend_handles_labels()[1][-1]
    frac = dict(base, metric="relative_alpha", unit="fraction", scale="linear",
                slope_analysis_per_week=0.01, slope_intercept=0.05,
                weeks=[dict(w, mean=0.1, ci_low=-0.5, ci_high=0.7) for w in weeks])
    pts_f = pts.assign(value=np.linspace(0.02, 0.2, 16))
    ax = plot_trend(pts_f, frac).axes[0]
    assert ax.get_ylim()[0] >= 0.0
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() >= 0.0  # the CI band of a fraction is cut at 0


def test_session_report_feedback_from_the_sidecar_alone(cyton_report):
    """A feedback session whose log is not beside the recording (e.g. reported from the BIDS
    copy): the section says so and still shows the sidecar's summary; no plot is invented."""
    from neurofeedback.feedback import init_state, load_protocol, step, summarize
    from neurofeedback.report import build_session_report

    processed, _ = cyton_report
    data = processed.raw.get_data(picks="eeg")[:, : 30 * 250] * 1e6
    state = init_state(load_protocol("alpha-up"), 250.0, processed.raw.ch_names[:8], baseline_s=10)
    for end in range(500, data.shape[1] + 1, 62):
        state, _ = step(state, data[:, end - 500:end])
    fb = summarize(state)
    rep = build_session_report(processed, sidecar={"feedback": fb})
    assert rep.section_ids()[:2] == ["recording", "feedback"]
    assert "feedback" not in rep.figures
    sec = next(s for s in rep.sections if s.id == "feedback")
    words = " ".join(t for b in sec.blocks for t in b.text)
    assert "is not beside this recording" in words
    assert f"Rewarded {100 * fb['reward_rate']:.0f}% of {fb['n_training']} training updates" in words
    table = next(t for t in rep.tables() if t.name == "feedback_summary").frame.set_index("item")
    assert table.loc["training updates", "value"] == str(fb["n_training"]) != "0"
    assert table.loc["channels", "value"] == ", ".join(fb["used_channels"])
