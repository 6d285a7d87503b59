"""The neurofeedback loop as a pure step: ``state, output = step(state, window)``.

No clock, no thread, no device: the runner feeds the last ``protocol.window_s`` seconds of every
EEG channel of the board ``protocol.update_hz`` times a second and shows ``output``.

Per window (µV, rows = the board's EEG channels):

1. **Used channels** (:meth:`Protocol.resolve_channels`, kept in ``state.used_channels``) are
   linearly detrended (least-squares line removed, as ``scipy.signal.detrend(type="linear")``).
2. **Artifact check**: a used channel whose detrended peak-to-peak exceeds
   ``protocol.artifact_ptp_uv``, whose standard deviation is below :data:`FLAT_STD_UV` (flat), or
   that holds a non-finite sample makes the window an artifact: metric NaN, no reward, counted,
   and neither the baseline nor the threshold sees it.
3. **PSD**: Welch (:func:`neurofeedback.spectral.welch_epochs`, identical to
   ``scipy.signal.welch``) with **1-s Hann segments, 50 % overlap** (3 segments in a 2-s
   window): 1 Hz resolution puts every integer band edge on a bin, and averaging three
   segments halves the variance of a single 2-s periodogram — a steadier metric means the
   reward follows the brain rather than the estimator's noise. The used channels are passed as
   consecutive epochs of one concatenated signal, so a single vectorised call serves them all
   (0.6 ms for 16 channels instead of 4 ms channel by channel); segments never straddle two
   channels.
4. **Band powers** by the project's integration (:func:`neurofeedback.spectral.band_weights`,
   the trapezoid rule over ``[lo, hi]``; weights computed once in :func:`init_state`), µV².
5. **Metric**, averaged over the used channels:

   * ``relative_power``: mean over channels of band / broadband (1–45 Hz) — the standard
     per-channel fraction, each channel weighted equally whatever its amplitude;
   * ``absolute_power``: mean over channels of the band power, µV²;
   * ``band_ratio``: mean numerator power / mean denominator power (a ratio of channel means,
     so one channel with a near-empty denominator cannot dominate);
   * ``faa``: ln(α right) − ln(α left) on the (left, right) pair.

6. **Baseline** (the first ``baseline_s`` seconds of updates, ``phase="baseline"``): no reward;
   clean windows' metric values (and each inhibit band's power) are collected. At its end the
   threshold is the baseline quantile that would give ``target_reward_rate`` (``up``: the
   1 − target quantile, ``down``: the target quantile) and the spread ``scale`` = IQR / 1.349 (a
   robust standard deviation). With fewer than :data:`MIN_BASELINE_WINDOWS` clean windows the
   baseline is extended (``reason`` says so) until it has them.
7. **Training**: reward when the metric is beyond the threshold in the protocol's direction and
   no inhibit is raised (an inhibit band's power > factor × its baseline median). On clean,
   non-inhibited windows the threshold follows a stochastic-approximation quantile tracker,
   ``threshold += s · adapt_rate · scale · (reward − target)`` (``s`` = +1 for up, −1 for down),
   whose fixed point is P(reward) = target on a stationary stream. Artifact and inhibited
   windows give no reward, are counted and do not move the threshold.

``output.level`` (0–1, for a gauge or a tone) is ``1 / (1 + exp(-s (metric − threshold) /
scale))``: 0.5 at the threshold, 0.73 one robust SD on the rewarded side, towards 1 the further
into reward (during the baseline it is centred on the running baseline median instead; 0 for an
artifact window). ``output.reward_rate`` is the fraction of rewarded windows among the last
:data:`REWARD_RATE_WINDOW_S` seconds of training windows (artifact and inhibited ones count as
not rewarded: it is what the person experiences); NaN during the baseline.

The state is immutable: :func:`step` returns a new one (tuples and a chunked log, copied in
O(1)–O(300) per update) and never writes into its inputs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from .._validate import check_positive
from ..errors import ConfigError
from ..spectral import band_weights, welch_epochs
from .protocol import Protocol, load_protocol

__all__ = [
    "FLAT_STD_UV",
    "MIN_BASELINE_WINDOWS",
    "REWARD_RATE_WINDOW_S",
    "SEGMENT_S",
    "FeedbackOutput",
    "FeedbackState",
    "init_state",
    "step",
    "summarize",
]

#: Welch segment length (s) and overlap within each window.
SEGMENT_S = 1.0
SEGMENT_OVERLAP = 0.5
#: A used channel whose detrended standard deviation is below this (µV) is flat: artifact.
FLAT_STD_UV = 0.5
#: The baseline is extended until it holds at least this many clean windows (5 s at 4 Hz).
MIN_BASELINE_WINDOWS = 20
#: Seconds of training windows behind ``FeedbackOutput.reward_rate``.
REWARD_RATE_WINDOW_S = 30.0
_IQR_TO_SD = 1.349  # IQR of a normal distribution in standard deviations
_LOG_CHUNK = 256


@dataclass(frozen=True)
class FeedbackOutput:
    """What one update tells the person (and the log).

    Attributes
    ----------
    t : float
        Seconds since the start (given to :func:`step`, or ``n_updates / update_hz``).
    phase : str
        ``"baseline"`` or ``"training"``.
    metric : float
        The protocol's value for this window (NaN for an artifact window).
    threshold : float
        The reward threshold used for this window (NaN during the baseline).
    reward : bool
    artifact : bool
        Artifact window (no reward).
    inhibited : bool
        An inhibit band was raised (no reward).
    reason : str
        ``""``, ``"baseline"``, ``"baseline: …"``, ``"artifact: …"`` or ``"inhibit: <label>"``.
    level : float
        0–1 for a gauge or tone, 0.5 at the threshold, higher = further on the rewarded side.
    reward_rate : float
        Fraction rewarded over the last ~30 s of training windows (NaN during the baseline).
    """

    t: float
    phase: str
    metric: float
    threshold: float
    reward: bool
    artifact: bool
    inhibited: bool
    reason: str
    level: float
    reward_rate: float


@dataclass(frozen=True, eq=False)
class _Kernel:
    """Precomputed, read-only arrays of a state (shared by every state of a session)."""

    weights: np.ndarray          # (n_freqs, n_cols): protocol bands, [broadband], inhibit bands
    fmax: float
    n_window: int
    trend: np.ndarray            # centred time ramp over n_window samples, scaled: x @ trend = slope
    ramp: np.ndarray             # centred time ramp (n_window,)
    col_broadband: int           # column of the broadband power (-1 when not needed)
    col_inhibits: tuple[int, ...]


@dataclass(frozen=True)
class _Log:
    """Append-only persistent list of floats: O(chunk) copies per append."""

    chunks: tuple[tuple[float, ...], ...] = ()
    tail: tuple[float, ...] = ()

    def append(self, x: float) -> _Log:
        if len(self.tail) >= _LOG_CHUNK:
            return _Log(self.chunks + (self.tail,), (x,))
        return _Log(self.chunks, self.tail + (x,))

    def values(self) -> np.ndarray:
        return np.fromiter((v for c in self.chunks + (self.tail,) for v in c), dtype=np.float64)

    def __len__(self) -> int:
        return len(self.chunks) * _LOG_CHUNK + len(self.tail)


@dataclass(frozen=True, eq=False)
class FeedbackState:
    """Everything the loop carries from one update to the next (immutable; see :func:`step`).

    Attributes
    ----------
    protocol : Protocol
    sfreq : float
    ch_names : tuple of str
        The board's EEG channels (rows of every window).
    used_channels : tuple of str
        The channels the metric uses (for ``faa`` the (left, right) pair).
    picks : tuple of int
        Their rows in the window.
    baseline_s : float
    band_edges : tuple of (float, float)
        The protocol's bands in Hz.
    broadband : (float, float)
        Denominator of relative power, Hz.
    phase : str
        ``"baseline"`` or ``"training"``.
    n_updates : int
    t : float
        Time of the last update (NaN before the first).
    baseline_values : tuple of float
        Metric of each clean baseline window.
    baseline_inhibit_power : tuple of tuple of float
        Per clean baseline window, each inhibit band's power (µV²).
    n_baseline_windows, n_baseline_artifact : int
    baseline_median, baseline_iqr, scale, baseline_threshold : float
        Set when the baseline ends (NaN before).
    inhibit_medians : tuple of float
        Baseline median of each inhibit band's power (µV²).
    threshold : float
        Current reward threshold (NaN during the baseline).
    n_training, n_clean_training, n_rewarded, n_artifact, n_inhibited, n_above : int
        Counters (``n_artifact`` includes baseline windows; ``n_above`` counts clean training
        windows whose metric was beyond the threshold, inhibited or not).
    recent_rewards : tuple of bool
        The last ``REWARD_RATE_WINDOW_S × update_hz`` training windows' rewards.
    training_start_t : float
    """

    protocol: Protocol
    sfreq: float
    ch_names: tuple[str, ...]
    used_channels: tuple[str, ...]
    picks: tuple[int, ...]
    baseline_s: float
    band_edges: tuple[tuple[float, float], ...]
    broadband: tuple[float, float]
    kernel: _Kernel = field(repr=False)
    phase: str = "baseline"
    n_updates: int = 0
    t: float = math.nan
    baseline_values: tuple[float, ...] = ()
    baseline_inhibit_power: tuple[tuple[float, ...], ...] = ()
    n_baseline_windows: int = 0
    n_baseline_artifact: int = 0
    baseline_median: float = math.nan
    baseline_iqr: float = math.nan
    scale: float = math.nan
    baseline_threshold: float = math.nan
    inhibit_medians: tuple[float, ...] = ()
    threshold: float = math.nan
    n_training: int = 0
    n_clean_training: int = 0
    n_rewarded: int = 0
    n_artifact: int = 0
    n_inhibited: int = 0
    n_above: int = 0
    recent_rewards: tuple[bool, ...] = ()
    training_metric: _Log = field(default_factory=_Log, repr=False)
    training_start_t: float = math.nan

    @property
    def reward_rate(self) -> float:
        """Running reward rate over the last ~30 s of training windows (NaN before training)."""
        r = self.recent_rewards
        return sum(r) / len(r) if r else math.nan


# ---------------------------------------------------------------------------------------------
def _ramp(n: int) -> tuple[np.ndarray, np.ndarray]:
    ramp = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    return ramp, ramp / float(ramp @ ramp)


def init_state(protocol, sfreq, ch_names, *, baseline_s=60.0, settings=None) -> FeedbackState:
    """Start a feedback session.

    Parameters
    ----------
    protocol : Protocol | str | path-like
        A protocol, or a name / YAML path for :func:`~neurofeedback.feedback.load_protocol`.
    sfreq : float
        Sampling rate, Hz.
    ch_names : sequence of str
        The board's EEG channel names, in the order of the rows of every window.
    baseline_s : float
        Seconds of baseline (no reward) before training; 0 starts training as soon as
        :data:`MIN_BASELINE_WINDOWS` clean windows are in.
    settings : Settings | None
        Band names and the broadband range; default :func:`neurofeedback.config.load_settings`.

    Returns
    -------
    state : FeedbackState

    Raises
    ------
    ConfigError
        When the protocol's channels are not on the board or a band lies above Nyquist.
    ValueError
        For a bad ``sfreq``, ``ch_names`` or ``baseline_s``.
    """
    from ..config import load_settings

    if not isinstance(protocol, Protocol):
        protocol = load_protocol(protocol, settings=settings)
    settings = settings if settings is not None else load_settings()
    sfreq = check_positive("sfreq", sfreq)
    baseline_s = check_positive("baseline_s", baseline_s, allow_zero=True)
    ch_names = tuple(str(c) for c in ch_names)
    if not ch_names or len(set(ch_names)) != len(ch_names):
        raise ValueError(
            "Invalid value for the 'ch_names' parameter. It must be a non-empty sequence of unique "
            f"names, but got {ch_names!r} instead."
        )
    used = protocol.resolve_channels(ch_names)
    picks = tuple(ch_names.index(c) for c in used)
    band_edges = protocol.band_edges(settings)
    broadband = tuple(float(v) for v in settings.bands.broadband)
    cols = list(band_edges)
    col_bb = -1
    if protocol.metric == "relative_power":
        col_bb = len(cols)
        cols.append(broadband)
    col_inh = tuple(range(len(cols), len(cols) + len(protocol.inhibits)))
    cols.extend(i.band for i in protocol.inhibits)
    nyquist = sfreq / 2.0
    fmax = max(hi for _, hi in cols)
    if fmax >= nyquist:
        raise ConfigError(
            f"Protocol {protocol.name!r} uses frequencies up to {fmax:g} Hz, at or above the "
            f"Nyquist frequency ({nyquist:g} Hz) of a board sampled at {sfreq:g} Hz."
        )
    n_window = int(round(protocol.window_s * sfreq))
    nperseg = int(round(SEGMENT_S * sfreq))
    if nperseg < 8:
        raise ValueError(f"Invalid value for the 'sfreq' parameter. It is too low ({sfreq:g} Hz).")
    freqs = np.fft.rfftfreq(nperseg, 1.0 / sfreq)
    freqs = freqs[: int(np.searchsorted(freqs, fmax, side="right"))]
    weights = band_weights(freqs, cols)
    ramp, trend = _ramp(n_window)
    for a in (weights, ramp, trend):
        a.flags.writeable = False
    kernel = _Kernel(weights=weights, fmax=fmax, n_window=n_window, trend=trend, ramp=ramp,
                     col_broadband=col_bb, col_inhibits=col_inh)
    return FeedbackState(
        protocol=protocol, sfreq=sfreq, ch_names=ch_names, used_channels=used, picks=picks,
        baseline_s=baseline_s, band_edges=band_edges, broadband=broadband, kernel=kernel,
    )


def _window_powers(state: FeedbackState, window_uv) -> tuple[str, np.ndarray | None]:
    """Detrend, artifact-check and integrate one window.

    Returns ``(artifact_reason, powers)``: ``powers`` (n_used, n_cols) in µV², or ``None`` with
    a non-empty reason for an artifact window.
    """
    k = state.kernel
    w = np.asarray(window_uv)
    if w.ndim != 2 or w.shape[0] != len(state.ch_names):
        raise ValueError(
            f"Invalid value for the 'window_uv' parameter. It must have shape (n_channels={len(state.ch_names)}, "
            f"n_samples), but got shape {w.shape} instead."
        )
    n = w.shape[1]
    nperseg = int(round(SEGMENT_S * state.sfreq))
    if n < nperseg:
        raise ValueError(
            f"Invalid value for the 'window_uv' parameter. It must hold at least {nperseg} samples "
            f"({SEGMENT_S:g} s), but got {n} instead."
        )
    if n > k.n_window:
        w = w[:, n - k.n_window:]
        n = k.n_window
    # fancy indexing copies: the caller's array is never written
    x = w[list(state.picks)].astype(np.float64, copy=True)
    if not np.isfinite(x).all():
        bad = [state.used_channels[i] for i in np.flatnonzero(~np.isfinite(x).all(axis=1))]
        return f"artifact: non-finite samples on {', '.join(bad)}", None
    if n == k.n_window:
        ramp, trend = k.ramp, k.trend
    else:
        ramp, trend = _ramp(n)
    x -= x.mean(axis=1, keepdims=True)
    x -= np.outer(x @ trend, ramp)
    ptp = x.max(axis=1) - x.min(axis=1)
    worst = int(np.argmax(ptp))
    if ptp[worst] > state.protocol.artifact_ptp_uv:
        return (f"artifact: peak-to-peak {ptp[worst]:.0f} µV on {state.used_channels[worst]} "
                f"(> {state.protocol.artifact_ptp_uv:g})"), None
    sd = x.std(axis=1)
    flat = int(np.argmin(sd))
    if sd[flat] < FLAT_STD_UV:
        return f"artifact: flat signal on {state.used_channels[flat]} (SD {sd[flat]:.2f} µV)", None
    starts = np.arange(x.shape[0], dtype=np.int64) * n
    psd, _ = welch_epochs(
        x.reshape(1, -1), state.sfreq, starts, length_s=n / state.sfreq, segment_s=SEGMENT_S,
        overlap=SEGMENT_OVERLAP, window="hann", fmax=k.fmax,
    )
    return "", psd[:, 0, :] @ k.weights


def _metric(state: FeedbackState, p: np.ndarray) -> float:
    metric = state.protocol.metric
    if metric == "relative_power":
        return float(np.mean(p[:, 0] / p[:, state.kernel.col_broadband]))
    if metric == "absolute_power":
        return float(np.mean(p[:, 0]))
    if metric == "band_ratio":
        return float(np.mean(p[:, 0]) / np.mean(p[:, 1]))
    # faa: rows are (left, right)
    with np.errstate(divide="ignore"):
        return float(np.log(p[1, 0]) - np.log(p[0, 0]))


def _sign(state: FeedbackState) -> float:
    return 1.0 if state.protocol.direction == "up" else -1.0


def _logistic(z: float) -> float:
    if not math.isfinite(z):
        return 1.0 if z > 0 else 0.0
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _robust(values) -> tuple[float, float, float]:
    """median, IQR and a positive robust SD of ``values``."""
    v = np.asarray(values, dtype=np.float64)
    q25, med, q75 = np.percentile(v, [25.0, 50.0, 75.0])
    iqr = float(q75 - q25)
    scale = iqr / _IQR_TO_SD
    if not scale > 0:
        scale = float(np.std(v))
    if not scale > 0:
        scale = max(abs(float(med)) * 0.05, 1e-12)
    return float(med), iqr, scale


def _finish_baseline(state: FeedbackState, t: float) -> FeedbackState:
    p = state.protocol
    vals = np.asarray(state.baseline_values)
    med, iqr, scale = _robust(vals)
    q = 1.0 - p.target_reward_rate if p.direction == "up" else p.target_reward_rate
    thr = float(np.quantile(vals, q))
    inh = np.asarray(state.baseline_inhibit_power, dtype=np.float64).reshape(len(vals), -1)
    inhibit_medians = tuple(float(m) for m in np.median(inh, axis=0)) if inh.shape[1] else ()
    return dataclasses.replace(
        state, phase="training", baseline_median=med, baseline_iqr=iqr, scale=scale,
        baseline_threshold=thr, threshold=thr, inhibit_medians=inhibit_medians, training_start_t=t,
    )


def step(state: FeedbackState, window_uv, t=None) -> tuple[FeedbackState, FeedbackOutput]:
    """Process one window: one update of the feedback loop.

    Parameters
    ----------
    state : FeedbackState
        From :func:`init_state` or the previous :func:`step` (never modified).
    window_uv : array-like, shape (n_channels, n_samples)
        The last ``protocol.window_s`` seconds of every EEG channel of the board, in
        ``state.ch_names`` order, µV (DC offsets and slow drifts are fine: the window is
        linearly detrended). Longer windows are cut to their last ``window_s``; shorter ones
        (at least 1 s, e.g. at start-up) are used as they are. Never modified.
    t : float | None
        Seconds since the start; ``None`` uses ``state.n_updates / protocol.update_hz``.

    Returns
    -------
    state : FeedbackState
        The new state.
    output : FeedbackOutput
    """
    p = state.protocol
    t = state.n_updates / p.update_hz if t is None else float(t)
    reason, powers = _window_powers(state, window_uv)
    artifact = powers is None
    metric = math.nan if artifact else _metric(state, powers)
    if not artifact and not math.isfinite(metric):
        artifact, reason, metric = True, "artifact: no power in the protocol's band", math.nan
    inhibit_power = () if artifact else tuple(float(np.mean(powers[:, c])) for c in state.kernel.col_inhibits)
    sign = _sign(state)

    if state.phase == "baseline" and t >= state.baseline_s and len(state.baseline_values) >= MIN_BASELINE_WINDOWS:
        state = _finish_baseline(state, t)

    if state.phase == "baseline":
        n_clean = len(state.baseline_values) + (0 if artifact else 1)
        values = state.baseline_values if artifact else state.baseline_values + (metric,)
        if artifact:
            level = 0.0
        elif len(values) >= 4:
            med, _, scale = _robust(values)
            level = _logistic(sign * (metric - med) / scale)
        else:
            level = 0.5
        if not artifact:
            out_reason = "baseline"
            if t >= state.baseline_s:
                out_reason = (f"baseline: extended, {n_clean} of {MIN_BASELINE_WINDOWS} clean windows "
                              "needed so far")
        else:
            out_reason = reason if t < state.baseline_s else (
                f"{reason}; baseline extended, {n_clean} of {MIN_BASELINE_WINDOWS} clean windows so far")
        new = dataclasses.replace(
            state, n_updates=state.n_updates + 1, t=t, baseline_values=values,
            baseline_inhibit_power=state.baseline_inhibit_power if artifact
            else state.baseline_inhibit_power + (inhibit_power,),
            n_baseline_windows=state.n_baseline_windows + 1,
            n_baseline_artifact=state.n_baseline_artifact + int(artifact),
            n_artifact=state.n_artifact + int(artifact),
        )
        return new, FeedbackOutput(
            t=t, phase="baseline", metric=metric, threshold=math.nan, reward=False, artifact=artifact,
            inhibited=False, reason=out_reason, level=level, reward_rate=math.nan,
        )

    # -- training --------------------------------------------------------------------------
    thr = state.threshold
    n_recent = max(1, int(round(REWARD_RATE_WINDOW_S * p.update_hz)))
    if artifact:
        recent = (state.recent_rewards + (False,))[-n_recent:]
        new = dataclasses.replace(
            state, n_updates=state.n_updates + 1, t=t, n_training=state.n_training + 1,
            n_artifact=state.n_artifact + 1, recent_rewards=recent,
        )
        return new, FeedbackOutput(
            t=t, phase="training", metric=math.nan, threshold=thr, reward=False, artifact=True,
            inhibited=False, reason=reason, level=0.0, reward_rate=sum(recent) / len(recent),
        )
    raised = [inh.label for inh, pw, med in zip(p.inhibits, inhibit_power, state.inhibit_medians)
              if pw > inh.factor * med]
    inhibited = bool(raised)
    above = (metric > thr) if sign > 0 else (metric < thr)
    reward = above and not inhibited
    new_thr = thr
    if not inhibited:
        new_thr = thr + sign * p.adapt_rate * state.scale * (float(reward) - p.target_reward_rate)
    recent = (state.recent_rewards + (reward,))[-n_recent:]
    new = dataclasses.replace(
        state, n_updates=state.n_updates + 1, t=t, threshold=new_thr,
        n_training=state.n_training + 1, n_clean_training=state.n_clean_training + 1,
        n_rewarded=state.n_rewarded + int(reward), n_inhibited=state.n_inhibited + int(inhibited),
        n_above=state.n_above + int(above), recent_rewards=recent,
        training_metric=state.training_metric.append(metric),
    )
    return new, FeedbackOutput(
        t=t, phase="training", metric=metric, threshold=thr, reward=reward, artifact=False,
        inhibited=inhibited, reason=("inhibit: " + ", ".join(raised)) if inhibited else "",
        level=_logistic(sign * (metric - thr) / state.scale), reward_rate=sum(recent) / len(recent),
    )


def _num(x):
    """JSON-friendly float: None for NaN/inf."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def summarize(state: FeedbackState) -> dict:
    """Summarise a session (JSON-serialisable; NaN becomes ``None``).

    Parameters
    ----------
    state : FeedbackState

    Returns
    -------
    summary : dict
        ``protocol`` (name), ``protocol_config`` (the protocol as a dict), ``metric``, ``bands``,
        ``band_edges_hz``, ``direction``, ``sfreq``, ``used_channels``, ``phase``; ``baseline``:
        ``duration_s``, ``n_windows``, ``n_clean``, ``n_artifact``, ``median``, ``iqr``,
        ``scale``, ``percentile`` (the baseline percentile used as the first threshold),
        ``threshold``, ``inhibit_medians`` (label → µV²); ``n_updates``, ``n_training``,
        ``n_clean_training``, ``n_rewarded``, ``reward_rate`` (rewarded / training windows),
        ``clean_reward_rate`` (rewarded / clean non-inhibited training windows),
        ``time_above_threshold_s`` (clean training windows beyond the threshold × 1/update_hz),
        ``n_artifact`` (baseline and training), ``n_inhibited``, ``training_median``,
        ``metric_change`` (training median − baseline median) and ``metric_change_pct`` (that
        relative to the baseline median; ``None`` for ``faa``, a log ratio around 0),
        ``final_threshold``, ``method`` (how the metric is computed).
    """
    p = state.protocol
    train = state.training_metric.values()
    train_med = float(np.median(train)) if train.size else math.nan
    change = train_med - state.baseline_median
    pct = math.nan
    if p.metric != "faa" and state.baseline_median not in (0.0,) and math.isfinite(state.baseline_median):
        pct = 100.0 * change / abs(state.baseline_median)
    q = 1.0 - p.target_reward_rate if p.direction == "up" else p.target_reward_rate
    clean_nonhib = state.n_clean_training - state.n_inhibited
    return {
        "protocol": p.name,
        "protocol_config": p.to_dict(),
        "metric": p.metric,
        "bands": list(p.band_labels()),
        "band_edges_hz": [list(b) for b in state.band_edges],
        "direction": p.direction,
        "sfreq": state.sfreq,
        "used_channels": list(state.used_channels),
        "phase": state.phase,
        "baseline": {
            "duration_s": state.baseline_s,
            "n_windows": state.n_baseline_windows,
            "n_clean": len(state.baseline_values),
            "n_artifact": state.n_baseline_artifact,
            "median": _num(state.baseline_median),
            "iqr": _num(state.baseline_iqr),
            "scale": _num(state.scale),
            "percentile": 100.0 * q,
            "threshold": _num(state.baseline_threshold),
            "inhibit_medians": {i.label: _num(m) for i, m in zip(p.inhibits, state.inhibit_medians)},
        },
        "n_updates": state.n_updates,
        "n_training": state.n_training,
        "n_clean_training": state.n_clean_training,
        "n_rewarded": state.n_rewarded,
        "reward_rate": _num(state.n_rewarded / state.n_training) if state.n_training else None,
        "clean_reward_rate": _num(state.n_rewarded / clean_nonhib) if clean_nonhib else None,
        "time_above_threshold_s": state.n_above / p.update_hz,
        "n_artifact": state.n_artifact,
        "n_inhibited": state.n_inhibited,
        "training_median": _num(train_med),
        "metric_change": _num(change),
        "metric_change_pct": _num(pct),
        "final_threshold": _num(state.threshold),
        "method": {
            "detrend": "linear, per window",
            "psd": f"Welch, Hann, {SEGMENT_S:g}-s segments, {int(SEGMENT_OVERLAP * 100)}% overlap",
            "band_integration": "trapezoid over [lo, hi]",
            "broadband_hz": list(state.broadband),
            "window_s": p.window_s,
            "update_hz": p.update_hz,
            "units": "µV² (absolute power); fraction of broadband (relative); ln ratio (faa)",
            "adaptation": "threshold += s * adapt_rate * scale * (reward - target), scale = IQR/1.349",
        },
    }
