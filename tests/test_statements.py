"""Numbers in words: significant figures, unit-aware scale, one sign, plural agreement."""

from __future__ import annotations

import pytest

from neurofeedback.statements import format_change, format_number, trend_statement


def _trend(metric, unit, slope, ci, *, channel="mean", n_weeks=6, n_sessions=18, g=None):
    t = {"metric": metric, "channel": channel, "unit": unit, "slope_per_week": slope,
         "slope_ci": list(ci), "n_weeks": n_weeks, "n_sessions": n_sessions}
    if g is not None:
        t["baseline_change"] = {"effect_size": g[0], "ci": list(g[1:])}
    return t


@pytest.mark.parametrize("x, plain, signed", [
    (0.0, "0", "0"),
    (-0.0, "0", "0"),
    (1.0, "1", "+1"),
    (0.1, "0.1", "+0.1"),
    (1.2345, "1.23", "+1.23"),
    (-0.00172, "-0.00172", "-0.00172"),
    (0.0001, "0.0001", "+0.0001"),
    (9.999999999999999e-05, "0.0001", "+0.0001"),  # 1e-6 * 100: rounds up to plain notation
    (999.6, "1000", "+1000"),
    (12345.678, "12300", "+12300"),
    (1.22e-06, "1.22 × 10⁻⁶", "+1.22 × 10⁻⁶"),
    (-2.5e-07, "-2.5 × 10⁻⁷", "-2.5 × 10⁻⁷"),
    (3.4e8, "3.4 × 10⁸", "+3.4 × 10⁸"),
])
def test_format_number(x, plain, signed):
    assert format_number(x) == plain
    assert format_number(x, signed=True) == signed


@pytest.mark.parametrize("value, unit, expected", [
    (0.0123, "fraction", "1.23 percentage points per week"),  # relative power: ×100
    (1.22e-06, "fraction", "0.000122 percentage points per week"),
    (2.0, "%", "2 percentage points per week"),
    (0.00172, "uV^2", "0.00172 uV^2/week"),
    (0.101, "Hz", "0.101 Hz/week"),
    (0.05, "ratio", "0.05 per week"),
    (1.22e-06, "1", "1.22 × 10⁻⁶ per week"),
    (0.3, "", "0.3 per week"),
])
def test_format_change(value, unit, expected):
    assert format_change(value, unit, per="week") == expected


def test_rise_in_hz():
    t = _trend("iaf", "Hz", 0.1013, (0.0947, 0.1079), n_weeks=8, n_sessions=23)
    assert trend_statement(t) == (
        "iaf (mean) rose by 0.101 Hz/week (95% CI +0.0947 to +0.108) over 8 weeks and "
        "23 sessions.")


def test_fall_has_one_sign():
    t = _trend("absolute_alpha", "uV^2", -0.00172, (-0.00301, -0.000433), channel="O2")
    assert trend_statement(t) == (
        "absolute_alpha (O2) fell by 0.00172 uV^2/week (95% CI -0.00301 to -0.000433) over "
        "6 weeks and 18 sessions.")


def test_relative_power_in_percentage_points():
    t = _trend("relative_alpha", "fraction", 0.0123, (0.0051, 0.0195))
    assert trend_statement(t) == (
        "relative_alpha (mean) rose by 1.23 percentage points per week (95% CI +0.51 to +1.95) "
        "over 6 weeks and 18 sessions.")
    tiny = _trend("relative_alpha", "fraction", 1.22e-06, (-0.0021, 0.0021))
    assert trend_statement(tiny) == (
        "relative_alpha (mean) showed no clear weekly change: +0.000122 percentage points per "
        "week (95% CI -0.21 to +0.21 includes 0) over 6 weeks and 18 sessions.")


def test_tiny_unitless_slope_in_scientific_notation():
    t = _trend("aperiodic_exponent", "1", 1.22e-06, (-3.4e-05, 3.6e-05))
    assert trend_statement(t) == (
        "aperiodic_exponent (mean) showed no clear weekly change: +1.22 × 10⁻⁶ per week "
        "(95% CI -3.4 × 10⁻⁵ to +3.6 × 10⁻⁵ includes 0) over 6 weeks and 18 sessions.")


def test_large_slope_in_plain_notation():
    t = _trend("absolute_alpha", "uV^2", 12345.678, (2345.1, 22346.2), g=(1.2, 0.3, 2.1))
    assert trend_statement(t) == (
        "absolute_alpha (mean) rose by 12300 uV^2/week (95% CI +2350 to +22300) over 6 weeks "
        "and 18 sessions.")  # Hedges' g is in the tables, not in the sentence


def _called(change, slope, ci, *, family="primary", p=0.003, p_adj=None, diff=None, mdc=None,
            scale="linear", unit="fraction", block="session", n_latest=1):
    t = _trend("relative_alpha" if unit == "fraction" else "absolute_alpha", unit, slope, ci,
               n_weeks=8, n_sessions=23)
    t.update(change=change, family=family, family_size=1 if family == "primary" else 7,
             adjustment="none (primary)" if family == "primary" else "holm", slope_p=p,
             slope_p_adjusted=p if p_adj is None else p_adj, scale=scale, block=block)
    if diff is not None:
        t["baseline_change"] = {"difference": diff, "baseline_weeks": ["2026-W02"],
                                "latest_weeks": ["2026-W09", "2026-W08"][:n_latest],
                                "mdc_difference": mdc,
                                "beyond_mdc": None if mdc is None else abs(diff) > mdc}
    return t


def test_reconciled_sentences():
    # a clear rise, the first-to-latest difference beyond the MDC: both agree
    t = _called("rose", 0.0123, (0.0051, 0.0195), diff=0.091, mdc=0.042)
    assert trend_statement(t) == (
        "relative_alpha (mean) rose by 1.23 percentage points per week (95% CI +0.51 to +1.95; "
        "primary metric, p = 0.003) over 8 weeks and 23 sessions; the latest week is 9.1 "
        "percentage points above the first, more than the 4.2 percentage points that "
        "session-to-session noise alone can produce (MDC95), so the change is larger than "
        "measurement noise.")
    # a clear rise over all weeks, but the two end weeks alone are within the MDC
    t = _called("rose", 0.0123, (0.0051, 0.0195), diff=0.02, mdc=0.042)
    assert trend_statement(t).endswith(
        "the latest week is 2 percentage points above the first, within the 4.2 percentage "
        "points that session-to-session noise alone can produce (MDC95), so the change shows "
        "in the trend over all weeks rather than between the first and latest weeks alone.")
    # a secondary series: its unadjusted CI excludes 0, its Holm-adjusted p does not
    t = _called("no clear change", 5.1, (0.4, 9.8), family="secondary", p=0.04, p_adj=0.28,
                diff=30.0, mdc=25.0, scale="log10", unit="uV^2", block="meditation",
                n_latest=2)
    assert trend_statement(t) == (
        "absolute_alpha (mean) in the meditation block showed no clear weekly change: +5.1% per "
        "week (95% CI +0.4% to +9.8%; p = 0.28 after Holm adjustment for 7 series) over 8 weeks "
        "and 23 sessions; the latest 2 weeks are 30% above the first, more than the 25% that "
        "session-to-session noise alone can produce (MDC95), but the trend over all weeks does "
        "not confirm a steady change.")
    # no MDC without a week of 2 sessions; a fall says so with one sign
    t = _called("fell", -0.0123, (-0.0195, -0.0051), p=0.0004, diff=-0.05)
    assert trend_statement(t) == (
        "relative_alpha (mean) fell by 1.23 percentage points per week (95% CI -1.95 to -0.51; "
        "primary metric, p < 0.001) over 8 weeks and 23 sessions; the latest week is 5 "
        "percentage points below the first (no MDC: no week has 2 sessions to measure session "
        "noise).")


def test_singular_counts():
    t = _trend("iaf", "Hz", -0.2, (-0.3, -0.1), n_weeks=1, n_sessions=1)
    assert trend_statement(t) == (
        "iaf (mean) fell by 0.2 Hz/week (95% CI -0.3 to -0.1) over 1 week and 1 session.")


def test_not_enough_data_keeps_the_reason():
    t = {"metric": "faa", "channel": "F4/F3", "unit": "ln ratio", "slope_per_week": None,
         "slope_reason": "not enough data: 2 sessions in 1 week; a slope needs >= 5 sessions "
                         "over >= 3 weeks"}
    assert trend_statement(t) == (
        "faa (F4/F3): not enough data for a trend (not enough data: 2 sessions in 1 week; a "
        "slope needs >= 5 sessions over >= 3 weeks).")
