"""Blink correction: remove blinks from the EEG instead of rejecting the epochs they touch.

Pure functions on ``(n_channels, n_times)`` µV arrays (the band-passed signal, as
:func:`neurofeedback.preprocessing.filter_data` returns it) plus channel names, ``sfreq`` and a
good-channel mask. Nothing here knows about MNE objects; :func:`correct_ocular` is meant to be
called from :func:`neurofeedback.preprocessing.preprocess` between filtering and the artifact
search, and its report goes into the provenance.

Algorithm (``method="template"``), step by step:

1. **Blink proxies.** Good channels named frontal (Fp*, AF*, F*, not FC*/FT*), which sit
   closest to the eyes. Without a frontal name (an OpenBCI GUI file's ``EEG 1…8``) a
   *name-free* rule picks them (:func:`find_blink_channels`): a good channel whose large positive
   transients (see step 2) number at least ``min_blinks`` and are stereotyped (each one
   correlates at r ≥ 0.8 with their mean, below 12 Hz, ±0.5 s) — what blinks look like, and what
   alpha bursts, muscle and movement do not.
2. **Blinks** (:func:`blink_peaks`): positive peaks of a proxy above ``blink_uv`` or 5 robust
   standard deviations of that channel (whichever is larger), 50–600 ms wide at half height, at
   least 300 ms apart — the rule of ``preprocessing.find_artifacts`` — and without muscle
   around them (20–45 Hz RMS within ±0.25 s below 1.7× the channel's median: a jaw clench also
   makes large positive transients, with broadband EMG), and slow (the signal low-passed at
   7 Hz still reaches half the threshold at the peak: eyes-closed alpha of 15 µV RMS, in
   bursts, crests above 80 µV on its own). Peaks of several proxies within 300 ms are one
   blink. With fewer than ``min_blinks`` blinks nothing is done.
3. **Topography.** The blink is taken as one source seen by every good channel with a fixed
   gain (rank one, as the eye's dipole is; Berg & Scherg 1991): the first left singular vector
   ``a`` of the average blink (good channels × ±0.5 s, low-passed at ``lowpass_hz``).
4. **Time course.** ``s(t) = (aᵀC⁻¹a)⁻¹ aᵀC⁻¹ x_lp(t)``, the minimum-variance unbiased estimate
   of the source with gain ``a`` (the LCMV/BLUE spatial filter, Van Veen et al. 1997), where
   ``x_lp`` is the signal low-passed at ``lowpass_hz`` (4th-order Butterworth, zero phase) and
   ``C`` its covariance outside the blinks.
5. **A blink model per blink.** Within ``pad_s`` of each peak, ``s`` is fitted by least squares
   with the average blink ``T`` of ``s``, its derivative ``T'`` (latency) and ``t·T'`` (width),
   plus a constant (the slow background, fitted but not removed) — a first-order Taylor
   expansion of a shifted, stretched template (the idea of Woody's latency-corrected averaging;
   here three numbers per blink). Blinks whose windows overlap are fitted jointly. Only the
   fit is removed, so the brain signal inside the window, alpha included, stays: removing
   ``s`` itself there (time-local SSP) cost AF7/AF8 12–14 % of their absolute alpha on the
   simulation below, the fit 1–4 %.
6. **Removal, only where blinks are.** ``x - a · fit(t)``, the fit tapered over 0.1 s at the
   window edges. Data without blinks (eyes closed) are returned unchanged.
7. **Again on what is left.** In a quick train of blinks the signal may not fall below the
   threshold between two of them, so step 2 sees one; the proxies are searched again after
   the removal, and the new blinks added to the fit (at most ``_MAX_PASSES`` = 3 passes; the
   topography and template of the first pass are kept).

Why this and not ICA (measured, ``bench/bench_ocular.py`` and the notes in its docstring): on
the simulated 4-min eyes-open Muse session with a 150–400 µV blink every 2–5 s, MNE's extended
infomax (:func:`mne.preprocessing.infomax`; scikit-learn and python-picard are not installed)
took 8–100 s per 4-min fit (it converges slowly on the Gaussian EEG sources), and removing the
whole blink component (the usual ICA practice) halved the absolute alpha power of AF7/AF8 (the
component is also half of their brain signal: with four channels it cannot be otherwise)
while relative alpha came within 6 % of the blink-free truth (6 seeds). Removing the component
only around the blinks still cost 13–15 % of AF7/AF8 absolute alpha. The template correction
(steps 3–6) brings relative alpha within 3–4 % and absolute alpha within 4 % on the same seeds,
needs no iterative fit, has no random start (deterministic, nothing to seed), and works from
two channels. Over 200 seeds (``bench/bench_ocular.py``) every channel came within 10 % of the
blink-free relative alpha in every seed of every scenario: mean error on AF7 −0.05 ± 0.09 %
(Muse, max 3.4 %), on Fp1/Fp2 −3.9 ± 0.1 % (8 channels, max 8.2 %), on AF7 with TP9 only
+2.9 ± 0.1 % (max 6.9 %), on AF7 with blinks 0.6–3 s apart −1.2 ± 0.1 % (max 5.9 %); before
correction −73 % (AF7) and −83 % (Fp1). Absolute alpha within +2–4 % on the corrected frontal
channels. Eyes-closed recordings without blinks were never touched (0 of 200). Today's
rejection keeps 1.3 % of the 4-s epochs of the Muse simulation before correction and 99.9 %
after; on ``sample_data/muse_eyes_open_closed.csv`` 4 of the 28 eyes-open epochs before, 28
after. 60–100 ms for a 10-min 4-channel recording.
MNE's ``EOGRegression`` needs an EOG channel free of EEG; a frontal proxy is not one and the
proxy itself would stay uncorrected. ASR (meegkit) needs clean calibration data and is not
installed.

Limits: one ocular source (blinks). Horizontal eye movements (steps of opposite sign on AF7 and
AF8) are not corrected; they remain for the amplitude/deviation rules. A blink much larger
than the others still has its rank-one part removed, which is what a blink is. The name-free
proxy rule and the 1.7× EMG ratio rest on one real file with unnamed channels (the OpenBCI v6
sample: there it picks EEG 1, Fp1 in OpenBCI's default montage, and leaves the jaw clench of
EEG 3–6 alone); a channel named frontal is always a proxy, whatever it records.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.signal

from ._validate import check_option

logger = logging.getLogger("neurofeedback")

__all__ = ["blink_peaks", "correct_ocular", "find_blink_channels", "is_frontal", "OCULAR_METHODS"]

#: Allowed values of ``method`` in :func:`correct_ocular`.
OCULAR_METHODS = ("template", "none")

_FRONTAL_PREFIXES = ("FP", "AF", "F")  # as preprocessing.FRONTAL_PREFIXES
_BLINK_FACTOR = 5.0  # a blink exceeds 5 robust standard deviations of its channel (as find_artifacts)
_MIN_GAP_S = 0.3  # peaks closer than this are one blink
_EPOCH_S = 0.5  # half-length of the blink epochs (topography, stereotypy)
_STEREOTYPY_R = 0.8  # name-free proxy: median correlation of each blink with their mean
_TAPER_S = 0.1  # raised-cosine edges of the correction window
_MAX_PASSES = 3  # detect -> fit -> detect again on what is left (blinks in quick trains)


def is_frontal(name: str) -> bool:
    """Whether a channel name is frontal (Fp*, AF*, F*; not FC*/FT*), as ``preprocessing``."""
    up = name.upper().replace(" ", "")
    if up.startswith(("FC", "FT")):
        return False
    return up.startswith(_FRONTAL_PREFIXES)


def _intervals(mask: np.ndarray):
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _robust_sd(x: np.ndarray, sfreq: float) -> float:
    return 1.4826 * float(np.median(np.abs(x[:: max(int(sfreq) // 25, 1)])))


def blink_peaks(x: np.ndarray, sfreq: float, *, blink_uv: float = 80.0) -> np.ndarray:
    """Blink peaks on one channel: positive peaks 50–600 ms wide, at least 300 ms apart.

    Parameters
    ----------
    x : ndarray, shape (n_times,)
        Band-passed signal, µV.
    sfreq : float
        Sampling rate, Hz.
    blink_uv : float
        Minimum height, µV; the threshold is the larger of this and 5 robust standard
        deviations (1.4826 × median absolute value) of the channel.

    Returns
    -------
    peaks : ndarray of int
        Sample indices of the peaks (the rule of ``preprocessing.find_artifacts``).
    """
    height = max(float(blink_uv), _BLINK_FACTOR * _robust_sd(x, sfreq))
    starts, stops = _intervals(x > height)
    if starts.size == 0:
        return starts
    peaks = np.array([a + int(np.argmax(x[a:b])) for a, b in zip(starts, stops)])
    min_gap = max(int(_MIN_GAP_S * sfreq), 1)
    keep = [0]
    for j in range(1, peaks.size):  # closer than 300 ms: keep the higher one
        if peaks[j] - peaks[keep[-1]] < min_gap:
            if x[peaks[j]] > x[peaks[keep[-1]]]:
                keep[-1] = j
        else:
            keep.append(j)
    peaks = peaks[keep]
    widths = scipy.signal.peak_widths(x, peaks, rel_height=0.5)[0] / sfreq
    return peaks[(widths >= 0.05) & (widths <= 0.6)]


_EMG_BAND = (20.0, 45.0)  # Hz: a blink has next to no power here, a jaw clench a lot
_EMG_RATIO = 1.7  # measured on the OpenBCI v6 sample: blinks 1.0-1.4x the median, jaw clench 1.9-10.6x


def _quiet_peaks(x: np.ndarray, peaks: np.ndarray, sfreq: float) -> np.ndarray:
    """Keep the peaks without muscle: 20–45 Hz RMS within ±0.25 s below 1.7× the channel's median.

    A jaw clench or a grimace in the 1–45 Hz signal also makes large positive transients on
    every channel; a blink does not come with broadband high-frequency power.
    """
    if peaks.size == 0 or _EMG_BAND[1] >= sfreq / 2:
        return peaks
    from .muscle import moving_mean  # np.convolve(hf, ones / n, "same") in O(n_times)

    sos = scipy.signal.butter(4, _EMG_BAND, btype="band", fs=sfreq, output="sos")
    hf = scipy.signal.sosfiltfilt(sos, x)
    hf *= hf
    half = max(int(0.25 * sfreq), 1)
    rms = np.sqrt(moving_mean(hf, 2 * half))
    return peaks[rms[peaks] < _EMG_RATIO * float(np.median(rms))]


_SLOW_HZ = 7.0  # a blink's peak survives a 7 Hz low-pass; an alpha wave's does not
_SLOW_FRACTION = 0.5


def _blink_candidates(x: np.ndarray, sfreq: float, blink_uv: float) -> np.ndarray:
    """:func:`blink_peaks` that are slow (the 0–7 Hz signal still reaches half the threshold
    at the peak: not the crest of an alpha burst) and quiet (:func:`_quiet_peaks`)."""
    peaks = blink_peaks(x, sfreq, blink_uv=blink_uv)
    if peaks.size == 0:
        return peaks
    height = max(float(blink_uv), _BLINK_FACTOR * _robust_sd(x, sfreq))
    slow = _lowpass(x, sfreq, _SLOW_HZ)
    peaks = peaks[slow[peaks] >= _SLOW_FRACTION * height]
    return _quiet_peaks(x, peaks, sfreq)


def _lowpass(x: np.ndarray, sfreq: float, hz: float) -> np.ndarray:
    sos = scipy.signal.butter(4, hz, btype="low", fs=sfreq, output="sos")
    return scipy.signal.sosfiltfilt(sos, x, axis=-1)


def _epochs(x: np.ndarray, peaks: np.ndarray, half: int) -> np.ndarray:
    """``(n_peaks, n_channels, 2 half)`` epochs of ``x`` (2-D) around the peaks inside it."""
    ok = peaks[(peaks >= half) & (peaks + half <= x.shape[-1])]
    idx = ok[:, None] + np.arange(-half, half)[None, :]
    return np.moveaxis(x[:, idx], 1, 0)


def _stereotypy(x_lp: np.ndarray, peaks: np.ndarray, sfreq: float) -> float:
    """Median correlation of each blink epoch with the mean epoch (one channel, low-passed)."""
    ep = _epochs(x_lp[None, :], peaks, int(_EPOCH_S * sfreq))[:, 0]
    if ep.shape[0] < 2:
        return 0.0
    mean = ep.mean(axis=0)
    r = [np.corrcoef(e, mean)[0, 1] for e in ep]
    return float(np.median(r))


def find_blink_channels(data_uv, sfreq, ch_names, good, *, blink_uv=80.0, min_blinks=5,
                        lowpass_hz=12.0):
    """Choose the blink proxies: frontal good channels, else a name-free rule.

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times)
        Band-passed signal, µV.
    sfreq : float
        Sampling rate, Hz.
    ch_names : list of str
    good : ndarray of bool, shape (n_channels,)
    blink_uv, min_blinks, lowpass_hz
        As :func:`correct_ocular`.

    Returns
    -------
    picks : list of int
        Proxy channel indices (may be empty).
    rule : str
        ``"frontal name"``, ``"stereotyped transients"`` (name-free: at least ``min_blinks``
        blink-like peaks whose low-passed shapes correlate with their mean at a median r ≥ 0.8),
        or ``"none"``.
    """
    good = np.asarray(good, bool)
    frontal = [i for i, n in enumerate(ch_names) if good[i] and is_frontal(n)]
    if frontal:
        return frontal, "frontal name"
    picks = []
    for i in np.flatnonzero(good):
        p = _blink_candidates(data_uv[i], sfreq, blink_uv)
        if p.size < min_blinks:
            continue
        if _stereotypy(_lowpass(data_uv[i], sfreq, lowpass_hz), p, sfreq) >= _STEREOTYPY_R:
            picks.append(int(i))
    return picks, ("stereotyped transients" if picks else "none")


def _merge_peaks(peak_lists, strength, sfreq) -> np.ndarray:
    """One peak per blink from several proxies: within 300 ms, keep the strongest."""
    allp = np.concatenate([np.asarray(p, int) for p in peak_lists]) if peak_lists else np.array([], int)
    if allp.size == 0:
        return allp
    allp = np.unique(allp)
    min_gap = max(int(_MIN_GAP_S * sfreq), 1)
    keep = [allp[0]]
    for p in allp[1:]:
        if p - keep[-1] < min_gap:
            if strength[p] > strength[keep[-1]]:
                keep[-1] = p
        else:
            keep.append(p)
    return np.array(keep, int)


def _fit_blinks(s, peaks, template, pad, n_tap):
    """The blink model fitted to ``s``: per blink, the template, its derivative (latency) and its
    time-scaled derivative (width), by least squares within ``pad`` of the peak, plus one
    constant per window (fitted, not removed). Blinks whose windows overlap are fitted jointly
    over the union of their windows; the fit is tapered over ``n_tap`` samples at its edges."""
    n = s.size
    half = template.size // 2
    lag = np.arange(-pad, pad)
    tpl = np.zeros(2 * pad)
    lo, hi = max(pad - half, 0), min(pad + half, 2 * pad)
    tpl[lo:hi] = template[half - (pad - lo): half + (hi - pad)]
    d = np.gradient(tpl)
    blink_basis = np.stack([tpl, d, lag * d], axis=1)  # (2 pad, 3)
    fit = np.zeros(n)
    peaks = np.sort(np.asarray(peaks, int))
    clusters, cur = [], [peaks[0]] if peaks.size else []
    for p in peaks[1:]:
        if p - cur[-1] < 2 * pad:
            cur.append(p)
        else:
            clusters.append(cur)
            cur = [p]
    if cur:
        clusters.append(cur)
    for cl in clusters:
        a, b = max(cl[0] - pad, 0), min(cl[-1] + pad, n)
        cols = []
        for p in cl:
            m = np.zeros((b - a, 3))
            i0, i1 = max(p - pad, a), min(p + pad, b)
            m[i0 - a:i1 - a] = blink_basis[i0 - (p - pad):i1 - (p - pad)]
            cols.append(m)
            box = np.zeros((b - a, 1))
            box[i0 - a:i1 - a] = 1.0
            cols.append(box)
        design = np.concatenate(cols, axis=1)
        coef = np.linalg.lstsq(design, s[a:b], rcond=None)[0]
        coef[3::4] = 0.0  # the constants absorb the background's slow part; they are not removed
        seg = design @ coef
        if 0 < n_tap < (b - a) // 2:
            edge = np.hanning(2 * n_tap + 1)[:n_tap]
            seg[:n_tap] *= edge
            seg[-n_tap:] *= edge[::-1]
        fit[a:b] += seg
    return fit


def _own(x: np.ndarray, data_uv) -> np.ndarray:
    """``x`` (float64 of ``data_uv``) as an array the caller's ``data_uv`` does not share: the
    conversion from float32 already made one, so no second copy then."""
    return x.copy() if np.may_share_memory(x, data_uv) else x


def correct_ocular(data_uv, sfreq, ch_names, good, *, method="template", blink_uv=80.0,
                   min_blinks=5, min_channels=2, lowpass_hz=12.0, pad_s=0.5):
    """Remove blinks from the good channels (see the module notes for the algorithm).

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times)
        Band-passed signal (e.g. 1–45 Hz), µV. Not modified.
    sfreq : float
        Sampling rate, Hz.
    ch_names : list of str
        Channel names (frontal names choose the proxies; without one a name-free rule does).
    good : ndarray of bool, shape (n_channels,)
        Channels to use and correct; bad channels are neither used nor changed.
    method : "template" | "none"
        ``"none"`` returns a copy unchanged.
    blink_uv : float
        Minimum blink height on a proxy, µV (``preprocessing.blink_uv``).
    min_blinks : int
        Fewer blinks than this: nothing is done (too few to estimate the topography).
    min_channels : int
        Fewer good channels than this: nothing is done.
    lowpass_hz : float
        The blink time course is estimated below this frequency, Hz (a blink's energy lies
        below ~10 Hz; 12 measured best among 7, 12, 20 and 40 on the simulation: at 7 Hz the
        blink's 7–13 Hz part stays and inflates alpha by ~10 %).
    pad_s : float
        The correction spans ``pad_s`` before and after each blink peak, s (0.5 measured best
        among 0.5, 0.8 and 1.2: longer windows over-correct the slow background).

    Returns
    -------
    corrected_uv : ndarray of float64, shape (n_channels, n_times)
        µV; equal to ``data_uv`` wherever nothing was removed.
    report : dict
        JSON-serialisable: ``method``, ``applied`` (bool), ``reason`` (why nothing was done, or
        ``None``), ``proxy_channels``, ``proxy_rule``, ``n_blinks``, ``topography`` (by
        channel, unit-norm), ``corrected_fraction`` (of the samples),
        ``removed_variance_uv2`` (by channel, µV²: variance of what was removed over the whole
        recording; ``None`` for bad channels), ``lowpass_hz``, ``pad_s``.

    Raises
    ------
    ValueError
        For an unknown ``method`` or mismatched shapes.
    """
    check_option("method", method, OCULAR_METHODS)
    x = np.asarray(data_uv, dtype=np.float64)
    good = np.asarray(good, bool)
    if x.ndim != 2 or x.shape[0] != len(ch_names) or good.shape != (x.shape[0],):
        raise ValueError(
            f"Invalid value for the 'data_uv' parameter. It must have shape (n_channels, n_times) "
            f"with n_channels = len(ch_names) = len(good) = {len(ch_names)}, but got {x.shape} "
            f"and {good.shape[0] if good.ndim else good} instead."
        )
    report = {"method": method, "applied": False, "reason": None, "proxy_channels": [],
              "proxy_rule": "none", "n_blinks": 0, "topography": {}, "corrected_fraction": 0.0,
              "removed_variance_uv2": {n: (0.0 if g else None) for n, g in zip(ch_names, good)},
              "lowpass_hz": float(lowpass_hz),
              "pad_s": float(pad_s)}
    n_times = x.shape[1]
    if method == "none":
        report["reason"] = "method is 'none'"
        return _own(x, data_uv), report
    if good.sum() < min_channels:
        report["reason"] = f"{int(good.sum())} good channel(s), fewer than min_channels={min_channels}"
        return _own(x, data_uv), report
    if n_times < int(4 * _EPOCH_S * sfreq):
        report["reason"] = "recording too short"
        return _own(x, data_uv), report
    picks, rule = find_blink_channels(x, sfreq, ch_names, good, blink_uv=blink_uv,
                                      min_blinks=min_blinks, lowpass_hz=lowpass_hz)
    report["proxy_channels"] = [ch_names[i] for i in picks]
    report["proxy_rule"] = rule
    if not picks:
        report["reason"] = "no blink proxy (no good frontal channel, none with stereotyped blinks)"
        return _own(x, data_uv), report
    strength = x[picks].max(axis=0)
    peaks = _merge_peaks([_blink_candidates(x[i], sfreq, blink_uv) for i in picks], strength, sfreq)
    report["n_blinks"] = int(peaks.size)
    if peaks.size < min_blinks:
        report["reason"] = f"{peaks.size} blink(s) found, fewer than min_blinks={min_blinks}"
        return _own(x, data_uv), report
    gi = np.flatnonzero(good)
    xg = x if gi.size == x.shape[0] else x[gi]  # no copy when every channel is good
    xg_lp = _lowpass(xg, sfreq, lowpass_hz)
    half = int(round(_EPOCH_S * sfreq))
    evoked = _epochs(xg_lp, peaks, half).mean(axis=0)  # (n_good, n_lags)
    u = np.linalg.svd(evoked, full_matrices=False)[0][:, 0]
    ref = [k for k, i in enumerate(gi) if i in picks]
    if u[ref][np.argmax(np.abs(u[ref]))] < 0:
        u = -u
    # window: 1 within pad_s of a blink peak, raised-cosine edges
    pad = int(round(pad_s * sfreq))
    inside = np.zeros(n_times, bool)
    for p in peaks:
        inside[max(p - pad, 0):min(p + pad, n_times)] = True
    n_tap = max(int(round(_TAPER_S * sfreq)), 1)
    tap = np.hanning(n_tap + 2)[1:-1]
    w = np.convolve(inside.astype(float), tap / tap.sum(), mode="same")
    w = np.clip(w, 0.0, 1.0)
    # LCMV/BLUE time course with the covariance outside the blinks
    outside = w == 0
    cov = np.cov(xg_lp[:, outside]) if outside.sum() > 2 * gi.size else np.cov(xg_lp)
    cov = np.atleast_2d(cov)
    cov = cov + 1e-6 * np.trace(cov) / gi.size * np.eye(gi.size)
    ci_u = np.linalg.solve(cov, u)
    filt = ci_u / float(u @ ci_u)
    s = filt @ xg_lp
    template = _epochs(s[None, :], peaks, pad)[:, 0].mean(axis=0)
    s_fit = _fit_blinks(s, peaks, template, pad, n_tap)
    proxy_rows = [k for k, i in enumerate(gi) if i in picks]
    min_gap = max(int(_MIN_GAP_S * sfreq), 1)
    for _ in range(_MAX_PASSES - 1):  # blinks hidden in a train of blinks show once it is removed
        rest = x[gi[proxy_rows]] - np.outer(u[proxy_rows], s_fit)
        new = _merge_peaks([_blink_candidates(r, sfreq, blink_uv) for r in rest], rest.max(axis=0), sfreq)
        if new.size:
            new = new[np.min(np.abs(new[:, None] - peaks[None, :]), axis=1) >= min_gap]
        if new.size == 0:
            break
        peaks = np.sort(np.concatenate([peaks, new]))
        s_fit = _fit_blinks(s, peaks, template, pad, n_tap)
    report["n_blinks"] = int(peaks.size)
    inside[:] = False
    for p in peaks:
        inside[max(p - pad, 0):min(p + pad, n_times)] = True
    w = np.clip(np.convolve(inside.astype(float), tap / tap.sum(), mode="same"), 0.0, 1.0)
    # x - outer(u, s_fit) on the good rows, one row at a time (no (n_good, n_times) temporary;
    # the same products and differences, so the same numbers)
    out = _own(x, data_uv)
    removed_var = {}
    for k, i in enumerate(gi):
        row = u[k] * s_fit
        out[i] -= row
        removed_var[int(i)] = float(np.var(row))
    report.update(
        applied=True,
        topography={ch_names[i]: float(v) for i, v in zip(gi, u)},
        corrected_fraction=float(np.mean(w > 0)),
        removed_variance_uv2={n: removed_var.get(i) for i, n in enumerate(ch_names)},
    )
    logger.info("Blink correction: %d blinks on %s, %.0f %% of the samples corrected.",
                peaks.size, ", ".join(report["proxy_channels"]), 100 * report["corrected_fraction"])
    return out, report
