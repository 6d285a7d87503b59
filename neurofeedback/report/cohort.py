"""The cohort report: a group's change over weeks, the comparison with another group, each
subject's line and data quality, and the method in words.

Built from :func:`neurofeedback.cohort.store_cohort_trends` (or the same dict from simulated
frames); rendered by the project's one-file HTML document (:mod:`.document`: Jinja2 with
autoescaping, figures inline, no scripts), so subject IDs, group names and event kinds are shown
as text, never interpreted as HTML.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..cohort import cohort_statement, format_value, store_cohort_trends
from . import plots
from .document import Block, Report, Section, Table

__all__ = ["build_cohort_report", "cohort_report"]

_COLORS = ("#1f77b4", "#d62728")


def cohort_report(group: str, *, vs: str | None = None, home=None, block: str | None = None,
                  metrics=None, event_kind: str | None = None,
                  quality_floor: float = 0.5) -> Report:
    """The cohort report of ``group`` (against ``vs``) from the session store.

    Parameters
    ----------
    group, vs, home, block, metrics, quality_floor :
        As in :func:`neurofeedback.cohort.store_cohort_trends`.
    event_kind : str | None
        Add the event-anchored analysis at each subject's first event of this kind.

    Returns
    -------
    report : Report

    Raises
    ------
    neurofeedback.errors.ConfigError
        Unknown group, no subjects, metric or block absent.
    """
    cohort = store_cohort_trends(group, vs=vs, home=home, block=block, metrics=metrics,
                                 quality_floor=quality_floor, event_kind=event_kind)
    return build_cohort_report(cohort)


def _fmt(x, unit: str) -> str:
    return format_value(x, unit, with_unit=False)


def _ci(ci, unit) -> str:
    lo, hi = ci
    if lo is None or hi is None:
        return "not enough data"
    return f"{_fmt(lo, unit)} to {_fmt(hi, unit)}"


def build_cohort_report(cohort: dict, *, simulated: bool = False) -> Report:
    """Build the report from a :func:`~neurofeedback.cohort.store_cohort_trends` dict.

    Parameters
    ----------
    cohort : dict
        ``group, vs, block, results, events, groups``.
    simulated : bool
        Say in the title's notice that the series are simulated metric series (the demo).

    Returns
    -------
    report : Report
    """
    group, vs = cohort["group"], cohort.get("vs")
    results = cohort["results"]
    members = cohort.get("groups") or {}
    order = [group] + ([vs] if vs else [])
    title = f"Cohort trends: {group}" + (f" vs {vs}" if vs else "")
    meta = [("Groups", ", ".join(f"{g} ({sum(x == g for x in members.values())} subjects)"
                                 for g in order)),
            ("About", "whole sessions" if cohort.get("block") == "session"
                      else f"the {cohort.get('block')} block of each session"),
            ("Series", str(len(results)))]
    notice = ("Group changes over time in consumer-EEG measurements, with 95% confidence "
              "intervals. They are associations, not causes; a difference between groups shows "
              "what a randomised comparison would attribute to the course only if the groups "
              "were randomised.")
    if simulated:
        notice = ("SIMULATED metric series (neurofeedback demo), with known group slopes — not "
                  "recordings. " + notice)
    report = Report(kind="cohort", title=title, subtitle=f"block: {cohort.get('block')}",
                    meta=meta, notice=notice)
    summary = Section("summary", "Summary")
    summary.blocks.append(Block(text=[cohort_statement(r) for r in results]
                                or ["Not enough data: no series to analyse."]))
    summary.blocks.append(Block(table=Table("cohort_tests", _tests_table(results),
                                            caption="Group change per week and the difference, "
                                                    "with 95% CIs (t with n_subjects - n_groups "
                                                    "df) and the call of change")))
    report.sections.append(summary)
    curves = Section("groups", "Group curves and individual lines", intro=[
        "Thick lines: each group's fitted change (the mixed model's fixed slope) with its 95% "
        "CI band; dots with bars: the group's mean of subject-week means per week since each "
        "subject's start, with a 95% CI; thin lines: each subject's own estimate, shrunk toward "
        "the group (the model's prediction for that subject)."])
    for r in results:
        if r["status"] != "ok":
            curves.blocks.append(Block(text=[cohort_statement(r)]))
            continue
        name = f"cohort_{r['metric']}_{r['channel']}".replace("/", "-")
        report.figures[name] = _plot_groups(r, order)
        curves.blocks.append(Block(figure=name, alt=f"{r['metric']} ({r['channel']}) by group",
                                   text=[cohort_statement(r)],
                                   table=Table(name + "_subjects", _subjects_table(r),
                                               caption="Each subject's slope per week: its own "
                                                       "(least squares on its week means) and "
                                                       "shrunk toward the group (mixed model)")))
    report.sections.append(curves)
    if cohort.get("events"):
        report.sections.append(_events_section(cohort["events"]))
    report.sections.append(_quality_section(results, members, order))
    report.sections.append(_method_section(results))
    return report


def _tests_table(results) -> pd.DataFrame:
    rows = []
    for r in results:
        u = r["change_unit"]
        for key, t in r["tests"].items():
            rows.append({"metric": r["metric"], "channel": r["channel"],
                         "test": "difference " + t["group"] if key == "difference"
                         else f"slope of {t['group']}",
                         "per week": _fmt(t["per_week"], u), "95% CI": _ci(t["ci"], u),
                         "p": t["p"], "p adjusted": t.get("p_adjusted"),
                         "family": t.get("family"), "change": t.get("change"),
                         "df": r["df"], "model": r["model"]})
        if not r["tests"]:
            rows.append({"metric": r["metric"], "channel": r["channel"], "test": "—",
                         "change": "not enough data", "model": r.get("reason")})
    return pd.DataFrame(rows)


def _subjects_table(r) -> pd.DataFrame:
    u = r["change_unit"]
    return pd.DataFrame([{"subject": s["subject"], "group": s["group"], "weeks": s["n_weeks"],
                          "own slope / week": _fmt(s["slope_ols"], u),
                          "shrunk slope / week": _fmt(s["slope_shrunk"], u)}
                         for s in r["subjects"]])


def _plot_groups(r: dict, order) -> object:
    fig = plots._figure(10.0, 3.6)
    ax = fig.subplots()
    log = r["scale"] == "log10"
    back = (lambda v: 10.0 ** v) if log else (lambda v: v)
    weekly = pd.DataFrame(r["weekly"])
    tmax = float(weekly["week"].max()) + 1.0 if len(weekly) else 8.0
    grid = np.linspace(0.0, tmax, 50)
    for i, g in enumerate(order):
        color = _COLORS[i % len(_COLORS)]
        for s in r["subjects"]:
            if s["group"] != g:
                continue
            ax.plot(grid, back(s["intercept_shrunk_analysis"] + s["slope_shrunk_analysis"] * grid),
                    color=color, alpha=0.25, lw=0.8)
        t = r["tests"].get(f"slope:{g}") or {}
        if t.get("analysis_per_week") is not None and t.get("intercept_analysis") is not None:
            b, a, se = t["analysis_per_week"], t["intercept_analysis"], t["se"]
            crit = (t["ci"][1] - t["ci"][0]) / 2 / se if se and not log else None
            if crit is None:  # log scale: the CI is on log10 slopes
                from scipy import stats

                crit = float(stats.t.ppf(0.975, r["df"]))
            centre = grid.mean()
            ax.plot(grid, back(a + b * grid), color=color, lw=2.5,
                    label=f"{g}: {_fmt(t['per_week'], r['change_unit'])}/week ({t.get('change')})")
            # the band of the slope around the fitted level at the middle of the weeks
            mid = a + b * centre
            ax.fill_between(grid, back(mid + (b - crit * se) * (grid - centre)),
                            back(mid + (b + crit * se) * (grid - centre)), color=color, alpha=0.15,
                            lw=0)
        wk = weekly[weekly["group"] == g] if len(weekly) else weekly
        if len(wk):
            x = wk["week"].to_numpy(float) + 0.5 + (0.08 if i else -0.08)
            m = wk["mean"].to_numpy(float)
            lo = np.nan_to_num(m - wk["ci_low"].to_numpy(float))
            hi = np.nan_to_num(wk["ci_high"].to_numpy(float) - m)
            ax.errorbar(x, m, yerr=[lo, hi], fmt="o", color=color, ms=4, capsize=2,
                        label=f"{g}: weekly mean, 95% CI")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("weeks since each subject's first session")
    unit = plots.pretty_unit(r["unit"] or "")
    ax.set_ylabel(f"{r['metric']} ({r['channel']})" + (f" [{unit}]" if unit else ""),
                  fontsize=8)
    ax.set_title(f"{r['metric']} ({r['channel']})", fontsize=10, loc="left")
    plots._legend_right(ax)
    return fig


def _events_section(events: dict) -> Section:
    sec = Section("events", "Around each subject's own event", intro=[
        "Each subject's weeks are counted from their own first event of the kind (week 0 = the "
        "7 days from it). A segmented mixed model gives the group's level change at the event "
        "and its change of slope after it, with t(n_subjects - 1) 95% CIs."])
    rows = []
    for g, e in events.items():
        if e.get("status") != "ok":
            rows.append({"group": g, "event kind": e.get("kind"), "result": "not enough data",
                         "reason": e.get("reason")})
            continue
        u = e["change_unit"]
        for key, label in (("level_change", "level change at the event"),
                           ("slope_change", "slope change after it (per week)"),
                           ("pre_slope", "slope before it (per week)")):
            b = e[key]
            rows.append({"group": g, "event kind": e["kind"], "series": f"{e['metric']} ({e['channel']})",
                         "result": label, "estimate": _fmt(b["estimate"], u),
                         "95% CI": _ci(b["ci"], u), "p": b["p"], "change": b["change"],
                         "subjects": e["n_subjects"], "model": e["model"]})
    sec.blocks.append(Block(table=Table("event_anchored", pd.DataFrame(rows),
                                        caption="Event-anchored group analysis")))
    return sec


def _quality_section(results, members, order) -> Section:
    sec = Section("quality", "Data quality per subject", intro=[
        "Sessions kept and left out (clean fraction under the quality floor), weeks with data "
        "and sessions pulled in as outliers, for the first series; a subject needs 2 weeks "
        "with data to enter the model."])
    r = next((x for x in results if x.get("quality")), None)
    if r is None:
        sec.intro.append("No data.")
        return sec
    q = pd.DataFrame(r["quality"])
    q.insert(1, "group", q["subject"].map(members))
    q = q.sort_values(["group", "subject"])
    sec.blocks.append(Block(table=Table("quality", q.rename(columns={
        "n_sessions": "sessions kept", "n_excluded": "sessions left out", "n_weeks": "weeks",
        "clean_fraction": "mean clean fraction", "winsorised": "pulled in"}),
        caption=f"{r['metric']} ({r['channel']}), block {r.get('block')}")))
    return sec


def _method_section(results) -> Section:
    m = results[0]["method"] if results else {}
    return Section("method", "Method", intro=[
        "Sessions below the quality floor are left out; powers (µV²) are analysed on a log "
        "scale and their changes given in %; a session more than 3 robust SDs off its "
        "subject's trend is pulled in. Each subject's sessions are averaged per ISO week: the "
        "week, not the session, is the unit, so days or weeks that resemble each other cannot "
        "count as independent evidence.",
        "A linear mixed model (statsmodels MixedLM, REML) fits each group's change per week, "
        "with a random level and a random slope per subject: the group's slope is what the "
        "typical member does; the spread of the random slopes is how much people differ; each "
        "subject's line is shrunk toward their group by how much their own data say. Two "
        "groups are one model; their difference is the time × group interaction.",
        "Intervals and p use Student's t with (subjects − groups) degrees of freedom rather "
        "than MixedLM's normal approximation, which is too narrow with a dozen subjects a "
        "group. If the random slope cannot be estimated, it is dropped and the result says "
        "so.",
        (f"The primary series, {m.get('primary')}, is tested at 5%; " if m.get("primary") else "")
        + "the other series form one family per test, adjusted by Holm; 'rose' or 'fell' is "
        "said only when the adjusted p is below 0.05.",
        "The simulation study behind these choices (false-positive rates, coverage, power): "
        "docs/statistics.md, section Cohorts.",
    ])
