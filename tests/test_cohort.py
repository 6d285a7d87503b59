"""The simulated cohort: determinism, layout, readability, and its truth through the pipeline."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timezone

import numpy as np
import pytest

from neurofeedback.errors import RecordingFormatError
from neurofeedback.io import read_recording
from neurofeedback.io.sidecar import find_sidecar, read_sidecar
from neurofeedback.metrics import session_metrics
from neurofeedback.process import process_recording
from neurofeedback.simulate import COHORT_SUBJECTS, simulate_cohort

NAME = re.compile(r"^sub-([A-Za-z0-9]+)_ses-(\d{8}T\d{6})_[A-Za-z0-9_-]+\.csv$")
QUALITY_FLOOR = 0.5  # neurofeedback.trends.compute_trends' default


def _hashes(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Two subjects, 8 weeks x 2 sessions of 60 s (about 6 s to generate)."""
    folder = tmp_path_factory.mktemp("cohort")
    truth = simulate_cohort(folder, seed=11, subjects=("alpha01", "stable01"), weeks=8,
                            sessions_per_week=2, duration_s=60.0)
    return folder, truth


@pytest.fixture(scope="module")
def processed(cohort):
    """Every readable session through the real pipeline: {subject: [(session, cf, metrics)]}."""
    folder, truth = cohort
    out = {}
    for subj in truth.subjects:
        rows = []
        for ses in subj.sessions:
            summary = process_recording(folder / ses.path).summary()
            m = session_metrics(summary)
            metrics = m[m["block"] == "session"].set_index(["metric", "channel"])["value"]
            rows.append((ses, summary["clean_fraction"], metrics))
        out[subj.subject] = rows
    return out


def _ols(t, y):
    """Least-squares slope and its standard error."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    X = np.column_stack([np.ones_like(t), t])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    s2 = resid @ resid / (len(y) - 2)
    return coef[1], float(np.sqrt(s2 * np.linalg.inv(X.T @ X)[1, 1]))


def test_deterministic(tmp_path):
    kw = dict(seed=5, weeks=2, sessions_per_week=1, duration_s=30.0)
    a = simulate_cohort(tmp_path / "a", **kw)
    b = simulate_cohort(tmp_path / "b", **kw)
    ha, hb = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert ha == hb  # byte-identical, truth.json included
    assert a.to_dict() == b.to_dict()
    assert set(a.files) == set(ha) - {"truth.json"}
    assert all(ha[k] == v for k, v in a.files.items())
    # a subject's files do not depend on which other subjects are generated
    c = simulate_cohort(tmp_path / "c", subjects=["stable01"], **kw)
    hc = _hashes(tmp_path / "c")
    assert {k: v for k, v in hc.items() if k.startswith("sub-")} == {
        k: v for k, v in ha.items() if k.startswith("sub-stable01/")}
    assert c.subject("stable01") == a.subject("stable01")
    # another seed, other signals
    simulate_cohort(tmp_path / "d", **{**kw, "seed": 6})
    hd = _hashes(tmp_path / "d")
    assert not set(hd.values()) & set(ha.values())


def test_layout_and_sidecars(cohort):
    folder, truth = cohort
    assert [s.subject for s in truth.subjects] == ["alpha01", "stable01"]
    assert truth.start == date(2026, 1, 5)
    assert json.loads((folder / "truth.json").read_text()) == truth.to_dict()
    corrupted = {c.path for c in truth.corrupted}
    for subj in truth.subjects:
        weeks = [s.iso_week for s in subj.sessions]
        assert weeks == sorted(weeks)
        assert {w: weeks.count(w) for w in weeks} == {
            f"2026-W{w:02d}": 2 for w in range(2, 10)}  # 8 weeks x 2
        starts = [s.start_time for s in subj.sessions]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)
        assert all(s.start_time.tzinfo is not None for s in subj.sessions)
        assert all(4 <= s.start_time.hour <= 22 for s in subj.sessions)
        assert sum(s.low_quality for s in subj.sessions) == 1
        for ses in subj.sessions:
            path = folder / ses.path
            m = NAME.match(path.name)
            assert m and path.parent.name == f"sub-{subj.subject}"
            assert m.groups() == (subj.subject, ses.session)
            assert ses.session == ses.start_time.strftime("%Y%m%dT%H%M%S")
            side = find_sidecar(path)
            if subj.format == "brainflow_csv":
                doc = read_sidecar(side)
                assert (doc["subject"], doc["session"]) == (subj.subject, ses.session)
                assert datetime.fromisoformat(doc["start_time"]) == ses.start_time
                assert doc["board_name"] == "CYTON_BOARD" and doc["protocol"]
                assert [b["label"] for b in doc["blocks"]] == [
                    "eyes-open", "eyes-closed", "meditation"]
                assert ses.sidecar == side.relative_to(folder).as_posix()
            else:
                assert side is None and ses.sidecar is None
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*.csv")}
    assert on_disk == {s.path for subj in truth.subjects for s in subj.sessions} | corrupted
    (bad,) = truth.corrupted
    assert bad.subject == "alpha01" and "corrupted" in bad.path and NAME.match(bad.path.split("/")[-1])


def test_truth_values():
    """The design truth is the documented formula (K = mean squared block gain, 4.66)."""
    from neurofeedback.simulate._cohort_design import (
        _aperiodic_band_power,
        _mean_square_gain,
    )

    k = _mean_square_gain([("eyes-open", 30), ("eyes-closed", 30), ("meditation", 30)], 250.0,
                          22500)
    assert k == pytest.approx((1 + 9 + 4) / 3, rel=0.01)  # cross-fades shave ~0.1 %
    assert _aperiodic_band_power(100.0, 1.8) == pytest.approx(
        100 / 0.8 * (8**-0.8 - 13**-0.8), rel=1e-12)
    assert _aperiodic_band_power(100.0, 1.0) == pytest.approx(100 * np.log(13 / 8), rel=1e-12)


def test_truth_consistent(cohort):
    folder, truth = cohort
    a = truth.subject("alpha01")
    # O2: week-0 alpha RMS 5 uV, +25 %/week of its power: K * 25 * 0.25 uV^2 per week
    assert a.alpha_growth_per_week == 0.25
    k = np.mean([b["alpha_gain"] ** 2 for b in a.blocks])  # 14/3 without the cross-fades
    assert a.slope_per_week["absolute_alpha"]["O2"] == pytest.approx(k * 25 * 0.25, rel=0.01)
    # the mean row: K * mean(a^2) * 0.25, a = 1.5, 1.5, 2.5, 2.5, 3.5, 3.5, 5, 5 uV
    assert a.slope_per_week["absolute_alpha"]["mean"] == pytest.approx(
        k * np.mean(np.array([1.5, 1.5, 2.5, 2.5, 3.5, 3.5, 5, 5]) ** 2) * 0.25, rel=0.01)
    assert a.slope_per_week["iaf"]["mean"] == 0.0
    # no IAF drift: the sessions' IAF is constant and its least-squares slope exactly 0 (not
    # the ~1e-31 rounding residue a BLAS dot product leaves, which differs between CPUs)
    assert all(v == 0.0 for v in a.sample_slope_per_week["iaf"].values())
    s = truth.subject("stable01")
    assert s.slope_per_week["absolute_alpha"]["mean"] == 0.0
    for subj in (a, s):
        t = np.array([x.weeks_since_first for x in subj.sessions])
        assert t[0] == 0.0 and np.all(np.diff(t) > 0)
        factor = np.array([x.alpha_power_factor / x.jitter for x in subj.sessions])
        np.testing.assert_allclose(factor, 1 + subj.alpha_growth_per_week * t, rtol=1e-12)
        # expected = B + (baseline - B) * factor on every channel: linear in the factor
        for ch in subj.channels:
            y = np.array([x.expected["absolute_alpha"][ch] for x in subj.sessions])
            f = np.array([x.alpha_power_factor for x in subj.sessions])
            alpha0 = (y[1] - y[0]) / (f[1] - f[0])
            np.testing.assert_allclose(y - alpha0 * f, y[0] - alpha0 * f[0], rtol=1e-9)
            assert alpha0 * subj.alpha_growth_per_week == pytest.approx(
                subj.slope_per_week["absolute_alpha"][ch], rel=1e-9)
        kept = [x for x in subj.sessions if not x.low_quality]
        slope, _ = _ols([x.weeks_since_first for x in kept],
                        [x.expected["absolute_alpha"]["mean"] for x in kept])
        assert slope == pytest.approx(subj.sample_slope_per_week["absolute_alpha"]["mean"])


def test_every_file_reads_but_the_corrupted_one(cohort):
    folder, truth = cohort
    for subj in truth.subjects:
        for ses in subj.sessions:
            raw = read_recording(folder / ses.path)
            assert raw.info["sfreq"] == subj.sfreq
            assert raw.n_times == int(truth.duration_s * subj.sfreq)
            assert raw.info["meas_date"] == ses.start_time
            assert [c for c in raw.ch_names if c in subj.channels] == list(subj.channels)
    (bad,) = truth.corrupted
    with pytest.raises(RecordingFormatError) as err:
        read_recording(folder / bad.path)
    msg = str(err.value)
    assert "\n" not in msg and bad.path.split("/")[-1] in msg
    assert f"line {bad.line}" in msg and "non-numeric" in msg
    # its sidecar alone is fine: the store can tell subject and session, then skip the file
    assert read_sidecar(folder / bad.sidecar)["session"] == bad.session


def test_quality_floor(processed):
    """Bad-contact sessions fall well below the trends' floor; regular ones mostly above it.

    (A 60-s regular session with many blinks can dip just under 0.5; in the 90-s default
    cohort every regular session stays above 0.6.)
    """
    for rows in processed.values():
        low = [cf for ses, cf, _ in rows if ses.low_quality]
        regular = [cf for ses, cf, _ in rows if not ses.low_quality]
        assert len(low) == 1 and low[0] < QUALITY_FLOOR  # on the mean of its channels
        assert np.median(regular) >= 0.7
        assert sum(cf < QUALITY_FLOOR for cf in regular) <= 1


def test_session_values_near_expected(processed):
    """Pipeline session values scatter around the expected ones: median ratio 0.85-1.3,
    every session within x0.6-x1.7 (alpha bursts ±12 %, clean-epoch selection ±15-20 %, and
    blinks remove low-alpha eyes-open epochs, which reads high; see the cohort README). IAF
    within 0.3 Hz of the simulated peak.
    """
    for rows in processed.values():
        ratios = []
        for ses, cf, metrics in rows:
            if ses.low_quality:
                continue
            ratios.append(metrics[("absolute_alpha", "mean")]
                          / ses.expected["absolute_alpha"]["mean"])
            assert metrics[("iaf", "mean")] == pytest.approx(ses.expected["iaf"]["mean"], abs=0.3)
        assert 0.85 <= np.median(ratios) <= 1.3
        assert 0.6 <= min(ratios) and max(ratios) <= 1.7


def test_slopes_through_the_pipeline(processed, cohort):
    """OLS slope of ``absolute_alpha`` (channel ``mean``) per week on the included sessions.

    Tolerance: the documented slope must lie within 3 standard errors of the fitted one (per
    session the pipeline scatters ±20-25 % around the truth, so at this size the SE is about
    40 % of the growth subject's slope), the growth subject's slope must be positive and
    within 60 % of the truth, and the stable subject's slope below 4 % of its baseline per
    week (the growth subject's truth is 25 %).
    """
    _, truth = cohort
    slopes = {}
    for subject, rows in processed.items():
        kept = [(s.weeks_since_first, m[("absolute_alpha", "mean")]) for s, cf, m in rows
                if cf >= QUALITY_FLOOR]
        assert not any(s.low_quality and cf >= QUALITY_FLOOR for s, cf, _ in rows)
        slope, se = _ols(*zip(*kept))
        slopes[subject] = (slope, se)
        true = truth.subject(subject).slope_per_week["absolute_alpha"]["mean"]
        assert abs(slope - true) < 3 * se
    a = truth.subject("alpha01")
    slope, se = slopes["alpha01"]
    true = a.slope_per_week["absolute_alpha"]["mean"]
    assert slope > 0
    assert slope == pytest.approx(true, rel=0.6)
    s = truth.subject("stable01")
    slope, se = slopes["stable01"]
    assert abs(slope) < 0.04 * s.baseline["absolute_alpha"]["mean"]


def test_arguments(tmp_path):
    with pytest.raises(ValueError, match="'subjects' parameter"):
        simulate_cohort(tmp_path, subjects=["nobody"])
    with pytest.raises(ValueError, match="'duration_s' parameter"):
        simulate_cohort(tmp_path, duration_s=10)
    with pytest.raises(ValueError, match="'sessions_per_week' parameter"):
        simulate_cohort(tmp_path, sessions_per_week=0)
    with pytest.raises(ValueError, match="'start' parameter"):
        simulate_cohort(tmp_path, start=datetime(2026, 1, 5))
    assert COHORT_SUBJECTS == ("alpha01", "stable01", "iaf01")
    t = simulate_cohort(tmp_path, subjects="iaf01", weeks=1, sessions_per_week=1, duration_s=30,
                        start=datetime(2026, 3, 4, 12, tzinfo=timezone.utc))
    assert t.start == date(2026, 3, 2)  # the Monday of that ISO week
    (ses,) = t.subject("iaf01").sessions
    assert ses.start_time.date() == date(2026, 3, 2) and not ses.low_quality
    assert read_sidecar(tmp_path / ses.sidecar)["board_name"] == "MUSE_2_BOARD"
