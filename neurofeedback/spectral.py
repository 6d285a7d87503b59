"""Power spectra and band integration on plain arrays (the hot path).

Everything here works on NumPy arrays; units follow the input (pass µV to get µV²/Hz).

The per-epoch Welch PSD is exactly :func:`scipy.signal.welch` applied to each epoch
(``detrend="constant"``, one-sided density scaling, mean over segments). Epochs stepped by a
multiple of the Welch hop share their segments, so each segment's periodogram is computed once on
the continuous signal and every epoch averages its own consecutive segments: with the defaults
(4 s epochs stepped by 2 s, 2 s segments stepped by 1 s) that is 3 FFTs per 2 s instead of 6, with
bit-for-bit the same arithmetic per segment.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from ._validate import check_positive

__all__ = [
    "band_weights",
    "band_power",
    "epoch_starts",
    "welch_epochs",
    "welch_psd",
]


def _window(name: str, n: int) -> np.ndarray:
    # scipy.signal costs ~1.2 s to import (scipy 1.17): only here, where a window is made,
    # so that importing this module (e.g. for band_power) does not pay it
    import scipy.signal

    try:
        return scipy.signal.get_window(name, n, fftbins=True)
    except ValueError:
        raise ValueError(
            f"Invalid value for the 'window' parameter. Allowed values are scipy window names "
            f"such as 'hann' and 'hamming', but got {name!r} instead."
        ) from None


def _segment_params(sfreq: float, segment_s: float, overlap: float) -> tuple[int, int]:
    nperseg = int(round(segment_s * sfreq))
    if nperseg < 8:
        raise ValueError(
            f"Invalid value for the 'segment_s' parameter. It must span at least 8 samples, but "
            f"got {segment_s!r} s at {sfreq} Hz instead."
        )
    if not 0 <= overlap < 1:
        raise ValueError(
            f"Invalid value for the 'overlap' parameter. It must be in [0, 1), but got {overlap!r} instead."
        )
    hop = nperseg - int(round(overlap * nperseg))
    return nperseg, max(hop, 1)


def _segment_means(x, starts, nperseg):
    """Mean of each segment ``x[s:s + nperseg]`` (float64), cheaply for a regular grid."""
    starts = np.asarray(starts)
    if starts.size > 1:
        step = int(starts[1] - starts[0])
        regular = step > 0 and nperseg % step == 0 and np.all(np.diff(starts) == step)
        if regular:
            k = nperseg // step
            n_blocks = starts.size + k - 1
            blocks = x[starts[0]:starts[0] + n_blocks * step].reshape(n_blocks, step).sum(axis=1, dtype=np.float64)
            csum = np.concatenate([[0.0], np.cumsum(blocks)])
            return (csum[k:] - csum[:-k]) / nperseg
    if starts.size * nperseg < x.shape[-1]:
        # few segments spread over a long signal: sum each one (cheaper than the running sum of
        # the whole signal, and without its rounding, which grows with a DC offset)
        view = np.lib.stride_tricks.sliding_window_view(x, nperseg)[starts]
        return view.sum(axis=1, dtype=np.float64) / nperseg
    csum = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    return (csum[starts + nperseg] - csum[starts]) / nperseg


def _periodograms(x, starts, nperseg, win, scale, n_keep, win_fft):
    """One-sided density periodograms (first ``n_keep`` bins) of segments of channel ``x``.

    Same arithmetic as :func:`scipy.signal.welch` per segment (``detrend="constant"``), using
    linearity to avoid a detrending pass: ``rfft((s - mean(s)) * w) = rfft(s * w) - mean(s) * rfft(w)``.
    """
    starts = np.asarray(starts)
    if starts.size > 1 and np.all(np.diff(starts) == starts[1] - starts[0]) and starts[1] > starts[0]:
        step = int(starts[1] - starts[0])
        base = x[starts[0]:]
        view = np.lib.stride_tricks.as_strided(
            base, (starts.size, nperseg), (step * base.strides[0], base.strides[0]), writeable=False
        )
    else:
        view = np.lib.stride_tricks.sliding_window_view(x, nperseg)[starts]
    spec = scipy.fft.rfft(view * win, axis=-1)[:, :n_keep]
    means = _segment_means(x, starts, nperseg)
    spec -= means[:, None] * win_fft[None, :n_keep]
    p = spec.real**2
    p += spec.imag**2
    # one-sided: double all but DC (and Nyquist when nperseg is even), as scipy does
    factor = np.full(n_keep, 2.0 * scale)
    factor[0] = scale
    if nperseg % 2 == 0 and n_keep == nperseg // 2 + 1:
        factor[-1] = scale
    p *= factor
    return p


def epoch_starts(n_times: int, sfreq: float, *, length_s: float, step_s: float) -> np.ndarray:
    """Return the first sample of each fixed-length epoch that fits in ``n_times`` samples.

    Parameters
    ----------
    n_times : int
        Samples in the recording.
    sfreq : float
        Sampling rate in Hz.
    length_s, step_s : float
        Epoch length and step in seconds (``step_s < length_s`` gives overlap).

    Returns
    -------
    starts : ndarray of int, shape (n_epochs,)
    """
    check_positive("length_s", length_s)
    check_positive("step_s", step_s)
    n_len = int(round(length_s * sfreq))
    n_step = int(round(step_s * sfreq))
    if n_len > n_times:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_times - n_len + 1, n_step, dtype=np.int64)


def welch_epochs(
    data: np.ndarray,
    sfreq: float,
    starts: np.ndarray,
    *,
    length_s: float,
    segment_s: float = 2.0,
    overlap: float = 0.5,
    window: str = "hann",
    fmax: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD of each epoch of a continuous signal, identical to ``scipy.signal.welch``.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        Continuous signal (e.g. µV; the PSD is in that unit squared per Hz).
    sfreq : float
        Sampling rate in Hz.
    starts : ndarray of int, shape (n_epochs,)
        First sample of each epoch (see :func:`epoch_starts`).
    length_s : float
        Epoch length in seconds.
    segment_s : float
        Welch segment length in seconds (``nperseg = round(segment_s * sfreq)``).
    overlap : float
        Fraction of segment overlap in [0, 1).
    window : str
        Any :func:`scipy.signal.get_window` name.
    fmax : float | None
        Keep only frequencies up to ``fmax`` (saves memory; values are unchanged).

    Returns
    -------
    psd : ndarray, shape (n_epochs, n_channels, n_freqs)
        One-sided power spectral density (input unit² / Hz).
    freqs : ndarray, shape (n_freqs,)
        Frequencies in Hz.
    """
    data = np.asarray(data)
    if not np.issubdtype(data.dtype, np.floating):
        data = data.astype(np.float64)
    if data.ndim != 2:
        raise ValueError(f"data must be 2-D (n_channels, n_times), got shape {data.shape}")
    sfreq = check_positive("sfreq", sfreq)
    starts = np.asarray(starts, dtype=np.int64)
    n_len = int(round(length_s * sfreq))
    nperseg, hop = _segment_params(sfreq, segment_s, overlap)
    if nperseg > n_len:
        raise ValueError(
            f"Invalid value for the 'segment_s' parameter. It must not exceed the epoch length "
            f"({length_s} s), but got {segment_s!r} instead."
        )
    if starts.size and (starts.min() < 0 or starts.max() + n_len > data.shape[1]):
        raise ValueError("epochs extend beyond the data")
    n_seg = (n_len - nperseg) // hop + 1  # segments per epoch, as scipy.signal.welch
    freqs = scipy.fft.rfftfreq(nperseg, 1.0 / sfreq)
    n_keep = freqs.size if fmax is None else int(np.searchsorted(freqs, fmax, side="right"))
    freqs = freqs[:n_keep]
    win = _window(window, nperseg)
    scale = 1.0 / (sfreq * (win * win).sum())
    win_fft = scipy.fft.rfft(win)
    n_ch = data.shape[0]
    out = np.empty((starts.size, n_ch, n_keep))
    if starts.size == 0:
        return out, freqs

    # Shared grid: every epoch start is a multiple of the hop from the first epoch, and the grid
    # is not much longer than the segments the epochs use (line_peak_ratio takes 60 epochs
    # spread over an hour: their grid would be 60 times the work).
    rel = starts - starts[0]
    if np.all(rel % hop == 0) and rel[-1] // hop + n_seg <= 2 * starts.size * n_seg:
        grid = starts[0] + hop * np.arange(rel[-1] // hop + n_seg)
        idx = rel[:, None] // hop + np.arange(n_seg)[None, :]  # (n_epochs, n_seg)
        # Average consecutive segments with a cumulative sum over the grid.
        for c in range(n_ch):
            p = _periodograms(data[c], grid, nperseg, win, scale, n_keep, win_fft)
            if n_seg == 1:
                out[:, c] = p[idx[:, 0]]
            else:
                csum = np.concatenate([np.zeros((1, n_keep)), np.cumsum(p, axis=0)])
                out[:, c] = (csum[idx[:, -1] + 1] - csum[idx[:, 0]]) / n_seg
        return out, freqs

    seg_off = hop * np.arange(n_seg)
    for c in range(n_ch):
        all_starts = (starts[:, None] + seg_off[None, :]).ravel()
        p = _periodograms(data[c], all_starts, nperseg, win, scale, n_keep, win_fft)
        out[:, c] = p.reshape(starts.size, n_seg, n_keep).mean(axis=1)
    return out, freqs


def welch_psd(
    data: np.ndarray,
    sfreq: float,
    *,
    segment_s: float = 2.0,
    overlap: float = 0.5,
    window: str = "hann",
    fmax: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD of a whole signal (one "epoch" spanning the data), as ``scipy.signal.welch``.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
    sfreq : float
    segment_s, overlap, window, fmax
        As :func:`welch_epochs`.

    Returns
    -------
    psd : ndarray, shape (n_channels, n_freqs)
    freqs : ndarray, shape (n_freqs,)
    """
    data = np.atleast_2d(np.asarray(data, dtype=np.float64))
    n_times = data.shape[1]
    nperseg, hop = _segment_params(sfreq, segment_s, overlap)
    if n_times < nperseg:
        raise ValueError(
            f"The signal ({n_times} samples) is shorter than one Welch segment ({nperseg} samples)."
        )
    n_used = nperseg + ((n_times - nperseg) // hop) * hop
    psd, freqs = welch_epochs(
        data, sfreq, np.array([0]), length_s=n_used / sfreq, segment_s=segment_s,
        overlap=overlap, window=window, fmax=fmax,
    )
    return psd[0], freqs


def band_weights(freqs: np.ndarray, bands) -> np.ndarray:
    """Integration weights: ``psd @ W`` integrates the PSD over each band.

    The PSD is taken as linear between bins and integrated exactly over ``[lo, hi]`` (the
    trapezoid rule, with linear interpolation at edges that fall between bins). Integrals over
    adjacent bands therefore add up exactly to the integral over their union.

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
        Increasing frequencies (Hz).
    bands : sequence of (lo, hi) or (name, lo, hi)
        Band edges in Hz.

    Returns
    -------
    W : ndarray, shape (n_freqs, n_bands)
        Weights in Hz.
    """
    freqs = np.asarray(freqs, dtype=np.float64)
    edges = [(float(b[-2]), float(b[-1])) for b in bands]
    W = np.zeros((freqs.size, len(edges)))
    f0, f1 = freqs[:-1], freqs[1:]
    d = f1 - f0
    for j, (lo, hi) in enumerate(edges):
        if not lo < hi:
            raise ValueError(f"Invalid band [{lo}, {hi}]: the low edge must be below the high edge.")
        if lo < freqs[0] - 1e-9 or hi > freqs[-1] + 1e-9:
            raise ValueError(
                f"Band [{lo}, {hi}] Hz lies outside the spectrum ({freqs[0]:g}-{freqs[-1]:g} Hz)."
            )
        a = np.clip(lo, f0, f1)
        b = np.clip(hi, f0, f1)
        ua, ub = (a - f0) / d, (b - f0) / d
        upper = d * (ub**2 - ua**2) / 2.0  # weight on the right bin of each interval
        lower = d * (ub - ua) - upper       # weight on the left bin
        np.add.at(W[:, j], np.arange(f0.size), lower)
        np.add.at(W[:, j], np.arange(1, freqs.size), upper)
    return W


def band_power(psd: np.ndarray, freqs: np.ndarray, bands) -> np.ndarray:
    """Integrate a PSD over bands (see :func:`band_weights`).

    Parameters
    ----------
    psd : ndarray, shape (..., n_freqs)
        Power spectral density (e.g. µV²/Hz).
    freqs : ndarray, shape (n_freqs,)
    bands : sequence of (lo, hi) or (name, lo, hi)

    Returns
    -------
    power : ndarray, shape (..., n_bands)
        Band power (e.g. µV²).
    """
    return np.asarray(psd) @ band_weights(freqs, bands)
