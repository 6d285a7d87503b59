"""Simulated cohorts at the level of session metrics, with known group slopes (no EEG).

A study is a set of groups (``course``, ``waitlist``), each of ``n`` subjects followed over
``weeks`` weeks with ``per_week`` sessions a week on distinct days (the schedule of
``bench/bench_trend_calibration.py``). In SD units of the session noise, subject i of group g
has the series::

    y(t) = a_i + (β_g + u_i) · t_weeks + [event part] + nuisance(t)

with a_i ~ N(0, ``intercept_sd``²), u_i ~ N(0, ``slope_sd``²), t in weeks since the subject's
first session, and the nuisance of the single-subject validation: ``iid`` N(0, 1), ``t3``
(Student t3 scaled to SD 1), ``outliers`` (5 % of sessions +6 SD), ``ou`` (an Ornstein–Uhlenbeck
state, τ = 3 days, SD 1, plus N(0, 1)) or ``week`` (a week effect SD 0.5 plus N(0, 1)). With an
event (``event_week``), each subject has one event at a random day of that week, after which
the level jumps by ``level_change`` and the slope changes by ``slope_change`` (per week).
Subjects start on different Mondays (up to ``stagger_weeks`` apart), so the calendar does not
line them up. The metric value is ``base + unit · y``; the truth (β_g, the difference, the
event effects) is returned in the metric's units per week.

Public API: :func:`simulate_cohort_series` (re-exported by :mod:`neurofeedback.simulate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# the schedule and the nuisance are those of the event series (and of the issue-14 validation)
from ._events import NUISANCES
from ._events import simulate_nuisance as _nuisance
from ._events import simulate_schedule as _schedule

_START = pd.Timestamp("2026-01-05", tz="UTC")  # a Monday


@dataclass(frozen=True)
class CohortSeriesTruth:
    """What a simulated cohort was made of (metric units; slopes per week)."""

    metric: str
    channel: str
    group_slopes: dict
    difference: float | None
    slope_sd: float
    subject_slopes: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)
    level_change: float = 0.0
    slope_change: float = 0.0
    nuisance: str = "iid"


def simulate_cohort_series(seed=0, *, groups=(("course", 12, 0.3), ("waitlist", 12, 0.0)),
                           weeks: int = 8, per_week: tuple[int, int] = (2, 5),
                           nuisance: str = "iid", slope_sd: float = 0.1,
                           intercept_sd: float = 1.0, metric: str = "relative_alpha",
                           channel: str = "posterior", base: float = 0.0, unit: float = 1.0,
                           event_week: int | None = None, event_kind: str = "therapy",
                           level_change: float = 0.0, slope_change: float = 0.0,
                           stagger_weeks: int = 10, prefix: str = "s"):
    """Simulate a cohort's session metric series with known group slopes.

    Parameters
    ----------
    seed : int | numpy.random.Generator
        Seed of ``np.random.default_rng`` (or a generator).
    groups : sequence of (str, int, float)
        ``(group, n_subjects, true slope in SD units per week)``.
    weeks : int
        Weeks of each subject.
    per_week : (int, int)
        Fewest and most sessions a week (drawn uniformly; distinct days).
    nuisance : {"iid", "t3", "outliers", "ou", "week"}
        Session noise (SD 1 apart from the outliers and the added state/week parts).
    slope_sd, intercept_sd : float
        SD of the subjects' random slopes (SD units per week) and levels.
    metric, channel : str
        Names of the series in the frame.
    base, unit : float
        Value = ``base + unit · y`` (e.g. relative alpha 0.30 + 0.03 · y).
    event_week : int | None
        Give each subject one event of ``event_kind`` on a random day of this week (0-based),
        followed by ``level_change`` (SD units) and ``slope_change`` (SD units per week).
    stagger_weeks : int
        Subjects start on a random Monday among the first ``stagger_weeks + 1``.
    prefix : str
        Subject labels are ``<prefix><group initial><n>`` (letters and digits only).

    Returns
    -------
    frame : pandas.DataFrame
        The long frame of :func:`neurofeedback.trends.compute_trends` (clean_fraction 1,
        block ``session``).
    subject_groups : dict
        ``{subject: group}``.
    events : pandas.DataFrame
        ``subject, time, kind`` (empty without ``event_week``).
    truth : CohortSeriesTruth
        True slopes and effects in metric units per week.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if nuisance not in NUISANCES:
        raise ValueError(f"Invalid value for the 'nuisance' parameter. Allowed values are "
                         f"{', '.join(NUISANCES)}, but got {nuisance!r} instead.")
    rows, events, subject_groups, subject_slopes = [], [], {}, {}
    for g, n, beta in groups:
        for i in range(int(n)):
            subj = f"{prefix}{g[:1]}{g[-1:]}{i + 1:02d}" if g else f"{prefix}{i + 1:02d}"
            subj = "".join(ch for ch in subj if ch.isalnum())
            subject_groups[subj] = g
            start = _START + pd.Timedelta(weeks=int(rng.integers(0, stagger_weeks + 1)))
            t = _schedule(rng, weeks, per_week)
            b = beta + rng.normal(0.0, slope_sd)
            subject_slopes[subj] = b * unit
            y = rng.normal(0.0, intercept_sd) + b * t / 7.0 + _nuisance(rng, t, nuisance)
            if event_week is not None:
                e = 7.0 * event_week + float(rng.uniform(0, 7))
                after = t >= e
                y = y + after * (level_change + slope_change * (t - e) / 7.0)
                events.append({"subject": subj, "time": (start + pd.Timedelta(days=e)).round("s"),
                               "kind": event_kind})
            times = (start + pd.to_timedelta(t, unit="D")).round("s")
            for k, (ts, v) in enumerate(zip(times, y, strict=True)):
                rows.append({"subject": subj, "session_id": f"sub-{subj}_ses-{k:03d}",
                             "start_time": ts, "clean_fraction": 1.0, "metric": metric,
                             "channel": channel, "value": base + unit * float(v),
                             "block": "session"})
    frame = pd.DataFrame(rows)
    frame["start_time"] = pd.to_datetime(frame["start_time"], utc=True)
    ev = pd.DataFrame(events, columns=["subject", "time", "kind"])
    slopes = {g: beta * unit for g, _n, beta in groups}
    names = [g for g, _n, _b in groups]
    diff = slopes[names[0]] - slopes[names[1]] if len(names) == 2 else None
    truth = CohortSeriesTruth(metric=metric, channel=channel, group_slopes=slopes,
                              difference=diff, slope_sd=slope_sd * unit,
                              subject_slopes=subject_slopes, groups=subject_groups,
                              level_change=level_change * unit, slope_change=slope_change * unit,
                              nuisance=nuisance)
    return frame, subject_groups, ev, truth
