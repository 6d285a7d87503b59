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


def test_large_slope_and_effect_size():
    t = _trend("absolute_alpha", "uV^2", 12345.678, (2345.1, 22346.2), g=(1.2, 0.3, 2.1))
    assert trend_statement(t) == (
        "absolute_alpha (mean) rose by 12300 uV^2/week (95% CI +2350 to +22300) over 6 weeks "
        "and 18 sessions; baseline → latest weeks: Hedges' g +1.20 (95% CI +0.30 to +2.10).")


def test_singular_counts():
    t = _trend("iaf", "Hz", -0.2, (-0.3, -0.1), n_weeks=1, n_sessions=1)
    assert trend_statement(t) == (
        "iaf (mean) fell by 0.2 Hz/week (95% CI -0.3 to -0.1) over 1 week and 1 session.")


def test_not_enough_data_keeps_the_reason():
    t = {"metric": "faa", "channel": "F4/F3", "unit": "ln(uV^2)", "slope_per_week": None,
         "slope_reason": "not enough data: 2 sessions in 1 week; a slope needs >= 5 sessions "
                         "over >= 3 weeks"}
    assert trend_statement(t) == (
        "faa (F4/F3): not enough data for a trend (not enough data: 2 sessions in 1 week; a "
        "slope needs >= 5 sessions over >= 3 weeks).")
