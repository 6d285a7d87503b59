"""Words and flat rows for trends: what the CLI, the flows and the reports say about change.

The sentences follow the statistics: a number always comes with its 95% CI, "not enough data"
stands where there is no estimate, and nothing claims a cause.

Numbers in words (:func:`format_number`, :func:`format_change`) carry three significant
figures in plain notation (``0.00172``, ``12300``), and scientific notation only outside
1e-4 to 1e6, written ``1.22 × 10⁻⁶``. Changes of a fraction (relative band power, reward
rate) are said in percentage points (a slope of 0.0123 per week is "1.23 percentage points
per week"); direction words carry the magnitude ("fell by 0.00172", never "fell by -0.00172").
"""

from __future__ import annotations

import math

__all__ = ["DEFAULT_METRICS", "format_change", "format_number", "subject_trends", "trend_rows",
           "trend_statement"]

#: Significant figures of the numbers in sentences.
SIGNIFICANT_FIGURES = 3
#: Plain notation for magnitudes in [PLAIN_MIN, PLAIN_MAX); scientific outside.
PLAIN_MIN, PLAIN_MAX = 1e-4, 1e6
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
# units without a dimension: no unit word in a sentence ("per week")
_DIMENSIONLESS = ("", "1", "ratio")

#: The metrics shown by default: averaged over channels, plus FAA per pair.
DEFAULT_METRICS = ("relative_alpha", "absolute_alpha", "relative_theta", "ratio_alpha_theta",
                   "iaf", "aperiodic_exponent", "faa")


def subject_trends(subject: str, *, home=None, metrics=DEFAULT_METRICS, channels=("mean",),
                   quality_floor: float = 0.5, baseline_weeks: int = 1,
                   latest_weeks: int = 1, frame=None, tz: str = "UTC",
                   block: str | None = None) -> list[dict]:
    """Trends of one subject from the catalog (or ``frame``, its ``metrics_frame``).

    ``channels`` are kept as given plus, for FAA, every electrode pair (its "channel").
    ``tz`` is the time zone of the calendar weeks (see :func:`neurofeedback.trends.compute_trends`).
    ``block`` keeps the frame's rows of that block (``"session"``: the whole-session metrics);
    ``None`` keeps the ``"session"`` rows (a frame without a ``block`` column is used as is).
    """
    from neurofeedback.trends import compute_trends

    if frame is None:
        from neurofeedback.store import Catalog

        frame = Catalog(home=home).metrics_frame(subject=subject)
    if "block" in frame.columns:  # one row per session, metric and channel: one block at a time
        frame = frame[frame["block"] == ("session" if block is None else block)]
    if frame.empty:
        return []
    chans = None
    if channels and (metrics is None or "faa" in metrics):
        # FAA's "channel" is its pair (F4/F3): keep pairs when FAA is asked for
        pairs = sorted({c for c in frame.loc[frame["metric"] == "faa", "channel"]})
        chans = list(channels) + pairs
    elif channels:
        chans = list(channels)
    return compute_trends(frame, subject=subject, metrics=list(metrics) if metrics else None,
                          channels=chans, quality_floor=quality_floor,
                          baseline_weeks=baseline_weeks, latest_weeks=latest_weeks, tz=tz)


def trend_rows(trends: list[dict]) -> list[dict]:
    """Flat rows (for a table artifact or CSV) of :func:`subject_trends`' output."""
    rows = []
    for t in trends:
        ci = t.get("slope_ci") or [None, None]
        bc = t.get("baseline_change") or {}
        bci = bc.get("ci") or [None, None]
        rows.append({
            "metric": t["metric"], "channel": t["channel"], "unit": t.get("unit", ""),
            "n_sessions": t["n_sessions"], "n_weeks": t["n_weeks"],
            "excluded": t.get("excluded_sessions"),
            "slope_per_week": t.get("slope_per_week"), "slope_ci_low": ci[0], "slope_ci_high": ci[1],
            "effect_size": bc.get("effect_size"), "effect_ci_low": bci[0], "effect_ci_high": bci[1],
            "mdc": t.get("mdc"),
        })
    return rows


def format_number(x: float, *, signed: bool = False, sig: int = SIGNIFICANT_FIGURES) -> str:
    """A number for a sentence: ``sig`` significant figures, plain notation when readable.

    Parameters
    ----------
    x : float
        The number (finite).
    signed : bool
        Write ``+`` before positive numbers (negative ones always get ``-``; zero gets none).
    sig : int
        Significant figures; trailing zeros after the decimal point are dropped.

    Returns
    -------
    text : str
        E.g. ``"0.00172"``, ``"-1.22"``, ``"12300"``, ``"+1.22 × 10⁻⁶"``, ``"3.4 × 10⁸"``.
    """
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    mantissa, exp = f"{abs(x):.{sig - 1}e}".split("e")  # rounded to sig figures
    exponent = int(exp)
    rounded = float(f"{mantissa}e{exponent}")
    sign = "-" if x < 0 and rounded else ("+" if signed and rounded else "")
    if rounded == 0:
        return "0"
    if PLAIN_MIN <= rounded < PLAIN_MAX:
        text = f"{rounded:.{max(0, sig - 1 - exponent)}f}"
    else:
        text = f"{_strip_zeros(mantissa)} × 10{str(exponent).translate(_SUPERSCRIPT)}"
    return sign + _strip_zeros(text)


def _strip_zeros(text: str) -> str:
    """``"1.20"`` → ``"1.2"``, ``"3.00"`` → ``"3"``; integers unchanged."""
    if "." not in text or "×" in text:
        return text
    return text.rstrip("0").rstrip(".")


def _unit_words(unit: str) -> tuple[float, str]:
    """``(factor, words)`` that say a change of ``unit`` in a sentence.

    A change of a fraction is said in percentage points (×100), of a percentage in percentage
    points; dimensionless units (``""``, ``"1"``, ``"ratio"``) get no words.
    """
    if unit == "fraction":
        return 100.0, "percentage points"
    if unit == "%":
        return 1.0, "percentage points"
    if unit in _DIMENSIONLESS:
        return 1.0, ""
    return 1.0, unit


def format_change(value: float, unit: str, *, per: str | None = None,
                  signed: bool = False) -> str:
    """A change of a metric in words: the number (:func:`format_number`) and its unit.

    Parameters
    ----------
    value : float
        The change, in the metric's unit (:data:`neurofeedback.metrics.METRIC_UNITS`).
    unit : str
        That unit; ``"fraction"`` is said in percentage points.
    per : str | None
        A time unit for rates, e.g. ``"week"``.
    signed : bool
        Write ``+`` before positive numbers.

    Returns
    -------
    text : str
        E.g. ``"1.23 percentage points per week"``, ``"0.00172 uV^2/week"``,
        ``"+1.22 × 10⁻⁶ per week"``.
    """
    factor, words = _unit_words(unit or "")
    number = format_number(value * factor, signed=signed)
    if per is None:
        return f"{number} {words}" if words else number
    if not words:
        return f"{number} per {per}"
    return f"{number} {words} per {per}" if " " in words else f"{number} {words}/{per}"


def _count(n: int, word: str) -> str:
    """``"1 session"``, ``"2 sessions"``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def trend_statement(t: dict) -> str:
    """One careful sentence about one trend: numbers with CIs, or "not enough data".

    E.g. ``"iaf (mean) rose by 0.101 Hz/week (95% CI +0.0947 to +0.107) over 8 weeks and
    23 sessions."``, ``"relative_alpha (mean) showed no clear weekly change: -0.0845
    percentage points per week (95% CI -0.3 to +0.131 includes 0) over 8 weeks and 23
    sessions."``
    """
    unit = t.get("unit") or ""
    what = f"{t['metric']} ({t['channel']})"
    if t.get("slope_per_week") is None:
        why = t.get("slope_reason") or t.get("reason") or "not enough data"
        return f"{what}: not enough data for a trend ({why})."
    slope = t["slope_per_week"]
    factor, _ = _unit_words(unit)
    lo, hi = (format_number(v * factor, signed=True) for v in t["slope_ci"])
    if t["slope_ci"][0] > 0 or t["slope_ci"][1] < 0:
        direction = "rose" if slope > 0 else "fell"
        verdict = (f"{direction} by {format_change(abs(slope), unit, per='week')} "
                   f"(95% CI {lo} to {hi})")
    else:
        verdict = (f"showed no clear weekly change: "
                   f"{format_change(slope, unit, per='week', signed=True)} "
                   f"(95% CI {lo} to {hi} includes 0)")
    bc = t.get("baseline_change") or {}
    tail = ""
    if bc.get("effect_size") is not None:
        blo, bhi = bc["ci"]
        tail = (f"; baseline → latest weeks: Hedges' g {bc['effect_size']:+.2f} "
                f"(95% CI {blo:+.2f} to {bhi:+.2f})")
    return (f"{what} {verdict} over {_count(t['n_weeks'], 'week')} and "
            f"{_count(t['n_sessions'], 'session')}{tail}.")
