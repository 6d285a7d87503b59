"""A fast REML fit of the cohort model, for the simulation study only (not the product).

The product fits ``y = Xβ + Z b + e`` (random intercept and slope per subject, b ~ N(0, σ²D),
e ~ N(0, σ²I)) with statsmodels ``MixedLM``; on a shared 2-core machine that costs 0.2–0.8 s a
fit, too slow for ten thousand simulated studies. This module maximises the same REML
likelihood with σ² profiled out, D = LLᵀ (L lower-triangular, 3 free numbers), using per-subject
sufficient statistics and the Woodbury identity (V_i⁻¹ = I − A_i(I + A_iᵀA_i)⁻¹A_iᵀ, A_i = Z_iL;
log|V_i| = log|I + A_iᵀA_i|), so one likelihood evaluation is a few 2 × 2 and p × p products
per subject. Fixed-effect covariance: σ̂²(Σ X_iᵀV_i⁻¹X_i)⁻¹.

``bench_cohort_calibration.py`` shows on the same simulated datasets that its estimates and
standard errors equal ``neurofeedback.cohort.fit_cohort``'s (statsmodels) to the tolerance it
prints, and that the two agree on every CI-excludes-0 decision of the checked datasets.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize


def sufficient(weeks, groups, order):
    """Per-subject cross products of the cohort design (as ``fit_cohort`` builds it)."""
    w = weeks[weeks["subject"].map(lambda s: groups.get(s) in order)]
    counts = w.groupby("subject")["t_weeks"].nunique()
    keep = counts[counts >= 2].index
    w = w[w["subject"].isin(keep)].sort_values(["subject", "t_weeks"])
    t = w["t_weeks"].to_numpy(float)
    tc = t - t.mean()
    member = np.column_stack([(w["subject"].map(groups) == g).to_numpy(float) for g in order])
    X = np.column_stack([c for j in range(len(order)) for c in (member[:, j], member[:, j] * tc)])
    Z = np.column_stack([np.ones_like(tc), tc])
    y = w["y"].to_numpy(float)
    subj = w["subject"].to_numpy()
    codes = np.unique(subj, return_inverse=True)[1]
    m = codes.max() + 1
    p = X.shape[1]
    XtX = np.zeros((m, p, p))
    XtZ = np.zeros((m, p, 2))
    ZtZ = np.zeros((m, 2, 2))
    Xty = np.zeros((m, p))
    Zty = np.zeros((m, 2))
    yty = np.zeros(m)
    np.add.at(XtX, codes, X[:, :, None] * X[:, None, :])
    np.add.at(XtZ, codes, X[:, :, None] * Z[:, None, :])
    np.add.at(ZtZ, codes, Z[:, :, None] * Z[:, None, :])
    np.add.at(Xty, codes, X * y[:, None])
    np.add.at(Zty, codes, Z * y[:, None])
    np.add.at(yty, codes, y * y)
    return dict(XtX=XtX, XtZ=XtZ, ZtZ=ZtZ, Xty=Xty, Zty=Zty, yty=yty, n=y.size, p=p, m=m,
                n_by_group={g: int(sum(groups[s] == g for s in keep)) for g in order})


def sufficient_arrays(subjects, order):
    """The same statistics from ``[(group, t_weeks, y), ...]`` (one entry per subject with its
    week means), without pandas: subjects with < 2 weeks are left out, as in ``fit_cohort``."""
    subjects = [(g, t, y) for g, t, y in subjects if g in order and np.unique(t).size >= 2]
    t_all = np.concatenate([t for _, t, _ in subjects])
    centre = t_all.mean()
    p = 2 * len(order)
    m = len(subjects)
    XtX, XtZ, ZtZ = np.zeros((m, p, p)), np.zeros((m, p, 2)), np.zeros((m, 2, 2))
    Xty, Zty, yty = np.zeros((m, p)), np.zeros((m, 2)), np.zeros(m)
    n = 0
    for i, (g, t, y) in enumerate(subjects):
        tc = t - centre
        Z = np.column_stack([np.ones_like(tc), tc])
        X = np.zeros((t.size, p))
        j = order.index(g)
        X[:, 2 * j: 2 * j + 2] = Z
        XtX[i], XtZ[i], ZtZ[i] = X.T @ X, X.T @ Z, Z.T @ Z
        Xty[i], Zty[i], yty[i] = X.T @ y, Z.T @ y, y @ y
        n += t.size
    return dict(XtX=XtX, XtZ=XtZ, ZtZ=ZtZ, Xty=Xty, Zty=Zty, yty=yty, n=n, p=p, m=m,
                n_by_group={g: sum(x[0] == g for x in subjects) for g in order})


def _parts(theta, s):
    L = np.array([[theta[0], 0.0], [theta[1], theta[2]]])
    ZtZL = s["ZtZ"] @ L
    M = np.eye(2) + L.T @ ZtZL  # (m, 2, 2)
    Minv = np.linalg.inv(M)
    XA = s["XtZ"] @ L  # (m, p, 2)
    Ay = s["Zty"] @ L  # (m, 2)
    S = (s["XtX"] - XA @ Minv @ np.swapaxes(XA, 1, 2)).sum(0)
    b = (s["Xty"] - np.einsum("mpk,mkl,ml->mp", XA, Minv, Ay)).sum(0)
    yvy = (s["yty"] - np.einsum("mk,mkl,ml->m", Ay, Minv, Ay)).sum()
    logdet = np.linalg.slogdet(M)[1].sum()
    return S, b, yvy, logdet


def neg_reml(theta, s):
    S, b, yvy, logdet = _parts(theta, s)
    sign, logdet_s = np.linalg.slogdet(S)
    beta = np.linalg.solve(S, b)
    rss = yvy - b @ beta
    dof = s["n"] - s["p"]
    if rss <= 0 or sign <= 0:
        return 1e300
    return 0.5 * (dof * math.log(rss / dof) + logdet + logdet_s)


def fit(s, start=None):
    """REML fit; returns ``(beta, cov_beta, theta)``."""
    # the warm start, and a fixed one too when the warm one ends at the boundary (slope SD ~ 0),
    # where a single start sometimes stopped at a local optimum
    best = optimize.minimize(neg_reml, np.array([1.0, 0.0, 0.3]) if start is None else start,
                             args=(s,), method="L-BFGS-B")
    if start is not None and (not best.success or abs(best.x[2]) < 0.05):
        r = optimize.minimize(neg_reml, np.array([1.0, 0.0, 0.3]), args=(s,), method="L-BFGS-B")
        if r.fun < best.fun:
            best = r
    S, b, yvy, _ = _parts(best.x, s)
    beta = np.linalg.solve(S, b)
    sigma2 = (yvy - b @ beta) / (s["n"] - s["p"])
    return beta, sigma2 * np.linalg.inv(S), best.x
