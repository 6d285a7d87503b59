"""Change across a group: cohort trends with a mixed-effects model, group comparisons and
event-anchored group analysis.

The input is the long session-metric frame of :mod:`neurofeedback.trends` (``subject,
session_id, start_time, clean_fraction, metric, channel, value[, block]``) plus each subject's
group (:meth:`neurofeedback.store.Catalog.groups`). Per series (metric × channel) the analysis is:

1. **The same session rules as a single subject.** Sessions under the quality floor are left
   out and counted; powers (µV²) are analysed on log10 and reported in %; sessions more than 3
   robust SD off a subject's Theil–Sen line are winsorised (subjects with ≥ 12 sessions).
2. **Subject-week means.** Each subject's sessions are averaged within ISO weeks; the time of a
   week is the mean time of its sessions, in weeks since the subject's first included session.
   The week, not the session, is the unit of replication (as in the single-subject model):
   day-to-day carry-over and week-level shifts become part of the subject-week residual, so
   they cannot make sessions look like independent evidence. The simulation study
   (``bench/bench_cohort_calibration.py``, ``docs/statistics.md``) measured this keeping the
   false-positive rate ≤ 0.06 with correlated sessions.
3. **A linear mixed model** (statsmodels ``MixedLM``, REML): per group a fixed intercept and
   slope per week, and per subject a random intercept and a random slope (unstructured 2 × 2
   covariance). The group's change per week is its fixed slope; the spread of individual
   slopes is the SD of the random slope; each subject's shrunken slope is the fixed slope of
   its group plus its random-slope BLUP. Two groups are one model, and their difference is the
   contrast of the two fixed slopes (the time × group interaction).
4. **Small-sample intervals.** MixedLM's Wald z intervals are too narrow with a dozen subjects
   a group. The interval and p of a slope or a difference use Student's t with
   ``n_subjects − n_groups`` degrees of freedom (the between-subject df of the slopes: on a
   balanced design the slope contrast is exactly a two-sample t of per-subject slopes, whose
   df this is; Kenward–Roger would agree there and statsmodels has none).
5. **Fallback.** When the model with a random slope does not converge, the random slope is
   dropped (random intercept only) and the result says so (``model`` and ``fallback``).
6. **Multiplicity as for a single subject** (:func:`neurofeedback.trends._adjust`): the primary
   series (default relative alpha, posterior channels, else the channel mean) is tested at 5 %;
   the other series form one family, Holm-adjusted, separately for each test (each group's
   slope, the difference). ``change`` (``rose``/``fell``/``no clear change``/``not enough
   data``) follows the adjusted p; for a difference, ``rose`` means the first group's slope is
   the larger.

Event-anchored analysis (:func:`event_anchored`) re-centres each subject's time at its own
first event of a kind (e.g. the first infusion) and fits a segmented mixed model: a level change
and a slope change after the event at the group level, random intercept and slope per subject,
t(n_subjects − 1).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ._validate import check_option, check_positive
from .errors import ConfigError
from .metrics import CLEAN_FRACTION_METRIC, metric_unit
from .trends import (
    ADJUSTMENTS,
    DEFAULT_PRIMARY,
    WINSOR_K,
    _adjust,
    _iso_week,
    _to_change,
    _validate_frame,
    _winsorise,
    analysis_scale,
)

__all__ = ["DEFAULT_COHORT_METRICS", "MIN_SUBJECTS", "MIN_WEEKS", "cohort_statement", "format_value",
           "cohort_trends", "event_anchored", "fit_cohort", "load_cohort_csv",
           "store_cohort_trends", "subject_weeks"]

#: Fewest subjects with a slope (>= :data:`MIN_WEEKS` weeks) in a group for a group slope.
MIN_SUBJECTS = 3
#: Fewest weeks with data for a subject to enter the model.
MIN_WEEKS = 2
#: The series a cohort analysis covers by default (channel aggregate ``posterior``, else ``mean``;
#: FAA on its first pair).
DEFAULT_COHORT_METRICS = ("relative_alpha", "absolute_alpha", "relative_theta",
                          "ratio_alpha_theta", "iaf", "aperiodic_exponent", "faa")
_LEVEL = 0.95
_DAY = 86400.0
_EPOCH = pd.Timestamp("2000-01-03", tz="UTC")

METHOD = {
    "sessions": "sessions under the quality floor left out; powers on log10 (changes in %); "
                "sessions > 3 robust SD off a subject's Theil-Sen line winsorised (>= 12 sessions)",
    "unit": "subject-week means (ISO weeks); time = mean session time of the week, in weeks "
            "since the subject's first included session",
    "model": "linear mixed model (statsmodels MixedLM, REML): fixed intercept and slope per "
             "group; random intercept and slope per subject (unstructured covariance)",
    "intervals": "95% CI and p from Student's t with n_subjects - n_groups df (between-subject "
                 "df of the slopes), not MixedLM's Wald z",
    "shrinkage": "each subject's slope = its group's fixed slope + its random-slope BLUP",
    "multiplicity": "the primary series tested at 5%; the other series one family per test, "
                    "p adjusted by {adjustment}; 'change' follows the adjusted p",
}


def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _tq(df: float) -> float:
    return float(stats.t.ppf(0.5 + _LEVEL / 2, df))


# ---------------------------------------------------------------------------------------------
# subject-week means


def subject_weeks(frame, *, metric: str, channel: str, quality_floor: float = 0.5,
                  tz: str = "UTC", anchors: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each subject's sessions of one series averaged by week, and the data quality per subject.

    Parameters
    ----------
    frame : pandas.DataFrame
        The long frame of :func:`neurofeedback.trends.compute_trends` (one block).
    metric, channel : str
        The series.
    quality_floor : float
        Sessions with ``clean_fraction`` below it (0–1) are left out and counted.
    tz : str
        Time zone of the ISO weeks.
    anchors : dict | None
        ``{subject: tz-aware timestamp}``: weeks are then counted from each subject's anchor
        (week 0 = the 7 days from the anchor, week −1 = the 7 days before), and ``t_weeks`` is
        the time since the anchor; subjects without an anchor are left out. Default: ISO weeks,
        time since the subject's first included session.

    Returns
    -------
    weeks : pandas.DataFrame
        One row per subject and week: ``subject, week, t_weeks`` (mean session time of the
        week, weeks), ``y`` (mean on the analysis scale: log10 for powers), ``n_sessions``.
    quality : pandas.DataFrame
        One row per subject: ``subject, n_sessions, n_excluded, n_weeks, clean_fraction``
        (mean over the included sessions), ``winsorised``.
    """
    scale = analysis_scale(metric)
    df = frame[(frame["metric"] == metric) & (frame["channel"] == channel)]
    v = df["value"].to_numpy(float)
    usable = np.isfinite(v) & ((v > 0) if scale == "log10" else True)
    df = df[usable]
    low = ~(df["clean_fraction"].to_numpy(float) >= quality_floor)  # NaN coverage counts as low
    n_excluded = pd.Series(low, index=df.index).groupby(df["subject"]).sum()
    kept = df[~low].sort_values(["subject", "start_time"], kind="stable")
    subj = kept["subject"].astype(str).to_numpy()
    y = kept["value"].to_numpy(float)
    if scale == "log10":
        y = np.log10(y)
    st = kept["start_time"]
    secs = (st - _EPOCH).dt.total_seconds().to_numpy() / _DAY
    if anchors is None:
        first = pd.Series(secs).groupby(subj).transform("min").to_numpy()
        t_days = secs - first
        labels = _iso_week(st.dt.tz_convert(tz)).to_numpy() if len(kept) else np.empty(0, object)
    else:
        anchor = np.array([(anchors[s] - _EPOCH).total_seconds() / _DAY if s in anchors
                           else np.nan for s in subj])
        t_days = secs - anchor
        labels = np.floor(t_days / 7.0)
    has = np.isfinite(t_days)
    yw = y.copy()
    n_win: dict[str, int] = {}
    bounds = np.flatnonzero(np.r_[True, subj[1:] != subj[:-1], True]) if subj.size else []
    for a, b in zip(bounds[:-1], bounds[1:], strict=False):
        if has[a]:
            yw[a:b], n_win[subj[a]] = _winsorise(t_days[a:b] / 7.0, y[a:b], WINSOR_K)
    work = pd.DataFrame({"subject": subj, "week": labels, "t": t_days / 7.0, "y": yw})[has]
    g = work.groupby(["subject", "week"], sort=False)
    weeks = pd.DataFrame({"t_weeks": g["t"].mean(), "y": g["y"].mean(),
                          "n_sessions": g["y"].size()}).reset_index()
    if anchors is not None:
        weeks["week"] = weeks["week"].astype(int)
    weeks = weeks.sort_values(["subject", "t_weeks"]).reset_index(drop=True)
    n_weeks = weeks.groupby("subject").size()
    n_sessions = pd.Series(subj).value_counts()
    clean = kept.groupby("subject")["clean_fraction"].mean()
    quality = []
    for s in sorted(set(df["subject"].astype(str))):
        q = {"subject": s, "n_sessions": int(n_sessions.get(s, 0)),
             "n_excluded": int(n_excluded.get(s, 0)), "n_weeks": int(n_weeks.get(s, 0)),
             "clean_fraction": _num(clean.get(s)), "winsorised": int(n_win.get(s, 0))}
        if anchors is not None and s not in anchors:
            q["reason"] = "no anchor event"
        quality.append(q)
    cols = ["subject", "week", "t_weeks", "y", "n_sessions"]
    return weeks[cols], pd.DataFrame(quality)


# ---------------------------------------------------------------------------------------------
# the mixed model


def _mixedlm(y, X, subjects, Z, start_params=None):
    """Fit MixedLM by REML; ``(result, warnings)`` or ``(None, reason)`` when it failed."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    attempts = (["bfgs"], ["lbfgs", "powell"])
    reason = "did not converge"
    for i, method in enumerate(attempts):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = MixedLM(y, X, groups=subjects, exog_re=Z)
                res = model.fit(reml=True, method=method,
                                start_params=start_params if i == 0 else None)
            except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
                reason = f"failed ({type(exc).__name__}: {exc})"
                continue
        k = X.shape[1]
        bse = np.asarray(res.bse_fe, float) if res.converged else np.full(k, np.nan)
        cov_re = np.asarray(res.cov_re, float)
        try:
            res.random_effects  # noqa: B018 (statsmodels refuses BLUPs of a singular covariance)
        except ValueError as exc:
            reason = f"has no random effects ({exc})"
            continue
        if (res.converged and np.all(np.isfinite(bse)) and np.all(np.isfinite(cov_re))
                and np.all(np.linalg.eigvalsh(cov_re) > -1e-8)):
            notes = sorted({str(w.message).split("\n")[0] for w in caught
                            if "boundary" in str(w.message)})
            return res, notes
    return None, reason


def fit_cohort(weeks: pd.DataFrame, groups: dict, order, *, start_params=None) -> dict:
    """Fit one mixed model to the subject-week means of one series and one or two groups.

    Parameters
    ----------
    weeks : pandas.DataFrame
        Columns ``subject, t_weeks, y`` (:func:`subject_weeks`); one row per subject-week.
    groups : dict
        ``{subject: group}``; subjects not in a group of ``order`` are left out.
    order : sequence of str
        One group, or two (the difference is ``order[0]`` − ``order[1]``).
    start_params : statsmodels MixedLMParams | None
        Start of the optimiser (a warm start for simulations; the optimum is the same).

    Returns
    -------
    fit : dict
        ``status`` (``"ok"`` or ``"not enough data"``), ``reason``, ``model`` (``"random
        intercept and slope"`` or ``"random intercept only"``), ``fallback`` (why the random
        slope was dropped, or ``None``), ``boundary`` (statsmodels' note when a variance is
        estimated at 0), ``df``; ``groups``: ``{group: {slope, se, ci, p, intercept,
        n_subjects}}`` (per week, analysis scale; intercept at the subjects' first week);
        ``difference``: ``{estimate, se, ci, p}`` or ``None`` for one group; ``slope_sd`` (SD
        of the individual slopes, analysis scale per week); ``residual_sd``; ``subjects``:
        ``{subject: {group, slope_shrunk, slope_ols, intercept_shrunk, n_weeks}}``;
        ``params`` (the statsmodels params object, for warm starts; not JSON).

    Raises
    ------
    ConfigError
        ``order`` is empty, has more than two groups or repeats one.
    """
    order = [str(g) for g in order]
    if not 1 <= len(order) <= 2 or len(set(order)) != len(order):
        raise ConfigError("Invalid value for the 'order' parameter. It must name one group or "
                          f"two different groups, but got {order!r} instead.")
    w = weeks[weeks["subject"].map(lambda s: groups.get(s) in order)]
    counts = w.groupby("subject")["t_weeks"].nunique()
    keep = counts[counts >= MIN_WEEKS].index
    w = w[w["subject"].isin(keep)].sort_values(["subject", "t_weeks"]).reset_index(drop=True)
    n_by_group = {g: int(sum(groups[s] == g for s in keep)) for g in order}
    out = {"status": "ok", "reason": None, "model": None, "fallback": None, "boundary": None,
           "df": None, "groups": {}, "difference": None, "slope_sd": None,
           "residual_sd": None, "subjects": {}, "params": None,
           "n_subjects": n_by_group}
    short = [g for g in order if n_by_group[g] < MIN_SUBJECTS]
    if short:
        out["status"] = "not enough data"
        out["reason"] = "; ".join(
            f"group {g!r} has {n_by_group[g]} subject(s) with >= {MIN_WEEKS} weeks of data; "
            f"a group slope needs >= {MIN_SUBJECTS}" for g in short)
        return out
    y = w["y"].to_numpy(float)
    t = w["t_weeks"].to_numpy(float)
    centre = float(t.mean())
    tc = t - centre
    member = np.column_stack([(w["subject"].map(groups) == g).to_numpy(float) for g in order])
    X = np.column_stack([c for j in range(len(order)) for c in (member[:, j], member[:, j] * tc)])
    subjects = w["subject"].to_numpy()
    res, notes = _mixedlm(y, X, subjects, np.column_stack([np.ones_like(tc), tc]), start_params)
    out["model"] = "random intercept and slope"
    if res is None:
        out["fallback"] = f"the model with a random slope {notes}; random intercept only"
        res, notes = _mixedlm(y, X, subjects, np.ones((tc.size, 1)))
        out["model"] = "random intercept only"
        if res is None:
            out["status"] = "not enough data"
            out["reason"] = f"the mixed model {notes}"
            return out
    out["boundary"] = notes[0] if notes else None
    df = int(len(keep) - len(order))
    out["df"] = df
    fe = np.asarray(res.fe_params, float)
    cov = np.asarray(res.cov_params(), float)[: X.shape[1], : X.shape[1]]
    crit = _tq(df)

    def inference(c):
        est = float(c @ fe)
        se = float(math.sqrt(max(float(c @ cov @ c), 0.0)))
        p = float(2 * stats.t.sf(abs(est) / se, df)) if se > 0 else (0.0 if est else 1.0)
        return {"estimate": est, "se": se, "ci": [est - crit * se, est + crit * se], "p": p}

    for j, g in enumerate(order):
        c = np.zeros(X.shape[1])
        c[2 * j + 1] = 1.0
        s = inference(c)
        out["groups"][g] = {"slope": s["estimate"], "se": s["se"], "ci": s["ci"], "p": s["p"],
                            "intercept": float(fe[2 * j] - fe[2 * j + 1] * centre),
                            "n_subjects": n_by_group[g]}
    if len(order) == 2:
        out["difference"] = inference(np.array([0.0, 1.0, 0.0, -1.0]))
    cov_re = np.asarray(res.cov_re, float)
    out["slope_sd"] = float(math.sqrt(max(cov_re[1, 1], 0.0))) if cov_re.shape[0] > 1 else 0.0
    out["residual_sd"] = float(math.sqrt(res.scale))
    re = res.random_effects
    rows = {s: (d["t_weeks"].to_numpy(float), d["y"].to_numpy(float))  # one pass, not 1 per subject
            for s, d in w.groupby("subject", sort=False)}
    for s in keep:
        g = groups[s]
        j = order.index(g)
        b = np.asarray(re[s], float)
        t_s, y_s = rows[s]
        ols = np.polyfit(t_s, y_s, 1)[0]
        out["subjects"][str(s)] = {
            "group": g, "n_weeks": int(t_s.size),
            "slope_shrunk": float(fe[2 * j + 1] + (b[1] if b.size > 1 else 0.0)),
            "intercept_shrunk": float(fe[2 * j] + b[0] - (fe[2 * j + 1] + (b[1] if b.size > 1 else 0.0)) * centre),
            "slope_ols": float(ols)}
    out["params"] = res.params_object
    return out


# ---------------------------------------------------------------------------------------------
# the analysis of a cohort


def _series(df: pd.DataFrame, metrics, channel) -> list[tuple[str, str]]:
    """(metric, channel) pairs: each metric on ``channel`` or its preferred aggregate."""
    out = []
    for m in metrics:
        have = set(df.loc[df["metric"] == m, "channel"].astype(str))
        if not have:
            continue
        if channel is not None:
            if channel in have:
                out.append((m, channel))
            continue
        prefs = ("posterior", "mean")
        c = next((p for p in prefs if p in have), None) or sorted(have)[0]
        out.append((m, c))
    return out


def _weeks_table(weeks: pd.DataFrame, groups: dict, order, scale: str) -> list[dict]:
    """Group means per week index (0, 1, …) since each subject's first week, for the plot."""
    if weeks.empty:
        return []
    w = weeks.assign(k=np.floor(weeks["t_weeks"].to_numpy(float) + 1e-9).astype(int),
                     group=weeks["subject"].map(groups))
    rows = []
    for (g, k), d in w[w["group"].isin(order)].groupby(["group", "k"], sort=True):
        m = float(d["y"].mean())
        sd = float(d["y"].std(ddof=1)) if len(d) > 1 else float("nan")
        half = _tq(len(d) - 1) * sd / math.sqrt(len(d)) if len(d) > 1 else float("nan")
        back = (lambda x: 10.0 ** x) if scale == "log10" else (lambda x: x)
        rows.append({"group": str(g), "week": int(k), "n_subjects": int(len(d)),
                     "mean": _num(back(m)), "ci_low": _num(back(m - half)),
                     "ci_high": _num(back(m + half))})
    return rows


def _report_block(est: dict | None, scale: str) -> dict:
    if est is None:
        return {"per_week": None, "ci": [None, None], "p": None, "analysis_per_week": None,
                "se": None}
    return {"per_week": _to_change(est["estimate"], scale),
            "ci": [_to_change(est["ci"][0], scale), _to_change(est["ci"][1], scale)],
            "p": _num(est["p"]), "analysis_per_week": _num(est["estimate"]),
            "se": _num(est["se"])}


def _analyse_series(df, groups, order, metric, channel, quality_floor, tz) -> dict:
    scale = analysis_scale(metric)
    unit = metric_unit(metric)
    weeks, quality = subject_weeks(df, metric=metric, channel=channel,
                                   quality_floor=quality_floor, tz=tz)
    members = {s: g for s, g in groups.items() if g in order}
    quality = quality[quality["subject"].isin(list(members))] if len(quality) else quality
    fit = fit_cohort(weeks, members, order)
    res = {"metric": metric, "channel": channel, "unit": unit, "scale": scale,
           "change_unit": "%" if scale == "log10" else unit,
           "groups_compared": list(order), "status": fit["status"], "reason": fit["reason"],
           "model": fit["model"], "fallback": fit["fallback"], "boundary": fit["boundary"],
           "df": fit["df"], "n_subjects": fit["n_subjects"],
           "slope_sd": _to_change(fit["slope_sd"], scale) if fit["slope_sd"] is not None else None,
           "slope_sd_analysis": _num(fit["slope_sd"]), "residual_sd": _num(fit["residual_sd"]),
           "quality": [dict(q) for q in quality.to_dict("records")] if len(quality) else [],
           "weekly": _weeks_table(weeks, members, order, scale),
           "subjects": [], "tests": {}}
    for s, info in sorted(fit["subjects"].items()):
        res["subjects"].append({
            "subject": s, "group": info["group"], "n_weeks": info["n_weeks"],
            "slope_shrunk": _to_change(info["slope_shrunk"], scale),
            "slope_ols": _to_change(info["slope_ols"], scale),
            "slope_shrunk_analysis": info["slope_shrunk"], "slope_ols_analysis": info["slope_ols"],
            "intercept_shrunk_analysis": info["intercept_shrunk"]})
    for g in order:
        gi = fit["groups"].get(g)
        est = None if gi is None else {"estimate": gi["slope"], "se": gi["se"], "ci": gi["ci"],
                                       "p": gi["p"]}
        res["tests"][f"slope:{g}"] = dict(_report_block(est, scale), kind="group slope", group=g,
                                          intercept_analysis=None if gi is None else gi["intercept"])
    if len(order) == 2:
        res["tests"]["difference"] = dict(_report_block(fit["difference"], scale),
                                          kind="difference", group=f"{order[0]} - {order[1]}")
    return res


def _multiplicity(results: list[dict], primary, adjustment: str) -> None:
    """The single-subject rules (:func:`neurofeedback.trends._adjust`), per test."""
    keys = sorted({k for r in results for k in r["tests"]})
    for key in keys:
        proxies = []
        for r in results:
            t = r["tests"].get(key)
            if t is None:
                continue
            proxies.append({"metric": r["metric"], "channel": r["channel"],
                            "slope_p": t["p"], "slope_per_week": t["analysis_per_week"],
                            "_test": t})
        _adjust(proxies, primary, adjustment)
        for p in proxies:
            p["_test"].update({k: p[k] for k in ("family", "family_size", "adjustment",
                                                  "slope_p_adjusted", "change")})
            p["_test"]["p_adjusted"] = p["_test"].pop("slope_p_adjusted")


def cohort_trends(frame, groups: dict, *, group: str, vs: str | None = None, metrics=None,
                  channel: str | None = None, block: str | None = None,
                  quality_floor: float = 0.5, tz: str = "UTC", primary=DEFAULT_PRIMARY,
                  adjustment: str = "holm") -> list[dict]:
    """A group's change per week (and its difference from another group's) for each series.

    Parameters
    ----------
    frame : pandas.DataFrame
        The long metric frame (:meth:`neurofeedback.store.Catalog.metrics_frame`), any subjects.
    groups : dict
        ``{subject: group or None}`` (:meth:`~neurofeedback.store.Catalog.groups`).
    group : str
        The group analysed.
    vs : str | None
        A second group: both groups' slopes are fitted in one model and their difference
        (``group`` − ``vs``) gets a 95 % CI.
    metrics : str | sequence of str | None
        Metrics (default :data:`DEFAULT_COHORT_METRICS` present in the frame). A single metric
        named here is its own primary series (it was chosen before looking).
    channel : str | None
        The channel of every series; default the ``posterior`` aggregate, else ``mean``.
    block : str | None
        Block analysed (default :func:`neurofeedback.trends.default_block` of the frame).
    quality_floor : float
        Sessions with ``clean_fraction`` below it are left out (0–1).
    tz : str
        Time zone of the ISO weeks.
    primary : (str, sequence of str) | str | None
        The primary series, as in :func:`neurofeedback.trends.compute_trends`.
    adjustment : {"holm", "fdr_bh", "bonferroni", "none"}
        Adjustment of the other series, per test.

    Returns
    -------
    results : list of dict
        One JSON-serialisable dict per series: ``metric, channel, unit, scale, change_unit,
        block, groups_compared, status, reason, model, fallback, boundary, df, n_subjects``
        (per group), ``slope_sd`` (SD of individual slopes, ``change_unit`` per week),
        ``quality`` (per subject), ``weekly`` (group means by week since start, with 95 % CI),
        ``subjects`` (shrunken and own OLS slopes), ``tests``: ``{"slope:<group>": …,
        "difference": …}`` each with ``per_week, ci`` (``change_unit`` per week), ``p,
        p_adjusted, family, family_size, adjustment, change``; and ``method``.

    Raises
    ------
    neurofeedback.errors.ConfigError
        Unknown group, a group without subjects, ``vs`` equal to ``group``, a metric, channel
        or block absent from the frame, or an option out of range.
    """
    df = _validate_frame(frame)
    q = check_positive("quality_floor", quality_floor, allow_zero=True, exc=ConfigError)
    if q > 1:
        raise ConfigError("Invalid value for the 'quality_floor' parameter. It must be between "
                          f"0 and 1, but got {quality_floor!r} instead.")
    check_option("adjustment", adjustment, ADJUSTMENTS, exc=ConfigError)
    known = sorted({g for g in groups.values() if g})
    order = [group] if vs is None else [group, vs]
    for name, g in (("group", group), ("vs", vs)):
        if g is None:
            continue
        if g not in known:
            raise ConfigError(f"Invalid value for the '{name}' parameter. Allowed values are the "
                              f"groups {', '.join(map(repr, known)) or '(none: no subject has a group)'}"
                              f", but got {g!r} instead.")
    if vs is not None and vs == group:
        raise ConfigError(f"Invalid value for the 'vs' parameter. It must be another group than "
                          f"{group!r}, but got {vs!r} instead.")
    members = {s: g for s, g in groups.items() if g in order}
    df = df[df["subject"].isin(list(members))]
    for g in order:
        if not df["subject"].map(members).eq(g).any():
            raise ConfigError(f"group {g!r}: none of its subjects "
                              f"({', '.join(sorted(s for s, x in members.items() if x == g))}) "
                              "has stored session metrics")
    if block is None:
        from .trends import default_block

        block = default_block(df)
    blocks = sorted(df["block"].astype(str).unique())
    check_option("block", block, blocks, exc=ConfigError)
    df = df[df["block"] == block]
    df = df[df["metric"] != CLEAN_FRACTION_METRIC]
    present = sorted(df["metric"].astype(str).unique())
    if metrics is None:
        wanted = [m for m in DEFAULT_COHORT_METRICS if m in present]
    else:
        wanted = [metrics] if isinstance(metrics, str) else list(metrics)
        for m in wanted:
            check_option("metric", m, present, exc=ConfigError)
        if len(wanted) == 1 and primary == DEFAULT_PRIMARY:
            primary = wanted[0]
    if channel is not None:
        chans = sorted(df.loc[df["metric"].isin(wanted), "channel"].astype(str).unique())
        check_option("channel", channel, chans, exc=ConfigError)
    from .trends import _resolve_primary

    primary_r = _resolve_primary(primary)
    if primary_r is not None and channel is not None and isinstance(primary, str) and ":" not in primary:
        primary_r = (primary_r[0], (channel,))
    results = [_analyse_series(df, members, order, m, c, q, tz)
               for m, c in _series(df, wanted, channel)]
    _multiplicity(results, primary_r, adjustment)
    method = dict(METHOD, multiplicity=METHOD["multiplicity"].format(adjustment=adjustment),
                  primary=None if primary_r is None else f"{primary_r[0]} ({', '.join(primary_r[1])})",
                  quality_floor=q, tz=str(tz), level=_LEVEL)
    for r in results:
        r["block"] = str(block)
        r["method"] = dict(method)
    return results


# ---------------------------------------------------------------------------------------------
# event-anchored group analysis


def event_anchored(frame, groups: dict, events: pd.DataFrame, *, group: str, kind: str,
                   metric: str = "relative_alpha", channel: str | None = None,
                   block: str | None = None, quality_floor: float = 0.5,
                   start_params=None) -> dict:
    """Level and slope change of a group after each subject's own first event of a kind.

    Each subject's time is re-centred at its first event of ``kind`` (an infusion, the start of
    a course); its sessions are averaged by week relative to that event (week 0 = the 7 days
    from the event). The segmented mixed model (statsmodels ``MixedLM``, REML) is
    ``y = a + b·t + c·post + d·post·t`` with t in weeks since the event and post = (week ≥ 0),
    a random intercept and slope per subject; ``c`` is the group's level change at the event
    and ``d`` its slope change, each with a t(n_subjects − 1) 95 % CI (as for a group slope).
    Subjects need >= 2 weeks with data before and after their event.

    Parameters
    ----------
    frame : pandas.DataFrame
        The long metric frame.
    groups : dict
        ``{subject: group}``.
    events : pandas.DataFrame
        Columns ``subject, time`` (tz-aware), ``kind`` (:meth:`Catalog.events`).
    group : str
        The group.
    kind : str
        The event kind that anchors each subject.
    metric, channel, block, quality_floor :
        As in :func:`cohort_trends` (one series).
    start_params : statsmodels MixedLMParams | None
        Warm start (simulations).

    Returns
    -------
    result : dict
        ``metric, channel, block, kind, group, status, reason, n_subjects, df, model,
        fallback, level_change`` and ``slope_change`` (``{per_week | estimate, ci, p,
        change}`` in ``change_unit``; the level change is a % for powers), ``pre_slope``,
        ``subjects_left_out`` and ``params`` (not JSON; drop it before serialising).

    Raises
    ------
    neurofeedback.errors.ConfigError
        Unknown group or event kind, no subject of the group with such an event, a metric,
        channel or block absent.
    """
    df = _validate_frame(frame)
    known = sorted({g for g in groups.values() if g})
    check_option("group", group, known, exc=ConfigError)
    members = [s for s, g in groups.items() if g == group]
    ev = events[(events["kind"] == kind) & events["subject"].isin(members)]
    if ev.empty:
        kinds = sorted(set(events.loc[events["subject"].isin(members), "kind"].astype(str)))
        raise ConfigError(f"group {group!r}: no subject has an event of kind {kind!r} (kinds "
                          f"present: {', '.join(kinds) or 'none'})")
    anchors = {s: pd.Timestamp(t) for s, t in ev.sort_values("time").groupby("subject")["time"].first().items()}
    df = df[df["subject"].isin(members)]
    if block is None:
        from .trends import default_block

        block = default_block(df)
    check_option("block", block, sorted(df["block"].astype(str).unique()), exc=ConfigError)
    df = df[df["block"] == block]
    check_option("metric", metric, sorted(df["metric"].astype(str).unique()), exc=ConfigError)
    series = _series(df, [metric], channel)
    if not series:
        raise ConfigError(f"Invalid value for the 'channel' parameter: metric {metric!r} has no "
                          f"channel {channel!r}.")
    metric, channel = series[0]
    scale = analysis_scale(metric)
    weeks, _quality = subject_weeks(df, metric=metric, channel=channel,
                                    quality_floor=quality_floor, anchors=anchors)
    out = {"metric": metric, "channel": channel, "block": str(block), "kind": kind,
           "group": group, "scale": scale, "unit": metric_unit(metric),
           "change_unit": "%" if scale == "log10" else metric_unit(metric),
           "status": "ok", "reason": None, "model": "random intercept and slope",
           "fallback": None, "n_subjects": 0, "df": None, "level_change": None,
           "slope_change": None, "pre_slope": None, "subjects_left_out": [], "params": None}
    post = weeks["week"].astype(int) >= 0
    pre_n = weeks[~post].groupby("subject").size()
    post_n = weeks[post].groupby("subject").size()
    ok = [s for s in anchors if pre_n.get(s, 0) >= 2 and post_n.get(s, 0) >= 2]
    out["subjects_left_out"] = sorted(set(members) - set(ok))
    out["n_subjects"] = len(ok)
    if len(ok) < MIN_SUBJECTS:
        out["status"] = "not enough data"
        out["reason"] = (f"{len(ok)} subject(s) of group {group!r} have >= 2 weeks of data before "
                         f"and after their first {kind!r} event; the analysis needs >= {MIN_SUBJECTS}")
        return out
    w = weeks[weeks["subject"].isin(ok)].reset_index(drop=True)
    t = w["t_weeks"].to_numpy(float)
    p = (w["week"].astype(int) >= 0).to_numpy(float)
    X = np.column_stack([np.ones_like(t), t, p, p * t])
    res, notes = _mixedlm(w["y"].to_numpy(float), X, w["subject"].to_numpy(),
                          np.column_stack([np.ones_like(t), t]), start_params)
    if res is None:
        out["fallback"] = f"the model with a random slope {notes}; random intercept only"
        out["model"] = "random intercept only"
        res, notes = _mixedlm(w["y"].to_numpy(float), X, w["subject"].to_numpy(),
                              np.ones((t.size, 1)))
        if res is None:
            out["status"] = "not enough data"
            out["reason"] = f"the mixed model {notes}"
            return out
    df_ = len(ok) - 1
    out["df"] = df_
    fe = np.asarray(res.fe_params, float)
    se = np.asarray(res.bse_fe, float)
    crit = _tq(df_)
    for key, j in (("pre_slope", 1), ("level_change", 2), ("slope_change", 3)):
        est, s = float(fe[j]), float(se[j])
        pv = float(2 * stats.t.sf(abs(est) / s, df_)) if s > 0 else 1.0
        lo, hi = est - crit * s, est + crit * s
        block_ = {"estimate": _to_change(est, scale), "ci": [_to_change(lo, scale), _to_change(hi, scale)],
                  "p": pv, "analysis_estimate": est, "se": s}
        block_["change"] = ("rose" if est > 0 else "fell") if pv < 1 - _LEVEL else "no clear change"
        out[key] = block_
    out["params"] = res.params_object
    return out


# ---------------------------------------------------------------------------------------------
# words and input


def format_value(x, unit: str, *, with_unit: bool = True) -> str:
    """A change (or a CI bound) on its change scale, signed, 3 significant digits: ``%`` for
    powers, percentage points for relative powers (``unit == "fraction"``), else the value with
    its unit (``with_unit``); ``—`` for ``None``. Used by the statements, the CLI table and the
    cohort report alike."""
    if x is None:
        return "—"
    if unit == "%":
        return f"{x:+.3g}%"
    if unit == "fraction":  # a relative power: percentage points
        return f"{100 * x:+.3g} pp"
    suffix = (f" {unit.replace('uV', 'µV')}" if with_unit and unit
              and unit not in ("1", "ratio", "ln ratio") else "")
    return f"{x:+.3g}" + suffix


def cohort_statement(result: dict) -> str:
    """One plain sentence per test of a :func:`cohort_trends` result (joined by spaces).

    The call (``rose``/``fell``/``no clear change``) is the test's ``change``, after the
    family's adjustment; numbers come with their 95 % CI.
    """
    what = f"{result['metric']} ({result['channel']})"
    if result["status"] != "ok":
        return f"{what}: not enough data for a group trend ({result['reason']})."
    u = result["change_unit"]
    parts = []
    for key, t in result["tests"].items():
        ci = f"95% CI {format_value(t['ci'][0], u)} to {format_value(t['ci'][1], u)}"
        pa = t.get("p_adjusted")
        ptxt = "" if pa is None else (f"p = {pa:.2g}" if t.get("family") == "primary"
                                       else f"adjusted p = {pa:.2g}")
        fam = "primary" if t.get("family") == "primary" else f"{t.get('adjustment')} family"
        if key == "difference":
            a, b = result["groups_compared"]
            words = {"rose": f"rose more in {a} than in {b}", "fell": f"fell more in {a} than in {b}",
                     "no clear change": f"changed no clearly differently in {a} than in {b}"}
            words["no clear change"] = f"showed no clear difference in change between {a} and {b}"
            parts.append(f"{what} {words.get(t['change'], t['change'])}: {format_value(t['per_week'], u)} "
                         f"per week ({ci}; {fam}, {ptxt}).")
        else:
            g = t["group"]
            verb = {"rose": "rose", "fell": "fell"}.get(t["change"], "showed no clear change")
            parts.append(f"Group {g}: {what} {verb}, {format_value(t['per_week'], u)} per week ({ci}; "
                         f"{fam}, {ptxt}; {result['n_subjects'].get(g, 0)} subjects).")
    sd = result.get("slope_sd")
    if sd is not None:
        parts.append(f"Individual slopes spread with SD {format_value(abs(sd), u).lstrip('+')} per week.")
    if result.get("fallback"):
        parts.append(f"Model: {result['fallback']}.")
    return " ".join(parts)


def load_cohort_csv(path) -> dict[str, str]:
    """Read a cohort CSV: a header with ``subject`` and ``group`` columns, one row per subject.

    Returns
    -------
    groups : dict
        ``{subject: group}`` (labels validated as the catalog's: 1–64 letters or digits).

    Raises
    ------
    ConfigError
        Missing columns, an invalid or repeated subject, an invalid group, no rows.
    OSError
        The file cannot be read.
    """
    from .home import validate_label

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a CSV with 'subject' and 'group' columns ({exc})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("subject", "group") if c not in table.columns]
    if missing:
        raise ConfigError(f"{path}: the cohort CSV needs the columns subject and group; "
                          f"{', '.join(missing)} missing")
    if table.empty:
        raise ConfigError(f"{path}: the cohort CSV has no rows")
    out: dict[str, str] = {}
    for i, r in enumerate(table.itertuples(index=False), start=2):
        try:
            s = validate_label(str(r.subject).strip())
            g = validate_label(str(r.group).strip(), kind="group")
        except ConfigError as exc:
            raise ConfigError(f"{path}, line {i}: {exc}") from None
        if s in out:
            raise ConfigError(f"{path}, line {i}: subject {s!r} appears more than once")
        out[s] = g
    return out


# ---------------------------------------------------------------------------------------------
# from the catalog


def store_cohort_trends(group: str, *, vs: str | None = None, home=None, metrics=None,
                        channel: str | None = None, block: str | None = None,
                        quality_floor: float = 0.5, tz: str = "UTC",
                        adjustment: str = "holm", event_kind: str | None = None) -> dict:
    """:func:`cohort_trends` (and optionally :func:`event_anchored`) on the session store.

    Parameters
    ----------
    group, vs, metrics, channel, block, quality_floor, tz, adjustment :
        As in :func:`cohort_trends`.
    home : str | pathlib.Path | None
        Data home of the catalog (default: ``NEUROFEEDBACK_HOME`` or ``~/.neurofeedback``).
    event_kind : str | None
        Also the event-anchored analysis of ``group`` (and of ``vs``) at each subject's first
        event of this kind, on the primary series.

    Returns
    -------
    cohort : dict
        ``{"group", "vs", "block", "results": [...], "events": {group: result} , "groups":
        {subject: group}}``, JSON-serialisable.

    Raises
    ------
    neurofeedback.errors.ConfigError
        As :func:`cohort_trends`; and no sessions in the store.
    """
    from .store import Catalog

    cat = Catalog(home=home)
    groups = {s: g for s, g in cat.groups().items() if g}
    if not groups:
        raise ConfigError("no subject has a group; set them with 'neurofeedback subject "
                          "set-group SUBJECT GROUP' or 'neurofeedback cohort import CSV'")
    known = sorted(set(groups.values()))
    for name, g in (("--group", group), ("--vs", vs)):
        if g is not None and g not in known:
            raise ConfigError(f"Invalid value for the '{name}' parameter. Allowed values are the "
                              f"groups {', '.join(map(repr, known))}, but got {g!r} instead.")
    from .trends import _resolve_primary

    # read only the metrics analysed (a session stores ~175 metric rows): the default series and
    # the primary's metric, or the asked-for ones when they are stored (an unknown name reads
    # everything, so cohort_trends' message lists every metric); the default block is chosen
    # among every stored block, as from the whole frame
    asked = None if metrics is None else ([metrics] if isinstance(metrics, str) else list(metrics))
    read = set(DEFAULT_COHORT_METRICS if asked is None else asked)
    read |= {_resolve_primary(DEFAULT_PRIMARY)[0]}
    if asked is not None and not set(asked) <= set(cat.metric_names(block=block)):
        read = None
    if block is None:
        from .trends import default_block

        stored = sorted({b for s in groups for b in cat.blocks(s)})
        block = default_block(pd.DataFrame({"block": stored})) if stored else None
    frame = cat.metrics_frame(block=block, metrics=read)
    if frame.empty:
        raise ConfigError("no session metrics in the store" + (f" for block {block!r}" if block else ""))
    results = cohort_trends(frame, groups, group=group, vs=vs, metrics=metrics, channel=channel,
                            block=block, quality_floor=quality_floor, tz=tz,
                            adjustment=adjustment)
    used_block = results[0]["block"] if results else block
    events = {}
    if event_kind is not None:
        ev = cat.events()[["event_id", "subject", "time", "kind"]]
        prim = next((r for r in results if r["tests"] and next(iter(r["tests"].values())).get("family") == "primary"),
                    results[0] if results else None)
        for g in [group] + ([vs] if vs else []):
            try:
                e = event_anchored(frame, groups, ev, group=g, kind=event_kind,
                                   metric=prim["metric"] if prim else "relative_alpha",
                                   channel=prim["channel"] if prim else None, block=used_block,
                                   quality_floor=quality_floor)
            except ConfigError as exc:
                e = {"group": g, "kind": event_kind, "status": "not enough data",
                     "reason": str(exc)}
            e.pop("params", None)
            events[g] = e
    return {"group": group, "vs": vs, "block": used_block, "results": results,
            "events": events, "groups": {s: g for s, g in groups.items() if g in (group, vs)}}
