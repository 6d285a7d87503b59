"""Session series with a known change after an event (issue 18): the truth the event analysis
(:mod:`neurofeedback.event_change`) is scored against.

The session schedule and the nuisance are those of the trend study
(``bench/bench_trend_calibration.py``: ``simulate_schedule`` and ``simulate_nuisance``, the
same code, so the event study meets the same unkind cases: heavy tails, outliers, a lingering
day-to-day state, shared week effects). On top, a mean that follows the segmented model::

    mean(t) = base + slope · t_weeks + level · post + slope_change · (t_weeks − t_event) · post

in units of the session-noise SD (× ``sd``). :class:`EventSeries` keeps the truth: the level and
slope change, and (:meth:`EventSeries.window_truth`) the expected difference of the window means
on the series' own schedule.

:func:`simulate_event_subject` turns one such series into the session metrics of a subject for
the demo (metric rows only: no EEG, said in every session's notes).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["EventSeries", "NUISANCES", "simulate_event_series", "simulate_event_subject",
           "simulate_nuisance", "simulate_schedule"]

#: Kinds of session-to-session nuisance (see :func:`simulate_nuisance`).
NUISANCES = ("iid", "t3", "outliers", "ou", "week")


def simulate_schedule(rng, weeks: int, per_week: tuple[int, int]) -> np.ndarray:
    """Session times in days since the first Monday: k sessions on k distinct days each week
    (k uniform in ``per_week``), between 07:00 and 22:00."""
    days = []
    for w in range(weeks):
        k = int(rng.integers(per_week[0], per_week[1] + 1))
        for d in np.sort(rng.choice(7, size=k, replace=False)):
            days.append(7 * w + d + rng.uniform(7, 22) / 24)
    return np.array(days)


def simulate_nuisance(rng, t_days: np.ndarray, kind: str) -> np.ndarray:
    """Nuisance in SD units of the session noise for sessions at ``t_days`` (sorted).

    ``iid`` N(0, 1); ``t3`` Student t(3) scaled to SD 1; ``outliers`` N(0, 1) plus +6 SD in 5 %
    of sessions; ``ou`` a lingering state (Ornstein–Uhlenbeck, τ = 3 days, SD 1) plus N(0, 1);
    ``week`` a shared ISO-week effect (SD 0.5) plus N(0, 1).
    """
    n = t_days.size
    if kind == "iid":
        return rng.normal(size=n)
    if kind == "t3":
        return rng.standard_t(3, size=n) / math.sqrt(3.0)
    if kind == "outliers":
        return rng.normal(size=n) + 6.0 * (rng.uniform(size=n) < 0.05)
    if kind == "ou":
        x = np.empty(n)
        x[0] = rng.normal()
        a = np.exp(-np.diff(t_days) / 3.0)
        z = rng.normal(size=n - 1)
        for i in range(1, n):
            x[i] = a[i - 1] * x[i - 1] + math.sqrt(1 - a[i - 1] ** 2) * z[i - 1]
        return x + rng.normal(size=n)
    if kind == "week":
        wk = (t_days // 7).astype(int)
        return rng.normal(0, 0.5, wk.max() + 1)[wk] + rng.normal(size=n)
    raise ValueError(f"Invalid value for the 'kind' parameter. Allowed values are "
                     f"{', '.join(NUISANCES)}, but got {kind!r} instead.")


@dataclass(frozen=True)
class EventSeries:
    """One simulated series around one event, with its truth.

    Attributes
    ----------
    t_days : ndarray, shape (n,)
        Session times, days since the first Monday (00:00 UTC of ``start``).
    y : ndarray, shape (n,)
        Values (``base`` + the segmented mean + ``sd`` × nuisance).
    mean : ndarray, shape (n,)
        The true mean at each session.
    event_day : float
    level, slope_change, slope : float
        The truth, in the values' units (slope and slope change per week).
    """

    t_days: np.ndarray
    y: np.ndarray
    mean: np.ndarray
    event_day: float
    level: float
    slope_change: float
    slope: float
    params: dict = field(default_factory=dict)

    def window_truth(self, window_days: float) -> float:
        """The expected mean after minus mean before, over this series' own sessions in
        [event − W, event) and [event, event + W]; NaN when a side is empty."""
        e = self.event_day
        b = (self.t_days >= e - window_days) & (self.t_days < e)
        a = (self.t_days >= e) & (self.t_days <= e + window_days)
        if not b.any() or not a.any():
            return float("nan")
        return float(self.mean[a].mean() - self.mean[b].mean())


def simulate_event_series(rng, *, weeks: int = 8, per_week=(2, 5), nuisance: str = "iid",
                          event_day: float = 28.0, level: float = 0.0,
                          slope_change: float = 0.0, slope: float = 0.0, base: float = 0.0,
                          sd: float = 1.0) -> EventSeries:
    """Simulate one subject's sessions around an event with a known level and slope change.

    Parameters
    ----------
    rng : numpy.random.Generator
    weeks : int
        Consecutive weeks of sessions.
    per_week : (int, int)
        Fewest and most sessions per week (uniform).
    nuisance : str
        One of :data:`NUISANCES`.
    event_day : float
        When the event happens (days since the first Monday; 28.0 = Monday of week 5).
    level, slope_change, slope : float
        The truth, in SD units of the session noise (slope and slope change per week).
    base, sd : float
        The level before the event at t = 0 and the session-noise SD (the units of ``y``).

    Returns
    -------
    series : EventSeries
    """
    t = simulate_schedule(rng, weeks, tuple(per_week))
    tw = t / 7.0
    post = t >= event_day
    mean = base + sd * (slope * tw + level * post + slope_change * (tw - event_day / 7.0) * post)
    y = mean + sd * simulate_nuisance(rng, t, nuisance)
    return EventSeries(t_days=t, y=y, mean=mean, event_day=float(event_day),
                       level=sd * level, slope_change=sd * slope_change, slope=sd * slope,
                       params={"weeks": weeks, "per_week": tuple(per_week),
                               "nuisance": nuisance, "sd": sd, "base": base})


#: The demo subject: relative alpha steps up after a ketamine infusion; theta and the IAF do not
#: change (their nulls): metric, channel, unit, base, session SD, level change (in SDs).
_DEMO_SERIES = (
    ("relative_alpha", "posterior", "fraction", 0.24, 0.02, 4.0),
    ("relative_alpha", "mean", "fraction", 0.21, 0.02, 3.0),
    ("relative_theta", "mean", "fraction", 0.18, 0.015, 0.0),
    ("iaf", "mean", "Hz", 10.1, 0.15, 0.0),
)


def simulate_event_subject(subject: str = "ket01", *, seed: int = 20261201, weeks: int = 10,
                           start=None, event_week: int = 5) -> dict:
    """The session metrics of a subject with a known change after a ketamine infusion.

    Relative alpha (posterior and channel mean) steps up by 4 and 3 session SDs (0.08 and 0.06)
    at the infusion (no slope change); relative theta and the IAF do not change. Sessions: 3–5
    a week on distinct days for ``weeks`` weeks, the nuisance a lingering day-to-day state plus
    session noise. These are metric rows, not recordings.

    Parameters
    ----------
    subject : str
    seed : int
    weeks : int
    start : date-like | None
        A Monday (default 2026-01-05, the cohort's).
    event_week : int
        The infusion is on the Monday of this week (0-based), 10:00 UTC.

    Returns
    -------
    subject : dict
        ``subject``, ``event`` (``time``, ``kind``, ``quantity``, ``unit``, ``text``),
        ``truth`` (per ``metric:channel``: ``level`` and ``slope_change`` in the metric's
        unit), and ``sessions``: one dict per session with ``session`` (label), ``fields``
        (for :meth:`Catalog.record_session`) and ``metrics`` (a frame of ``metric, channel,
        value, unit, block``).
    """
    start = pd.Timestamp(start or "2026-01-05", tz="UTC").normalize()
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    t = simulate_schedule(rng, weeks, (3, 5))
    event_day = 7.0 * event_week + 10.0 / 24.0
    post = t >= event_day
    state = simulate_nuisance(rng, t, "ou") / math.sqrt(2.0)
    truth, values = {}, {}
    for metric, channel, unit, base, sd, level in _DEMO_SERIES:
        noise = 0.6 * state + 0.8 * rng.normal(size=t.size)
        values[(metric, channel, unit)] = base + sd * (level * post + noise)
        truth[f"{metric}:{channel}"] = {"level": sd * level, "slope_change": 0.0, "unit": unit}
    sessions = []
    for i, day in enumerate(t):
        when = (start + pd.Timedelta(days=float(day))).floor("s")
        label = when.strftime("%Y%m%dT%H%M%S")
        rows = pd.DataFrame([{"metric": m, "channel": c, "value": float(v[i]), "unit": u,
                              "block": "session"} for (m, c, u), v in values.items()])
        sha = hashlib.sha256(f"simulated-event-subject:{subject}:{seed}:{label}".encode())
        sessions.append({"session": label, "metrics": rows, "fields": {
            "start_time": when.to_pydatetime(), "device": "simulated", "format": "metrics only",
            "protocol": "integration practice", "duration_s": 600.0, "clean_fraction": 1.0,
            "input_sha256": sha.hexdigest(), "config_hash": "simulated-event-subject",
            "notes": "simulated session metrics (no EEG recording) with a known change after "
                     "the ketamine infusion",
        }})
    event = {"time": (start + pd.Timedelta(days=event_day)).to_pydatetime(), "kind": "ketamine",
             "quantity": 0.5, "unit": "mg/kg", "text": "ketamine infusion 1 (simulated)"}
    return {"subject": subject, "event": event, "truth": truth, "sessions": sessions}
