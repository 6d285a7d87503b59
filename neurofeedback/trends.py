"""Statistics of change over weeks: weekly aggregates, trend, baseline change, MDC, and the call.

The input is the long session-metric frame the session store produces, one row per
(session, metric, channel) and, optionally, block::

    subject, session_id, start_time (tz-aware), clean_fraction, metric, channel, value[, block]

and the output is one JSON-serialisable dict per (subject, block, metric, channel). Every number
is a plain ``float`` (or ``int``); a quantity that cannot be estimated honestly from the data is
``None`` with a reason ("not enough data: …") next to it. The methods, the simulation study
that chose them and its figures are in ``docs/statistics.md``; in short:

* sessions whose ``clean_fraction`` is below ``quality_floor`` are excluded and counted;
* powers (µV²) are analysed on log10 and their changes reported in % (a ratio of geometric
  means); relative powers, ratios, IAF, FAA and the aperiodic exponent stay linear;
* weeks are ISO weeks (``YYYY-Www``, Monday to Sunday) of the session start in ``tz``; the
  weekly mean's 95 % CI uses the pooled within-week SD (so a 2-session week gets an honest,
  not a t(1)-sized, band);
* the slope per week is a GLS fit with continuous-time AR(1) plus white-noise errors, the
  correlation parameters chosen by REML profile likelihood (both computed in O(n) from the
  tridiagonal inverse of the AR(1) correlation; the numbers are statsmodels' dense ``GLS``),
  after sessions more than 3 robust SDs off a Theil–Sen line are winsorised; its 95 % CI and p
  use t(n_weeks − 2): the week, not the session, is the unit of replication;
* one *primary* series per analysis (subject × block) is tested at 5 %; all other series form
  one family whose p-values are adjusted by Holm (statsmodels ``multipletests``); ``change``
  (``rose``/``fell``/``no clear change``/``not enough data``) follows the adjusted p;
* the baseline change is Hedges' g (latest weeks − baseline weeks) with the exact noncentral-t
  95 % CI, plus the raw difference with a Welch 95 % CI;
* the minimal detectable change is MDC95 = t₀.₉₇₅(df) · √2 · SEM, SEM the pooled within-week
  SD with df = Σ(n_week − 1), and a χ² 95 % CI.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.linalg import lapack

from ._validate import check_option, check_positive
from .errors import ConfigError
from .metrics import CLEAN_FRACTION_METRIC, metric_unit

__all__ = ["ADJUSTMENTS", "CHANGES", "DEFAULT_PRIMARY", "MAIN_BLOCKS", "REQUIRED_COLUMNS",
           "SESSION_BLOCK", "analysis_scale", "compute_trends", "default_block", "hedges_g",
           "trend_slope", "weekly_aggregates"]

#: Columns :func:`compute_trends` needs (``block`` is optional).
REQUIRED_COLUMNS = (
    "subject", "session_id", "start_time", "clean_fraction", "metric", "channel", "value",
)
#: The block of whole-session rows (and of every row of a frame without a ``block`` column).
SESSION_BLOCK = "session"
#: Blocks that are a protocol's main block, in order of preference (the default of ``block``
#: in :func:`default_block`); else the whole session.
MAIN_BLOCKS = ("meditation", "training", "feedback")
#: The primary series of an analysis: metric and channels in order of preference.
DEFAULT_PRIMARY = ("relative_alpha", ("posterior", "mean"))
#: Values of ``change``.
CHANGES = ("rose", "fell", "no clear change", "not enough data")
#: Family-wise adjustments (statsmodels ``multipletests`` method names).
ADJUSTMENTS = ("holm", "fdr_bh", "bonferroni", "none")

#: Fewest sessions and distinct weeks for a slope.
MIN_SLOPE_SESSIONS = 5
MIN_SLOPE_WEEKS = 3
#: Fewest sessions in each of the baseline and the latest groups for an effect size.
MIN_GROUP_SESSIONS = 2
#: Sessions further than this many robust SDs from a Theil–Sen line are winsorised to it ...
WINSOR_K = 3.0
#: ... when the series has at least this many sessions (a MAD of fewer is itself too noisy).
WINSOR_MIN_SESSIONS = 12
#: REML grid of the error correlation: ρ per day (0 = independent) × the share of the variance
#: that is the slowly varying state (1 − share is white noise).
RHO_PER_DAY = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
STATE_SHARE = (0.25, 0.5, 0.75, 1.0)
_LEVEL = 0.95
_ALPHA = 1 - _LEVEL
_SECONDS_PER_WEEK = 7 * 86400.0
_MAD_TO_SD = 1.0 / stats.norm.ppf(0.75)  # 1.4826
#: Units analysed on log10: powers are log-normal.
_LOG_UNITS = ("uV^2",)


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
    """ISO 8601 week labels (``"2026-W02"``) of timestamps, in their own time zone.

    In NumPy: the week's Thursday decides its ISO year, and the week is that Thursday's day of
    the year // 7 + 1. pandas' ``dt.isocalendar()`` gives the same labels (tested) but builds a
    DataFrame, ~4 ms a call, twice per series and subject in the weekly trends.
    """
    local = ts.dt.tz_localize(None) if ts.dt.tz is not None else ts
    days = local.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    weekday = (days.astype(np.int64) + 3) % 7  # Monday 0; 1970-01-01 was a Thursday
    thursday = days - weekday + 3
    year = thursday.astype("datetime64[Y]")
    week = (thursday - year.astype("datetime64[D]")).astype(np.int64) // 7 + 1
    return pd.Series([f"{y}-W{w:02d}" for y, w in zip(year.astype(np.int64) + 1970, week)],
                     index=ts.index, dtype=object)


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


def analysis_scale(metric: str) -> str:
    """``"log10"`` for powers (µV², log-normal), ``"linear"`` for everything else.

    Relative powers (fractions), ratios, IAF, FAA (already a log difference), the aperiodic
    exponent and offset, and the ``log10_*`` metrics stay linear.
    """
    return "log10" if metric_unit(str(metric)) in _LOG_UNITS else "linear"


def _to_change(x, scale: str):
    """A difference on the analysis scale in the reported unit (log10 → % of the earlier)."""
    if x is None:
        return None
    return _num(100.0 * (10.0 ** x - 1.0)) if scale == "log10" else _num(x)


def _tq(df) -> float:
    return float(stats.t.ppf(0.5 + _LEVEL / 2, df))


def default_block(frame) -> str:
    """The block trends are about by default: the first of :data:`MAIN_BLOCKS` in ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The long metric frame; without a ``block`` column every row is the whole session.

    Returns
    -------
    block : str
        E.g. ``"meditation"``; :data:`SESSION_BLOCK` (``"session"``) when no main block is there.
    """
    if "block" not in getattr(frame, "columns", ()):
        return SESSION_BLOCK
    present = set(frame["block"].astype(str))
    return next((b for b in MAIN_BLOCKS if b in present), SESSION_BLOCK)


# ---------------------------------------------------------------------------------------------
# pooled within-week SD (SEM), weekly aggregates


def _pooled_sd(week_labels: np.ndarray, y: np.ndarray) -> tuple[float | None, int]:
    """Pooled within-week SD and its degrees of freedom Σ(n_week − 1)."""
    if y.size == 0:
        return None, 0
    s = pd.Series(y).groupby(pd.Series(week_labels))
    n = s.size().to_numpy(float)
    var = s.var(ddof=1).fillna(0.0).to_numpy(float)
    dof = int((n - 1).sum())
    if dof == 0:
        return None, 0
    return math.sqrt(float(((n - 1) * var).sum()) / dof), dof


def weekly_aggregates(frame_one_metric: pd.DataFrame, *, tz="UTC", scale="linear") -> pd.DataFrame:
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
    scale : {"linear", "log10"}
        ``"log10"`` (powers): the mean and its CI are computed on log10 values and returned
        back-transformed (a geometric mean with a CI that never reaches 0); values must be > 0.

    Returns
    -------
    weeks : pandas.DataFrame
        One row per ISO week with data, in time order: ``week`` (``YYYY-Www``), ``n``,
        ``mean``, ``sd`` (the week's own SD on the analysis scale, NaN for n = 1),
        ``ci_low``, ``ci_high`` and ``clean_coverage`` (mean ``clean_fraction`` of the week's
        sessions; NaN without that column). The 95 % CI is mean ± t₀.₉₇₅(df) · s_p / √n with
        s_p the pooled within-week SD of all the weeks (df = Σ(n − 1)): sessions of every week
        share the same session-to-session noise, and a week of 2 sessions would otherwise get
        a t(1) interval 6 times wider than its information warrants. NaN when no week has 2
        sessions.
    """
    cols = ["week", "n", "mean", "sd", "ci_low", "ci_high", "clean_coverage"]
    df = frame_one_metric
    if len(df) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "week" else float) for c in cols})
    check_option("scale", scale, ("linear", "log10"))
    local = pd.to_datetime(df["start_time"]).dt.tz_convert(tz)
    y = df["value"].to_numpy(float)
    if scale == "log10":
        y = np.log10(y)
    labels = _iso_week(local).to_numpy()
    work = pd.DataFrame({
        "week": labels, "t": local.to_numpy(), "value": y,
        "clean": (df["clean_fraction"].to_numpy(float) if "clean_fraction" in df
                  else np.full(len(df), np.nan)),
    })
    g = work.groupby("week", sort=False)
    out = pd.DataFrame({
        "first": g["t"].min(), "n": g["value"].size(), "mean": g["value"].mean(),
        "sd": g["value"].std(ddof=1), "clean_coverage": g["clean"].mean(),
    }).sort_values("first")
    sp, dof = _pooled_sd(labels, y)
    n = out["n"].to_numpy(float)
    half = _tq(dof) * sp / np.sqrt(n) if sp is not None else np.full(n.size, np.nan)
    lo, hi, mean = out["mean"] - half, out["mean"] + half, out["mean"]
    if scale == "log10":
        lo, hi, mean = 10.0 ** lo, 10.0 ** hi, 10.0 ** mean
    out["mean"], out["ci_low"], out["ci_high"] = mean, lo, hi
    out = out.reset_index()
    out["n"] = out["n"].astype(int)
    return out[cols]


# ---------------------------------------------------------------------------------------------
# slope


def _winsorise(t_weeks: np.ndarray, y: np.ndarray, k: float) -> tuple[np.ndarray, int]:
    """Pull sessions more than ``k`` robust SDs off a Theil–Sen line back to ``k`` SDs."""
    if y.size < WINSOR_MIN_SESSIONS or np.ptp(t_weeks) == 0:
        return y, 0
    ts = stats.theilslopes(y, t_weeks)
    line = ts.intercept + ts.slope * t_weeks
    r = y - line
    centre = float(np.median(r))
    s = _MAD_TO_SD * float(np.median(np.abs(r - centre)))
    if s == 0.0:
        return y, 0
    clipped = np.clip(r - centre, -k * s, k * s)
    n_out = int(np.sum(np.abs(r - centre) > k * s))
    return line + centre + clipped, n_out


#: The REML grid in the order it is searched (the first of equal maxima wins): independence,
#: then every ρ > 0 of :data:`RHO_PER_DAY` with every share of :data:`STATE_SHARE`.
_GRID = ((0.0, 0.0),) + tuple((rho, w) for rho in RHO_PER_DAY if rho != 0.0 for w in STATE_SHARE)


def _car1_matrix(t_days: np.ndarray, rho: float, share: float) -> np.ndarray:
    """The n × n correlation R = w · C + (1 − w) · I, C_ij = ρ^|t_i − t_j| (t in days).

    Dense: for a handful of sessions (a window comparison) and as the tests' reference. The
    fits use :func:`_car1_gls`, which never forms it.
    """
    t_days = np.asarray(t_days, float)
    if rho > 0:
        r = share * float(rho) ** np.abs(t_days[:, None] - t_days[None, :])
    else:
        r = np.zeros((t_days.size, t_days.size))
    np.fill_diagonal(r, 1.0)
    return r


def _car1_correlations(t_days: np.ndarray):
    """Yield ``(rho_per_day, state_share, R)`` for the REML grid (R dense, n × n)."""
    for rho, w in _GRID:
        yield rho, w, _car1_matrix(t_days, rho, w)


def _reml_batch(xtx, xty, rss_of, logdet_r, n):
    """REML values and GLS estimates of a stack of grid points from their cross products:
    ``xtx`` (g, p, p) = XᵀR⁻¹X, ``xty`` (g, p) = XᵀR⁻¹y, ``rss_of(beta)`` (g,) = rᵀR⁻¹r of the
    residuals, ``logdet_r`` (g,) = log|R|. Returns (value, beta, xtx, s2)."""
    p = xtx.shape[-1]
    beta = np.linalg.solve(xtx, xty[..., None])[..., 0]
    s2 = rss_of(beta) / (n - p)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = -0.5 * ((n - p) * np.log(s2) + logdet_r + np.linalg.slogdet(xtx)[1])
    return np.where(s2 > 0, value, -np.inf), beta, xtx, s2


def _car1_gls(X, y, t_days, *, values: bool = False) -> dict:
    """REML choice of the error correlation on the grid and the GLS fit given it, O(n).

    The model is ``y = Xβ + e``, e ~ N(0, σ²R), R = w · C + (1 − w) · I with
    C_ij = ρ^|t_i − t_j| (a continuous-time AR(1) state, t in days) and (ρ, w) a point of
    :data:`_GRID`. The REML log-likelihood with σ² profiled out is, up to a constant,
    −½ [(n − p) log σ̂² + log|R| + log|XᵀR⁻¹X|] with σ̂² = rᵀR⁻¹r / (n − p); the GLS estimate
    is β = (XᵀR⁻¹X)⁻¹XᵀR⁻¹y with covariance σ̂²(XᵀR⁻¹X)⁻¹ (what statsmodels' ``GLS`` gives).

    Nothing n × n is formed. Sort the sessions; let t'_1 < … < t'_m be the distinct times,
    n_k the sessions at t'_k, φ_k = ρ^(t'_{k+1} − t'_k) and λ_k = 1 − φ_k². C = G C' Gᵀ with
    G the n × m indicator of each session's time, and C'⁻¹ = T is tridiagonal (a Markov
    chain's precision: T_kk = 1 + φ_{k−1}²/λ_{k−1} + φ_k²/λ_k, T_{k,k+1} = −φ_k/λ_k;
    log|C'| = Σ log λ_k). For 0 < w < 1, by Woodbury,

        R⁻¹ = I/(1 − w) − G K⁻¹ Gᵀ/(1 − w)²,   K = T/w + GᵀG/(1 − w)  (m × m, tridiagonal),
        log|R| = n log(1 − w) + m log w + log|C'| + log|K|,

    so every quadratic form in R⁻¹ is one tridiagonal solve (LAPACK ``dpttrs`` via scipy)
    and a few sums. K's LDLᵀ factor is computed by the recursion g_1 = 1/w + n_1/(1 − w),
    δ_k = φ_k² + wλ_k g_k, g_{k+1} = n_{k+1}/(1 − w) + g_k/δ_k (pivots d_k = δ_k/(wλ_k),
    d_m = g_m, multipliers −φ_k/δ_k) rather than from K's entries: those grow like 1/λ_k, and
    with sessions seconds apart LAPACK's ``dpttrf`` would lose digits to cancellation. Every
    term here is positive, and log|R| = n log(1 − w) + log w + Σ log δ_k + log g_m exactly.
    Sessions at the same time share one state, exactly. For w = 1, R = C: singular when two
    sessions share a time (REML −inf, as the dense Cholesky factorisation fails), else
    whitened by the innovations e_1 = x_1, e_k = (x_k − φ_{k−1} x_{k−1})/√λ_{k−1} (C's
    Cholesky factor; log|R| = Σ log λ_k). ρ = 0 is independence (OLS).

    Cost: O(n p²) per grid point, against O(n³) for a dense Cholesky factorisation of R
    (a series of 284 sessions: 4.5 ms of CPU for ``trend_slope`` instead of 178 ms with one BLAS
    thread; ``bench/bench_trends_speed.py``). ``tests/test_trends.py``
    checks the REML values against the dense computation and the fit against statsmodels'
    ``GLS`` with the dense R.

    Parameters
    ----------
    X : array-like, shape (n, p)
        Design, of full column rank.
    y : array-like, shape (n,)
    t_days : array-like, shape (n,)
        Session times in days, in any order.
    values : bool
        Also return the REML value of every grid point.

    Returns
    -------
    fit : dict
        ``rho``, ``share`` (the chosen point: the first maximum in :data:`_GRID`'s order),
        ``reml``, ``beta`` (p,), ``xtx_inv`` = (XᵀR⁻¹X)⁻¹ (p, p), ``s2`` = σ̂² (the covariance
        of β is ``s2 · xtx_inv``) and, with ``values``, ``values`` (one per grid point).

    Raises
    ------
    numpy.linalg.LinAlgError
        X is rank-deficient.
    """
    t = np.asarray(t_days, float)
    order = np.argsort(t, kind="stable")
    t = t[order]
    X = np.asarray(X, float)[order]
    y = np.asarray(y, float)[order]
    n, p = X.shape
    uniq, first, counts = np.unique(t, return_index=True, return_counts=True)
    m = uniq.size
    Y = np.column_stack([X, y])  # every quadratic form at once: [X y]ᵀ R⁻¹ [X y]
    yty = Y.T @ Y
    rhos = np.array([rho for rho in RHO_PER_DAY if rho != 0.0])
    log_phi = np.log(rhos)[:, None] * np.diff(uniq)[None, :]  # (n_rho, m − 1)
    phi = np.exp(log_phi)
    lam = -np.expm1(2.0 * log_phi)  # 1 − φ², without cancellation for short gaps
    g = len(_GRID)
    value, s2 = np.full(g, -np.inf), np.full(g, np.nan)
    beta, xtx = np.full((g, p), np.nan), np.full((g, p, p), np.nan)

    def put(index, batch):
        value[index], beta[index], xtx[index], s2[index] = batch

    put([0], _reml_batch(yty[None, :p, :p], yty[None, :p, p],
                         lambda b: np.sum((y - X @ b[0]) ** 2, keepdims=True), np.zeros(1), n))
    col = {w: np.array([i for i, (rho, s) in enumerate(_GRID) if rho != 0.0 and s == w])
           for w in STATE_SHARE}
    if 1.0 in col and m == n:  # w = 1, distinct times: whitened by the innovations
        ys = np.empty((rhos.size, n, p + 1))
        ys[:, 0] = Y[0]
        ys[:, 1:] = (Y[None, 1:] - phi[..., None] * Y[None, :-1]) / np.sqrt(lam)[..., None]
        put(col[1.0], _reml_batch(
            ys[..., :p].transpose(0, 2, 1) @ ys[..., :p],
            np.einsum("gnp,gn->gp", ys[..., :p], ys[..., p]),
            lambda b: np.sum((ys[..., p] - np.einsum("gnp,gp->gn", ys[..., :p], b)) ** 2, 1),
            np.log(lam).sum(1), n))
    shares = [w for w in STATE_SHARE if 0.0 < w < 1.0]
    if shares:  # 0 < w < 1: Woodbury with the tridiagonal K, every (ρ, w) at once
        index = np.column_stack([col[w] for w in shares]).ravel()  # ρ-major, as _GRID
        w = np.tile(shares, rhos.size)
        phi_g = np.repeat(phi, len(shares), 0).T  # (m − 1, grid points)
        wl = w * np.repeat(lam, len(shares), 0).T
        p2 = phi_g * phi_g
        nw = counts[:, None] / (1.0 - w)
        delta = np.empty((m - 1, w.size))
        gk = 1.0 / w + nw[0]
        for k in range(m - 1):  # the pivots: O(m), vectorised over the grid
            delta[k] = p2[k] + wl[k] * gk
            gk = nw[k + 1] + gk / delta[k]
        d = np.vstack([delta / wl, gk])
        e = -phi_g / delta
        S = np.add.reduceat(Y, first, axis=0)  # GᵀY, (m, p + 1)
        Z = np.stack([_dpttrs(d[:, j], e[:, j], S) for j in range(w.size)])  # K⁻¹GᵀY
        a = (1.0 / (1.0 - w))[:, None, None]
        q = a * yty - a * a * (S.T @ Z)  # [X y]ᵀ R⁻¹ [X y], (grid points, p + 1, p + 1)

        def rss(b):
            r = y - b @ X.T
            u = S[:, p] - b @ S[:, :p].T  # Gᵀr
            kr = Z[..., p] - np.einsum("gmp,gp->gm", Z[..., :p], b)  # K⁻¹Gᵀr
            return a[:, 0, 0] * np.sum(r * r, 1) - a[:, 0, 0] ** 2 * np.sum(u * kr, 1)

        put(index, _reml_batch(q[:, :p, :p], q[:, :p, p], rss,
                               n * np.log1p(-w) + np.log(w) + np.log(delta).sum(0) + np.log(gk),
                               n))
    best = 0
    for i in range(1, g):  # the first maximum, as max() over the grid
        if value[i] > value[best]:
            best = i
    out = {"rho": _GRID[best][0], "share": _GRID[best][1], "reml": float(value[best]),
           "beta": beta[best], "xtx_inv": np.linalg.inv(xtx[best]), "s2": float(s2[best])}
    if values:
        out["values"] = value
    return out


def _dpttrs(d, e, b):
    """Solve with the LDLᵀ factor (``d`` pivots, ``e`` L's subdiagonal) of a tridiagonal SPD
    matrix: LAPACK ``dpttrs``."""
    x, info = lapack.dpttrs(d, e, b)
    if info != 0:  # pragma: no cover - only a malformed call
        raise np.linalg.LinAlgError(f"dpttrs failed (info {info})")
    return x


def trend_slope(t_days, y, week_labels) -> dict:
    """Slope per week with a 95 % CI that holds when sessions are correlated.

    The model is ``y = a + b · weeks + e`` with e ~ N(0, σ² R), R_ij = w · ρ^|t_i − t_j| (days)
    for i ≠ j: a continuous-time AR(1) "state" that carries over from day to day (sleep,
    stress, headset fit) plus white session noise. (ρ, w) maximise the REML profile likelihood
    on the grid :data:`RHO_PER_DAY` × :data:`STATE_SHARE` (plus independence); given them, the
    estimate is GLS, β = (XᵀR⁻¹X)⁻¹XᵀR⁻¹y, with standard error from σ̂²(XᵀR⁻¹X)⁻¹. Both the
    likelihood and the fit are computed in O(n) per grid point (:func:`_car1_gls`): R's
    correlated part has a tridiagonal inverse (that of a Markov chain), so every quadratic
    form and log-determinant comes from tridiagonal factorisations instead of a dense n × n
    Cholesky factorisation, O(n³) — 300 sessions cost milliseconds instead of seconds per
    series. The numbers are those of statsmodels' ``GLS`` with the dense R (the tests check
    equality to 1e-8). The interval and p use
    t(n_weeks − 2): the week, not the session, is the unit of replication, which keeps the
    interval calibrated when whole weeks shift together and pays for the estimated
    correlation. Before the fit, sessions more than :data:`WINSOR_K` robust SDs (MAD) off a
    Theil–Sen line are winsorised to it (with at least :data:`WINSOR_MIN_SESSIONS` sessions),
    so one bad session cannot carry the slope. The choice among a week random-intercept
    ``MixedLM``, regression on weekly summaries, Huber ``RLM`` and this model was made by
    simulation (``bench/bench_trend_calibration.py``; ``docs/statistics.md``).

    Parameters
    ----------
    t_days : array-like, shape (n,)
        Session times in days since the first session (sorted or not).
    y : array-like, shape (n,)
        Values on the analysis scale.
    week_labels : array-like, shape (n,)
        The ISO week of each session (``"2026-W03"``); their number sets the df.

    Returns
    -------
    fit : dict
        ``slope`` (per week), ``intercept`` (at t = 0), ``se``, ``df`` (n_weeks − 2), ``ci``
        (slope ± t₀.₉₇₅(df) · se), ``p`` (two-sided), ``rho_per_day``, ``state_share`` and
        ``winsorised`` (sessions pulled in).

    Raises
    ------
    ValueError
        Fewer than 3 sessions, 3 distinct weeks or 2 distinct times.
    """
    t_days = np.asarray(t_days, float)
    y = np.asarray(y, float)
    n_weeks = len(set(np.asarray(week_labels).tolist()))
    if y.size < 3 or n_weeks < 3 or np.ptp(t_days) == 0:
        raise ValueError("A slope needs at least 3 sessions in 3 distinct weeks.")
    t_weeks = t_days / 7.0
    yw, n_out = _winsorise(t_weeks, y, WINSOR_K)
    centre = t_weeks.mean()
    X = np.column_stack([np.ones(y.size), t_weeks - centre])
    fit = _car1_gls(X, yw, t_days)
    slope = float(fit["beta"][1])
    var = fit["s2"] * float(fit["xtx_inv"][1, 1])
    se = math.sqrt(var) if var >= 0 else math.nan
    df = n_weeks - 2
    if not math.isfinite(se):
        se = 0.0
    crit = _tq(df)
    if se > 0:
        p = float(2 * stats.t.sf(abs(slope) / se, df))
    else:
        p = 0.0 if slope != 0 else 1.0
    return {
        "slope": slope, "intercept": float(fit["beta"][0] - slope * centre), "se": se, "df": df,
        "ci": (slope - crit * se, slope + crit * se), "p": p,
        "rho_per_day": float(fit["rho"]), "state_share": float(fit["share"]), "winsorised": n_out,
    }


def _slope_block(t_days: np.ndarray, y: np.ndarray, labels: np.ndarray, n_weeks: int,
                 scale: str) -> dict:
    n = y.size
    empty = {"slope_per_week": None, "slope_ci": [None, None], "slope_se": None,
             "slope_intercept": None, "slope_p": None, "slope_df": None,
             "slope_winsorised": None, "slope_model": None, "slope_analysis_per_week": None}
    if n < MIN_SLOPE_SESSIONS or n_weeks < MIN_SLOPE_WEEKS:
        reason = _not_enough(
            "a slope",
            f"{_plural(n, 'session')} in {_plural(n_weeks, 'week')}",
            f">= {MIN_SLOPE_SESSIONS} sessions over >= {MIN_SLOPE_WEEKS} weeks",
        )
        return dict(empty, slope_reason=reason)
    fit = trend_slope(t_days, y, labels)
    return {
        "slope_per_week": _to_change(fit["slope"], scale),
        "slope_ci": [_to_change(fit["ci"][0], scale), _to_change(fit["ci"][1], scale)],
        "slope_analysis_per_week": _num(fit["slope"]),  # on the analysis scale
        "slope_se": _num(fit["se"]),  # on the analysis scale
        "slope_intercept": _num(fit["intercept"]),  # analysis scale, at the first session
        "slope_p": _num(fit["p"]),
        "slope_df": int(fit["df"]),
        "slope_winsorised": int(fit["winsorised"]),
        "slope_model": {"rho_per_day": fit["rho_per_day"], "state_share": fit["state_share"]},
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


def _baseline_block(week_labels, weeks_in_order, y, n_base: int, n_latest: int, scale: str,
                    sem: float | None, sem_df: int) -> dict:
    out = {
        "method": "hedges_g", "ci_method": None,
        "baseline_weeks": [], "latest_weeks": [], "n_baseline": 0, "n_latest": 0,
        "baseline_mean": None, "latest_mean": None, "difference": None,
        "difference_ci": [None, None], "effect_size": None, "ci": [None, None],
        "pooled_sd": None, "mdc_difference": None, "beyond_mdc": None, "reason": None,
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
    back = (lambda v: 10.0 ** v) if scale == "log10" else (lambda v: v)
    diff = float(b.mean() - a.mean())
    out.update(baseline_weeks=base_w, latest_weeks=late_w, n_baseline=int(a.size),
               n_latest=int(b.size), baseline_mean=_num(back(a.mean())),
               latest_mean=_num(back(b.mean())), difference=_to_change(diff, scale))
    if sem is not None:
        # the MDC of a difference of two means of n_baseline and n_latest sessions
        m = _tq(sem_df) * sem * math.sqrt(1.0 / a.size + 1.0 / b.size)
        out["mdc_difference"] = _to_change(m, scale)
        out["beyond_mdc"] = bool(abs(diff) > m)
    if a.size < MIN_GROUP_SESSIONS or b.size < MIN_GROUP_SESSIONS:
        out["reason"] = _not_enough(
            "an effect size", f"{a.size} baseline and {b.size} latest sessions",
            f">= {MIN_GROUP_SESSIONS} sessions in each",
        )
        return out
    g = hedges_g(a, b)
    out.update(
        difference_ci=[_to_change(v, scale) for v in g["difference_ci"]],
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


def _mdc_block(sem: float | None, dof: int, scale: str) -> dict:
    if sem is None:
        return {"mdc": None, "mdc_ci": [None, None], "sem": None, "sem_df": 0,
                "mdc_reason": _not_enough(
                    "the MDC", "no week with 2 or more sessions",
                    "session-to-session variability within a week (>= 2 sessions in a week)")}
    k = _tq(dof) * math.sqrt(2.0)
    # σ̂²·df/σ² ~ χ²(df): a 95 % CI for the SEM, hence for the MDC
    lo = sem * math.sqrt(dof / stats.chi2.ppf(0.5 + _LEVEL / 2, dof))
    hi = sem * math.sqrt(dof / stats.chi2.ppf(0.5 - _LEVEL / 2, dof))
    return {"mdc": _to_change(k * sem, scale),
            "mdc_ci": [_to_change(k * lo, scale), _to_change(k * hi, scale)],
            "sem": _num(sem), "sem_df": int(dof), "mdc_reason": None}


# ---------------------------------------------------------------------------------------------
# the whole analysis


_METHOD = {
    "weeks": "ISO weeks (Monday-Sunday) of the session start; mean with a 95% CI from the "
             "pooled within-week SD (t with sum(n_week - 1) df)",
    "slope": "GLS with continuous-time AR(1) + white-noise errors, correlation by "
             "REML profile; sessions > 3 robust SD off a Theil-Sen line winsorised (n >= 12); "
             "t(n_weeks - 2) 95% CI and p",
    "multiplicity": "the primary series tested at 5%; the other series of the subject and "
                    "block form one family, p adjusted by {adjustment}; 'change' follows the "
                    "adjusted p",
    "baseline_change": "Hedges' g (latest - baseline) with the noncentral-t 95% CI; "
                       "raw difference with a Welch 95% CI",
    "mdc": "MDC95 = t(0.975, df) * sqrt(2) * SEM, SEM = pooled within-week session SD "
           "(df = sum(n_week - 1)); 95% CI from chi-square",
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
    df["block"] = (frame["block"].fillna(SESSION_BLOCK).astype(str) if "block" in frame.columns
                   else SESSION_BLOCK)
    df["start_time"] = st
    df["value"] = pd.to_numeric(df["value"], errors="coerce").astype(float)
    df["clean_fraction"] = pd.to_numeric(df["clean_fraction"], errors="coerce").astype(float)
    dup = df.duplicated(["subject", "session_id", "block", "metric", "channel"])
    if dup.any():
        row = df[dup].iloc[0]
        raise ValueError(
            "Invalid value for the 'frame' parameter. It must hold one row per (subject, "
            f"session_id, block, metric, channel), but ({row['subject']!r}, "
            f"{row['session_id']!r}, {row['block']!r}, {row['metric']!r}, {row['channel']!r}) "
            "appears more than once."
        )
    return df


def _analyse(df: pd.DataFrame, *, subject, block, metric, channel, quality_floor, tz,
             baseline_weeks, latest_weeks) -> dict:
    scale = analysis_scale(metric)
    values = df["value"].to_numpy()
    usable = np.isfinite(values) & ((values > 0) if scale == "log10" else True)
    n_unusable = int(np.sum(np.isfinite(values) & ~usable))
    df = df[usable]
    low = ~(df["clean_fraction"].to_numpy() >= quality_floor)  # NaN coverage counts as low
    excluded = df[low].sort_values("start_time")
    kept = df[~low].sort_values("start_time", kind="stable")
    weeks = weekly_aggregates(kept, tz=tz, scale=scale)
    y = kept["value"].to_numpy(float)
    if scale == "log10":
        y = np.log10(y)
    n = int(y.size)
    n_weeks = int(len(weeks))
    unit = metric_unit(str(metric))
    result = {
        "subject": str(subject), "block": str(block), "metric": str(metric),
        "channel": str(channel), "unit": unit, "scale": scale,
        "change_unit": "%" if scale == "log10" else unit,
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
        t_days = (kept["start_time"] - t0).dt.total_seconds().to_numpy() / 86400.0
        labels = _iso_week(kept["start_time"].dt.tz_convert(tz)).to_numpy()
    else:
        t_days = np.empty(0)
        labels = np.empty(0, dtype=object)
    sem, sem_df = _pooled_sd(labels, y)
    result.update(_slope_block(t_days, y, labels, n_weeks, scale))
    result["baseline_change"] = _baseline_block(
        labels, list(weeks["week"]), y, baseline_weeks, latest_weeks, scale, sem, sem_df)
    result.update(_mdc_block(sem, sem_df, scale))
    reasons = [r for r in (result["slope_reason"], result["baseline_change"]["reason"],
                           result["mdc_reason"]) if r]
    if n_unusable:
        reasons.insert(0, f"{_plural(n_unusable, 'session')} with a power <= 0 left out "
                          "(a power is analysed on log10)")
    if n == 0:
        reasons.insert(0, f"not enough data: no session at or above the quality floor "
                          f"{quality_floor:g} ({_plural(len(excluded), 'session')} excluded)")
    result["status"] = "ok" if not reasons else ("not enough data" if n == 0 else "partial")
    result["reasons"] = reasons
    return result


def _resolve_primary(primary) -> tuple[str, tuple[str, ...]] | None:
    if primary is None:
        return None
    if isinstance(primary, str):
        metric, _, channel = primary.partition(":")
        return metric, ((channel,) if channel else DEFAULT_PRIMARY[1])
    try:
        metric, channels = primary
    except (TypeError, ValueError):
        raise ConfigError(
            "Invalid value for the 'primary' parameter. It must be 'metric', 'metric:channel', "
            f"a (metric, channel(s)) pair or None, but got {primary!r} instead."
        ) from None
    return str(metric), tuple(_as_list("primary", channels))


def _adjust(results: list[dict], primary, adjustment: str) -> None:
    """Mark the primary series, adjust the others' p as one family, set ``change``."""
    chosen = None
    if primary is not None:
        metric, channels = primary
        have = {r["channel"]: r for r in results if r["metric"] == metric}
        chosen = next((have[c] for c in channels if c in have), None)
    family = [r for r in results if r is not chosen and r["slope_p"] is not None]
    p_adj: dict[int, float] = {}
    if family and adjustment != "none":
        from ._multitest import adjust_pvalues

        adj = adjust_pvalues([r["slope_p"] for r in family], alpha=_ALPHA, method=adjustment)
        p_adj = {id(r): float(p) for r, p in zip(family, adj, strict=True)}
    for r in results:
        is_primary = r is chosen
        r["family"] = "primary" if is_primary else "secondary"
        r["family_size"] = 1 if is_primary else len(family)
        r["adjustment"] = "none (primary)" if is_primary else adjustment
        if r["slope_p"] is None:
            r["slope_p_adjusted"] = None
            r["change"] = "not enough data"
            continue
        p = r["slope_p"] if is_primary or adjustment == "none" else p_adj[id(r)]
        r["slope_p_adjusted"] = _num(p)
        if p < _ALPHA and r["slope_per_week"] != 0:
            r["change"] = "rose" if r["slope_per_week"] > 0 else "fell"
        else:
            r["change"] = "no clear change"


def compute_trends(frame, *, subject=None, metrics=None, channels=None, block=None,
                   quality_floor=0.5, baseline_weeks=1, latest_weeks=1, tz="UTC",
                   primary=DEFAULT_PRIMARY, adjustment="holm") -> list[dict]:
    """Weekly aggregates, trend, baseline change, MDC and a calibrated call of change.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long form, one row per (session, metric, channel): ``subject, session_id,
        start_time`` (tz-aware), ``clean_fraction`` (0–1), ``metric, channel, value``, and
        optionally ``block`` (absent or missing: the whole session, ``"session"``).
    subject : str | sequence of str | None
        Subjects to analyse (default all, each separately).
    metrics : str | sequence of str | None
        Metric names as in :mod:`neurofeedback.metrics` (default all in the frame but
        ``clean_fraction``, a quality measure).
    channels : str | sequence of str | None
        Channels (``"mean"``, ``"posterior"``, ``"O1"``, ``"F4/F3"``, …; default all).
    block : str | sequence of str | None
        Blocks (``"session"``, ``"meditation"``, …; default all, each a separate analysis).
        :func:`default_block` gives the one a report is about.
    quality_floor : float
        Sessions with ``clean_fraction`` below this (0–1) are excluded and counted.
    baseline_weeks, latest_weeks : int
        How many of the first / last ISO weeks with data form the baseline and the latest
        groups of the baseline change (they must not overlap).
    tz : str
        Time zone of the calendar weeks (default UTC).
    primary : (str, str | sequence of str) | str | None
        The primary series of each analysis (subject × block), tested at 5 % without
        adjustment: a metric and its channels in order of preference (the first present is
        used), or ``"metric:channel"``. Default: relative alpha, posterior channels, else the
        channel mean. ``None``: every series is in the family.
    adjustment : {"holm", "fdr_bh", "bonferroni", "none"}
        How the other series' p-values are adjusted, as one family per analysis
        (statsmodels ``multipletests``; Holm controls the family-wise error rate, Benjamini–
        Hochberg the false discovery rate).

    Returns
    -------
    trends : list of dict
        One JSON-serialisable dict per (subject, block, metric, channel), sorted by them:
        ``subject, block, metric, channel, unit, scale`` (``"log10"`` for powers, else
        ``"linear"``), ``change_unit`` (``"%"`` for powers, else ``unit``), ``n_sessions,
        n_weeks, excluded_sessions`` (count), ``excluded_session_ids, quality_floor,
        first_session, last_session``; ``weeks``: ``[{week, mean, ci_low, ci_high, n, sd,
        clean_coverage}]`` (geometric means for powers); ``slope_per_week`` and ``slope_ci``
        (in ``change_unit`` per week), ``slope_analysis_per_week``, ``slope_se`` and
        ``slope_intercept`` (on the analysis scale), ``slope_p``, ``slope_p_adjusted``,
        ``slope_df``, ``slope_winsorised``, ``slope_model``, ``slope_reason``; ``family``
        (``"primary"`` or ``"secondary"``), ``family_size``, ``adjustment``, ``change`` (one of
        :data:`CHANGES`); ``baseline_change: {method, baseline_weeks, latest_weeks, n_baseline,
        n_latest, baseline_mean, latest_mean, difference, difference_ci, effect_size, ci,
        pooled_sd, mdc_difference, beyond_mdc, reason}`` (difference in ``change_unit``);
        ``mdc``, ``mdc_ci`` (``change_unit``), ``sem`` (analysis scale), ``sem_df``,
        ``mdc_reason``; ``status`` (``"ok"``, ``"partial"`` or ``"not enough data"``),
        ``reasons`` and ``method``. Missing estimates are ``None`` with their reason.

    Raises
    ------
    TypeError, ValueError
        ``frame`` is not a frame of the documented columns.
    neurofeedback.errors.ConfigError
        An option is out of range or names a subject, metric, channel or block not in the
        frame.
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
    check_option("adjustment", adjustment, ADJUSTMENTS, exc=ConfigError)
    primary = _resolve_primary(primary)
    try:
        pd.Timestamp("2026-01-01", tz=tz)
    except (LookupError, ValueError, TypeError):  # ZoneInfoNotFoundError is a KeyError
        raise ConfigError(
            f"Invalid value for the 'tz' parameter. It must be a time zone name such as "
            f"'UTC' or 'Europe/Berlin', but got {tz!r} instead."
        ) from None
    if _as_list("metrics", metrics) is None:
        # A channel's clean fraction is how much data its values rest on (the quality floor
        # reads it), not an outcome: by default it is neither analysed nor in the Holm family.
        df = df[df["metric"] != CLEAN_FRACTION_METRIC]
    for name, value, column in (("subject", subject, "subject"), ("metrics", metrics, "metric"),
                                ("channels", channels, "channel"), ("block", block, "block")):
        wanted = _as_list(name, value)
        if wanted is None:
            continue
        present = sorted(df[column].astype(str).unique())
        for w in wanted:
            check_option(name, w, present, exc=ConfigError)
        df = df[df[column].isin(wanted)]
    method = dict(_METHOD, multiplicity=_METHOD["multiplicity"].format(adjustment=adjustment),
                  time_axis="weeks since the first included session", tz=str(tz), level=_LEVEL,
                  primary=None if primary is None else f"{primary[0]} ({', '.join(primary[1])})")
    out = []
    for (subj, blk), analysis in df.groupby(["subject", "block"], sort=True):
        results = [
            _analyse(group, subject=subj, block=blk, metric=metric, channel=channel,
                     quality_floor=q, tz=tz, baseline_weeks=baseline_weeks,
                     latest_weeks=latest_weeks)
            for (metric, channel), group in analysis.groupby(["metric", "channel"], sort=True)
        ]
        _adjust(results, primary, adjustment)
        for r in results:
            r["method"] = dict(method)
        out.extend(results)
    return out
