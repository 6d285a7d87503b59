"""The subject report: change over weeks, with its uncertainty, quality and context.

The report is about one block of the sessions (the protocol's main block, e.g. meditation, by
default; else whole sessions), named in its title and metadata.

Sections (their HTML anchors): ``summary`` (the statements, careful words), ``trends`` (one plot
per metric: sessions, weekly means with 95% CI bands, the trend, context events; the
weekly table beside it), ``event-change`` (the level and slope change and the before/after window
difference around each therapy, infusion or practice change, with the pre/post fits around the
event line; :mod:`neurofeedback.event_change`), ``coverage`` (data quality per week), ``events``
(context events),
``sessions`` (the session list) and ``method``.

The words follow the statistics (:mod:`neurofeedback.statements`): whether a metric rose or fell
is the trend's ``change`` (primary metric at 5 %, the others Holm-adjusted), numbers always come
with their 95% CI, "not enough data" stands where there is no estimate, and nothing claims a
cause.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validate import check_option
from ..errors import ConfigError, StoreError
from ..event_change import ANALYSED_KINDS, event_statement, subject_event_changes
from ..home import validate_label
from ..statements import DEFAULT_METRICS, format_number, subject_trends, trend_rows, trend_statement
from ..trends import SESSION_BLOCK, _iso_week, default_block
from . import plots
from .document import Block, Report, Section, Table

__all__ = ["build_subject_report", "subject_report"]


def _parse_date(name: str, value, *, end: bool = False):
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ConfigError(f"Invalid value for the {name} parameter. It must be a date such as "
                          f"2026-01-31, but got {value!r} instead.") from None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    if end and ts == ts.normalize():  # a date: through the end of that day
        ts = ts + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return ts


def subject_report(subject: str, *, home=None, date_from=None, date_to=None,
                   metrics=DEFAULT_METRICS, quality_floor: float = 0.5, block=None) -> Report:
    """Build a subject's report from the session store.

    Parameters
    ----------
    subject : str
        Subject label.
    home : path-like | None
        Data home (catalog).
    date_from, date_to : str | date | None
        Only sessions and events in this period (inclusive dates, UTC).
    metrics : sequence of str
        Metrics to show (averaged over channels; FAA per electrode pair).
    quality_floor : float
        Sessions with a smaller clean fraction are excluded from the statistics and counted.
    block : str | None
        The block the report is about (``"meditation"``, ``"session"`` for whole sessions);
        default the subject's main block (:func:`neurofeedback.trends.default_block`).

    Returns
    -------
    report : Report

    Raises
    ------
    ConfigError
        A bad period or a block the subject's sessions do not have.
    StoreError
        The subject has no sessions in the catalog (in the period).
    """
    from ..store import Catalog

    label = validate_label(subject)
    t0 = _parse_date("from", date_from)
    t1 = _parse_date("to", date_to, end=True)
    if t0 is not None and t1 is not None and t1 < t0:
        raise ConfigError(f"Invalid period: --from {date_from} is after --to {date_to}")
    cat = Catalog(home=home)
    if label not in cat.subjects():
        raise StoreError(f"{label}: no such subject in the catalog {cat.display_url}; list them "
                         "with 'neurofeedback sessions'")
    sessions = cat.sessions(subject=label)
    events = cat.events(subject=label)
    sessions = _in_period(sessions, "start_time", t0, t1)
    events = _in_period(events, "time", t0, t1)
    if sessions.empty:
        period = "" if t0 is None and t1 is None else " in this period"
        raise StoreError(f"{label}: no sessions{period} in the catalog {cat.display_url}")
    # Only the rows of the block the report is about (a quarter of the subject's metric rows
    # with three blocks): the catalog read and its per-row time conversion were the largest
    # part of the report outside the statistics. The full frame is read only when the chosen
    # block has no rows in the period, where the block is chosen (and checked) as before.
    frame = None
    stored = cat.blocks(label)
    guess = block if block is not None else default_block(pd.DataFrame({"block": stored}))
    if guess in stored:
        frame = _in_period(cat.metrics_frame(subject=label, block=guess), "start_time", t0, t1)
        if frame.empty:
            frame = None
    if frame is None:
        frame = _in_period(cat.metrics_frame(subject=label), "start_time", t0, t1)
    if "block" in frame.columns:
        if block is None:
            block = default_block(frame)
        check_option("block", block, sorted(set(frame["block"].astype(str))), exc=ConfigError)
        frame = frame[frame["block"].astype(str) == block].reset_index(drop=True)
    else:
        block = SESSION_BLOCK if block is None else block
        check_option("block", block, [SESSION_BLOCK], exc=ConfigError)
    trends = subject_trends(label, metrics=metrics, frame=frame, quality_floor=quality_floor,
                            block=block)
    changes = subject_event_changes(label, frame=frame, events=events,
                                    practice=cat.practice(label), metrics=metrics, block=block,
                                    quality_floor=quality_floor)
    return build_subject_report(label, sessions=sessions, frame=frame, events=events,
                                trends=trends, quality_floor=quality_floor,
                                period=(t0, t1), block=block, changes=changes)


def _in_period(df: pd.DataFrame, col: str, t0, t1) -> pd.DataFrame:
    if df.empty:
        return df
    keep = np.ones(len(df), bool)
    if t0 is not None:
        keep &= (df[col] >= t0).to_numpy()
    if t1 is not None:
        keep &= (df[col] <= t1).to_numpy()
    return df[keep].reset_index(drop=True)


def build_subject_report(subject: str, *, sessions: pd.DataFrame, frame: pd.DataFrame,
                         events: pd.DataFrame, trends: list[dict], quality_floor: float = 0.5,
                         period=(None, None), block: str = "session",
                         changes: list[dict] | None = None) -> Report:
    """Build the subject report from catalog frames and computed trends.

    Parameters
    ----------
    subject : str
    sessions : pandas.DataFrame
        :meth:`Catalog.sessions` rows of the subject.
    frame : pandas.DataFrame
        :meth:`Catalog.metrics_frame` rows of the subject.
    events : pandas.DataFrame
        :meth:`Catalog.events` rows of the subject.
    trends : list of dict
        :func:`neurofeedback.statements.subject_trends` output.
    quality_floor : float
    period : (Timestamp | None, Timestamp | None)
    block : str
        The block ``frame`` and ``trends`` are about (``"session"``: whole sessions).
    changes : list of dict | None
        :func:`neurofeedback.event_change.subject_event_changes` output (the change around the
        subject's events); ``None`` or empty: the section says why there is none.

    Returns
    -------
    report : Report
    """
    low = sessions["clean_fraction"].fillna(0) < quality_floor  # excluded from the statistics
    weeks_all = _iso_week(sessions["start_time"])
    report = _subject_head(subject, sessions, events, low, weeks_all, quality_floor, period,
                           block)
    # in this order: each section adds its figures to the report as it is built
    report.sections.extend([
        _summary_section(trends),
        _trends_section(report, trends, sessions, frame, events, low, quality_floor,
                        changes or []),
        _event_change_section(report, changes or [], sessions, frame, events, low,
                              quality_floor),
        _coverage_section(report, sessions, low, weeks_all, quality_floor),
        _events_section(subject, events),
        _sessions_section(sessions, low, weeks_all),
        _method_section(quality_floor, trends),
    ])
    return report


def _subject_head(subject: str, sessions: pd.DataFrame, events: pd.DataFrame, low: pd.Series,
                  weeks_all: pd.Series, quality_floor: float, period, block: str) -> Report:
    """The report with its title, metadata (block, period, sessions, devices) and caution."""
    first, last = sessions["start_time"].min(), sessions["start_time"].max()
    meta = [
        ("Subject", subject),
        ("About", "whole sessions" if block == SESSION_BLOCK
                  else f"the {block} block of each session"),
        ("Period", f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
                   + (" (filtered)" if any(p is not None for p in period) else "")),
        ("Sessions", f"{len(sessions)} in {weeks_all.nunique()} ISO weeks"),
        ("Below the quality floor", f"{int(low.sum())} sessions (clean fraction < "
                                    f"{quality_floor:g}) excluded from the statistics"),
        ("Devices", ", ".join(sorted({str(d) for d in sessions["device"].dropna()})) or "–"),
        ("Context events", str(len(events))),
    ]
    about = "" if block == SESSION_BLOCK else f", {block} block"
    return Report(kind="subject", title=f"Weekly trends: subject {subject}{about}",
                  subtitle=f"{first:%Y-%m-%d} – {last:%Y-%m-%d}", meta=meta,
                  notice=("These are associations over time in consumer-EEG measurements, with "
                          "95% confidence intervals. They are not a diagnosis and do not show "
                          "what caused a change (practice, therapy, sleep, the headset's fit, "
                          "the season: all can move these numbers)."))


def _summary_section(trends: list[dict]) -> Section:
    """The statements, in words, and the trend table."""
    sec = Section("summary", "Summary")
    if trends:
        sec.blocks.append(Block(text=[plots.pretty_unit(trend_statement(t)) for t in trends]))
        sec.blocks.append(Block(table=Table("trends", _trend_table(trends),
                                            caption="Trend per week, the call of change, and "
                                                    "the change from the baseline week to the "
                                                    "latest week against its MDC")))
    else:
        sec.blocks.append(Block(text=["Not enough data: no session metrics in this period."]))
    return sec


def _trends_section(report: Report, trends: list[dict], sessions: pd.DataFrame,
                    frame: pd.DataFrame, events: pd.DataFrame, low: pd.Series,
                    quality_floor: float, changes: list[dict] = ()) -> Section:
    """One plot and weekly table per trend (adds a ``trend_<metric>_<channel>`` figure each)."""
    ev = events.rename(columns={})[["time", "kind", "text"]] if len(events) else None
    sec = Section("trends", "Trends per metric", intro=[
        "Dots are sessions (hollow: excluded for low quality); the band is the weekly mean's "
        "95% CI; the dashed line is the trend, with its 95% CI and the call of change in the "
        "legend; dotted vertical lines are context events, and around a therapy, infusion or "
        "practice change the solid lines are the fit before and after it (see Change around "
        "events). Powers are on a log axis: a straight line there is a constant % change per "
        "week."])
    excluded_ids = set(sessions.loc[low, "session_id"])
    for t in trends:
        sel = frame[(frame["metric"] == t["metric"]) & (frame["channel"] == t["channel"])]
        if "block" in sel.columns:
            sel = sel[sel["block"].astype(str) == t.get("block", SESSION_BLOCK)]
        pts = pd.DataFrame({"start_time": sel["start_time"], "value": sel["value"].astype(float),
                            "excluded": (sel["clean_fraction"].fillna(0) < quality_floor)
                            | sel["session_id"].isin(excluded_ids)})
        name = f"trend_{t['metric']}_{t['channel']}".replace("/", "-")
        fit = next((r for r in changes if r["metric"] == t["metric"]
                    and r["channel"] == t["channel"] and r.get("fit") is not None), None)
        report.figures[name] = plots.plot_trend(pts, t, events=ev, event_fit=fit)
        sec.blocks.append(_trend_block(name, t))
    if not trends:
        sec.intro.append("Not enough data for any trend.")
    return sec


def _trend_block(name: str, t: dict) -> Block:
    """A trend's figure ``name``, its statement and MDC, and its weekly table."""
    weeks = pd.DataFrame(t["weeks"], columns=["week", "n", "mean", "ci_low", "ci_high",
                                              "clean_coverage"])
    weeks = weeks.rename(columns={"ci_low": "95% CI low", "ci_high": "95% CI high",
                                  "clean_coverage": "clean"})
    unit = plots.pretty_unit(t.get("unit") or "")
    change_unit = "%" if t.get("scale") == "log10" else unit
    mdc = []
    if t.get("mdc") is not None:
        lo, hi = t.get("mdc_ci") or (None, None)
        sep = "" if change_unit == "%" else " "
        ci = (f" (95% CI {format_number(lo)} to {format_number(hi)}; {t['sem_df']} df)"
              if lo is not None and hi is not None else "")
        mdc = [f"Minimal detectable change between two sessions (MDC95): "
               f"{format_number(t['mdc'])}{sep + change_unit if change_unit else ''}{ci}."]
    return Block(
        figure=name, alt=f"{t['metric']} ({t['channel']}) over weeks",
        text=[plots.pretty_unit(trend_statement(t))] + mdc,
        table=Table(name + "_weeks", weeks, caption=f"{t['metric']} ({t['channel']}) per ISO week",
                    units={"mean": unit, "95% CI low": unit, "95% CI high": unit,
                           "clean": "fraction"}))


def _series_points(frame: pd.DataFrame, r: dict, excluded_ids: set, quality_floor: float):
    sel = frame[(frame["metric"] == r["metric"]) & (frame["channel"] == r["channel"])]
    if "block" in sel.columns:
        sel = sel[sel["block"].astype(str) == r.get("block", SESSION_BLOCK)]
    return pd.DataFrame({"start_time": sel["start_time"], "value": sel["value"].astype(float),
                         "excluded": (sel["clean_fraction"].fillna(0) < quality_floor)
                         | sel["session_id"].isin(excluded_ids)})


def _event_change_section(report: Report, changes: list[dict], sessions: pd.DataFrame,
                          frame: pd.DataFrame, events: pd.DataFrame, low: pd.Series,
                          quality_floor: float) -> Section:
    """The change around each analysed event: a figure per series that is the primary one or
    changed (adds ``event_change_<metric>_<channel>``), its sentence, and one table of all."""
    weeks = format_number(changes[0]["window_weeks"]) if changes else "2"
    sec = Section("event-change", "Change around events", intro=[
        "For each therapy, infusion, medication, course start or practice change: the level "
        "change at the event and the change of the weekly slope after it (a segmented "
        "regression over all weeks: the solid lines before and after the dashed event line), "
        f"and the mean of the {weeks} weeks after against the {weeks} weeks before (the short "
        "bars). Each comes with its 95% CI and the call of change (the primary metric at 5%, "
        "the others Holm-adjusted); an association in time, not proof of a cause."])
    analysed = [r for r in changes if r["events"]]
    if not analysed:
        kinds = ", ".join(ANALYSED_KINDS)
        has = len(events) and events["kind"].isin(ANALYSED_KINDS).any()
        left = [e for r in changes for e in r["left_out"]]
        if left:
            sec.blocks.append(Block(text=[f"Event {e['event_id']} ({e['kind']}, {e['time'][:10]}) "
                                          f"not analysed: {e['reason']}." for e in
                                          {e["event_id"]: e for e in left}.values()]))
        elif not has:
            sec.blocks.append(Block(text=[f"No event of the kinds analysed ({kinds}). Add one "
                                          "with 'neurofeedback event add --kind ketamine ...'."]))
        else:
            sec.blocks.append(Block(text=["Not enough data around the events."]))
        return sec
    excluded_ids = set(sessions.loc[low, "session_id"])
    rows = []
    for r in sorted(analysed, key=lambda r: (r["family"] != "primary", r["metric"], r["channel"])):
        calls = {e[t]["change"] for e in r["events"] for t in ("level", "slope", "window")}
        sentences = [plots.pretty_unit(event_statement(r, k)) for k in range(len(r["events"]))]
        if r["family"] == "primary" or calls & {"rose", "fell"}:
            name = f"event_change_{r['metric']}_{r['channel']}".replace("/", "-")
            report.figures[name] = plots.plot_event_change(
                _series_points(frame, r, excluded_ids, quality_floor), r)
            sec.blocks.append(Block(figure=name, alt=f"{r['metric']} ({r['channel']}) around "
                                    "its events", text=sentences))
        for e in r["events"]:
            rows.append({
                "metric": r["metric"], "channel": r["channel"],
                "event": f"{e['kind']} {e['time'][:10]}"
                         + (f" (+{len(e['merged'])} merged)" if e["merged"] else ""),
                "change unit": plots.pretty_unit(r["change_unit"]),
                "level change": e["level"]["estimate"], "level 95% CI": _ci(e["level"]["ci"]),
                "level": e["level"]["change"],
                "slope change / week": e["slope"]["estimate"],
                "slope 95% CI": _ci(e["slope"]["ci"]), "slope": e["slope"]["change"],
                f"{weeks} wk after − before": e["window"]["estimate"],
                "window 95% CI": _ci(e["window"]["ci"]), "window": e["window"]["change"],
                "family": r["family"],
            })
    sec.blocks.append(Block(table=Table("event_change", pd.DataFrame(rows), caption=(
        "Level change, slope change and window difference per series and event (95% CIs; "
        "'rose'/'fell' follow the primary metric's p or the Holm-adjusted p)"))))
    left = {e["event_id"]: e for r in changes for e in r["left_out"]}
    if left:
        sec.blocks.append(Block(text=[f"Event {e['event_id']} ({e['kind']}, {e['time'][:10]}) "
                                      f"not analysed: {e['reason']}." for e in left.values()]))
    return sec


def _coverage_section(report: Report, sessions: pd.DataFrame, low: pd.Series,
                      weeks_all: pd.Series, quality_floor: float) -> Section:
    """Sessions kept and excluded, and clean coverage, per ISO week (adds ``coverage``)."""
    cov = pd.DataFrame({"week": weeks_all, "excluded": low.to_numpy(),
                        "clean": sessions["clean_fraction"].astype(float),
                        "first": sessions["start_time"]})
    g = cov.groupby("week", sort=False)
    weekly = pd.DataFrame({
        "week": list(g.groups),
        "n_sessions": g["excluded"].apply(lambda x: int((~x).sum())).to_numpy(),
        "n_excluded": g["excluded"].sum().astype(int).to_numpy(),
        "clean_coverage": g["clean"].mean().to_numpy(),
        "first": g["first"].min().to_numpy(),
    }).sort_values("first").drop(columns="first").reset_index(drop=True)
    report.figures["coverage"] = plots.plot_coverage(weekly)
    sec = Section("coverage", "Data quality per week", intro=[
        f"Sessions kept and excluded (clean fraction below {quality_floor:g}) per ISO week, and "
        "the mean fraction of clean epochs."])
    sec.blocks.append(Block(figure="coverage", alt="Data quality per week",
                            table=Table("coverage", weekly.rename(columns={
                                "n_sessions": "kept", "n_excluded": "excluded",
                                "clean_coverage": "clean"}),
                                caption="Sessions per week", units={"clean": "fraction"})))
    return sec


def _events_section(subject: str, events: pd.DataFrame) -> Section:
    """The context events, or how to add one."""
    sec = Section("events", "Context events")
    if len(events):
        qty = events["quantity"] if "quantity" in events.columns else pd.Series(
            [np.nan] * len(events), index=events.index)
        unit = events["unit"] if "unit" in events.columns else pd.Series([None] * len(events),
                                                                          index=events.index)
        et = pd.DataFrame({"id": events["event_id"] if "event_id" in events.columns else "",
                           "date": events["time"].dt.strftime("%Y-%m-%d %H:%M"),
                           "kind": events["kind"],
                           "quantity": [("" if pd.isna(q) else f"{q:g}" + (f" {u}" if u else ""))
                                        for q, u in zip(qty, unit, strict=True)],
                           "text": events["text"]})
        sec.blocks.append(Block(table=Table("events", et, caption="On the timeline of every plot")))
    else:
        sec.blocks.append(Block(text=["No context events. Add one with 'neurofeedback event add "
                                      f"--subject {subject} --date D --kind K --text T'."]))
    return sec


def _sessions_section(sessions: pd.DataFrame, low: pd.Series, weeks_all: pd.Series) -> Section:
    """Every session in the period, included or not."""
    st = pd.DataFrame({
        "session": sessions["session_id"],
        "start (UTC)": sessions["start_time"].dt.strftime("%Y-%m-%d %H:%M"),
        "week": weeks_all,
        "device": sessions["device"],
        "duration": sessions["duration_s"].astype(float) / 60.0,
        "clean": sessions["clean_fraction"].astype(float),
        "included": ~low.to_numpy(),
        "protocol": sessions["protocol"],
        "notes": sessions["notes"],
    })
    sec = Section("sessions", "Sessions")
    sec.blocks.append(Block(table=Table("sessions", st, caption="Every session in the period",
                                        units={"duration": "min", "clean": "fraction"})))
    return sec


def _method_section(quality_floor: float, trends: list[dict]) -> Section:
    """The statistics in words, with where to read more."""
    primary = next((f"{t['metric']} ({t['channel']})" for t in trends
                    if t.get("family") == "primary"), None)
    return Section("method", "Method", intro=[
        "Weeks are ISO weeks (Monday–Sunday, UTC). Weekly means have 95% CIs from the pooled "
        "within-week standard deviation. Powers (µV²) are analysed on a log scale and their "
        "changes given in %; relative powers, ratios, IAF, FAA and the aperiodic exponent "
        "stay on their own scale.",
        "The trend is the change per week from a regression that allows sessions close in time "
        "to resemble each other (a day-to-day state that lingers, plus session noise), with a "
        "t(weeks − 2) interval: calibrated when whole days or weeks are alike, not only when "
        "sessions are independent. Sessions far off the trend (over 3 robust SDs) are pulled "
        "in first, so one bad session cannot carry it. It needs at least 5 sessions over 3 "
        "weeks.",
        (f"The primary metric, {primary}, is tested at 5%. " if primary else "")
        + "The other metrics form one family whose p-values are adjusted (Holm), so testing "
        "many metrics does not manufacture changes: 'rose' or 'fell' is said only when the "
        "adjusted p is below 0.05.",
        "The baseline change is the difference from the first week to the latest week with its "
        "95% CI, and Hedges' g with an exact noncentral-t 95% CI (at least 2 sessions in each). "
        "It is read against the minimal detectable change of that difference: smaller than "
        "it, the two weeks differ no more than session noise alone can make them.",
        "The minimal detectable change between two sessions is MDC95 = t(0.975, df) · √2 · SEM, "
        "SEM the pooled within-week standard deviation with its degrees of freedom and a "
        "chi-square 95% CI.",
        "Change around an event: a segmented regression (interrupted time series) over all "
        "weeks with one level and one slope change per event, the same correlated errors as the "
        "trend and a t(weeks − coefficients) interval; the window comparison is the plain "
        "difference of the session means after and before, its interval from the same error "
        "model. Events closer than 14 days to the previous one are merged into it; a practice "
        "log, when imported, enters as minutes per day over the week before each session. "
        "Validated on simulated subjects with a known change (docs/statistics.md, 'Change "
        "around an event').",
        f"Sessions with fewer than {100 * quality_floor:.0f}% clean epochs are excluded and "
        "counted. Details and the simulation study behind these choices: docs/statistics.md.",
    ])


def _trend_table(trends: list[dict]) -> pd.DataFrame:
    rows = []
    for t, r in zip(trends, trend_rows(trends), strict=True):
        rows.append({
            "metric": r["metric"], "channel": r["channel"],
            "change unit": plots.pretty_unit(r["change_unit"]),
            "sessions": r["n_sessions"], "weeks": r["n_weeks"], "excluded": r["excluded"],
            "change": r["change"], "family": r["family"],
            "slope / week": r["slope_per_week"],
            "slope 95% CI": _ci((r["slope_ci_low"], r["slope_ci_high"])),
            "p": r["slope_p"], "p adjusted": r["slope_p_adjusted"],
            "first → latest": r["difference"], "MDC of that": r["mdc_difference"],
            "Hedges' g": r["effect_size"], "g 95% CI": _ci((r["effect_ci_low"], r["effect_ci_high"])),
            "MDC95": r["mdc"], "status": t.get("status"),
        })
    return pd.DataFrame(rows)


def _ci(ci) -> str:
    lo, hi = ci
    if lo is None or hi is None:
        return "not enough data"
    return f"{format_number(lo, signed=True)} to {format_number(hi, signed=True)}"
