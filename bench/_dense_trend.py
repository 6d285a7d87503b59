"""The dense REML grid and GLS of ``neurofeedback.trends`` before the O(n) path, kept only as
the reference of ``bench/bench_trends_speed.py``.

Source: ``git show main:neurofeedback/trends.py`` at commit 3863745: ``_car1_correlations``,
``_reml_profile`` and ``trend_slope`` are verbatim copies (docstring of ``trend_slope``
shortened); the constants and helpers they use are imported from the library, unchanged by the
O(n) path. Each grid point factorises the dense n × n correlation (O(n³)) and the fit is
statsmodels' ``GLS`` with the dense sigma. :func:`install` makes the library use it (for an
old-vs-new timing in one run); do not import it from the library.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

import neurofeedback.trends as _trends
from neurofeedback.trends import RHO_PER_DAY, STATE_SHARE, WINSOR_K, _tq, _winsorise

__all__ = ["install", "trend_slope"]


def _car1_correlations(t_days: np.ndarray):
    """Yield ``(rho_per_day, state_share, R)`` for the REML grid (R: n × n correlation)."""
    n = t_days.size
    lag = np.abs(t_days[:, None] - t_days[None, :])
    eye = np.eye(n)
    yield 0.0, 0.0, eye
    for rho in RHO_PER_DAY:
        if rho == 0.0:
            continue
        decay = rho ** lag
        for w in STATE_SHARE:
            r = w * decay
            np.fill_diagonal(r, 1.0)
            yield rho, w, r


def _reml_profile(X: np.ndarray, y: np.ndarray, R: np.ndarray) -> float:
    """REML log-likelihood (up to a constant) of ``y = Xβ + e``, e ~ N(0, σ²R), σ² profiled."""
    n, p = X.shape
    try:
        L = np.linalg.cholesky(R)
    except np.linalg.LinAlgError:  # e.g. two sessions at the same time with no white noise
        return -np.inf
    Xs = np.linalg.solve(L, X)
    ys = np.linalg.solve(L, y)
    xtx = Xs.T @ Xs
    beta = np.linalg.solve(xtx, Xs.T @ ys)
    r = ys - Xs @ beta
    s2 = float(r @ r) / (n - p)
    if s2 <= 0:
        return -np.inf
    logdet_r = 2.0 * float(np.log(np.diag(L)).sum())
    return -0.5 * ((n - p) * math.log(s2) + logdet_r + float(np.linalg.slogdet(xtx)[1]))


def trend_slope(t_days, y, week_labels) -> dict:
    """Slope per week (the dense path; see ``neurofeedback.trends.trend_slope``)."""
    from statsmodels.regression.linear_model import GLS  # heavy import: only when fitting

    t_days = np.asarray(t_days, float)
    y = np.asarray(y, float)
    n_weeks = len(set(np.asarray(week_labels).tolist()))
    if y.size < 3 or n_weeks < 3 or np.ptp(t_days) == 0:
        raise ValueError("A slope needs at least 3 sessions in 3 distinct weeks.")
    t_weeks = t_days / 7.0
    yw, n_out = _winsorise(t_weeks, y, WINSOR_K)
    centre = t_weeks.mean()
    X = np.column_stack([np.ones(y.size), t_weeks - centre])
    best = max(_car1_correlations(t_days), key=lambda c: _reml_profile(X, yw, c[2]))
    res = GLS(yw, X, sigma=best[2]).fit()
    slope, se = float(res.params[1]), float(res.bse[1])
    df = n_weeks - 2
    if not math.isfinite(se):
        se = 0.0
    crit = _tq(df)
    if se > 0:
        p = float(2 * stats.t.sf(abs(slope) / se, df))
    else:
        p = 0.0 if slope != 0 else 1.0
    return {
        "slope": slope, "intercept": float(res.params[0] - slope * centre), "se": se, "df": df,
        "ci": (slope - crit * se, slope + crit * se), "p": p,
        "rho_per_day": float(best[0]), "state_share": float(best[1]), "winsorised": n_out,
    }


def install() -> None:
    """Make ``neurofeedback.trends`` (hence ``compute_trends``, ``subject_trends`` and the CLI)
    fit slopes by the dense path in this process."""
    _trends.trend_slope = trend_slope
