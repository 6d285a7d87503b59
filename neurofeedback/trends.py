"""Statistics of change over weeks: weekly aggregates, trend, baseline change, MDC.

The input is the long session-metric frame the session store produces, one row per
(session, metric, channel)::

    subject, session_id, start_time (tz-aware), clean_fraction, metric, channel, value

and the output is one JSON-serialisable dict per (subject, metric, channel). Every number is a
plain ``float`` (or ``int``); a quantity that cannot be estimated honestly from the data is
``None`` with a reason ("not enough data: …") next to it. The methods and why they were chosen
are described in ``docs/statistics.md``:

* sessions whose ``clean_fraction`` is below ``quality_floor`` are excluded and counted;
* weeks are ISO weeks (``YYYY-Www``, Monday to Sunday) of the session start in ``tz``;
* weekly mean with a Student-t 95 % CI over the sessions of the week;
* the slope per week is a Huber M-estimate on the sessions (time axis: fractional weeks since
  the first included session) with an HC3 sandwich standard error and a t(n − 2) interval;
* the baseline change is Hedges' g (latest weeks − baseline weeks) with the exact
  noncentral-t 95 % CI, plus the raw difference with a Welch 95 % CI;
* the minimal detectable change is MDC95 = 1.96 · √2 · SEM, SEM the pooled within-week SD.

Pure pandas/NumPy/SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ._validate import check_option, check_positive
from .errors import ConfigError
from .metrics import metric_unit

__all__ = ["REQUIRED_COLUMNS", "compute_trends", "hedges_g", "robust_slope", "weekly_aggregates"]

#: Columns :func:`compute_trends` needs.
REQUIRED_COLUMNS = (
    "subject", "session_id", "start_time", "clean_fraction", "metric", "channel", "value",
)

#: Huber's tuning constant (95 % efficiency at the normal distribution).
HUBER_K = 1.345
#: Fewest sessions and distinct weeks for a slope.
MIN_SLOPE_SESSIONS = 5
MIN_SLOPE_WEEKS = 3
#: Fewest sessions in each of the baseline and the latest groups for an effect size.
MIN_GROUP_SESSIONS = 2
_LEVEL = 0.95
_SECONDS_PER_WEEK = 7 * 86400.0
_MAD_TO_SD = 1.0 / stats.norm.ppf(0.75)  # 1.4826


# ---------------------------------------------------------------------------------------------
# small helpers


def _num(x) -> float | None:
    """A plain float, or None when missing or not finite."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _not_enough(what: str, have: str, need: str) -> str:
    return f"not enough data: {have}; {what} needs {need}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _iso_week(ts: pd.Series) -> pd.Series:
    iso = ts.dt.isocalendar()
    return iso["year"].astype(str) + "-W" + iso["week"].astype(int).map("{:02d}".format)


def _as_list(name: str, value) -> list | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Iterable):
        raise TypeError(
            f"Invalid value for the {name!r} parameter. It must be a string, a sequence of "
            f"strings or None, but got {value!r} instead."
        )
    return list(value)


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(
            f"Invalid value for the {name!r} parameter. It must be an integer >= {minimum}, "
            f"but got {value!r} instead."
        )
    return int(value)


# ---------------------------------------------------------------------------------------------
# weekly aggregates


def weekly_aggregates(frame_one_metric: pd.DataFrame, *, tz="UTC") -> pd.DataFrame:
    """Aggregate the sessions of one metric and channel by ISO week.

    Parameters
    ----------
    frame_one_metric : pandas.DataFrame
        Sessions of one subject, metric and channel (already past the quality floor): columns
        ``start_time`` (tz-aware), ``value`` and, optionally, ``clean_fraction``.
    tz : str
        Time zone in which the calendar weeks are counted (a session at 23:30 on Sunday in
        Berlin is 22:30 UTC the same Sunday, but 00:30 on Monday belongs to the next week only
        in local time).

    Returns
    -------
    weeks : pandas.DataFrame
        One row per ISO week with data, in time order: ``week`` (``YYYY-Www``), ``n``,
        ``mean``, ``sd`` (NaN for n = 1), ``ci_low``, ``ci_high`` (mean ± t₀.₉₇₅(n − 1) · sd/√n;
        NaN for n = 1) and ``clean_coverage`` (mean ``clean_fraction`` of the week's sessions;
        NaN without that column).
    """
    df = frame_one_metric
    cols = ["week", "n", "mean", "sd", "ci_low", "ci_high", "clean_coverage"]
    if len(df) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "week" else float) for c in cols})
    local = pd.to_datetime(df["start_time"]).dt.tz_convert(tz)
    work = pd.DataFrame({
        "week": _iso_week(local).to_numpy(),
        "t": local.to_numpy(),
        "value": df["value"].to_numpy(float),
        "clean": (df["clean_fraction"].to_numpy(float) if "clean_fraction" in df
                  else np.full(len(df), np.nan)),
    })
    g = work.groupby("week", sort=False)
    out = pd.DataFrame({
        "first": g["t"].min(),
        "n": g["value"].size(),
        "mean": g["value"].mean(),
        "sd": g["value"].std(ddof=1),
        "clean_coverage": g["clean"].mean(),
    }).sort_values("first")
    n = out["n"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + _LEVEL / 2, n - 1) * out["sd"].to_numpy() / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    out = out.reset_index()
    out["n"] = out["n"].astype(int)
    return out[cols]


# ---------------------------------------------------------------------------------------------
# slope


def _wls(X, y, w):
    Xw = X * w[:, None]
    return np.linalg.solve(X.T @ Xw, Xw.T @ y)


def _sandwich(X, r, w, scale, k):
    """HC3-type sandwich of an M-estimate: bread Σψ'xxᵀ, meat Σ(sψ/(1 − h))²xxᵀ."""
    if scale == 0.0:
        return np.zeros((X.shape[1], X.shape[1]))
    a = r / scale
    dpsi = (np.abs(a) <= k).astype(float)
    if np.linalg.matrix_rank(X[dpsi > 0]) < X.shape[1]:
        dpsi = w  # fewer than two inlier times: fall back to the weighted-fit bread
    bread = np.linalg.inv((X * dpsi[:, None]).T @ X)
    h = dpsi * np.einsum("ij,jk,ik->i", X, bread, X)
    u = scale * np.clip(a, -k, k) / np.maximum(1.0 - h, 1e-12)
    return bread @ ((X * (u**2)[:, None]).T @ X) @ bread


def robust_slope(t, y, *, k: float = HUBER_K, max_iter: int = 100, tol: float = 1e-10) -> dict:
    """Huber M-estimate of a straight line with an HC3 sandwich standard error.

    Parameters
    ----------
    t : array-like, shape (n,)
        Time of each observation (e.g. weeks since the first session).
    y : array-like, shape (n,)
        Observed values.
    k : float
        Huber's tuning constant, in units of the residual scale (MAD · 1.4826).
    max_iter, tol
        Iteratively reweighted least squares: stop when the coefficients change by less than
        ``tol`` times their size (plus the residual scale).

    Returns
    -------
    fit : dict
        ``slope``, ``intercept``, ``se`` (HC3 sandwich of the final weighted fit, treating the
        weights as fixed), ``df`` (n − 2), ``ci`` (slope ± t₀.₉₇₅(df) · se), ``p`` (two-sided),
        ``scale`` (the residual scale) and ``weights`` (ndarray, shape (n,), 1 for inliers,
        ``k · scale / |r|`` for the others).
    """
    k = check_positive("k", k)
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    n = t.size
    if n < 3 or np.ptp(t) == 0:
        raise ValueError("A slope needs at least 3 observations at 2 or more distinct times.")
    X = np.column_stack([np.ones(n), t - t.mean()])
    # robust start (Theil-Sen), then IRLS with the scale re-estimated by the MAD
    ts = stats.theilslopes(y, t)
    beta = np.array([np.median(y - ts.slope * X[:, 1]), ts.slope])
    w = np.ones(n)
    scale = 0.0
    for _ in range(max_iter):
        r = y - X @ beta
        scale = _MAD_TO_SD * np.median(np.abs(r))
        if scale == 0.0:  # half the points sit exactly on the line: fall back to their spread
            scale = float(np.sqrt(np.mean(r**2)))
        if scale == 0.0:
            w = np.ones(n)
            break
        a = np.abs(r) / scale
        w = np.where(a <= k, 1.0, k / np.maximum(a, k))
        new = _wls(X, y, w)
        done = np.max(np.abs(new - beta)) <= tol * (np.max(np.abs(beta)) + scale)
        beta = new
        if done:
            break
    r = y - X @ beta
    cov = _sandwich(X, r, w, scale, k)
    se = float(np.sqrt(max(cov[1, 1], 0.0)))
    df = n - 2
    crit = float(stats.t.ppf(0.5 + _LEVEL / 2, df))
    slope = float(beta[1])
    if se > 0:
        p = float(2 * stats.t.sf(abs(slope) / se, df))
    else:
        p = 0.0 if slope != 0 else 1.0
    return {
        "slope": slope,
        "intercept": float(beta[0] - beta[1] * t.mean()),
        "se": se,
        "df": df,
        "ci": (slope - crit * se, slope + crit * se),
        "p": p,
        "scale": float(scale),
        "weights": w,
    }


def _slope_block(t_weeks: np.ndarray, y: np.ndarray, n_weeks: int) -> dict:
    n = y.size
    if n < MIN_SLOPE_SESSIONS or n_weeks < MIN_SLOPE_WEEKS:
        reason = _not_enough(
            "a slope",
            f"{_plural(n, 'session')} in {_plural(n_weeks, 'week')}",
            f">= {MIN_SLOPE_SESSIONS} sessions over >= {MIN_SLOPE_WEEKS} weeks",
        )
        return {"slope_per_week": None, "slope_ci": [None, None], "slope_se": None,
                "slope_intercept": None, "slope_p": None, "slope_df": None, "slope_downweighted": None,
                "slope_reason": reason}
    fit = robust_slope(t_weeks, y)
    return {
        "slope_per_week": _num(fit["slope"]),
        "slope_ci": [_num(fit["ci"][0]), _num(fit["ci"][1])],
        "slope_se": _num(fit["se"]),
        "slope_intercept": _num(fit["intercept"]),  # value at the first included session
        "slope_p": _num(fit["p"]),
        "slope_df": int(fit["df"]),
        "slope_downweighted": int(np.sum(fit["weights"] < 1.0)),
        "slope_reason": None,
    }


# ---------------------------------------------------------------------------------------------
# baseline change


def _nct_ci(t_obs: float, df: int) -> tuple[float, float]:
    """Noncentrality parameters whose noncentral t puts ``t_obs`` at the 97.5th/2.5th centile."""
    alpha = 1 - _LEVEL

    def root(q):
        f = lambda ncp: stats.nct.cdf(t_obs, df, ncp) - q  # noqa: E731 (decreasing in ncp)
        lo, hi = t_obs - 10.0, t_obs + 10.0
        for _ in range(20):
            if f(lo) >= 0:
                break
            lo -= 10.0 + abs(lo)
        for _ in range(20):
            if f(hi) <= 0:
                break
            hi += 10.0 + abs(hi)
        return optimize.brentq(f, lo, hi, xtol=1e-10)

    return root(1 - alpha / 2), root(alpha / 2)


def hedges_g(baseline, latest) -> dict:
    """Hedges' g of ``latest − baseline`` with its exact 95 % CI.

    Parameters
    ----------
    baseline, latest : array-like
        Session values of the two groups (each at least 2, with a positive pooled SD).

    Returns
    -------
    result : dict
        ``effect_size`` (g = J · d, d = difference / pooled SD, J = 1 − 3 / (4 df − 1)),
        ``ci`` (the exact 95 % interval for the population δ by inverting the noncentral t,
        Steiger & Fouladi 1997; the large-sample normal approximation where the noncentral t
        cannot be evaluated, |t| in the hundreds; see ``ci_method``), ``d``, ``pooled_sd``,
        ``difference``, ``difference_ci`` (Welch) and ``df``.
    """
    a = np.asarray(baseline, float)
    b = np.asarray(latest, float)
    n1, n2 = a.size, b.size
    df = n1 + n2 - 2
    diff = float(b.mean() - a.mean())
    sp = math.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / df)
    out = {"difference": diff, "df": df, "pooled_sd": sp}
    v1, v2 = a.var(ddof=1) / n1, b.var(ddof=1) / n2
    se = math.sqrt(v1 + v2)
    if se > 0:
        welch_df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
        crit = stats.t.ppf(0.5 + _LEVEL / 2, welch_df)
        out["difference_ci"] = (diff - crit * se, diff + crit * se)
    else:
        out["difference_ci"] = (diff, diff)
    if sp == 0:
        out.update(effect_size=None, d=None, ci=(None, None))
        return out
    d = diff / sp
    j = 1.0 - 3.0 / (4.0 * df - 1.0)
    scale = math.sqrt(1.0 / n1 + 1.0 / n2)
    try:
        lo, hi = _nct_ci(d / scale, df)
        out["ci_method"] = "noncentral t"
    except (ValueError, RuntimeError):  # the noncentral t fails far out in its tails
        se_d = math.sqrt(scale**2 + d**2 / (2.0 * df))
        z = stats.norm.ppf(0.5 + _LEVEL / 2)
        lo, hi = (d - z * se_d) / scale, (d + z * se_d) / scale
        out["ci_method"] = "normal approximation (Hedges & Olkin)"
    out.update(effect_size=j * d, d=d, ci=(lo * scale, hi * scale))
    return out


def _baseline_block(week_labels, weeks_in_order, y, n_base: int, n_latest: int) -> dict:
    out = {
        "method": "hedges_g", "ci_method": None,
        "baseline_weeks": [], "latest_weeks": [], "n_baseline": 0, "n_latest": 0,
        "baseline_mean": None, "latest_mean": None, "difference": None,
        "difference_ci": [None, None], "effect_size": None, "ci": [None, None],
        "pooled_sd": None, "reason": None,
    }
    n_w = len(weeks_in_order)
    if n_w < n_base + n_latest:
        out["reason"] = _not_enough(
            "a baseline change", _plural(n_w, "week"),
            f"{n_base} baseline + {n_latest} latest distinct weeks",
        )
        return out
    base_w = list(weeks_in_order[:n_base])
    late_w = list(weeks_in_order[n_w - n_latest:])
    a = y[np.isin(week_labels, base_w)]
    b = y[np.isin(week_labels, late_w)]
    out.update(baseline_weeks=base_w, latest_weeks=late_w, n_baseline=int(a.size),
               n_latest=int(b.size), baseline_mean=_num(a.mean()), latest_mean=_num(b.mean()))
    if a.size < MIN_GROUP_SESSIONS or b.size < MIN_GROUP_SESSIONS:
        out["difference"] = _num(b.mean() - a.mean())
        out["reason"] = _not_enough(
            "an effect size", f"{a.size} baseline and {b.size} latest sessions",
            f">= {MIN_GROUP_SESSIONS} sessions in each",
        )
        return out
    g = hedges_g(a, b)
    out.update(
        difference=_num(g["difference"]),
        difference_ci=[_num(v) for v in g["difference_ci"]],
        effect_size=_num(g["effect_size"]),
        ci=[_num(v) for v in g["ci"]],
        pooled_sd=_num(g["pooled_sd"]),
        ci_method=g.get("ci_method"),
    )
    if g["effect_size"] is None:
        out["reason"] = "no session-to-session variability: the effect size is undefined"
    return out


# ---------------------------------------------------------------------------------------------
# minimal detectable change


def _mdc_block(weeks: pd.DataFrame) -> dict:
    multi = weeks[weeks["n"] >= 2]
    dof = int((multi["n"] - 1).sum())
    if dof == 0:
        return {"mdc": None, "sem": None, "sem_df": 0, "mdc_reason": _not_enough(
            "the MDC", "no week with 2 or more sessions",
            "session-to-session variability within a week (>= 2 sessions in a week)")}
    sem = math.sqrt(float(((multi["n"] - 1) * multi["sd"] ** 2).sum()) / dof)
    z = stats.norm.ppf(0.5 + _LEVEL / 2)
    return {"mdc": _num(z * math.sqrt(2.0) * sem), "sem": _num(sem), "sem_df": dof,
            "mdc_reason": None}


# ---------------------------------------------------------------------------------------------
# the whole analysis


_METHOD = {
    "weeks": "ISO weeks (Monday-Sunday) of the session start; mean with a Student-t 95% CI",
    "slope": "Huber M-estimate (k=1.345, MAD scale) on sessions vs fractional weeks since the "
             "first included session; HC3 sandwich SE; t(n-2) 95% CI",
    "baseline_change": "Hedges' g (latest - baseline) with the noncentral-t 95% CI; "
                       "raw difference with a Welch 95% CI",
    "mdc": "MDC95 = 1.96 * sqrt(2) * SEM, SEM = pooled within-week session SD (metric unit)",
}


def _validate_frame(frame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            "Invalid value for the 'frame' parameter. It must be a pandas DataFrame, but got "
            f"{type(frame).__name__} instead."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"Invalid value for the 'frame' parameter. It must have the columns "
            f"{', '.join(REQUIRED_COLUMNS)}, but {', '.join(missing)} missing."
        )
    st = pd.to_datetime(frame["start_time"])
    if st.dt.tz is None:
        raise ValueError(
            "Invalid value for the 'frame' parameter. Its 'start_time' column must be "
            "timezone-aware (UTC), but got naive datetimes instead."
        )
    df = frame.loc[:, list(REQUIRED_COLUMNS)].copy()
    df["start_time"] = st
    df["value"] = pd.to_numeric(df["value"], errors="coerce").astype(float)
    df["clean_fraction"] = pd.to_numeric(df["clean_fraction"], errors="coerce").astype(float)
    dup = df.duplicated(["subject", "session_id", "metric", "channel"])
    if dup.any():
        row = df[dup].iloc[0]
        raise ValueError(
            "Invalid value for the 'frame' parameter. It must hold one row per (subject, "
            f"session_id, metric, channel), but ({row['subject']!r}, {row['session_id']!r}, "
            f"{row['metric']!r}, {row['channel']!r}) appears more than once."
        )
    return df


def _analyse(df: pd.DataFrame, *, subject, metric, channel, quality_floor, tz,
             baseline_weeks, latest_weeks) -> dict:
    df = df[np.isfinite(df["value"].to_numpy())]
    low = ~(df["clean_fraction"].to_numpy() >= quality_floor)  # NaN coverage counts as low
    excluded = df[low].sort_values("start_time")
    kept = df[~low].sort_values("start_time", kind="stable")
    weeks = weekly_aggregates(kept, tz=tz)
    y = kept["value"].to_numpy(float)
    n = int(y.size)
    n_weeks = int(len(weeks))
    result = {
        "subject": str(subject), "metric": str(metric), "channel": str(channel),
        "unit": metric_unit(str(metric)),
        "n_sessions": n, "n_weeks": n_weeks,
        "excluded_sessions": int(len(excluded)),
        "excluded_session_ids": [str(s) for s in excluded["session_id"]],
        "quality_floor": float(quality_floor),
        "first_session": kept["start_time"].iloc[0].isoformat() if n else None,
        "last_session": kept["start_time"].iloc[-1].isoformat() if n else None,
        "weeks": [
            {"week": str(r.week), "mean": _num(r.mean), "ci_low": _num(r.ci_low),
             "ci_high": _num(r.ci_high), "n": int(r.n), "sd": _num(r.sd),
             "clean_coverage": _num(r.clean_coverage)}
            for r in weeks.itertuples(index=False)
        ],
    }
    if n:
        t0 = kept["start_time"].iloc[0]
        t_weeks = (kept["start_time"] - t0).dt.total_seconds().to_numpy() / _SECONDS_PER_WEEK
        labels = _iso_week(kept["start_time"].dt.tz_convert(tz)).to_numpy()
    else:
        t_weeks = np.empty(0)
        labels = np.empty(0, dtype=object)
    result.update(_slope_block(t_weeks, y, n_weeks))
    result["baseline_change"] = _baseline_block(
        labels, list(weeks["week"]), y, baseline_weeks, latest_weeks)
    result.update(_mdc_block(weeks))
    reasons = [r for r in (result["slope_reason"], result["baseline_change"]["reason"],
                           result["mdc_reason"]) if r]
    if n == 0:
        reasons.insert(0, f"not enough data: no session at or above the quality floor "
                          f"{quality_floor:g} ({_plural(len(excluded), 'session')} excluded)")
    result["status"] = "ok" if not reasons else ("not enough data" if n == 0 else "partial")
    result["reasons"] = reasons
    result["method"] = dict(_METHOD, time_axis="weeks since the first included session",
                            tz=str(tz), level=_LEVEL)
    return result


def compute_trends(frame, *, subject=None, metrics=None, channels=None, quality_floor=0.5,
                   baseline_weeks=1, latest_weeks=1, tz="UTC") -> list[dict]:
    """Weekly aggregates, trend, baseline change and MDC per subject, metric and channel.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long form, one row per (session, metric, channel): ``subject, session_id,
        start_time`` (tz-aware), ``clean_fraction`` (0–1), ``metric, channel, value``.
    subject : str | sequence of str | None
        Subjects to analyse (default all, each separately).
    metrics : str | sequence of str | None
        Metric names as in :mod:`neurofeedback.metrics` (default all in the frame).
    channels : str | sequence of str | None
        Channels (``"mean"``, ``"O1"``, ``"F4/F3"``, …; default all).
    quality_floor : float
        Sessions with ``clean_fraction`` below this (0–1) are excluded and counted.
    baseline_weeks, latest_weeks : int
        How many of the first / last ISO weeks with data form the baseline and the latest
        groups of the baseline change (they must not overlap).
    tz : str
        Time zone of the calendar weeks (default UTC).

    Returns
    -------
    trends : list of dict
        One JSON-serialisable dict per (subject, metric, channel), sorted by them, with
        ``subject, metric, channel, unit, n_sessions, n_weeks, excluded_sessions`` (count),
        ``excluded_session_ids, quality_floor, first_session, last_session``;
        ``weeks``: ``[{week, mean, ci_low, ci_high, n, sd, clean_coverage}]``;
        ``slope_per_week`` (metric unit per week), ``slope_ci: [low, high]``, ``slope_se``,
        ``slope_p``, ``slope_df``, ``slope_downweighted``, ``slope_reason``;
        ``baseline_change: {method, baseline_weeks, latest_weeks, n_baseline, n_latest,
        baseline_mean, latest_mean, difference, difference_ci, effect_size, ci, pooled_sd,
        reason}``; ``mdc`` (metric unit), ``sem``, ``sem_df``, ``mdc_reason``; ``status``
        (``"ok"``, ``"partial"`` or ``"not enough data"``), ``reasons`` and ``method``.
        Missing estimates are ``None`` with their reason.
    """
    df = _validate_frame(frame)
    q = check_positive("quality_floor", quality_floor, allow_zero=True, exc=ConfigError)
    if q > 1:
        raise ConfigError(
            "Invalid value for the 'quality_floor' parameter. It must be between 0 and 1, "
            f"but got {quality_floor!r} instead."
        )
    baseline_weeks = _check_int("baseline_weeks", baseline_weeks, 1)
    latest_weeks = _check_int("latest_weeks", latest_weeks, 1)
    try:
        pd.Timestamp("2026-01-01", tz=tz)
    except (LookupError, ValueError, TypeError):  # ZoneInfoNotFoundError is a KeyError
        raise ConfigError(
            f"Invalid value for the 'tz' parameter. It must be a time zone name such as "
            f"'UTC' or 'Europe/Berlin', but got {tz!r} instead."
        ) from None
    for name, value, column in (("subject", subject, "subject"), ("metrics", metrics, "metric"),
                                ("channels", channels, "channel")):
        wanted = _as_list(name, value)
        if wanted is None:
            continue
        present = sorted(df[column].astype(str).unique())
        for w in wanted:
            check_option(name, w, present, exc=ConfigError)
        df = df[df[column].isin(wanted)]
    out = []
    for (subj, metric, channel), group in df.groupby(["subject", "metric", "channel"], sort=True):
        out.append(_analyse(
            group, subject=subj, metric=metric, channel=channel, quality_floor=q, tz=tz,
            baseline_weeks=baseline_weeks, latest_weeks=latest_weeks,
        ))
    return out
