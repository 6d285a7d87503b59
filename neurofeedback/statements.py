"""Words and flat rows for trends: what the CLI, the flows and the reports say about change.

The sentences follow the statistics: whether something "rose" or "fell" is the trend's
``change`` (the primary series at 5 %, the others after the family's adjustment), never an
unadjusted interval; a number always comes with its 95% CI; the slope, the baseline → latest
difference and the minimal detectable change are read together in one sentence; "not enough
data" stands where there is no estimate, and nothing claims a cause.

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

#: ``unit`` token of a relative change (a power's % change, a ratio of geometric means).
RELATIVE = "relative %"

#: Significant figures of the numbers in sentences.
SIGNIFICANT_FIGURES = 3
#: Plain notation for magnitudes in [PLAIN_MIN, PLAIN_MAX); scientific outside.
PLAIN_MIN, PLAIN_MAX = 1e-4, 1e6
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
# units without a dimension: no unit word in a sentence ("per week")
_DIMENSIONLESS = ("", "1", "ratio", "ln ratio")

#: The metrics shown by default: averaged over channels, plus FAA per pair.
DEFAULT_METRICS = ("relative_alpha", "absolute_alpha", "relative_theta", "ratio_alpha_theta",
                   "iaf", "aperiodic_exponent", "faa")


def subject_trends(subject: str, *, home=None, metrics=DEFAULT_METRICS, channels=None,
                   block=None, quality_floor: float = 0.5, baseline_weeks: int = 1,
                   latest_weeks: int = 1, frame=None, tz: str = "UTC", primary="default",
                   adjustment: str = "holm", catalog=None) -> list[dict]:
    """Trends of one subject from the catalog (or ``frame``, its ``metrics_frame``).

    Without ``frame``, only the metrics analysed are read from the catalog (a subject's
    sessions hold ~175 metric rows each; reading them all was most of the time of a subject with
    300 sessions), and the default block is chosen among all the subject's blocks.

    Parameters
    ----------
    subject : str
    home : str | Path | None
        Data home of the default catalog (without ``frame`` and ``catalog``).
    metrics : sequence of str | None
        Metrics to analyse (default :data:`DEFAULT_METRICS`; None: all).
    channels : sequence of str | None
        Channels to analyse. Default: the channel mean, every FAA electrode pair, and the
        primary series (relative alpha on the posterior channels, else the mean; see
        :data:`neurofeedback.trends.DEFAULT_PRIMARY`) when its metric is among ``metrics``.
        Given: exactly these channels (plus FAA's pairs when FAA is asked for).
    block : str | None
        Default the subject's main block (:func:`neurofeedback.trends.default_block`).
    quality_floor, baseline_weeks, latest_weeks, tz, primary, adjustment
        As in :func:`neurofeedback.trends.compute_trends` (``primary="default"``: its default).
    catalog : neurofeedback.store.Catalog | None
        The catalog to read (default the one of ``home``); ignored with ``frame``.

    Returns
    -------
    trends : list of dict
        :func:`neurofeedback.trends.compute_trends` results (empty without sessions).
    """
    from neurofeedback.trends import DEFAULT_PRIMARY, _resolve_primary, compute_trends, default_block

    if primary == "default":
        primary = DEFAULT_PRIMARY
    if frame is None:
        import pandas as pd

        from neurofeedback.store import Catalog

        cat = catalog if catalog is not None else Catalog(home=home)
        wanted = None
        if metrics is not None:
            wanted = set(metrics) | ({_resolve_primary(primary)[0]} if primary is not None else set())
            if wanted - set(cat.metric_names(subject)):
                wanted = None  # an unknown name: read all, so the error lists what there is
        if block is None and wanted is not None:
            block = default_block(pd.DataFrame({"block": cat.blocks(subject)}))
        frame = cat.metrics_frame(subject=subject, metrics=wanted)
    if frame.empty:
        return []
    if block is None:
        block = default_block(frame[frame["subject"] == subject])
    implicit = channels is None
    channels = ["mean"] if implicit else list(channels)
    if metrics is None or "faa" in metrics:
        # FAA's "channel" is its pair (F4/F3): keep pairs when FAA is asked for
        channels += sorted({c for c in frame.loc[frame["metric"] == "faa", "channel"]})
    keep = frame["channel"].isin(channels).to_numpy().copy()  # pandas may hand out a read-only view
    if metrics:
        keep &= frame["metric"].isin(list(metrics)).to_numpy()
    if primary is not None and implicit:
        p_metric, p_channels = _resolve_primary(primary)
        if metrics is None or p_metric in metrics:
            in_block = frame["block"] == block if "block" in frame.columns else True
            is_p = (frame["metric"] == p_metric).to_numpy()
            present = set(frame.loc[is_p & in_block, "channel"])
            first = next((c for c in p_channels if c in present), None)
            keep |= is_p & (frame["channel"] == first).to_numpy()
    for name, wanted, column in (("metrics", metrics, "metric"), ("channels", channels, "channel")):
        # a name that is nowhere in the frame is an error, as compute_trends says it
        if wanted and not set(wanted) & set(frame[column]):
            return compute_trends(frame, subject=subject, **{name: list(wanted)})
    return compute_trends(frame[keep], subject=subject, block=block,
                          quality_floor=quality_floor, baseline_weeks=baseline_weeks,
                          latest_weeks=latest_weeks, tz=tz, primary=primary,
                          adjustment=adjustment)


def trend_rows(trends: list[dict]) -> list[dict]:
    """Flat rows (for a table artifact or CSV) of :func:`subject_trends`' output.

    Slopes, differences and MDCs are in each row's ``change_unit`` (``%`` for powers).
    """
    rows = []
    for t in trends:
        ci = t.get("slope_ci") or [None, None]
        bc = t.get("baseline_change") or {}
        bci = bc.get("ci") or [None, None]
        dci = bc.get("difference_ci") or [None, None]
        rows.append({
            "block": t.get("block", "session"), "metric": t["metric"], "channel": t["channel"],
            "unit": t.get("unit", ""), "change_unit": t.get("change_unit", t.get("unit", "")),
            "n_sessions": t["n_sessions"], "n_weeks": t["n_weeks"],
            "excluded": t.get("excluded_sessions"),
            "change": t.get("change"), "family": t.get("family"),
            "slope_per_week": t.get("slope_per_week"), "slope_ci_low": ci[0], "slope_ci_high": ci[1],
            "slope_p": t.get("slope_p"), "slope_p_adjusted": t.get("slope_p_adjusted"),
            "difference": bc.get("difference"), "difference_ci_low": dci[0],
            "difference_ci_high": dci[1], "mdc_difference": bc.get("mdc_difference"),
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
    points; dimensionless units (``""``, ``"1"``, ``"ratio"``, FAA's ``"ln ratio"``) get no words.
    """
    if unit == "fraction":
        return 100.0, "percentage points"
    if unit == RELATIVE:
        return 1.0, "%"
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
    if words == "%":
        return f"{number}%" if per is None else f"{number}% per {per}"
    if per is None:
        return f"{number} {words}" if words else number
    if not words:
        return f"{number} per {per}"
    return f"{number} {words} per {per}" if " " in words else f"{number} {words}/{per}"


def _count(n: int, word: str) -> str:
    """``"1 session"``, ``"2 sessions"``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _change_unit(t: dict) -> str:
    return RELATIVE if t.get("scale") == "log10" else (t.get("unit") or "")


def _family_words(t: dict, p_key: str) -> str:
    """``"primary metric, p = 0.003"`` or ``"p = 0.04 after Holm adjustment for 7 series"``."""
    p = t.get(p_key)
    if p is None or "family" not in t:
        return ""
    p_text = "p < 0.001" if p < 0.001 else f"p = {format_number(p, sig=2)}"
    if t["family"] == "primary":
        return f"primary metric, {p_text}"
    adj = t.get("adjustment", "holm")
    name = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg", "bonferroni": "Bonferroni"}.get(adj)
    if name is None or t.get("family_size", 0) <= 1:
        return p_text
    return f"{p_text} after {name} adjustment for {t.get('family_size', 0)} series"


def _difference_clause(t: dict) -> str:
    """The baseline → latest difference read against the MDC of that difference."""
    bc = t.get("baseline_change") or {}
    diff = bc.get("difference")
    if diff is None:
        return ""
    unit = _change_unit(t)
    nb, nl = len(bc.get("baseline_weeks") or ()), len(bc.get("latest_weeks") or ())
    latest = "the latest week is" if nl == 1 else f"the latest {nl} weeks are"
    first = "the first" if nb == 1 else f"the first {nb}"
    if diff == 0:
        where = f"{latest} level with {first}"
    else:
        where = f"{latest} {format_change(abs(diff), unit)} {'above' if diff > 0 else 'below'} {first}"
    mdc = bc.get("mdc_difference")
    change = t.get("change")
    if mdc is None:
        return f"; {where} (no MDC: no week has 2 sessions to measure session noise)"
    noise = f"the {format_change(mdc, unit)} that session-to-session noise alone can produce (MDC95)"
    beyond = bool(bc.get("beyond_mdc"))
    if change in ("rose", "fell"):
        agree = (diff > 0) == (change == "rose")
        if beyond and agree:
            return f"; {where}, more than {noise}, so the change is larger than measurement noise"
        if beyond:
            return (f"; yet {where}, more than {noise}: the first and latest weeks disagree with "
                    "the trend over all weeks")
        return (f"; {where}, within {noise}, so the change shows in the trend over all weeks "
                "rather than between the first and latest weeks alone")
    if beyond:
        return (f"; {where}, more than {noise}, but the trend over all weeks does not confirm "
                "a steady change")
    return f"; {where}, within {noise}"


def trend_statement(t: dict) -> str:
    """One plain sentence about one trend: the call, the slope with its CI, and how the
    baseline → latest difference compares with the MDC.

    Whether it "rose" or "fell" is ``t["change"]`` (the primary series at 5 %, the others
    after the family's adjustment); without a ``change`` (an old result) the 95 % CI decides.
    E.g. ``"relative_alpha (mean) rose by 1.23 percentage points per week (95% CI +0.51 to
    +1.95; primary metric, p = 0.003) over 8 weeks and 23 sessions; the latest week is 9.1
    percentage points above the first, more than the 4.2 percentage points that
    session-to-session noise alone can produce (MDC95), so the change is larger than
    measurement noise."``
    """
    unit = _change_unit(t)
    what = f"{t['metric']} ({t['channel']})"
    if t.get("block") not in (None, "session"):
        what += f" in the {t['block']} block"
    if t.get("slope_per_week") is None:
        why = t.get("slope_reason") or t.get("reason") or "not enough data"
        return f"{what}: not enough data for a trend ({why})."
    slope = t["slope_per_week"]
    factor, _ = _unit_words(unit)
    lo, hi = (format_number(v * factor, signed=True) for v in t["slope_ci"])
    if unit == RELATIVE:
        lo, hi = f"{lo}%", f"{hi}%"
    change = t.get("change")
    if change is None:  # a result without the family's call
        excludes = t["slope_ci"][0] > 0 or t["slope_ci"][1] < 0
        change = ("rose" if slope > 0 else "fell") if excludes else "no clear change"
    fam = _family_words(t, "slope_p_adjusted" if t.get("family") == "secondary" else "slope_p")
    includes_0 = t["slope_ci"][0] <= 0 <= t["slope_ci"][1]
    ci_words = (f"95% CI {lo} to {hi}" + (" includes 0" if includes_0 and change not in
                                          ("rose", "fell") else "") + (f"; {fam}" if fam else ""))
    if change in ("rose", "fell"):
        verdict = f"{change} by {format_change(abs(slope), unit, per='week')} ({ci_words})"
    else:
        verdict = (f"showed no clear weekly change: "
                   f"{format_change(slope, unit, per='week', signed=True)} ({ci_words})")
    return (f"{what} {verdict} over {_count(t['n_weeks'], 'week')} and "
            f"{_count(t['n_sessions'], 'session')}{_difference_clause(t)}.")
