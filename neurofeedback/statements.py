"""Words and flat rows for trends: what the CLI, the flows and the reports say about change.

The sentences follow the statistics: a number always comes with its 95% CI, "not enough data"
stands where there is no estimate, and nothing claims a cause.
"""

from __future__ import annotations

__all__ = ["DEFAULT_METRICS", "subject_trends", "trend_rows", "trend_statement"]

#: The metrics shown by default: averaged over channels, plus FAA per pair.
DEFAULT_METRICS = ("relative_alpha", "absolute_alpha", "relative_theta", "ratio_alpha_theta",
                   "iaf", "aperiodic_exponent", "faa")


def subject_trends(subject: str, *, home=None, metrics=DEFAULT_METRICS, channels=("mean",),
                   quality_floor: float = 0.5, baseline_weeks: int = 1,
                   latest_weeks: int = 1, frame=None, tz: str = "UTC") -> list[dict]:
    """Trends of one subject from the catalog (or ``frame``, its ``metrics_frame``).

    ``channels`` are kept as given plus, for FAA, every electrode pair (its "channel").
    ``tz`` is the time zone of the calendar weeks (see :func:`neurofeedback.trends.compute_trends`).
    """
    from neurofeedback.trends import compute_trends

    if frame is None:
        from neurofeedback.store import Catalog

        frame = Catalog(home=home).metrics_frame(subject=subject)
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


def trend_statement(t: dict) -> str:
    """One careful sentence about one trend: numbers with CIs, or "not enough data"."""
    unit = t.get("unit") or ""
    per_week = "per week" if unit in ("", "1") else f"{unit}/week"  # "1": unitless
    what = f"{t['metric']} ({t['channel']})"
    if t.get("slope_per_week") is None:
        why = t.get("slope_reason") or t.get("reason") or "not enough data"
        return f"{what}: not enough data for a trend ({why})."
    lo, hi = t["slope_ci"]
    if lo > 0 or hi < 0:
        direction = "rose" if t["slope_per_week"] > 0 else "fell"
        verdict = f"{direction} by {t['slope_per_week']:+.3g} {per_week} (95% CI {lo:+.3g} to {hi:+.3g})"
    else:
        verdict = (f"showed no clear weekly change: {t['slope_per_week']:+.3g} {per_week} "
                   f"(95% CI {lo:+.3g} to {hi:+.3g} includes 0)")
    bc = t.get("baseline_change") or {}
    tail = ""
    if bc.get("effect_size") is not None:
        blo, bhi = bc["ci"]
        tail = f"; baseline → latest weeks: Hedges' g {bc['effect_size']:+.2f} (95% CI {blo:+.2f} to {bhi:+.2f})"
    return f"{what} {verdict} over {t['n_weeks']} weeks and {t['n_sessions']} sessions{tail}."
