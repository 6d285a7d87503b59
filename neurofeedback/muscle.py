"""Muscle (EMG) bursts per channel, from the unfiltered signal.

:func:`muscle_mask` works on a ``(n_channels, n_times)`` µV array, before the 45-Hz band-pass:
muscle activity spreads from ~20 Hz up to Nyquist (128 Hz on a Muse at 256 Hz), and above the
EEG bands it stands out most clearly. Step by step, per good channel:

1. high-pass at ``fmin`` (30 Hz: above beta) and low-pass at ``min(fmax, 0.45 sfreq)``
   (4th-order Butterworth, zero phase), with a 4-Hz-wide notch at each mains harmonic in that
   band (``line_freq``; mains is not muscle);
2. envelope: root mean square over a sliding ``window_s`` (0.25 s) window;
3. a robust z-score of the log envelope against the channel's own median and median absolute
   deviation (×1.4826) — a burst is judged against that channel's ordinary high-frequency level;
4. samples with z above ``threshold`` are muscle; runs are widened by half a window on each side
   and gaps shorter than ``min_gap_s`` between them are filled.

This is the method of :func:`mne.preprocessing.annotate_muscle_zscore` (band-pass, envelope,
z-score, threshold; Muthukumaraswamy 2013 for the band), re-implemented per channel: MNE sums the
z-scores of all channels into one time course (``sum(z) / sqrt(n_channels)``), so it says *when*
but not *where*, and a burst on one of four Muse channels is halved by the pooling. Robust
statistics (median/MAD) replace MNE's mean/standard deviation so that a recording with many
bursts does not raise its own bar. Because each channel is judged against itself, a channel
with *tonic* muscle tension throughout (a clenched jaw all session) is not flagged: this finds
bursts, not a constant EMG floor.

The threshold (``threshold=4``) is measured, not borrowed (MNE's 4 applies to pooled z-scores):
on 20 simulated 2-min Muse recordings with 10 µV RMS alpha bursts and a 150–400 µV blink every
2–5 s, thresholds 3 / 3.5 / 4 / 5 flagged 0.4 / 0.08 / 0.014 / 0 % of the clean samples and found
99.8 / 98 / 97 / 89 % of a 2-s EMG burst of 7 µV RMS (> 20 Hz) on one channel, 1.6 times the
30–115 Hz background (4.3 µV RMS); at 5 µV RMS 94 / 83 / 63 / 14 %. ``bench/bench_ocular.py``
(50 seeds, threshold 4): 0.007 ± 0.003 % of clean samples flagged, 98 ± 1 % of a 7-µV burst and
48 ± 3 % of a 5-µV burst found, 0.01 % on the other channels; real files: 0 % on the Muse sample
and one NeuroTechX Muse file, 0.2–0.8 % on the other; 7–16 % per channel of the 90-s OpenBCI v6
sample (its jaw clench, 82–90 s, on all channels). 42 ms for 10 min of 4 channels at 256 Hz.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from ._validate import check_positive

__all__ = ["muscle_mask", "muscle_envelope_z", "moving_mean"]


def _band_sos(sfreq: float, fmin: float, fmax: float, line_freq: float | None):
    nyq = sfreq / 2.0
    hi = min(fmax, 0.45 * sfreq)
    if fmin >= hi:
        raise ValueError(
            f"Invalid value for the 'fmin' parameter. It must be below min(fmax, 0.45 sfreq) = "
            f"{hi:g} Hz at {sfreq:g} Hz, but got {fmin!r} instead."
        )
    sos = [scipy.signal.butter(4, (fmin, hi), btype="band", fs=sfreq, output="sos")]
    if line_freq is not None:
        f = float(line_freq)
        k = 1
        while k * f < nyq - 2.0:
            f0 = k * f
            if fmin - 2.0 < f0 < hi + 2.0:
                sos.append(scipy.signal.butter(2, (f0 - 2.0, f0 + 2.0), btype="bandstop",
                                               fs=sfreq, output="sos"))
            k += 1
    return np.concatenate(sos, axis=0)


def moving_mean(x, n: int) -> np.ndarray:
    """Mean over a sliding window of ``n`` samples along the last axis, centred as
    ``np.convolve(x, np.ones(n) / n, mode="same")`` (samples beyond the ends count as zeros).

    O(n_times) instead of O(n_times · n) (direct) or a long FFT (``scipy.signal.oaconvolve``,
    what :func:`muscle_envelope_z` used before). A plain running sum would lose precision over
    an hour (its differences carry the rounding of the whole total: ~1e-8 relative where the
    signal is quiet); here the signal is cut into blocks of ``n`` and each window is a suffix
    sum of one block plus a prefix sum of the next (van Herk 1992; Gil & Werman 1993), so every
    sum adds at most ``n`` terms and stays as accurate as the convolution (~1e-15 relative on
    1 h of EEG power; ``tests/test_muscle.py`` compares them).

    Parameters
    ----------
    x : ndarray, shape (..., n_times)
    n : int
        Window length, samples (>= 1).

    Returns
    -------
    mean : ndarray of float64, shape (..., n_times)
        ``mean[..., t]`` averages ``x[..., t - n // 2 : t + (n - 1) // 2 + 1]`` (zeros outside).

    Raises
    ------
    ValueError
        When ``n < 1``.
    """
    x = np.asarray(x, dtype=np.float64)
    n = int(n)
    if n < 1:
        raise ValueError(f"Invalid value for the 'n' parameter. It must be >= 1, but got {n!r} instead.")
    lead, n_times = x.shape[:-1], x.shape[-1]
    n_blocks = -(-(n_times + n) // n)
    # xp[..., t] = x[..., t - n // 2]: the window of output t is xp[..., t:t + n]
    xp = np.zeros(lead + (n_blocks * n,))
    xp[..., n // 2:n // 2 + n_times] = x
    blocks = xp.reshape(lead + (n_blocks, n))
    suffix = np.empty_like(blocks)                              # x[t] + ... + end of its block
    np.cumsum(blocks[..., ::-1], axis=-1, out=suffix[..., ::-1])
    prefix = np.empty_like(blocks)                              # block start + ... + x[t - 1]
    prefix[..., 0] = 0.0
    np.cumsum(blocks[..., :-1], axis=-1, out=prefix[..., 1:])
    del xp, blocks
    # the window of output t: its suffix plus the next block's prefix, added in place
    out = suffix.reshape(lead + (-1,))[..., :n_times]
    np.add(out, prefix.reshape(lead + (-1,))[..., n:n + n_times], out=out)
    out /= n
    return out


def _envelope_z_rows(x, sfreq, idx, sos, window_s):
    """Robust z of the log envelope of the rows ``idx`` of ``x`` (steps 1-3), float64
    ``(idx.size, n_times)``; arrays are reused in place where the arithmetic allows."""
    rows = x if idx.size == x.shape[0] else x[idx]
    xb = rows - rows.mean(axis=1, keepdims=True)
    y = scipy.signal.sosfiltfilt(sos, xb, axis=1)
    del xb
    y *= y
    n_win = max(int(round(window_s * sfreq)), 1)
    log_env = moving_mean(y, n_win)
    del y
    np.maximum(log_env, 1e-12, out=log_env)
    np.log(log_env, out=log_env)
    log_env *= 0.5
    med = np.median(log_env, axis=1, keepdims=True)
    dev = log_env - med
    np.abs(dev, out=dev)
    mad = 1.4826 * np.median(dev, axis=1, keepdims=True, overwrite_input=True)
    del dev
    log_env -= med
    log_env /= np.maximum(mad, 1e-6)
    return log_env


def muscle_envelope_z(raw_uv, sfreq, good=None, *, line_freq=None, fmin=30.0, fmax=140.0,
                      window_s=0.25):
    """Robust z-score of the high-frequency envelope, per channel (steps 1–3 of the module notes).

    Parameters
    ----------
    raw_uv : ndarray, shape (n_channels, n_times)
        Unfiltered signal, µV (DC offsets are fine: the band-pass removes them).
    sfreq : float
        Sampling rate, Hz.
    good : ndarray of bool, shape (n_channels,) | None
        Channels to score (``None``: all); the others get NaN.
    line_freq : float | None
        Mains frequency, Hz: its harmonics within the band are notched out.
    fmin, fmax : float
        Band edges, Hz (``fmax`` is capped at 0.45 ``sfreq``).
    window_s : float
        RMS window, s.

    Returns
    -------
    z : ndarray, shape (n_channels, n_times)
        Robust z of ``log(envelope)``; NaN on channels not scored.

    Raises
    ------
    ValueError
        When the band is empty at this sampling rate (e.g. ``sfreq`` below ~70 Hz).
    """
    x = np.asarray(raw_uv, dtype=np.float64)
    n_ch, n_times = x.shape
    good = np.ones(n_ch, bool) if good is None else np.asarray(good, bool)
    check_positive("window_s", window_s)
    sos = _band_sos(float(sfreq), float(fmin), float(fmax), line_freq)
    z = np.full((n_ch, n_times), np.nan)
    idx = np.flatnonzero(good)
    if idx.size == 0 or n_times < 3 * sos.shape[0] * 3:
        return z
    z[idx] = _envelope_z_rows(x, float(sfreq), idx, sos, window_s)
    return z


def muscle_mask(raw_uv, sfreq, good=None, *, line_freq=None, threshold=4.0, fmin=30.0,
                fmax=140.0, window_s=0.25, min_gap_s=0.5):
    """Samples with muscle (EMG) bursts, per channel (see the module notes).

    Parameters
    ----------
    raw_uv : ndarray, shape (n_channels, n_times)
        Unfiltered signal, µV.
    sfreq : float
        Sampling rate, Hz.
    good : ndarray of bool, shape (n_channels,) | None
        Channels to examine (``None``: all); the others are all False.
    line_freq : float | None
        Mains frequency, Hz (its harmonics are notched out of the band).
    threshold : float
        Robust z of the log high-frequency envelope above which a sample is muscle.
    fmin, fmax : float
        Band, Hz (``fmax`` capped at 0.45 ``sfreq``).
    window_s : float
        RMS window, s; flagged runs are widened by half of it on each side.
    min_gap_s : float
        Gaps between flagged runs shorter than this are flagged too, s.

    Returns
    -------
    mask : ndarray of bool, shape (n_channels, n_times)
        True where that channel has muscle activity.
    """
    x = np.asarray(raw_uv, dtype=np.float64)
    n_ch, n_times = x.shape
    good = np.ones(n_ch, bool) if good is None else np.asarray(good, bool)
    check_positive("window_s", window_s)
    sos = _band_sos(float(sfreq), float(fmin), float(fmax), line_freq)
    mask = np.zeros((n_ch, n_times), bool)
    idx = np.flatnonzero(good)
    if idx.size == 0 or n_times < 3 * sos.shape[0] * 3:
        return mask
    # as muscle_envelope_z(...) > threshold, without its full NaN-padded array
    mask[idx] = _envelope_z_rows(x, float(sfreq), idx, sos, window_s) > threshold
    half = max(int(round(window_s * sfreq / 2)), 0)
    gap = int(round(min_gap_s * sfreq))
    n_times = mask.shape[1]
    for c in range(mask.shape[0]):
        if not mask[c].any():
            continue
        d = np.diff(np.concatenate([[0], mask[c].astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        starts, stops = np.maximum(starts - half, 0), np.minimum(stops + half, n_times)
        keep_s, keep_e = [starts[0]], [stops[0]]
        for a, b in zip(starts[1:], stops[1:]):
            if a - keep_e[-1] < gap:
                keep_e[-1] = max(keep_e[-1], b)
            else:
                keep_s.append(a)
                keep_e.append(b)
        m = np.zeros(n_times, bool)
        for a, b in zip(keep_s, keep_e):
            m[a:b] = True
        mask[c] = m
    return mask
