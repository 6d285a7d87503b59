"""The previous slope estimator of ``neurofeedback.trends``, kept only as the reference.

This is the slope the library reported before issue 14: a Huber M-estimate (k = 1.345, scale
1.4826 · MAD, IRLS from a Theil–Sen start) on the sessions, with an HC3-type sandwich SE and a
t(n − 2) interval. ``bench/bench_trend_validation.py`` runs it beside the chosen method so the
power given up for calibrated intervals is measured on the same simulated series. The library
no longer uses it; do not import it from the library.

Source: ``git show main:neurofeedback/trends.py`` at commit d5ac33a (blob 545b944, last changed
in 598f7c7). ``_wls``, ``_sandwich`` and ``robust_slope`` are verbatim copies, as are the
constants they use. :func:`previous_slope` repeats what the previous ``_analyse`` and
``_slope_block`` did before calling ``robust_slope``: sort the sessions by start time, time axis
in weeks since the first session, ISO weeks in UTC, and no slope with fewer than 5 sessions or
3 distinct weeks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from neurofeedback._validate import check_positive

__all__ = ["HUBER_K", "previous_slope", "robust_slope"]

#: Huber's tuning constant (95 % efficiency at the normal distribution).
HUBER_K = 1.345
#: Fewest sessions and distinct weeks for a slope.
MIN_SLOPE_SESSIONS = 5
MIN_SLOPE_WEEKS = 3
_LEVEL = 0.95
_SECONDS_PER_WEEK = 7 * 86400.0
_MAD_TO_SD = 1.0 / stats.norm.ppf(0.75)  # 1.4826


def _iso_week(ts: pd.Series) -> pd.Series:
    iso = ts.dt.isocalendar()
    return iso["year"].astype(str) + "-W" + iso["week"].astype(int).map("{:02d}".format)


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


def previous_slope(start_time, value, *, tz="UTC") -> dict | None:
    """The previous library's slope for one series, or None where it gave none.

    Parameters
    ----------
    start_time : array-like of tz-aware timestamps, shape (n,)
        Session start times (every session past the quality floor).
    value : array-like, shape (n,)
        The metric's values (linear scale, as the previous library analysed every metric).
    tz : str
        Time zone of the ISO weeks (the previous default, UTC).

    Returns
    -------
    fit : dict or None
        ``slope`` (per week), ``ci`` (95 %), ``p``, ``se``, ``df`` and ``downweighted`` (sessions
        with a Huber weight below 1); None with fewer than 5 finite sessions or 3 distinct weeks.
    """
    df = pd.DataFrame({"start_time": pd.to_datetime(pd.Series(start_time)), "value": value})
    df = df[np.isfinite(df["value"].to_numpy(float))]
    kept = df.sort_values("start_time", kind="stable")
    y = kept["value"].to_numpy(float)
    n_weeks = int(_iso_week(kept["start_time"].dt.tz_convert(tz)).nunique())
    if y.size < MIN_SLOPE_SESSIONS or n_weeks < MIN_SLOPE_WEEKS:
        return None
    t0 = kept["start_time"].iloc[0]
    t_weeks = (kept["start_time"] - t0).dt.total_seconds().to_numpy() / _SECONDS_PER_WEEK
    fit = robust_slope(t_weeks, y)
    return {"slope": fit["slope"], "ci": fit["ci"], "p": fit["p"], "se": fit["se"], "df": fit["df"],
            "downweighted": int(np.sum(fit["weights"] < 1.0))}
