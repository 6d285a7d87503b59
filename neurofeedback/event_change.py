"""Change around an event: did a metric step, bend or differ after a therapy, an infusion, a new
practice, and by how much?

Two analyses per series (subject × block × metric × channel) and event, with the error model,
the week-as-unit degrees of freedom, the multiplicity rule and the ``change`` words of
:mod:`neurofeedback.trends` (docs/statistics.md, "Change around an event"):

* **Segmented regression** (interrupted time series; Wagner et al. 2002, *J Clin Pharm Ther*
  27:299; Huitema & McKean 2000 for autocorrelated errors)::

      y = a + b·t + Σ_k [c_k · post_k + d_k · (t − t_k) · post_k] (+ e · practice) + ε

  with t in weeks, ``post_k`` = 1 from event k on, ε ~ N(0, σ² R) and R the continuous-time
  AR(1) + white-noise correlation of :func:`neurofeedback.trends.trend_slope`, its (ρ, w)
  chosen by REML profile on the same grid. ``c_k`` is the *level change* at event k (the jump of
  the fitted line), ``d_k`` the *slope change* (per week) after it. The estimate is GLS; the
  95 % CI and p use t(n_weeks − p), p the number of coefficients: the ISO week, not the
  session, is the unit of replication, as for the trend. Sessions more than 3 robust SDs off
  the model's least-squares fit are winsorised first (with at least 12 sessions).
* **Window comparison**: the mean of the sessions in [t_k − W, t_k) against those in
  [t_k, t_k + W] (default W = 2 weeks): the plain difference of the two means, its variance
  from the same correlation model fitted by REML to the window sessions (a Welch-type
  comparison that allows for sessions close in time being alike), and t(n_bins − 2) with
  n_bins the 7-day bins around the event that hold sessions.

Several events (a series of infusions) enter one model, one (c_k, d_k) pair each; events closer
than ``min_spacing_days`` to the previous one are merged into it (said in the result), and an
event with too few sessions before or after it is left out with the reason. Powers are analysed
on log10 and their changes reported in %, as in the trends.

Multiplicity: one primary series per analysis (subject × block) is tested at 5 %; for each test
(level, slope, window) that test of every other series at every analysed event forms one family
whose p-values are adjusted by Holm.
``change`` (``rose``/``fell``/``no clear change``/``not enough data``) follows the adjusted p.

The core (:func:`segmented_fit`, :func:`window_difference`) works on arrays; :func:`event_changes`
on the long metric frame of the catalog and its events; :func:`event_statement` says one result
in one reconciled sentence.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ._validate import check_option, check_positive
from .errors import ConfigError
from .metrics import CLEAN_FRACTION_METRIC, metric_unit
from .statements import RELATIVE, format_change, format_number
from .trends import (
    _MAD_TO_SD,
    ADJUSTMENTS,
    DEFAULT_PRIMARY,
    WINSOR_K,
    WINSOR_MIN_SESSIONS,
    _car1_gls,
    _car1_matrix,
    _iso_week,
    _num,
    _plural,
    _resolve_primary,
    _to_change,
    _validate_frame,
    analysis_scale,
)

__all__ = ["ANALYSED_KINDS", "DEFAULT_WINDOW_WEEKS", "MIN_SPACING_DAYS", "event_changes",
           "event_statement", "practice_covariate", "segmented_fit", "subject_event_changes",
           "window_difference"]

#: Event kinds analysed as a possible cause of change (notes and practice entries are context).
ANALYSED_KINDS = ("therapy", "ketamine", "medication", "course-start", "practice-change")
#: Default window of the before/after comparison, weeks on each side.
DEFAULT_WINDOW_WEEKS = 2.0
#: Events closer than this to the previous analysed one are merged into it (a series of
#: infusions twice a week is one course; its level change is measured from the first).
MIN_SPACING_DAYS = 14.0
#: Fewest sessions and distinct ISO weeks in each segment (before the first event, after each).
MIN_SEGMENT_SESSIONS = 3
MIN_SEGMENT_WEEKS = 2
#: Fewest sessions on each side of a window comparison, and fewest 7-day bins in all.
MIN_WINDOW_SESSIONS = 2
MIN_WINDOW_BINS = 3
#: Fewest residual degrees of freedom (weeks − coefficients) for an interval.
MIN_DF = 2
_LEVEL = 0.95
_ALPHA = 1 - _LEVEL
#: The practice covariate: mean minutes per day over this many days up to the session's day.
PRACTICE_DAYS = 7
TESTS = ("level", "slope", "window")


def _tq(df) -> float:
    return float(stats.t.ppf(0.5 + _LEVEL / 2, df))


def _best_fit(X: np.ndarray, y: np.ndarray, t_days: np.ndarray):
    """``(rho, share, beta, cov_beta, s2)``: the REML grid point of :mod:`neurofeedback.trends`
    that fits best and the GLS fit given it (σ̂² (X'R⁻¹X)⁻¹, σ̂² = RSS/(n − p), as statsmodels'
    ``GLS(y, X, sigma=R).fit()``; both in O(n) by :func:`neurofeedback.trends._car1_gls`,
    ``tests/test_event_change.py`` compares them with statsmodels)."""
    fit = _car1_gls(X, y, t_days)
    return fit["rho"], fit["share"], fit["beta"], fit["s2"] * fit["xtx_inv"], fit["s2"]


def _winsorise(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int]:
    """Pull sessions more than :data:`WINSOR_K` robust SDs off the least-squares fit back."""
    if y.size < WINSOR_MIN_SESSIONS:
        return y, 0
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    fit = X @ beta
    r = y - fit
    centre = float(np.median(r))
    s = _MAD_TO_SD * float(np.median(np.abs(r - centre)))
    if s == 0.0:
        return y, 0
    n_out = int(np.sum(np.abs(r - centre) > WINSOR_K * s))
    return fit + centre + np.clip(r - centre, -WINSOR_K * s, WINSOR_K * s), n_out


def _t_test(est: float, se: float, df: int) -> dict:
    crit = _tq(df)
    if not math.isfinite(se):
        se = 0.0
    p = float(2 * stats.t.sf(abs(est) / se, df)) if se > 0 else (0.0 if est != 0 else 1.0)
    est, se = float(est), float(se)
    return {"estimate": est, "se": se, "ci": (est - crit * se, est + crit * se),
            "p": p, "df": int(df)}


def segmented_fit(t_days, y, week_labels, event_days, *, covariate=None) -> dict:
    """Level and slope change after each event: segmented regression with correlated errors.

    Parameters
    ----------
    t_days : array-like, shape (n,)
        Session times, days from any origin (the events' origin too).
    y : array-like, shape (n,)
        Values on the analysis scale (log10 for powers).
    week_labels : array-like, shape (n,)
        The ISO week of each session; their number n_weeks sets the df.
    event_days : array-like, shape (k,)
        Event times (days, same origin), increasing, each with sessions on both sides.
    covariate : array-like, shape (n,) | None
        An extra regressor (e.g. minutes of practice per day); its coefficient is returned.

    Returns
    -------
    fit : dict
        ``events``: one dict per event with ``level`` and ``slope`` (each ``estimate, se, ci,
        p, df``; level in analysis units at the event, slope change per week); ``pre_slope``
        (per week, the same keys), ``intercept`` (the fitted value at t = 0), ``covariate``
        (the same keys, per unit of ``covariate``, or None), ``df`` (n_weeks − p), ``n_params``,
        ``rho_per_day``, ``state_share``, ``winsorised``; ``coef`` (all coefficients, the
        columns of X: 1, weeks, then level and slope change per event, then the covariate),
        ``centre`` (the weeks origin used by X: 0), ``sigma2`` (σ̂²) and ``y_used`` (the values
        after winsorising), the error model :func:`window_difference` can reuse.

    Raises
    ------
    ValueError
        df < 1 (too few weeks for the coefficients) or fewer than 2 distinct times.

    Notes
    -----
    Wagner AK, Soumerai SB, Zhang F, Ross-Degnan D (2002) Segmented regression analysis of
    interrupted time series studies in medication use research. J Clin Pharm Ther 27:299-309.
    Huitema BE, McKean JW (2000) Design specification issues in time-series intervention models.
    Educ Psychol Meas 60:38-58.
    """
    t_days = np.asarray(t_days, float)
    y = np.asarray(y, float)
    ev = np.atleast_1d(np.asarray(event_days, float))
    n_weeks = len(set(np.asarray(week_labels).tolist()))
    t_w = t_days / 7.0
    cols = [np.ones(y.size), t_w]
    for e in ev / 7.0:
        post = (t_w >= e).astype(float)
        cols += [post, (t_w - e) * post]
    if covariate is not None:
        cov = np.asarray(covariate, float)
        cols.append(cov - cov.mean())
    X = np.column_stack(cols)
    p = X.shape[1]
    df = n_weeks - p
    if df < 1 or np.ptp(t_days) == 0:
        raise ValueError(f"A segmented fit with {p} coefficients needs more than {p} weeks; "
                         f"got {n_weeks}.")
    yw, n_out = _winsorise(X, y)
    rho, share, beta, cov_b, s2 = _best_fit(X, yw, t_days)
    se = np.sqrt(np.clip(np.diag(cov_b), 0, None))
    events = [{"level": _t_test(beta[2 + 2 * k], se[2 + 2 * k], df),
               "slope": _t_test(beta[3 + 2 * k], se[3 + 2 * k], df)} for k in range(ev.size)]
    covariate_fit = None
    intercept = float(beta[0])
    if covariate is not None:
        covariate_fit = _t_test(beta[-1], se[-1], df)
        intercept -= float(beta[-1] * cov.mean())
    return {"events": events, "pre_slope": _t_test(beta[1], se[1], df), "intercept": intercept,
            "covariate": covariate_fit, "df": int(df), "n_params": int(p),
            "rho_per_day": float(rho), "state_share": float(share), "winsorised": n_out,
            "coef": [float(b) for b in beta], "centre": 0.0, "sigma2": float(s2), "y_used": yw}


def window_difference(t_days, y, event_day, window_days, *, errors=None) -> dict:
    """The mean after an event minus the mean before it, with a CI that allows correlation.

    Parameters
    ----------
    t_days : array-like, shape (n,)
        Session times in days.
    y : array-like, shape (n,)
        Values on the analysis scale.
    event_day : float
        The event's time (days, same origin).
    window_days : float
        W: sessions in [event − W, event) are *before*, in [event, event + W] *after*.
    errors : dict | None
        The error model of a :func:`segmented_fit` of the whole series (its ``rho_per_day``,
        ``state_share``, ``sigma2``, ``df`` and winsorised values ``y_used``): the variance of
        the difference and the df come from it. ``None``: the model is fitted by REML to the
        window sessions alone, with df = n_bins − 2 (the 7-day bins counted from the event that
        hold sessions; wide, as few weeks are in a window).

    Returns
    -------
    result : dict
        ``estimate`` (mean after − mean before), ``se``, ``ci``, ``p``, ``df``, ``n_before``,
        ``n_after``, ``mean_before``, ``mean_after``, ``rho_per_day``, ``state_share``,
        ``winsorised``.

    Raises
    ------
    ValueError
        Fewer than :data:`MIN_WINDOW_SESSIONS` sessions on a side or :data:`MIN_WINDOW_BINS`
        weekly bins.

    Notes
    -----
    The estimate is the plain difference of the two means (what a reader computes from the
    sessions), its variance c'(σ̂²R̂)c with c the ±1/n contrast and σ̂²R̂ the continuous-time
    AR(1) + white-noise error model of the trend: Welch's two-sample comparison with each
    side's own variance replaced by one correlated error model. With ``errors`` from the whole
    series the correlation is estimated from all weeks (the window alone holds 4 weeks, too few
    to estimate it: its REML fit then overstates the variance, as the simulation study shows).
    """
    t_days = np.asarray(t_days, float)
    y = np.asarray(y if errors is None else errors["y_used"], float)
    e = float(event_day)
    before = (t_days >= e - window_days) & (t_days < e)
    after = (t_days >= e) & (t_days <= e + window_days)
    nb, na = int(before.sum()), int(after.sum())
    keep = before | after
    n_bins = int(np.unique(np.floor((t_days[keep] - e) / 7.0)).size)
    if nb < MIN_WINDOW_SESSIONS or na < MIN_WINDOW_SESSIONS or n_bins < MIN_WINDOW_BINS:
        raise ValueError(f"{nb} sessions before and {na} after in {n_bins} weekly bins")
    tk, post = t_days[keep], after[keep]
    if errors is None:
        X = np.column_stack([np.ones(tk.size), post.astype(float)])
        yk, n_out = _winsorise(X, y[keep])
        rho, share, _, _, s2 = _best_fit(X, yk, tk)
        df = n_bins - 2
    else:
        yk, n_out = y[keep], int(errors.get("winsorised", 0))
        rho, share, s2, df = (errors["rho_per_day"], errors["state_share"], errors["sigma2"],
                              errors["df"])
    R = _car1_matrix(tk, rho, share)  # the window's sessions only
    c = np.where(post, 1.0 / na, -1.0 / nb)
    mb, ma = float(yk[~post].mean()), float(yk[post].mean())
    se = math.sqrt(max(s2 * float(c @ R @ c), 0.0))
    out = _t_test(ma - mb, se, df)
    out.update(n_before=nb, n_after=na, mean_before=mb, mean_after=ma, rho_per_day=float(rho),
               state_share=float(share), winsorised=n_out)
    return out


def practice_covariate(session_times: pd.Series, practice: pd.DataFrame,
                       days: int = PRACTICE_DAYS) -> np.ndarray:
    """Mean minutes of practice per day over the ``days`` days up to each session's day.

    Parameters
    ----------
    session_times : pandas.Series
        tz-aware session start times.
    practice : pandas.DataFrame
        ``date`` (a calendar day) and ``minutes`` (:meth:`Catalog.practice`). A day that is not
        in the log counts as 0 minutes.
    days : int
        Length of the look-back, the session's own day included.

    Returns
    -------
    minutes : ndarray, shape (n,)
        Minutes per day.
    """
    log = pd.Series(practice["minutes"].to_numpy(float),
                    index=pd.to_datetime(practice["date"]).dt.normalize())
    log = log.groupby(level=0).sum()
    day = pd.to_datetime(session_times).dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    out = np.zeros(len(day))
    for i, d in enumerate(day):
        lo = d - pd.Timedelta(days=days - 1)
        out[i] = float(log[(log.index >= lo) & (log.index <= d)].sum()) / days
    return out


# ---------------------------------------------------------------------------------------------
# events: which are analysed, merged, left out


def _plan_events(events: pd.DataFrame, t_days: np.ndarray, labels: np.ndarray, t0,
                 min_spacing_days: float) -> tuple[list[dict], list[dict]]:
    """``(analysed, left_out)`` event groups: each ``{event_id, time, day, kind, text,
    quantity, unit, merged}``; left-out ones carry a ``reason``."""
    groups, left = [], []
    for r in events.sort_values(["time", "event_id"]).itertuples(index=False):
        day = (r.time - t0).total_seconds() / 86400.0
        rec = {"event_id": int(r.event_id), "time": r.time.isoformat(), "day": day,
               "kind": str(r.kind), "text": str(r.text or ""), "quantity": _num(r.quantity),
               "unit": r.unit, "merged": []}
        if groups and day - groups[-1]["day"] < min_spacing_days:
            groups[-1]["merged"].append({"event_id": rec["event_id"], "time": rec["time"],
                                         "kind": rec["kind"]})
            continue
        groups.append(rec)
    # sessions on each side: drop events that leave a segment too thin, until none does
    while groups:
        bounds = [-np.inf] + [g["day"] for g in groups] + [np.inf]
        bad = None
        for k in range(len(bounds) - 1):
            seg = (t_days >= bounds[k]) & (t_days < bounds[k + 1])
            n, w = int(seg.sum()), len(set(labels[seg].tolist()))
            if n < MIN_SEGMENT_SESSIONS or w < MIN_SEGMENT_WEEKS:
                side = "before" if k == 0 else "after"
                idx = 0 if k == 0 else k - 1
                bad = (idx, f"not enough data: {_plural(n, 'session')} in {_plural(w, 'week')} "
                            f"{side} it (until the next analysed event); a change needs >= "
                            f"{MIN_SEGMENT_SESSIONS} sessions over >= {MIN_SEGMENT_WEEKS} weeks "
                            "on each side")
                break
        if bad is None:
            return groups, left
        g = groups.pop(bad[0])
        left.append(dict(g, reason=bad[1]))
    return groups, left


def _empty_test(reason: str) -> dict:
    return {"estimate": None, "ci": [None, None], "se": None, "p": None, "p_adjusted": None,
            "df": None, "change": "not enough data", "reason": reason}


def _report_test(fit: dict | None, scale: str, *, per_week=False) -> dict:
    if fit is None:
        return _empty_test("not enough data")
    return {"estimate": _to_change(fit["estimate"], scale),
            "ci": [_to_change(v, scale) for v in fit["ci"]],
            "analysis_estimate": _num(fit["estimate"]), "se": _num(fit["se"]),
            "p": _num(fit["p"]), "p_adjusted": None, "df": int(fit["df"]),
            "change": None, "reason": None}


def _analyse_series(df: pd.DataFrame, events: pd.DataFrame, practice, *, subject, block, metric,
                    channel, quality_floor, tz, window_days, min_spacing_days) -> dict:
    scale = analysis_scale(metric)
    values = df["value"].to_numpy()
    usable = np.isfinite(values) & ((values > 0) if scale == "log10" else True)
    df = df[usable]
    low = ~(df["clean_fraction"].to_numpy() >= quality_floor)
    kept = df[~low].sort_values("start_time", kind="stable")
    y = kept["value"].to_numpy(float)
    if scale == "log10":
        y = np.log10(y)
    unit = metric_unit(str(metric))
    out = {"subject": str(subject), "block": str(block), "metric": str(metric),
           "channel": str(channel), "unit": unit, "scale": scale,
           "change_unit": "%" if scale == "log10" else unit, "n_sessions": int(y.size),
           "excluded_sessions": int(low.sum()), "quality_floor": float(quality_floor),
           "window_weeks": window_days / 7.0, "events": [], "left_out": [], "fit": None,
           "reasons": []}
    if y.size == 0:
        out["reasons"].append("not enough data: no session at or above the quality floor")
        return out
    t0 = kept["start_time"].iloc[0]
    t_days = (kept["start_time"] - t0).dt.total_seconds().to_numpy() / 86400.0
    labels = _iso_week(kept["start_time"].dt.tz_convert(tz)).to_numpy()
    out["n_weeks"] = int(len(set(labels.tolist())))
    out["first_session"] = t0.isoformat()
    out["last_session"] = kept["start_time"].iloc[-1].isoformat()
    groups, left = _plan_events(events, t_days, labels, t0, min_spacing_days)
    out["left_out"] = left
    cov = None
    if practice is not None and len(practice):
        cov = practice_covariate(kept["start_time"], practice)
        if np.ptp(cov) == 0:
            cov = None
            out["reasons"].append("the practice log does not vary over the sessions: not used")
    seg = None
    if groups:
        try:
            seg = segmented_fit(t_days, y, labels, [g["day"] for g in groups], covariate=cov)
        except (ValueError, np.linalg.LinAlgError) as exc:
            out["reasons"].append(f"not enough data for the segmented regression: {exc}")
        if seg is not None and seg["df"] < MIN_DF:
            out["reasons"].append(
                f"not enough data for the segmented regression: {out['n_weeks']} weeks for "
                f"{seg['n_params']} coefficients leave {seg['df']} df; it needs >= {MIN_DF}")
            seg = None
    if seg is not None:
        out["fit"] = {"coef": seg["coef"], "t0": t0.isoformat(), "df": seg["df"],
                      "event_days": [g["day"] for g in groups],
                      "covariate_mean": None if cov is None else float(cov.mean()),
                      "rho_per_day": seg["rho_per_day"], "state_share": seg["state_share"],
                      "winsorised": seg["winsorised"]}
        out["pre_slope"] = _report_test(seg["pre_slope"], scale)
        if seg["covariate"] is not None:
            # per 10 minutes of practice per day
            c = seg["covariate"]
            out["practice"] = _report_test(dict(c, estimate=10 * c["estimate"], se=10 * c["se"],
                                                ci=(10 * c["ci"][0], 10 * c["ci"][1])), scale)
    for k, g in enumerate(groups):
        rec = {key: g[key] for key in ("event_id", "time", "kind", "text", "quantity", "unit",
                                       "merged")}
        if seg is not None:
            rec["level"] = _report_test(seg["events"][k]["level"], scale)
            rec["slope"] = _report_test(seg["events"][k]["slope"], scale)
        else:
            why = out["reasons"][-1] if out["reasons"] else "not enough data"
            rec["level"], rec["slope"] = _empty_test(why), _empty_test(why)
        rec["window"] = _window_block(t_days, y, g["day"], window_days, scale, seg)
        out["events"].append(rec)
    return out


def _window_block(t_days, y, day, window_days, scale, seg) -> dict:
    try:
        w = window_difference(t_days, y, day, window_days, errors=seg)
    except ValueError as exc:
        return dict(_empty_test(
            f"not enough data: {exc}; a window comparison needs >= {MIN_WINDOW_SESSIONS} "
            f"sessions on each side over >= {MIN_WINDOW_BINS} weekly bins"),
            n_before=None, n_after=None, mean_before=None, mean_after=None)
    if w["df"] < 1:
        return dict(_empty_test("not enough data"), n_before=w["n_before"], n_after=w["n_after"],
                    mean_before=None, mean_after=None)
    back = (lambda v: 10.0 ** v) if scale == "log10" else (lambda v: v)
    rec = _report_test(w, scale)
    rec.update(n_before=w["n_before"], n_after=w["n_after"],
               mean_before=_num(back(w["mean_before"])), mean_after=_num(back(w["mean_after"])))
    return rec


def _adjust_events(results: list[dict], primary, adjustment: str) -> None:
    """Primary series at 5 %; per test, the other series' p adjusted as one family."""
    chosen = None
    if primary is not None:
        metric, channels = primary
        have = {r["channel"]: r for r in results if r["metric"] == metric}
        chosen = next((have[c] for c in channels if c in have), None)
    for r in results:
        r["family"] = "primary" if r is chosen else "secondary"
        r["adjustment"] = "none (primary)" if r is chosen else adjustment
    for test in TESTS:
        family = [(r, e[test]) for r in results if r is not chosen for e in r["events"]
                  if e[test]["p"] is not None]
        adj = [t["p"] for _, t in family]
        if family and adjustment != "none":
            from ._multitest import adjust_pvalues

            adj = list(adjust_pvalues(adj, alpha=_ALPHA, method=adjustment))
        for (_r, t), p in zip(family, adj, strict=True):
            t["p_adjusted"] = _num(p)
            t["family_size"] = len(family)
        for r in results:
            for e in r["events"]:
                t = e[test]
                if t["p"] is None:
                    continue
                if r is chosen:
                    t["p_adjusted"], t["family_size"] = t["p"], 1
                p = t["p_adjusted"]
                if p < _ALPHA and t["estimate"] != 0:
                    t["change"] = "rose" if t["estimate"] > 0 else "fell"
                else:
                    t["change"] = "no clear change"


_METHOD = {
    "segmented": "y = a + b*weeks + sum_k [c_k*post_k + d_k*(weeks - t_k)*post_k] (+ practice); "
                 "GLS with continuous-time AR(1) + white-noise errors (REML profile on the "
                 "trends' grid); sessions > 3 robust SD off the least-squares fit winsorised "
                 "(n >= 12); t(n_weeks - n_coefficients) 95% CI and p (Wagner et al. 2002)",
    "window": "mean of the sessions in [event - W, event) vs [event, event + W]: plain "
              "difference of means, variance from the same correlated-error model fitted to the "
              "window sessions, t(n_weekly_bins - 2)",
    "events": "events of the kinds {kinds}; closer than {spacing:g} days to the previous one: "
              "merged into it; >= 3 sessions over >= 2 weeks needed on each side",
    "multiplicity": "the primary series tested at 5%; per test, the other series at every "
                    "analysed event form one family adjusted by {adjustment}; 'change' follows "
                    "the adjusted p",
}


def event_changes(frame, events, *, subject=None, metrics=None, channels=None, block=None,
                  quality_floor=0.5, window_weeks=DEFAULT_WINDOW_WEEKS,
                  min_spacing_days=MIN_SPACING_DAYS, kinds=ANALYSED_KINDS, practice=None,
                  tz="UTC", primary=DEFAULT_PRIMARY, adjustment="holm") -> list[dict]:
    """Level change, slope change and window difference around a subject's events.

    Parameters
    ----------
    frame : pandas.DataFrame
        The long metric frame (:meth:`Catalog.metrics_frame`; the columns of
        :func:`neurofeedback.trends.compute_trends`).
    events : pandas.DataFrame
        :meth:`Catalog.events` rows: ``event_id, subject, time`` (tz-aware), ``kind, text``, and
        optionally ``quantity, unit``. Only kinds in ``kinds`` are analysed.
    subject, metrics, channels, block : str | sequence of str | None
        As in :func:`~neurofeedback.trends.compute_trends` (default all, each separately).
    quality_floor : float
        Sessions with a smaller ``clean_fraction`` are left out.
    window_weeks : float
        W of the window comparison, in weeks on each side (> 0).
    min_spacing_days : float
        Events closer than this to the previous analysed one are merged into it (>= 0).
    kinds : sequence of str
        Event kinds analysed (default :data:`ANALYSED_KINDS`).
    practice : pandas.DataFrame | None
        A practice log (``date, minutes``, :meth:`Catalog.practice`) for one subject: its mean
        minutes per day over the 7 days before each session enter the segmented regression as
        a covariate (its coefficient per 10 min/day is returned as ``practice``).
    tz, primary, adjustment
        As in :func:`~neurofeedback.trends.compute_trends`.

    Returns
    -------
    results : list of dict
        One per (subject, block, metric, channel): ``subject, block, metric, channel, unit,
        scale, change_unit, n_sessions, n_weeks, excluded_sessions, window_weeks, family,
        adjustment``; ``events`` (one per analysed event group: ``event_id, time, kind, text,
        quantity, unit, merged`` (the events merged into it), and ``level``, ``slope``,
        ``window``: each ``estimate`` (``change_unit``; slope per week), ``ci``, ``p``,
        ``p_adjusted``, ``df``, ``change``, ``reason``; the window also ``n_before, n_after,
        mean_before, mean_after``); ``left_out`` (events with their reason); ``pre_slope``;
        ``practice`` (when given); ``fit`` (coefficients for drawing, None without a fit);
        ``reasons`` and ``method``.

    Raises
    ------
    TypeError, ValueError
        ``frame`` is not a frame of the documented columns.
    neurofeedback.errors.ConfigError
        An option out of range, or a subject/metric/channel/block not in the frame.
    """
    df = _validate_frame(frame)
    q = check_positive("quality_floor", quality_floor, allow_zero=True, exc=ConfigError)
    w = check_positive("window_weeks", window_weeks, exc=ConfigError)
    spacing = check_positive("min_spacing_days", min_spacing_days, allow_zero=True,
                             exc=ConfigError)
    check_option("adjustment", adjustment, ADJUSTMENTS, exc=ConfigError)
    primary = _resolve_primary(primary)
    from .store._schema import EVENT_KINDS

    for k in kinds:
        check_option("kinds", k, EVENT_KINDS, exc=ConfigError)
    ev = events.copy() if events is not None and len(events) else pd.DataFrame(
        columns=["event_id", "subject", "time", "kind", "text"])
    for c in ("quantity", "unit"):
        if c not in ev.columns:
            ev[c] = None
    ev = ev[ev["kind"].isin(list(kinds))]
    ev["time"] = pd.to_datetime(ev["time"], utc=True)
    if metrics is None:
        df = df[df["metric"] != CLEAN_FRACTION_METRIC]
    for name, value, column in (("subject", subject, "subject"), ("metrics", metrics, "metric"),
                                ("channels", channels, "channel"), ("block", block, "block")):
        if value is None:
            continue
        wanted = [value] if isinstance(value, str) else list(value)
        present = sorted(df[column].astype(str).unique())
        for x in wanted:
            check_option(name, x, present, exc=ConfigError)
        df = df[df[column].isin(wanted)]
    method = dict(_METHOD, events=_METHOD["events"].format(kinds=", ".join(kinds),
                                                            spacing=spacing),
                  multiplicity=_METHOD["multiplicity"].format(adjustment=adjustment),
                  window_weeks=w, level=_LEVEL)
    out = []
    for (subj, blk), analysis in df.groupby(["subject", "block"], sort=True):
        sev = ev[ev["subject"] == subj]
        results = [
            _analyse_series(group, sev, practice, subject=subj, block=blk, metric=metric,
                            channel=channel, quality_floor=q, tz=tz, window_days=7.0 * w,
                            min_spacing_days=spacing)
            for (metric, channel), group in analysis.groupby(["metric", "channel"], sort=True)
        ]
        _adjust_events(results, primary, adjustment)
        for r in results:
            r["method"] = dict(method)
        out.extend(results)
    return out


# ---------------------------------------------------------------------------------------------
# words


def _unit_of(r: dict) -> str:
    return RELATIVE if r.get("scale") == "log10" else (r.get("unit") or "")


def _ci_text(t: dict, unit: str) -> str:
    lo, hi = t["ci"]
    if unit == RELATIVE:
        return f"95% CI {format_number(lo, signed=True)}% to {format_number(hi, signed=True)}%"
    from .statements import _unit_words

    f, _ = _unit_words(unit)
    return f"95% CI {format_number(lo * f, signed=True)} to {format_number(hi * f, signed=True)}"


def _p_words(r: dict, t: dict) -> str:
    """``"primary metric, p = 0.003"`` or ``"p = 0.04 after Holm adjustment for 6 tests"`` (the
    family: this test of every other series at every analysed event)."""
    primary = r.get("family") == "primary"
    p = t.get("p") if primary else t.get("p_adjusted")
    if p is None:
        return ""
    p_text = "p < 0.001" if p < 0.001 else f"p = {format_number(p, sig=2)}"
    if primary:
        return f"primary metric, {p_text}"
    name = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg",
            "bonferroni": "Bonferroni"}.get(r.get("adjustment", "holm"))
    n = int(t.get("family_size") or 0)
    if name is None or n <= 1:
        return p_text
    return f"{p_text} after {name} adjustment for {n} tests"


def event_statement(r: dict, k: int = 0) -> str:
    """One reconciled sentence on a series around its k-th analysed event.

    The level change, the slope change and the window difference, each with its 95 % CI and
    its call (``change``), read together: when the model over all weeks and the plain
    before/after comparison agree it says so; when only one of them shows a change it says which
    and why they can differ; it never claims a cause.

    Parameters
    ----------
    r : dict
        One result of :func:`event_changes`.
    k : int
        Which of its ``events``.

    Returns
    -------
    sentence : str
    """
    unit = _unit_of(r)
    what = f"{r['metric']} ({r['channel']})"
    if r.get("block") not in (None, "session"):
        what += f" in the {r['block']} block"
    e = r["events"][k]
    merged = e.get("merged") or []
    label = f"the {e['kind']} event of {e['time'][:10]}"
    if merged:
        label += f" (with {_plural(len(merged), 'later event')} merged into it)"
    lv, sl, wd = e["level"], e["slope"], e["window"]
    weeks = format_number(r.get("window_weeks", DEFAULT_WINDOW_WEEKS))
    if lv["estimate"] is None and wd["estimate"] is None:
        return f"Around {label}, {what}: not enough data ({lv['reason'] or wd['reason']})."
    parts = []
    if lv["estimate"] is not None:
        p = _p_words(r, lv)
        ci = _ci_text(lv, unit) + (f"; {p}" if p else "")
        if lv["change"] in ("rose", "fell"):
            parts.append(f"{what} {lv['change']} by {format_change(abs(lv['estimate']), unit)} "
                         f"at the event ({ci})")
        else:
            parts.append(f"{what} showed no clear step at the event: "
                         f"{format_change(lv['estimate'], unit, signed=True)} ({ci})")
        ci = _ci_text(sl, unit)
        if sl["change"] in ("rose", "fell"):
            turn = "steeper upward" if sl["estimate"] > 0 else "more downward"
            parts.append(f"its weekly course turned {turn} afterwards by "
                         f"{format_change(abs(sl['estimate']), unit, per='week')} ({ci})")
        else:
            parts.append(f"its weekly slope did not clearly change "
                         f"({format_change(sl['estimate'], unit, per='week', signed=True)}, {ci})")
    else:
        parts.append(f"{what}: no segmented fit ({lv['reason']})")
    if wd["estimate"] is not None:
        d = wd["estimate"]
        side = "above" if d > 0 else "below"
        parts.append(f"the {weeks} weeks after were {format_change(abs(d), unit)} {side} the "
                     f"{weeks} weeks before ({_ci_text(wd, unit)}; {wd['change']})")
    else:
        parts.append(f"no window comparison ({wd['reason']})")
    sentence = f"Around {label}, " + "; ".join(parts)
    calls = (lv.get("change"), wd.get("change"))
    moved = ("rose", "fell")
    if calls[0] in moved and calls[1] in moved:
        sentence += (", so the two agree" if calls[0] == calls[1] else
                     ": the step and the before/after difference point in opposite directions, "
                     "so neither is read as a change")
    elif calls[0] in moved and wd["estimate"] is not None:
        sentence += (": the shorter before/after comparison alone is too uncertain to confirm "
                     "the step the model over all weeks finds")
    elif calls[1] in moved and lv["estimate"] is not None:
        sentence += (": the before/after difference is not confirmed as a step by the model "
                     "over all weeks, which allows for the course already under way")
    return sentence + ". This is an association in time, not evidence of what caused it."


# ---------------------------------------------------------------------------------------------
# one subject from the catalog


def subject_event_changes(subject: str, *, home=None, frame=None, events=None, practice=None,
                          metrics=None, block=None, quality_floor: float = 0.5,
                          window_weeks: float = DEFAULT_WINDOW_WEEKS,
                          min_spacing_days: float = MIN_SPACING_DAYS, event_id=None,
                          use_practice: bool = True, tz: str = "UTC",
                          adjustment: str = "holm") -> list[dict]:
    """Change around one subject's events, from the catalog (or the frames given).

    The series are those of the subject report (:func:`neurofeedback.statements.subject_trends`):
    the channel mean of each metric, FAA per electrode pair, and the primary series (relative
    alpha, posterior channels); the block is the subject's main block by default.

    Parameters
    ----------
    subject : str
    home : path-like | None
        Data home of the catalog (when a frame is not given).
    frame, events, practice : pandas.DataFrame | None
        :meth:`Catalog.metrics_frame`, :meth:`Catalog.events`, :meth:`Catalog.practice` of the
        subject; read from the catalog when ``None``.
    metrics : sequence of str | None
        Default :data:`neurofeedback.statements.DEFAULT_METRICS`.
    block : str | None
    quality_floor, window_weeks, min_spacing_days, tz, adjustment
        As in :func:`event_changes`.
    event_id : int | None
        Only the analysis in which this event takes part (analysed, merged or left out);
        default all the subject's events of :data:`ANALYSED_KINDS`.
    use_practice : bool
        Use the subject's practice log as a covariate when there is one.

    Returns
    -------
    results : list of dict
        :func:`event_changes` results (empty when there are no sessions or no events).

    Raises
    ------
    neurofeedback.errors.ConfigError
        An unknown event id (for this subject) or a bad option.
    """
    from .statements import DEFAULT_METRICS
    from .trends import default_block

    if frame is None or events is None or (practice is None and use_practice):
        from .store import Catalog

        cat = Catalog(home=home)
        frame = cat.metrics_frame(subject=subject) if frame is None else frame
        events = cat.events(subject=subject) if events is None else events
        if practice is None and use_practice:
            practice = cat.practice(subject)
    if not use_practice:
        practice = None
    metrics = DEFAULT_METRICS if metrics is None else metrics
    if event_id is not None:
        if int(event_id) not in set(events["event_id"].astype(int)):
            raise ConfigError(f"Invalid value for the 'event' parameter: subject {subject!r} has "
                              f"no event {event_id} (list them with 'neurofeedback event list "
                              f"--subject {subject}').")
        kind = events.loc[events["event_id"].astype(int) == int(event_id), "kind"].iloc[0]
        if kind not in ANALYSED_KINDS:
            raise ConfigError(f"event {event_id} is a {kind!r} event; the change around an "
                              f"event is analysed for {', '.join(ANALYSED_KINDS)}")
    if frame.empty or events is None or events.empty:
        return []
    frame = frame[frame["subject"] == subject]
    if block is None:
        block = default_block(frame)
    frame = frame[frame["block"] == block] if "block" in frame.columns else frame
    keep = (frame["channel"] == "mean") | ((frame["metric"] == "faa") & frame["channel"].str
                                           .contains("/", regex=False))
    p_metric, p_channels = _resolve_primary(DEFAULT_PRIMARY)
    present = set(frame.loc[frame["metric"] == p_metric, "channel"])
    first = next((c for c in p_channels if c in present), None)
    keep |= (frame["metric"] == p_metric) & (frame["channel"] == first)
    keep &= frame["metric"].isin(list(metrics))
    if not keep.any():
        return []
    results = event_changes(frame[keep], events, subject=subject, quality_floor=quality_floor,
                            window_weeks=window_weeks, min_spacing_days=min_spacing_days,
                            practice=practice, tz=tz, adjustment=adjustment)
    if event_id is not None:
        for r in results:
            mine = [e for e in r["events"]
                    if e["event_id"] == int(event_id)
                    or int(event_id) in {m["event_id"] for m in e["merged"]}]
            r["events"] = mine
            r["left_out"] = [e for e in r["left_out"] if e["event_id"] == int(event_id)]
    return results
