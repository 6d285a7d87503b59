"""Preprocessing: line-noise notch, band-pass, bad channels, artifact annotations.

Pure functions on arrays (µV) with an MNE convenience layer (:func:`preprocess`) that takes and
returns :class:`mne.io.Raw` (volts).

Filtering uses MNE's own FIR designs (:func:`mne.filter.create_filter`: firwin, Hamming window,
zero phase, MNE's automatic transition bands and lengths — the filters ``raw.notch_filter`` and
``raw.filter`` would build). The notch and band-pass kernels are convolved into one kernel and
applied in a single overlap-add pass per channel, in float32 after removing each channel's mean
in float64 (relative error ~2e-6 of the signal's standard deviation; see ``bench/``). Edges are
padded the way MNE pads them (odd reflection).

Artifacts are found **per channel** and annotated on the channel they are found on (MNE's
channel-specific annotations: ``Annotations(..., ch_names=...)``), so that the features use each
channel's clean stretches (:func:`neurofeedback.features.compute_features_array`). Every rule
compares a channel with its own robust scale; the configured µV values
(``neurofeedback/configs/pipeline.yaml``) are floors under that scale, never a ceiling on EEG:

- ``BAD_amplitude``: peak-to-peak of the band-passed signal **without its alpha band**
  (:func:`alpha_stopped`, 7–13 Hz) within sliding windows (``artifact_window_s``, stepped by half
  a window) above 4 times the channel's lower-quartile window, or ``ptp_uv``, whichever is larger.
  Alpha is left out because eyes-closed alpha bursts of 100–150 µV are the signal the product
  tracks; a fixed 200 µV floor on the full signal rejected exactly the strongest alpha.
  (:func:`mne.preprocessing.annotate_amplitude` compares neighbouring samples, not windows.)
- ``BAD_deviation``: box/step artifacts in the raw (unfiltered) signal: a jump of its half-window
  block means by more than ``deviation_uv`` (or 6 times the channel's median one-second change,
  whichever is larger) within one second, up to the opposite jump that brings the signal back
  (within ``baseline_s``). A high-pass filter turns a long box into two edge transients and
  hides its flat top; this criterion marks it over its whole length, while slow drift
  (electrode settling, DC offsets) has no steps and is left to the high-pass.
- ``BAD_movement`` (every channel, no channel names): where at least half of the good channels
  (and two) show an amplitude or step artifact at once, one block either side — movement is
  shared, and reaches the channels where it stayed under their thresholds too.
- ``BAD_muscle``: muscle (EMG) bursts per channel on the unfiltered signal, 30 Hz–0.45·sfreq
  (:func:`neurofeedback.muscle.muscle_mask`, MNE's ``annotate_muscle_zscore`` method per channel
  with a robust z above ``muscle_z``), so beta and gamma are not muscle.
- ``BAD_blink``: residual blinks after correction — positive peaks of the alpha-free signal
  above ``blink_uv`` (or 5 robust standard deviations of the channel, whichever is larger)
  lasting 50–600 ms on the blink proxies (frontal channels: Fp*, AF*, F7/F8…), padded by
  ``blink_pad_s`` on both sides.

**Blinks are corrected before the search** (``preprocessing.ocular: template``,
:func:`neurofeedback.ocular.correct_ocular`): a rank-one blink fitted per blink on the good
channels and removed around each blink only, so eyes-open data are kept instead of discarded;
what it removed is in the provenance (``ocular``). Blink proxies are the frontal channels by name
or, in unnamed montages, channels with stereotyped blink-like peaks.

The adaptive floors keep the configured µV thresholds for consumer headsets (whose clean EEG
sits far below them) while not rejecting everything in lab-grade recordings with larger
amplitudes.

Mains (``line_freq="auto"``): 50 or 60 Hz, from the line peak over its neighbours
(:func:`line_peak_ratio`) of the channels that are neither railed nor flat, found first by the
bad-channel rules below (:func:`detect_line_freq` has the thresholds). The quality table's
``line_peak_ratio`` is that measure at the notch frequency, per channel.

Reference: the recording's own (``preprocessing.reference: as-recorded``, the default) or, after
the bad channels are known, a common average or linked reference (:mod:`neurofeedback.reference`;
channels used as the reference get status ``reference``).

Bad channels: *railed* (≥ ``railed_fraction`` of raw samples at ≥ ``rail_uv``, e.g. OpenBCI's
±187500 µV), *flat* (band-passed std below ``flat_uv``), *noisy* (band-passed std more than
10 times the median of the channels, with at least 3 channels).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import mne
import numpy as np
import pandas as pd
import scipy.signal

from .config import PreprocessingSettings, Settings, load_settings
from .errors import RecordingFormatError
from .ocular import blink_peaks, is_frontal
from .quality import railed_fraction
from .spectral import epoch_starts, welch_epochs

logger = logging.getLogger("neurofeedback")

__all__ = [
    "PreprocessResult",
    "LINE_PEAK_MIN",
    "LINE_PEAK_STRONG",
    "detect_line_freq",
    "line_peak_ratio",
    "design_filter",
    "filter_data",
    "find_bad_channels",
    "find_artifacts",
    "preprocess",
    "FRONTAL_PREFIXES",
]

FRONTAL_PREFIXES = ("FP", "AF", "F")  # Fp1/Fp2/AF7/AF8/F7/F8/F3/F4/Fz...; not FC/FT (ocular.is_frontal)


#: Mains frequencies :func:`detect_line_freq` looks for (Hz).
LINE_FREQS = (50.0, 60.0)

#: A line peak counts on a channel when the PSD at the mains frequency (the highest bin within
#: ±0.5 Hz) is at least this many times the median PSD 2–6 Hz away (~5 dB). Detection needs it
#: on the median good channel.
LINE_PEAK_MIN = 3.0

#: ... or on a single good channel, this much stronger (20 dB): mains interference, not EEG.
#: Measured with :func:`line_peak_ratio` at the frequency that is *not* the mains, on the good
#: channels of every third-party recording in ``../shared/data``: at most 1.7 (railed channels,
#: which detection skips, up to 13); the mains peak of their good channels reaches 100–260,000.
LINE_PEAK_STRONG = 100.0


def line_peak_ratio(data_uv: np.ndarray, sfreq: float, line_freqs=LINE_FREQS, *,
                    max_seconds: float = 120.0) -> np.ndarray:
    """Line peak over its neighbours, per channel: how far the mains stands out of the spectrum.

    The PSD is the **median** of 2-s Hann periodograms spread evenly over the whole recording
    (at most ``max_seconds`` of signal), so a loud burst (movement, a loose electrode for a few
    seconds) neither hides a steady mains peak nor fakes one; the ratio is the highest bin within
    ±0.5 Hz of the line frequency over the median PSD 2–6 Hz away (both from the same spectrum,
    so the median's bias cancels). Unitless (×); about 1–2 without mains.

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times)
        Raw signal (µV; any unit works, the ratio is unitless).
    sfreq : float
        Sampling rate in Hz.
    line_freqs : sequence of float
        Mains frequencies to measure (Hz).
    max_seconds : float
        Use at most this much signal, in 2-s segments spread over the recording.

    Returns
    -------
    ratio : ndarray, shape (n_line_freqs, n_channels)
        NaN for a frequency within 6 Hz of Nyquist or when the signal is shorter than 2 s.
    """
    n_ch, n = data_uv.shape
    out = np.full((len(line_freqs), n_ch), np.nan)
    seg_s = 2.0
    starts = epoch_starts(n, sfreq, length_s=seg_s, step_s=seg_s / 2)
    if starts.size == 0 or n_ch == 0:
        return out
    n_keep = max(int(max_seconds / seg_s), 1)
    if starts.size > n_keep:
        starts = starts[np.linspace(0, starts.size - 1, n_keep).round().astype(int)]
    psd, freqs = welch_epochs(data_uv, sfreq, starts, length_s=seg_s, segment_s=seg_s,
                              fmax=max(line_freqs) + 7.0)
    psd = np.median(psd, axis=0)
    for i, f0 in enumerate(line_freqs):
        if f0 + 6 >= sfreq / 2:
            continue
        off = np.abs(freqs - f0)
        peak = psd[:, off <= 0.5].max(axis=1)
        ref = np.median(psd[:, (off >= 2) & (off <= 6)], axis=1)
        out[i] = peak / np.maximum(ref, 1e-30)
    return out


def detect_line_freq(data_uv: np.ndarray, sfreq: float, *, good=None, max_seconds: float = 120.0):
    """Detect mains interference at 50 or 60 Hz from the spectrum of the good channels.

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times)
        Raw signal (µV).
    sfreq : float
        Sampling rate in Hz.
    good : ndarray of bool, shape (n_channels,) | None
        Channels to look at (``None``: all). Pass the channels that are neither railed nor flat
        (:func:`preprocess` does): a railed input toggling at the ADC rail or a dead one has a
        spectrum of its own that says nothing about the mains, and on a board with one wired
        electrode out of eight it outvotes the only channel that does.
    max_seconds : float
        Use at most this much signal (2-s segments spread over the recording) to keep it cheap.

    Returns
    -------
    line_freq : float | None
        50.0 or 60.0 when the median good channel shows a line peak (:func:`line_peak_ratio`)
        of at least :data:`LINE_PEAK_MIN`, or any single good channel one of at least
        :data:`LINE_PEAK_STRONG`; when both frequencies qualify, the one with the higher median
        (then the higher maximum) wins. ``None`` otherwise, and when no channel is good.
    """
    if good is not None:
        good = np.asarray(good, bool)
        data_uv = data_uv[good]
    if data_uv.shape[0] == 0:
        return None
    ratio = line_peak_ratio(data_uv, sfreq, LINE_FREQS, max_seconds=max_seconds)
    best, best_key = None, None
    for f0, r in zip(LINE_FREQS, ratio):
        if np.isnan(r).all():
            continue
        med, top = float(np.nanmedian(r)), float(np.nanmax(r))
        if not (med >= LINE_PEAK_MIN or top >= LINE_PEAK_STRONG):
            continue
        if best_key is None or (med, top) > best_key:
            best, best_key = f0, (med, top)
    return best


@lru_cache(maxsize=32)
def design_filter(sfreq: float, l_freq: float | None, h_freq: float | None, line_freq: float | None):
    """Return the combined zero-phase FIR kernel (notch × band-pass) MNE would design.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    l_freq, h_freq : float | None
        Band-pass edges (Hz), as ``raw.filter(l_freq, h_freq)``; ``h_freq`` at or above
        Nyquist is dropped.
    line_freq : float | None
        Notch frequency, as ``raw.notch_filter(line_freq)`` (width ``line_freq / 200``,
        1 Hz transition); ``None`` for no notch.

    Returns
    -------
    h : ndarray, shape (n_taps,)
        Odd-length symmetric kernel.
    """
    kernels = []
    if h_freq is not None and h_freq >= sfreq / 2:
        h_freq = None
    if l_freq is not None or h_freq is not None:
        kernels.append(
            mne.filter.create_filter(
                None, sfreq, l_freq, h_freq, fir_design="firwin", phase="zero", verbose="error"
            )
        )
    if line_freq is not None and line_freq < sfreq / 2:
        nw, tb_2 = line_freq / 200.0, 0.5
        kernels.append(
            mne.filter.create_filter(
                None, sfreq, line_freq + nw / 2 + tb_2, line_freq - nw / 2 - tb_2,
                l_trans_bandwidth=tb_2, h_trans_bandwidth=tb_2,
                fir_design="firwin", phase="zero", verbose="error",
            )
        )
    if not kernels:
        return np.array([1.0])
    h = kernels[0]
    for k in kernels[1:]:
        h = np.convolve(h, k)
    return h


def filter_data(data_uv: np.ndarray, sfreq: float, *, l_freq=1.0, h_freq=45.0, line_freq=None):
    """Notch and band-pass every channel in one pass (see the module notes).

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times)
        Signal in µV (any unit works; it is returned in the same unit).
    sfreq : float
        Sampling rate in Hz.
    l_freq, h_freq : float | None
        Band-pass edges in Hz.
    line_freq : float | None
        Notch frequency in Hz, or ``None``.

    Returns
    -------
    filtered : ndarray of float32, shape (n_channels, n_times)
    """
    h = design_filter(float(sfreq), l_freq, h_freq, line_freq).astype(np.float32)
    x = np.asarray(data_uv)
    n_ch, n_times = x.shape
    out = np.empty((n_ch, n_times), dtype=np.float32)
    n_edge = max(min(h.size, n_times) - 1, 0)
    for c in range(n_ch):
        xc = x[c].astype(np.float64)
        xc = (xc - xc.mean()).astype(np.float32)
        if h.size == 1:
            out[c] = xc
            continue
        if n_edge:
            left = 2 * xc[:1] - xc[n_edge:0:-1]
            right = 2 * xc[-1:] - xc[-2:-n_edge - 2:-1]
            xc = np.concatenate([left, xc, right])
        y = scipy.signal.oaconvolve(xc, h, mode="full")
        half = (h.size - 1) // 2
        out[c] = y[n_edge + half: n_edge + half + n_times]
    return out


def find_bad_channels(raw_uv: np.ndarray, filtered_uv: np.ndarray, ch_names, settings: PreprocessingSettings):
    """Classify channels as good, railed, flat or noisy.

    Parameters
    ----------
    raw_uv : ndarray, shape (n_channels, n_times)
        Unfiltered signal in µV (railing is a property of the raw values).
    filtered_uv : ndarray, shape (n_channels, n_times)
        Band-passed signal in µV.
    ch_names : list of str
    settings : PreprocessingSettings

    Returns
    -------
    quality : pandas.DataFrame
        One row per channel: ``channel, status, std_uv, railed_fraction``.
    """
    railed = railed_fraction(raw_uv, rail_uv=settings.rail_uv)
    # filtered_uv has zero mean (band-passed): std from the sum of squares, in float64
    std = np.sqrt(np.array([np.dot(r, r, ) for r in filtered_uv.astype(np.float64, copy=False)]) / filtered_uv.shape[1])
    status = np.full(len(ch_names), "good", dtype=object)
    status[std < settings.flat_uv] = "flat"
    status[railed >= settings.railed_fraction] = "railed"
    ok = status == "good"
    if ok.sum() >= 3:
        ref = np.median(std[ok])
        status[ok & (std > 10 * ref)] = "noisy"
    return pd.DataFrame(
        {"channel": list(ch_names), "status": status, "std_uv": std, "railed_fraction": railed}
    )


def _block_stats(x: np.ndarray, block: int):
    """Per-row maximum and minimum over consecutive blocks of ``block`` samples."""
    n_blocks = x.shape[1] // block
    xb = x[:, : n_blocks * block].reshape(x.shape[0], n_blocks, block)
    return xb.max(axis=2), xb.min(axis=2)


_STEP_FACTOR = 6.0   # a step must exceed 6x the channel's median one-second change
# A window's peak-to-peak must exceed 4x the channel's lower-quartile window: about 3x its
# median window on clean EEG, but a scale that stays put when artifacts fill up to three
# quarters of a recording (the median climbs with them and hides them).
_PTP_FACTOR = 4.0
_PTP_QUANTILE = 25.0

#: The band taken out of the signal that the amplitude and blink rules look at (Hz): the alpha
#: band with room for individual alpha frequencies (7–13 Hz, ``features.iaf_range``). Eyes-closed
#: alpha reaches 100–150 µV amplitude (200–300 µV peak to peak) in some people; that is the
#: signal the product tracks, and a rule that sees it as "amplitude" rejects exactly the
#: strongest alpha (it flattened a simulated cohort's alpha growth to 64 % of its truth).
#: Movement, blinks and electrode artifacts are broadband and mostly below 5 Hz, so they stay
#: visible without this band; muscle has its own detector above 30 Hz.
ALPHA_STOP_HZ = (7.0, 13.0)
_ALPHA_STOP_TRANSITION_HZ = 1.5


@lru_cache(maxsize=16)
def _alpha_stop_kernel(sfreq: float) -> np.ndarray:
    """MNE's firwin band-stop kernel: stop band :data:`ALPHA_STOP_HZ` (≥ 50 dB down), pass bands
    below and above it after 1.5-Hz transitions (MNE's automatic band-stop transitions are
    centred on the given edges and left 8 and 12 Hz only 6 and 2 dB down)."""
    lo, hi = ALPHA_STOP_HZ
    tb = _ALPHA_STOP_TRANSITION_HZ
    return mne.filter.create_filter(None, sfreq, hi + tb, lo - tb, l_trans_bandwidth=tb,
                                    h_trans_bandwidth=tb, fir_design="firwin", phase="zero",
                                    verbose="error").astype(np.float32)


def alpha_stopped(filtered_uv: np.ndarray, sfreq: float) -> np.ndarray:
    """The band-passed signal without its alpha band (:data:`ALPHA_STOP_HZ`), for the artifact
    rules that must not see alpha as amplitude.

    Parameters
    ----------
    filtered_uv : ndarray, shape (n_channels, n_times)
        Band-passed signal (µV).
    sfreq : float
        Sampling rate (Hz).

    Returns
    -------
    stopped : ndarray of float32, shape (n_channels, n_times)
        µV; a zero-phase FIR band-stop designed by :func:`mne.filter.create_filter` (firwin,
        Hamming; passes below 5.5 and above 14.5 Hz, ≥ 50 dB down over 7–13 Hz).
    """
    if ALPHA_STOP_HZ[1] + _ALPHA_STOP_TRANSITION_HZ >= sfreq / 2 or filtered_uv.shape[1] < 8:
        return np.asarray(filtered_uv, np.float32)
    h = _alpha_stop_kernel(float(sfreq))
    out = np.empty(filtered_uv.shape, np.float32)
    n = filtered_uv.shape[1]
    n_edge = max(min(h.size, n) - 1, 0)
    half = (h.size - 1) // 2
    for c, x in enumerate(np.asarray(filtered_uv, np.float32)):
        xp = np.concatenate([2 * x[:1] - x[n_edge:0:-1], x, 2 * x[-1:] - x[-2:-n_edge - 2:-1]])
        out[c] = scipy.signal.oaconvolve(xp, h, mode="full")[n_edge + half: n_edge + half + n]
    return out

def _step_boxes(means: np.ndarray, threshold: float, max_len: int) -> np.ndarray:
    """Mark blocks inside box artifacts of each row of block means (see :func:`find_artifacts`)."""
    n_ch, n = means.shape
    out = np.zeros((n_ch, n), bool)
    if n < 3:
        return out
    jump = means[:, 2:] - means[:, :-2]  # change across block b+1, one second apart
    for c in range(n_ch):
        # Adaptive: raw consumer-EEG (e.g. Cyton, no high-pass in hardware) wanders by tens to
        # hundreds of µV per second; a step must stand out from the channel's own wandering.
        thr = max(threshold, _STEP_FACTOR * float(np.median(np.abs(jump[c]))))
        big = np.abs(jump[c]) > thr
        if not big.any():
            continue
        steps = []  # (block index of the edge, size) — one per run of large jumps
        for a, b in zip(*_mask_to_intervals(big)):
            k = a + int(np.argmax(np.abs(jump[c, a:b])))
            steps.append((k + 1, float(jump[c, k])))
        i = 0
        while i < len(steps):
            edge, size = steps[i]
            # The box ends at a step of opposite sign that brings the signal back (±50 %), and
            # the signal holds the displaced level in between (a plateau, not two unrelated swings).
            before = np.median(means[c, max(edge - 5, 0):max(edge - 1, 1)])

            def _plateau(j, c=c, edge=edge, before=before, size=size, steps=steps):
                inside = means[c, edge + 1:max(steps[j][0] - 1, edge + 2)]
                return abs(float(np.median(inside)) - before) > 0.5 * abs(size)

            close = next((j for j in range(i + 1, len(steps))
                          if steps[j][0] - edge <= max_len and abs(steps[j][1] + size) < 0.5 * abs(size)
                          and _plateau(j)),
                         None)
            if close is None:  # a lone step: mark its surroundings only
                out[c, max(edge - 1, 0):min(edge + 2, n)] = True
                i += 1
            else:
                out[c, max(edge - 1, 0):min(steps[close][0] + 2, n)] = True
                i = close + 1
    return out


def _dilate(mask: np.ndarray, k: int) -> np.ndarray:
    """Widen the True runs of each row of a 2-D boolean mask by ``k`` places on both sides
    (same shape, whatever the row length)."""
    mask = np.asarray(mask, bool)
    out = mask.copy()
    n = mask.shape[1]
    for s in range(1, min(k, n - 1) + 1):
        out[:, s:] |= mask[:, :-s]
        out[:, :-s] |= mask[:, s:]
    return out


def _mask_to_intervals(mask: np.ndarray):
    """Return (start, stop) index pairs of runs of True in a 1-D boolean mask."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def find_artifacts(raw_uv, filtered_uv, sfreq, ch_names, good, settings: PreprocessingSettings, *,
                   extra_masks=None, blink_channels=None):
    """Find amplitude, deviation and blink artifacts, per channel.

    Each rule works on each good channel against that channel's own robust scale (the median
    window, the median one-second change, the robust standard deviation), with the configured
    µV values as floors; the amplitude and blink rules look at the signal without its alpha
    band (:func:`alpha_stopped`), so strong alpha is never an artifact. An artifact is marked on
    the channel it is found on only: a blink on AF7 spoils AF7, not TP9.

    Parameters
    ----------
    raw_uv, filtered_uv : ndarray, shape (n_channels, n_times)
        Unfiltered and band-passed signals in µV.
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
    good : ndarray of bool, shape (n_channels,)
        Channels to consider (bad channels are ignored).
    settings : PreprocessingSettings
    extra_masks : dict of str to ndarray of bool, shape (n_channels, n_times) | None
        Further per-channel, per-sample artifact masks by description (e.g. ``BAD_muscle``),
        merged in the same way.
    blink_channels : sequence of str | None
        Channels searched for blinks (default: the good frontal ones by name; the blink
        correction's proxies, :func:`neurofeedback.ocular.find_blink_channels`, find them in
        unnamed montages too).

    Returns
    -------
    annotations : list of (onset_s, duration_s, description, channels)
        Merged intervals per description and channel; ``channels`` is a one-name tuple.
    channel_mask : ndarray of bool, shape (n_channels, n_blocks)
        Per channel and per half-window block, True where that channel had an artifact.
    block_s : float
        Duration of one block in seconds.
    """
    n_ch, n_times = filtered_uv.shape
    good = np.asarray(good, bool)
    block = max(int(round(settings.artifact_window_s * sfreq / 2)), 1)
    block_s = block / sfreq
    n_blocks = n_times // block
    annots: list = []
    if n_blocks == 0:
        return annots, np.zeros((n_ch, 0), bool), block_s
    stopped = alpha_stopped(filtered_uv, sfreq)
    fmax, fmin = _block_stats(stopped, block)
    # Peak-to-peak over windows of two blocks (stepped by one block).
    wmax = np.maximum(fmax[:, :-1], fmax[:, 1:]) if n_blocks > 1 else fmax
    wmin = np.minimum(fmin[:, :-1], fmin[:, 1:]) if n_blocks > 1 else fmin
    ptp = wmax - wmin
    # A window is an artifact when its peak-to-peak exceeds `ptp_uv` *and* stands out from the
    # channel's own typical window (lab-grade EEG can run at 40-50 µV std, where 200 µV peak to
    # peak is ordinary).
    thr = np.maximum(settings.ptp_uv, _PTP_FACTOR * np.percentile(ptp, _PTP_QUANTILE, axis=1))
    bad_win = ptp > thr[:, None]
    amp = np.zeros((n_ch, n_blocks), bool)
    amp[:, : bad_win.shape[1]] |= bad_win
    amp[:, n_blocks - bad_win.shape[1]:] |= bad_win
    # Box/step artifacts. Block means act as a 0.5 s boxcar low-pass: mains noise and EEG
    # average out, the plateau of a box does not. A step is a jump of the block means over one
    # second by more than `deviation_uv`; a box runs from a step to the next step of opposite
    # sign within `baseline_s`. Slow drift (electrode settling, Cyton DC offsets) has no steps
    # and is left to the high-pass.
    rmean = raw_uv[:, : n_blocks * block].reshape(n_ch, n_blocks, block).mean(axis=2, dtype=np.float64)
    dev = _step_boxes(rmean, settings.deviation_uv, max(int(round(settings.baseline_s / block_s)), 2))
    # Blinks: positive peaks on frontal good channels (alpha taken out: a 7-Hz alpha wave's
    # half-cycle is ~50 ms wide, as short as the fastest blinks).
    blink = np.zeros((n_ch, n_blocks), bool)
    blink_samples = np.zeros((n_ch, n_times), bool)
    pad = int(round(settings.blink_pad_s * sfreq))
    searched = set(blink_channels) if blink_channels else {n for n in ch_names if is_frontal(n)}
    for i, name in enumerate(ch_names):
        if not (good[i] and name in searched):
            continue
        for p in blink_peaks(stopped[i], sfreq, blink_uv=settings.blink_uv):
            a, b = max(p - pad, 0), min(p + pad, n_times)
            blink_samples[i, a:b] = True
            blink[i, a // block: min((b - 1) // block + 1, n_blocks)] = True
    for name, mask in (("BAD_amplitude", amp), ("BAD_deviation", dev)):
        for i in np.flatnonzero(good):
            for a, b in zip(*_mask_to_intervals(mask[i])):
                annots.append((float(a * block_s), float((b - a) * block_s), name, (ch_names[i],)))
    channel_mask = (amp | dev | blink) & good[:, None]
    # Movement is shared: when at least half of the good channels (and >= 2) show an amplitude
    # or step artifact in the same block, the head or cable moved, and the channels where it
    # stayed under their thresholds carry it too (at 40 % of the loudest channel's amplitude a
    # burst still multiplies their delta power). Those blocks, one block either side, are bad
    # on every channel (``BAD_movement``, no channel names).
    n_good = int(good.sum())
    if n_good >= 2:
        # a blink's own amplitude on the frontal pair is not movement: it does not vote
        # (nor are the amplitude windows that reach into it, up to two blocks away)
        near_blink = _dilate(blink, 2)
        vote = (amp | dev) & ~near_blink
        shared = vote[good].sum(axis=0) >= max(2, int(np.ceil(n_good / 2)))
        if shared.any():
            shared = _dilate(shared[None, :], 1)[0]
            for a, b in zip(*_mask_to_intervals(shared)):
                annots.append((float(a * block_s), float((b - a) * block_s), "BAD_movement", ()))
            channel_mask |= shared[None, :] & good[:, None]
    sample_masks = {"BAD_blink": blink_samples, **(extra_masks or {})}
    for name, mask in sample_masks.items():
        mask = np.asarray(mask, bool)
        for i in np.flatnonzero(good):
            starts, stops = _mask_to_intervals(mask[i])
            for a, b in zip(starts, stops):
                annots.append((float(a / sfreq), float((b - a) / sfreq), name, (ch_names[i],)))
            if name != "BAD_blink" and starts.size:
                for a, b in zip(starts, stops):
                    channel_mask[i, a // block: min((b - 1) // block + 1, n_blocks)] = True
    return sorted(annots), channel_mask, block_s


@dataclass(frozen=True)
class PreprocessResult:
    """What :func:`preprocess` returns.

    Attributes
    ----------
    raw : mne.io.Raw
        Filtered copy (volts) with bad channels in ``info['bads']`` and the artifact
        annotations added to the recording's own.
    quality : pandas.DataFrame
        Per channel: ``channel, status, std_uv, railed_fraction, line_peak_ratio,
        artifact_fraction``. ``line_peak_ratio`` is the line peak over its neighbours at the
        notch frequency (:func:`line_peak_ratio`, ×; NaN without a notch).
    line_freq : float | None
        The notch frequency used (given or detected).
    artifacts : list of (onset_s, duration_s, description)
    data_uv : ndarray of float32, shape (n_channels, n_times)
        The filtered EEG channels of ``raw`` in µV (what the features are computed from;
        kept to avoid converting back from volts).
    reference : dict | None
        The reference: ``recorded`` (what the file or device says, see
        :mod:`neurofeedback.io._reference`), ``current`` (what ``data_uv`` is referenced to now),
        and :func:`neurofeedback.reference.apply_reference`'s record (``setting``, ``applied``,
        ``reference``, ``reference_channels``, ``used_as_reference``, ``skipped``).
    ocular : dict | None
        What blink correction did (:func:`neurofeedback.ocular.correct_ocular`'s report: method,
        applied or why not, proxy channels, blinks, corrected fraction, removed variance per
        channel in µV²); ``data_uv`` is the corrected signal.
    muscle : dict | None
        Muscle detection (``applied``, ``threshold_z``, ``reason`` when it could not run,
        ``fraction`` of the good channels' samples marked ``BAD_muscle``).
    """

    raw: mne.io.BaseRaw
    quality: pd.DataFrame
    line_freq: float | None
    artifacts: list
    data_uv: np.ndarray | None = None
    reference: dict | None = None
    ocular: dict | None = None
    muscle: dict | None = None


def check_sampling_rate(raw, settings: Settings | None = None, *, path=None) -> None:
    """Refuse a recording whose rate cannot carry the analysis, before any filter is designed.

    The Nyquist frequency (``sfreq / 2``) must be above every frequency the analysis needs: the
    band-pass edges and the top of the bands and of the broadband range (45 Hz by default, so
    at least 90 Hz). A lower rate means wrong timestamp units or a file that is not raw EEG.

    Raises
    ------
    RecordingFormatError
        One line naming the file and the rate.
    """
    settings = settings or load_settings()
    p, b = settings.preprocessing, settings.bands
    edges = [p.l_freq, p.h_freq, *b.broadband, *(hi for _, _, hi in b.bands)]
    if path is None:
        files = [f for f in (getattr(raw, "filenames", None) or ()) if f]
        path = files[0] if files else "the recording"
    sfreq = float(raw.info["sfreq"])
    highest = max(e for e in edges if e is not None)
    if not (np.isfinite(sfreq) and sfreq / 2 > highest):
        raise RecordingFormatError(
            path, f"sampling rate {sfreq:g} Hz is too low for the band-pass and the bands: its "
                  f"Nyquist frequency {sfreq / 2:g} Hz is not above {highest:g} Hz (wrong "
                  f"timestamp units, or not a raw EEG recording?)"
        )


def preprocess(raw: mne.io.BaseRaw, settings: Settings | None = None, *, line_freq="config"):
    """Filter a recording, mark bad channels and annotate artifacts.

    Parameters
    ----------
    raw : mne.io.Raw
        Recording in volts (as :func:`neurofeedback.io.read_recording` returns); not modified.
    settings : Settings | None
        Settings (default: :func:`~neurofeedback.config.load_settings`).
    line_freq : 50 | 60 | "auto" | None | "config"
        Notch frequency; ``"config"`` takes ``settings.preprocessing.line_freq``; ``"auto"``
        detects it (:func:`detect_line_freq`) on the channels that are neither railed nor flat
        nor marked bad in the file, found first by the same rules on the band-passed signal
        without a notch; ``None`` applies no notch.

    Returns
    -------
    result : PreprocessResult
    """
    settings = settings or load_settings()
    p = settings.preprocessing
    if line_freq == "config":
        line_freq = p.line_freq
    if line_freq not in ("auto", None, 50, 60, 50.0, 60.0):
        raise ValueError(
            f"Invalid value for the 'line_freq' parameter. Allowed values are 50, 60, 'auto' "
            f"and None, but got {line_freq!r} instead."
        )
    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    if picks.size == 0:
        raise ValueError("The recording has no EEG channels.")
    sfreq = float(raw.info["sfreq"])
    check_sampling_rate(raw, settings)
    ch_names = [raw.ch_names[i] for i in picks]
    raw_uv = raw.get_data(picks=picks)  # a copy for a preloaded recording: scaled in place
    if np.may_share_memory(raw_uv, getattr(raw, "_data", None)):
        raw_uv = raw_uv * 1e6
    else:
        raw_uv *= 1e6
    h_freq = p.h_freq if p.h_freq < sfreq / 2 else None
    prior_bads = set(raw.info["bads"])
    filt = None
    if line_freq == "auto":
        # Bad channels first (the same rules, on the band-passed signal without a notch), then
        # the mains from the channels that are neither railed nor flat: noisy ones stay, since
        # strong mains leaking past the 45 Hz edge is what makes a channel noisy before the notch.
        filt = filter_data(raw_uv, sfreq, l_freq=p.l_freq, h_freq=h_freq, line_freq=None)
        status = find_bad_channels(raw_uv, filt, ch_names, p)["status"]
        usable = status.isin(["good", "noisy"]).to_numpy() & np.array([n not in prior_bads for n in ch_names])
        line_freq = detect_line_freq(raw_uv, sfreq, good=usable)
    line_freq = None if line_freq is None else float(line_freq)
    if filt is None or line_freq is not None:
        filt = filter_data(raw_uv, sfreq, l_freq=p.l_freq, h_freq=h_freq, line_freq=line_freq)
    quality = find_bad_channels(raw_uv, filt, ch_names, p)
    good = np.array([(s == "good") and (n not in prior_bads) for s, n in zip(quality["status"], ch_names)])
    quality.loc[~good & (quality["status"] == "good"), "status"] = "bad (marked in file)"
    # -- re-reference (preprocessing.reference; off by default): one call, see _rereference --
    filt, good, reference = _rereference(raw, filt, ch_names, good, quality, p.reference)
    # -- blinks corrected (neurofeedback.ocular), muscle bursts found (neurofeedback.muscle) --
    filt, ocular = _correct_ocular(filt, sfreq, ch_names, good, p)
    muscle, muscle_info = _muscle(raw_uv, sfreq, good, line_freq, p)
    blink_channels = ocular["proxy_channels"] or None
    annots, ch_mask, _ = find_artifacts(raw_uv, filt, sfreq, ch_names, good, p,
                                        extra_masks={"BAD_muscle": muscle} if muscle is not None else None,
                                        blink_channels=blink_channels)
    quality["line_peak_ratio"] = (line_peak_ratio(raw_uv, sfreq, (line_freq,))[0] if line_freq is not None
                                  else np.nan)
    quality["artifact_fraction"] = ch_mask.mean(axis=1) if ch_mask.size else 0.0

    info = mne.pick_info(raw.info, picks)
    with info._unlock():
        info["bads"] = [n for n, g in zip(ch_names, good) if not g]
        info["highpass"] = float(p.l_freq)
        if h_freq is not None:
            info["lowpass"] = float(h_freq)
    out = mne.io.RawArray(np.multiply(filt, 1e-6, dtype=np.float64), info, first_samp=raw.first_samp,
                          copy=None, verbose="error")
    ann = raw.annotations.copy()
    if annots:
        on, du, de, chs = zip(*annots)
        shift = out.first_time if ann.orig_time is not None else 0.0
        ann.append(np.asarray(on) + shift, du, de, ch_names=[list(c) for c in chs])
    out.set_annotations(ann)
    _mark_reference(out, reference)
    return PreprocessResult(raw=out, quality=quality, line_freq=line_freq, artifacts=annots, data_uv=filt,
                            reference=reference, ocular=ocular, muscle=muscle_info)


def _correct_ocular(filt, sfreq, ch_names, good, p: PreprocessingSettings):
    """Blink correction on the band-passed good channels (``preprocessing.ocular``); returns the
    corrected array (float32, µV) and :func:`neurofeedback.ocular.correct_ocular`'s report."""
    from .ocular import correct_ocular

    corrected, report = correct_ocular(filt, sfreq, ch_names, good, method=p.ocular, blink_uv=p.blink_uv)
    if report["applied"]:  # correct_ocular logs what it did
        return corrected.astype(np.float32, copy=False), report
    return filt, report


def _muscle(raw_uv, sfreq, good, line_freq, p: PreprocessingSettings):
    """Per-channel muscle bursts on the unfiltered signal (``preprocessing.muscle_z``); returns
    ``(mask or None, record)`` — None with a reason when the band cannot be measured."""
    from .muscle import muscle_mask

    try:
        mask = muscle_mask(raw_uv, sfreq, good, line_freq=line_freq, threshold=p.muscle_z)
    except ValueError as err:  # the 30 Hz-0.45*sfreq band does not fit this sampling rate
        return None, {"applied": False, "threshold_z": p.muscle_z, "reason": str(err)}
    return mask, {"applied": True, "threshold_z": p.muscle_z, "reason": None,
                  "fraction": float(mask[np.asarray(good, bool)].mean()) if np.any(good) else 0.0}


def _rereference(raw, filt, ch_names, good, quality, setting):
    """Apply ``preprocessing.reference`` (:func:`neurofeedback.reference.apply_reference`).

    Channels used as the reference get status ``"reference"`` in ``quality`` and leave ``good``
    (their values are no longer EEG at their sites). Returns ``(filt, good, reference)`` with
    ``reference`` the record of :attr:`PreprocessResult.reference`.
    """
    from .io._reference import recording_reference
    from .reference import apply_reference

    recorded = recording_reference(raw)
    filt, info = apply_reference(filt, ch_names, good, setting)
    if info["used_as_reference"]:
        used = np.isin(np.asarray(ch_names, dtype=object), info["used_as_reference"])
        good = good & ~used
        quality.loc[used, "status"] = "reference"
    return filt, good, {"recorded": recorded, **info,
                        "current": info["reference"] if info["applied"] else recorded}


def _mark_reference(out, reference) -> None:
    """Record the reference of the preprocessed ``out`` (its description; MNE's flag when changed)."""
    from mne.io.constants import FIFF

    from .io._reference import set_reference

    set_reference(out, reference["current"])
    if reference["applied"]:
        with out.info._unlock():
            out.info["custom_ref_applied"] = FIFF.FIFFV_MNE_CUSTOM_REF_ON
