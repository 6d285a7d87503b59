"""Band-power features per epoch and per session, with IAF, FAA, aperiodic fit and provenance.

Definitions (units in every output's provenance):

- **Absolute band power** (µV²): the Welch PSD integrated over the band (trapezoid rule on the
  piecewise-linear PSD; see :func:`neurofeedback.spectral.band_weights`).
- **Relative band power**: absolute ÷ power over the broadband range (default 1–45 Hz). With
  bands that tile the broadband range the relative powers sum to exactly 1.
- **Log power**: log10 of absolute power (log10 µV²).
- **Ratios**: quotients of absolute powers (alpha/theta, theta/beta by default).
- **Frontal alpha asymmetry** (FAA): ln(α right) − ln(α left) for each homologous pair present
  (F4/F3, AF8/AF7, F8/F7, Fp2/Fp1); positive means more right-hemisphere alpha.
- **Aperiodic fit** (``aperiodic``): log10 PSD = offset − exponent · log10 f over
  ``aperiodic_range`` (default 2–40 Hz), fitted by specparam (``SpectralModel``, ``'fixed'``
  aperiodic mode, Gaussian peaks; :mod:`neurofeedback.periodic`), with its fit quality
  ``r_squared`` and ``error`` (mean absolute error, log10 power) and a ``flag`` (``ok``,
  ``noise_floor``, ``poor_fit``, ``fit_failed``; ``None`` with no spectrum). The home-made
  robust line :func:`aperiodic_fit` stays public (an independent check) but no longer feeds the
  summary.
- **Periodic alpha** (``periodic_alpha``): the strongest specparam peak in ``iaf_range``
  (``cf_hz``, ``pw_log10``, ``bw_hz``; ``None`` without one) and ``power_uv2``, the alpha-band
  integral of the PSD above the aperiodic fit, clipped at 0 (the aperiodic-adjusted alpha), and
  ``aperiodic_fraction``, the background's share of the alpha-band power.
  ``iaf_ambiguous``: two comparable specparam peaks in ``iaf_range`` (a split alpha peak; rule in
  :mod:`neurofeedback.periodic`).
- **Individual alpha frequency**: the largest peak of the PSD above the (specparam) aperiodic fit within
  ``iaf_range`` (7–13 Hz), refined by parabolic interpolation; it counts as *clear* when it is a
  local maximum rising ``iaf_min_prominence`` (0.1 log10 units, +26 %) above the fit; otherwise
  ``None``. The centre of gravity is Σ f·P⁺ / Σ P⁺ over the range, where P⁺ is the power above
  the aperiodic fit (the periodic part, so 1/f does not drag it down); ``None`` with no clear peak.

Session values summarise the clean epochs only: the clean epochs' PSDs are averaged and the
session features are computed from that mean spectrum.

**Bad channels** (railed, flat or noisy by :func:`neurofeedback.preprocessing.preprocess`, or
already in ``info['bads']``) have no values anywhere: their rows stay in the per-epoch table, with
NaN ``absolute_uv2``, ``relative`` and ``log10_uv2`` and ``clean=False``; their per-channel
summary values are ``None`` (session and blocks) and their mean PSD is NaN. A rail's filter
residue is not EEG, so 0 µV², −inf log power or fractions of float residue would be read as
measurements. Likewise, a log power of a non-positive power and a relative power over a
non-positive broadband power are NaN, never ±inf. One place enforces it: :func:`_band_values`.

**Blocks** (eyes-open, eyes-closed, meditation, …; found in the annotations by
:mod:`neurofeedback.blocks`): every epoch row carries the ``block`` it lies in (its whole span
inside the block; ``""`` when it lies in none), and the summary's ``blocks`` gives each block the
same values as the session, computed in the same way from the clean epochs of that block only.
A block with fewer than ``blocks.min_clean_epochs`` clean epochs (``pipeline.yaml``, default 5:
at least 12 s of distinct clean data, as 4-s epochs overlap by half) gets no values and a
``reason``. The whole-session values do not depend on the blocks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import mne
import numpy as np
import pandas as pd

from .blocks import NO_BLOCK, block_spans, epoch_blocks
from .config import Settings, load_settings
from .periodic import PeriodicFit, fit_periodic
from .spectral import band_weights, epoch_starts, welch_epochs

logger = logging.getLogger("neurofeedback")

__all__ = [
    "SessionFeatures",
    "aperiodic_fit",
    "individual_alpha_frequency",
    "frontal_alpha_asymmetry",
    "clean_epoch_mask",
    "channel_bad_mask",
    "block_min_clean_s",
    "compute_features",
    "compute_features_array",
]

EPOCH_COLUMNS = (
    "epoch", "onset_s", "duration_s", "channel", "band",
    "absolute_uv2", "relative", "log10_uv2", "clean", "block",
)
#: The per-channel values of a session summary, and of each of its blocks.
VALUE_KEYS = ("band_power", "ratios", "iaf_hz", "iaf_cog_hz", "faa", "aperiodic", "periodic_alpha",
              "iaf_ambiguous")


def aperiodic_fit(freqs, psd, *, freq_range=(2.0, 40.0), max_iter: int = 10):
    """Fit the aperiodic (1/f) component, robust to oscillatory peaks.

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
        Frequencies in Hz.
    psd : ndarray, shape (n_channels, n_freqs) or (n_freqs,)
        Power spectral density (µV²/Hz).
    freq_range : (float, float)
        Fit range in Hz.
    max_iter : int
        Maximum number of exclusion rounds.

    Returns
    -------
    exponent : ndarray, shape (n_channels,)
        χ in PSD ∝ f^-χ.
    offset : ndarray, shape (n_channels,)
        log10 PSD at 1 Hz (log10 µV²/Hz).
    """
    psd = np.atleast_2d(np.asarray(psd, dtype=np.float64))
    freqs = np.asarray(freqs, dtype=np.float64)
    sel = (freqs >= freq_range[0]) & (freqs <= freq_range[1])
    lf = np.log10(freqs[sel])
    n_ch = psd.shape[0]
    exponent = np.full(n_ch, np.nan)
    offset = np.full(n_ch, np.nan)
    if sel.sum() < 4:
        return exponent, offset
    for c in range(n_ch):
        p = psd[c, sel]
        if not np.all(np.isfinite(p)) or np.any(p <= 0):
            continue
        lp = np.log10(p)
        keep = np.ones(lf.size, bool)
        for _ in range(max_iter):
            slope, icpt = np.polyfit(lf[keep], lp[keep], 1)
            resid = lp - (icpt + slope * lf)
            sd = 1.4826 * np.median(np.abs(resid[keep] - np.median(resid[keep])))
            new = resid <= 2.0 * max(sd, 1e-6)
            if new.sum() < max(4, lf.size // 3) or np.array_equal(new, keep):
                break
            keep = new
        exponent[c], offset[c] = -slope, icpt
    return exponent, offset


def individual_alpha_frequency(freqs, psd, *, freq_range=(7.0, 13.0), min_prominence=0.1,
                               exponent=None, offset=None, aperiodic_range=(2.0, 40.0)):
    """Individual alpha frequency: peak and centre of gravity above the aperiodic fit.

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
    psd : ndarray, shape (n_channels, n_freqs)
        PSD in µV²/Hz.
    freq_range : (float, float)
        Search range in Hz.
    min_prominence : float
        Height above the aperiodic fit (log10 units) a peak needs to count as clear.
    exponent, offset : ndarray | None
        A precomputed :func:`aperiodic_fit`; computed over ``aperiodic_range`` when ``None``.
    aperiodic_range : (float, float)
        Fit range used when the fit is computed here.

    Returns
    -------
    peak_hz : ndarray, shape (n_channels,)
        Peak frequency, NaN when there is no clear peak.
    cog_hz : ndarray, shape (n_channels,)
        Centre of gravity of the periodic power, NaN when there is no clear peak.
    """
    psd = np.atleast_2d(np.asarray(psd, dtype=np.float64))
    freqs = np.asarray(freqs, dtype=np.float64)
    if exponent is None or offset is None:
        exponent, offset = aperiodic_fit(freqs, psd, freq_range=aperiodic_range)
    n_ch = psd.shape[0]
    peak_hz = np.full(n_ch, np.nan)
    cog_hz = np.full(n_ch, np.nan)
    pos = freqs > 0
    in_rng = np.flatnonzero((freqs >= freq_range[0]) & (freqs <= freq_range[1]))
    if in_rng.size < 3:
        return peak_hz, cog_hz
    df = freqs[1] - freqs[0]
    for c in range(n_ch):
        if not np.isfinite(exponent[c]):
            continue
        with np.errstate(divide="ignore"):
            fit = np.where(pos, offset[c] - exponent[c] * np.log10(np.where(pos, freqs, 1.0)), np.nan)
            resid = np.log10(np.maximum(psd[c], 1e-300)) - fit
        i = in_rng[np.argmax(resid[in_rng])]
        if i <= 0 or i >= freqs.size - 1:
            continue
        r0, r1, r2 = resid[i - 1], resid[i], resid[i + 1]
        if not (r1 > r0 and r1 >= r2 and r1 >= min_prominence):
            continue
        denom = r0 - 2 * r1 + r2
        delta = 0.5 * (r0 - r2) / denom if denom < 0 else 0.0
        peak_hz[c] = freqs[i] + float(np.clip(delta, -0.5, 0.5)) * df
        periodic = np.maximum(psd[c, in_rng] - 10.0 ** fit[in_rng], 0.0)
        if periodic.sum() > 0:
            cog_hz[c] = float((freqs[in_rng] * periodic).sum() / periodic.sum())
    return peak_hz, cog_hz


def frontal_alpha_asymmetry(alpha_power: dict, pairs) -> dict:
    """Frontal alpha asymmetry ln(α right) − ln(α left) for each pair present.

    Parameters
    ----------
    alpha_power : dict
        ``{channel: absolute alpha power}`` (µV²); channels with ``None``/NaN are skipped.
    pairs : sequence of (right, left)
        E.g. ``(("F4", "F3"), ("AF8", "AF7"))``; matched case-insensitively.

    Returns
    -------
    faa : dict
        ``{"F4/F3": value, ...}`` for every pair whose two channels have positive power.
    """
    lookup = {str(k).upper(): v for k, v in alpha_power.items()}
    out = {}
    for right, left in pairs:
        pr, pl = lookup.get(right.upper()), lookup.get(left.upper())
        if pr is None or pl is None or not (np.isfinite(pr) and np.isfinite(pl)) or pr <= 0 or pl <= 0:
            continue
        out[f"{right}/{left}"] = float(np.log(pr) - np.log(pl))
    return out


def clean_epoch_mask(annotations: mne.Annotations, starts, n_len, sfreq, *, first_time=0.0):
    """Return True for epochs that overlap no ``BAD*`` annotation.

    Parameters
    ----------
    annotations : mne.Annotations
    starts : ndarray of int
        First sample of each epoch (relative to the first sample of the data).
    n_len : int
        Epoch length in samples.
    sfreq : float
    first_time : float
        ``raw.first_time`` when the annotations are tied to ``meas_date``.

    Returns
    -------
    clean : ndarray of bool, shape (n_epochs,)
    """
    starts = np.asarray(starts)
    clean = np.ones(starts.size, bool)
    if len(annotations) == 0 or starts.size == 0:
        return clean
    shift = first_time if annotations.orig_time is not None else 0.0
    e0 = starts / sfreq
    e1 = (starts + n_len) / sfreq
    for onset, dur, desc in zip(annotations.onset, annotations.duration, annotations.description):
        if not str(desc).upper().startswith("BAD"):
            continue
        a = onset - shift
        b = a + max(dur, 1.0 / sfreq)  # a zero-length BAD mark still spoils its epoch
        clean &= ~((e0 < b) & (e1 > a))
    return clean


class SessionFeatures:
    """Features of one recording.

    Attributes
    ----------
    epochs : pandas.DataFrame
        Long table, one row per epoch × channel × band: ``epoch, onset_s, duration_s, channel,
        band, absolute_uv2`` (µV²), ``relative`` (fraction of broadband power), ``log10_uv2``
        (log10 µV²), ``clean, block`` (rejected epochs kept with ``clean=False`` so the
        timeline is complete; ``block`` is the label of the block the epoch lies wholly in,
        ``""`` for none: see :mod:`neurofeedback.blocks`). A bad channel's rows are kept with
        ``clean=False`` and NaN values (no band power).
    summary : dict
        Session values (JSON-serialisable; see :func:`compute_features_array`).
    psd : ndarray, shape (n_channels, n_freqs)
        Mean PSD of the clean epochs (µV²/Hz; NaN when there are none, and for bad channels).
    freqs : ndarray, shape (n_freqs,)
    provenance : dict
    n_segments : ndarray of int, shape (n_channels,) | None
        The clean 2-s Welch segments each channel's ``psd`` averages (0 for bad channels).
    block_psd : dict
        ``{block label: (psd, n_segments)}``: each block's mean PSD, shape (n_channels, n_freqs),
        µV²/Hz, computed as the block values of the summary are (blocks without values are
        absent), and its segment counts per channel.

    Notes
    -----
    :func:`compute_features` gives ``session``, a function computing ``(summary, psd,
    n_segments, block_psd)``, instead of those four: they are computed on first access, once.
    The per-epoch table does not need them, so ``neurofeedback features`` (which writes only the
    table) never fits specparam nor imports it (~0.4 s of CPU, matplotlib included, per run);
    every other caller reads them and gets the same numbers as before. The attributes are
    read-only; pickling or copying computes the values first and carries them.
    """

    __slots__ = ("_epochs", "_freqs", "_provenance", "_session", "_values")

    def __init__(self, epochs, summary=None, psd=None, freqs=None, provenance=None,
                 n_segments=None, block_psd=None, *, session=None):
        if session is None and (summary is None or psd is None):
            raise TypeError("SessionFeatures needs summary and psd, or session (a function "
                            "returning (summary, psd, n_segments, block_psd)).")
        if freqs is None:
            raise TypeError("SessionFeatures needs freqs.")
        set_ = object.__setattr__
        set_(self, "_epochs", epochs)
        set_(self, "_freqs", freqs)
        set_(self, "_provenance", dict(provenance or {}))
        set_(self, "_session", session)
        set_(self, "_values", None if session is not None
             else (summary, psd, n_segments, dict(block_psd or {})))

    def __setattr__(self, name, value):
        raise AttributeError(f"SessionFeatures is read-only (cannot set {name!r}).")

    def __repr__(self) -> str:
        return (f"SessionFeatures(epochs={len(self._epochs)} rows, freqs={len(self._freqs)}, "
                f"session values {'computed' if self._values is not None else 'not yet computed'})")

    def __reduce__(self):
        # pickle and copy the values (computed first if they were not yet): not the function
        summary, psd, n_segments, block_psd = self._session_values()
        return (SessionFeatures, (self._epochs, summary, psd, self._freqs, self._provenance,
                                  n_segments, block_psd))

    def _session_values(self):
        if self._values is None:
            summary, psd, n_segments, block_psd = self._session()
            object.__setattr__(self, "_values", (summary, psd, n_segments, block_psd))
            object.__setattr__(self, "_session", None)  # frees what it held (the periodograms)
        return self._values

    epochs = property(lambda self: self._epochs, doc="The per-epoch long table.")
    freqs = property(lambda self: self._freqs, doc="Frequencies of ``psd``, Hz.")
    provenance = property(lambda self: self._provenance, doc="The provenance (dict).")
    summary = property(lambda self: self._session_values()[0], doc="Session values (dict).")
    psd = property(lambda self: self._session_values()[1], doc="Mean PSD per channel, µV²/Hz.")
    n_segments = property(lambda self: self._session_values()[2],
                          doc="Welch segments averaged per channel.")
    block_psd = property(lambda self: self._session_values()[3],
                         doc="``{block: (psd, n_segments)}``.")


def _none_if_nan(x):
    x = float(x)
    return None if not np.isfinite(x) else x


def compute_features_array(data_uv, sfreq, ch_names, *, clean_epochs=None, starts=None,
                           bad_channels=(), blocks=(), bad_mask=None, settings: Settings | None = None,
                           spectra_out: dict | None = None):
    """Per-epoch and session features from a preprocessed array (the pure core).

    Spectra come from the clean parts of each channel. The recording is cut into Welch segments
    (``spectral.segment_s`` long, stepped by ``segment_s · (1 − overlap)``: 2 s stepped by 1 s by
    default); a channel's session (and block) PSD is the mean periodogram of the segments that
    are clean **on that channel** — Welch's method over the clean stretches only, as MNE's
    ``compute_psd(reject_by_annotation=True)`` does, but per channel — so a blink on AF7 costs
    AF7 two or three seconds and TP9 nothing. The per-epoch table keeps its 4-s epochs; an
    epoch's row is clean when the epoch is clean on that channel.

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times)
        Preprocessed signal in µV.
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
    clean_epochs : ndarray of bool, shape (n_epochs,) | None
        Clean flag per epoch, for every channel (default all clean); used when ``bad_mask`` is
        not given: the samples no clean epoch covers are then bad on every channel.
    starts : ndarray of int | None
        Epoch starts (default :func:`~neurofeedback.spectral.epoch_starts` from settings).
    bad_channels : sequence of str
        Channels with no band power: their rows are kept in the table with ``clean=False`` and
        NaN ``absolute_uv2``, ``relative`` and ``log10_uv2``; their session and block values
        are ``None`` and their mean PSD NaN.
    blocks : sequence of (float, float, str) | None
        ``(onset_s, duration_s, label)`` stretches of the recording's blocks, onsets in seconds
        from the first sample (:func:`neurofeedback.blocks.block_spans`); default none.
    bad_mask : ndarray of bool, shape (n_channels, n_times) | None
        True where a channel's sample lies in an artifact (:func:`channel_bad_mask`).
    settings : Settings | None
    spectra_out : dict | None
        When given, filled with what storing the spectra needs: ``n_segments`` (ndarray of int,
        shape (n_channels,): the clean Welch segments each channel's session PSD averages; 0 for
        bad channels) and ``blocks`` (``{label: (psd, n_segments)}`` for each block with values:
        its mean PSD, shape (n_channels, n_freqs), µV²/Hz, NaN rows for channels without enough
        clean data, and the segments averaged per channel).

    Returns
    -------
    epochs : pandas.DataFrame
        :data:`EPOCH_COLUMNS`; NaN values for bad channels (see :attr:`SessionFeatures.epochs`).
    summary : dict
        ``epoch_s, step_s, segment_s, n_epochs, n_clean_epochs`` (epochs clean on every good
        channel), ``clean_fraction`` (the mean over the good channels of the fraction of the
        recording's time that the channel's spectra use; 0 without a good channel),
        ``channel_clean_fraction`` ({channel: fraction, ``None`` for bad channels}), ``bands,
        broadband, band_power {absolute, relative, log10}, ratios, iaf_hz, iaf_cog_hz, faa,
        aperiodic {exponent, offset, r_squared, error, flag}, periodic_alpha {cf_hz, pw_log10,
        bw_hz, power_uv2, aperiodic_fraction}, iaf_ambiguous, blocks``; per-channel values are
        ``None`` for bad channels and channels with no clean segment. ``blocks`` maps each block
        label (in order of first onset) to
        ``onset_s`` (first stretch, s), ``duration_s`` (all its stretches, s), ``spans``
        (``[[onset_s, duration_s], …]``), ``n_epochs``, ``n_clean_epochs``, ``clean_fraction``
        and ``channel_clean_fraction`` (of the block's time; ``None`` when no segment lies
        inside it), ``reason`` (why there are no values, else ``None``) and the same value keys
        as the session (:data:`VALUE_KEYS`), each channel's from its clean segments inside the
        block when they hold at least :func:`block_min_clean_s` seconds, else ``None``.
    psd : ndarray, shape (n_channels, n_freqs)
        Mean PSD of each channel's clean segments (µV²/Hz); NaN rows for bad channels and
        channels without a clean segment.
    freqs : ndarray
    """
    table, freqs, session = _features(data_uv, sfreq, ch_names, clean_epochs=clean_epochs,
                                      starts=starts, bad_channels=bad_channels, blocks=blocks,
                                      bad_mask=bad_mask, settings=settings)
    summary, mpsd, n_segments, block_psd = session()
    if spectra_out is not None:
        spectra_out["n_segments"] = n_segments
        spectra_out["blocks"] = block_psd
    return table, summary, mpsd, freqs


def _features(data_uv, sfreq, ch_names, *, clean_epochs, starts, bad_channels, blocks, bad_mask,
              settings: Settings | None):
    """:func:`compute_features_array` in two parts: returns ``(table, freqs, session)``, the
    per-epoch table now and ``session()`` computing ``(summary, mean psd, n_segments,
    block_psd)`` when called (the session and block values, specparam included)."""
    settings = settings or load_settings()
    ep = settings.epochs
    ch_names = list(ch_names)
    n_ch, n_times = data_uv.shape
    if starts is None:
        starts = epoch_starts(n_times, sfreq, length_s=ep.length_s, step_s=ep.step_s)
    starts = np.asarray(starts, np.int64)
    n_len = int(round(ep.length_s * sfreq))
    bad_set = set(bad_channels)
    ch_good = np.array([c not in bad_set for c in ch_names])
    if bad_mask is None:
        clean = np.ones(starts.size, bool) if clean_epochs is None else np.asarray(clean_epochs, bool)
        covered = np.zeros(n_times + 1, np.int64)
        np.add.at(covered, starts[clean], 1)
        np.add.at(covered, starts[clean] + n_len, -1)
        bad_mask = np.broadcast_to(np.cumsum(covered)[:n_times] == 0, (n_ch, n_times))
    bad_mask = np.asarray(bad_mask, bool) | ~ch_good[:, None]
    blocks = list(blocks or ())
    labels = epoch_blocks(blocks, starts, n_len, sfreq)
    seg = _segments(data_uv, sfreq, settings)
    psd = _epoch_psd(data_uv, sfreq, starts, settings, seg)
    freqs, weights = seg.freqs, seg.weights
    ep_clean = _window_clean(bad_mask, starts, n_len)                 # (n_epochs, n_channels)
    table = _epoch_table(psd @ weights, starts / sfreq, ch_names, ep_clean, ch_good, labels, settings)
    del psd

    def session():
        seg_clean = _window_clean(bad_mask, seg.starts, seg.nperseg)  # (n_segments, n_channels)
        summary, mpsd = _session_summary(seg, seg_clean, ep_clean, n_times, ch_names, ch_good, settings)
        block_psd: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        summary["blocks"] = _block_summaries(seg, seg_clean, ep_clean, labels, blocks, sfreq, ch_names,
                                             ch_good, settings, psd_out=block_psd)
        return summary, mpsd, _n_segments(seg_clean, ch_good), block_psd

    return table, freqs, session


def channel_bad_mask(annotations: mne.Annotations, ch_names, n_times: int, sfreq: float, *,
                     first_time: float = 0.0) -> np.ndarray:
    """Per channel and sample, True inside a ``BAD*`` annotation that applies to the channel.

    An annotation with channel names (MNE's channel-specific annotations, as
    :func:`neurofeedback.preprocessing.find_artifacts` writes them) applies to those channels
    only; one without applies to every channel (a recorder's dropout, a disconnection).

    Parameters
    ----------
    annotations : mne.Annotations
    ch_names : list of str
        The channels of the mask's rows.
    n_times : int
    sfreq : float
    first_time : float
        ``raw.first_time`` when the annotations are tied to ``meas_date``.

    Returns
    -------
    bad : ndarray of bool, shape (n_channels, n_times)
    """
    ch_names = list(ch_names)
    bad = np.zeros((len(ch_names), n_times), bool)
    if len(annotations) == 0:
        return bad
    shift = first_time if annotations.orig_time is not None else 0.0
    index = {c: i for i, c in enumerate(ch_names)}
    chans = annotations.ch_names if hasattr(annotations, "ch_names") else [()] * len(annotations)
    for onset, dur, desc, chs in zip(annotations.onset, annotations.duration,
                                     annotations.description, chans):
        if not str(desc).upper().startswith("BAD"):
            continue
        a = int(np.floor((onset - shift) * sfreq))
        b = int(np.ceil((onset - shift + max(dur, 1.0 / sfreq)) * sfreq))  # zero length: one sample
        a, b = max(a, 0), min(b, n_times)
        if b <= a:
            continue
        rows = [index[c] for c in chs if c in index] if len(chs) else slice(None)
        bad[rows, a:b] = True
    return bad


def _window_clean(bad_mask: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """``(n_windows, n_channels)``: True where window ``[s, s + length)`` has no bad sample."""
    n_ch, n_times = bad_mask.shape
    if starts.size == 0:
        return np.zeros((0, n_ch), bool)
    csum = np.zeros((n_ch, n_times + 1), np.int32)
    np.cumsum(bad_mask, axis=1, out=csum[:, 1:])
    return (csum[:, starts + length] - csum[:, starts] == 0).T


@dataclass(frozen=True)
class _Segments:
    """The Welch segments of a whole recording: their periodograms and grid."""

    psd: np.ndarray      # (n_segments, n_channels, n_freqs), µV²/Hz
    starts: np.ndarray   # (n_segments,) first sample of each segment
    nperseg: int
    hop: int
    freqs: np.ndarray
    weights: np.ndarray  # (n_freqs, n_bands + 1)


def _segments(data_uv, sfreq, settings: Settings) -> _Segments:
    """Welch segment periodograms on the regular grid ``0, hop, 2·hop, …`` (each exactly what
    :func:`scipy.signal.welch` computes for that segment), up to the highest band or fit edge."""
    sp, bs, fs = settings.spectral, settings.bands, settings.features
    fmax = max(bs.broadband[1], max(b[2] for b in bs.bands), fs.aperiodic_range[1], fs.iaf_range[1])
    if fmax > sfreq / 2:
        raise ValueError(
            f"The bands and fit ranges reach {fmax} Hz, above the Nyquist frequency "
            f"({sfreq / 2} Hz) of this recording; narrow them in bands.yaml (pass --bands FILE, "
            "or set NEUROFEEDBACK_CONFIGS)."
        )
    nperseg = int(round(sp.segment_s * sfreq))
    hop = max(nperseg - int(round(sp.overlap * nperseg)), 1)
    starts = (np.arange(0, data_uv.shape[1] - nperseg + 1, hop, dtype=np.int64)
              if data_uv.shape[1] >= nperseg else np.zeros(0, np.int64))
    psd, freqs = welch_epochs(data_uv, sfreq, starts, length_s=nperseg / sfreq, segment_s=nperseg / sfreq,
                              overlap=0.0, window=sp.window, fmax=fmax + 1.0)
    weights = band_weights(freqs, list(bs.bands) + [("broadband", *bs.broadband)])
    return _Segments(psd=psd, starts=starts, nperseg=nperseg, hop=hop, freqs=freqs, weights=weights)


def _epoch_psd(data_uv, sfreq, starts, settings: Settings, seg: _Segments) -> np.ndarray:
    """Welch PSD per epoch, ``(n_epochs, n_channels, n_freqs)`` in µV²/Hz.

    Epochs on the segment grid average their own segments' periodograms (the arithmetic of
    :func:`scipy.signal.welch`); others are computed afresh by
    :func:`~neurofeedback.spectral.welch_epochs`.
    """
    ep, sp = settings.epochs, settings.spectral
    n_len = int(round(ep.length_s * sfreq))
    n_seg = (n_len - seg.nperseg) // seg.hop + 1
    n_ch, n_f = seg.psd.shape[1:] if seg.psd.ndim == 3 else (data_uv.shape[0], seg.freqs.size)
    if starts.size == 0:
        return np.empty((0, n_ch, n_f))
    on_grid = np.all(starts % seg.hop == 0) and (n_len - seg.nperseg) % seg.hop == 0
    if on_grid and seg.starts.size:
        k0 = starts // seg.hop
        csum = np.concatenate([np.zeros((1, n_ch, n_f)), np.cumsum(seg.psd, axis=0)])
        return (csum[k0 + n_seg] - csum[k0]) / n_seg
    psd, _ = welch_epochs(data_uv, sfreq, starts, length_s=ep.length_s, segment_s=sp.segment_s,
                          overlap=sp.overlap, window=sp.window, fmax=seg.freqs[-1] + 1e-9)
    return psd


def _epoch_table(power, onsets_s, ch_names, clean, ch_good, labels,
                 settings: Settings) -> pd.DataFrame:
    """The per-epoch long table (:data:`EPOCH_COLUMNS`) from the band powers of each epoch.

    ``power`` has shape (n_epochs, n_channels, n_bands + 1), the last band the broadband range;
    ``clean`` (n_epochs, n_channels) says where an epoch is clean on a channel; a row is clean
    when its epoch is clean on its channel and the channel good; ``labels`` (n_epochs,) is the
    block of each epoch. The values follow :func:`_band_values` (NaN for bad channels).
    """
    absolute, total, relative, log_abs = _band_values(power, ch_good)
    n_ep, n_ch, n_b = absolute.shape
    n_rows = n_ep * n_ch * n_b
    epoch_idx = np.repeat(np.arange(n_ep), n_ch * n_b)
    ch_codes = np.tile(np.repeat(np.arange(n_ch), n_b), n_ep)
    band_codes = np.tile(np.arange(n_b), n_ep * n_ch)
    return pd.DataFrame({
        "epoch": epoch_idx,
        "onset_s": onsets_s[epoch_idx],
        "duration_s": np.full(n_rows, settings.epochs.length_s),
        "channel": pd.Categorical.from_codes(ch_codes, categories=ch_names),
        "band": pd.Categorical.from_codes(band_codes, categories=list(settings.bands.names)),
        "absolute_uv2": absolute.reshape(-1),
        "relative": relative.reshape(-1),
        "log10_uv2": log_abs.reshape(-1),
        "clean": (clean & ch_good[None, :]).repeat(n_b, axis=1).reshape(-1),
        "block": _block_column(labels, n_ch * n_b),
    })


def _band_values(power, ch_good):
    """Absolute, broadband, relative and log10 power with no value where there is no signal.

    Parameters
    ----------
    power : ndarray, shape (..., n_channels, n_bands + 1)
        Band powers in µV², the last column the broadband range.
    ch_good : ndarray of bool, shape (n_channels,)

    Returns
    -------
    absolute : ndarray, shape (..., n_channels, n_bands)
        µV²; NaN for every band of a bad channel.
    total : ndarray, shape (..., n_channels, 1)
        Broadband power (µV²); NaN for a bad channel.
    relative : ndarray, shape (..., n_channels, n_bands)
        ``absolute / total``; NaN for a bad channel and where ``total`` is not positive.
    log10 : ndarray, shape (..., n_channels, n_bands)
        log10 µV²; NaN for a bad channel and where ``absolute`` is not positive (never -inf).

    Notes
    -----
    A bad channel (railed, flat, noisy, or listed in ``info['bads']``) has no band power: what
    its spectrum holds is the rail's filter residue or noise, not EEG, and 0 µV², -inf log power
    or fractions of float residue would read as measurements. Its rows stay in the per-epoch
    table (so the table keeps one row per epoch × channel × band) with NaN values and
    ``clean=False``; the summaries give such channels ``None``.
    """
    power = np.array(power, dtype=np.float64)  # a copy: the caller's array is not written
    power[..., ~np.asarray(ch_good, bool), :] = np.nan
    absolute, total = power[..., :-1], power[..., -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(total > 0, absolute / total, np.nan)
        log_abs = np.where(absolute > 0, np.log10(np.where(absolute > 0, absolute, 1.0)), np.nan)
    return absolute, total, relative, log_abs


def _block_column(labels, repeat: int) -> pd.Categorical:
    """The ``block`` column: each epoch's label repeated for its rows, categories ``""`` first
    and then the blocks in order of appearance."""
    cats = list(dict.fromkeys([NO_BLOCK, *labels]))
    codes = np.array([cats.index(v) for v in labels], dtype=np.int32)
    return pd.Categorical.from_codes(np.repeat(codes, repeat), categories=cats)


def _union_s(starts: np.ndarray, length: int) -> int:
    """Samples covered by the windows ``[s, s + length)`` (``starts`` increasing)."""
    if starts.size == 0:
        return 0
    return int(np.minimum(np.diff(starts), length).sum() + length)


def _n_segments(select: np.ndarray, ch_good) -> np.ndarray:
    """Per channel, how many segments :func:`_mean_psd` averages for ``select`` (0 for bad)."""
    n = select.sum(axis=0).astype(np.int64) if select.size else np.zeros(len(ch_good), np.int64)
    return np.where(np.asarray(ch_good, bool), n, 0)


def _mean_psd(seg: _Segments, select: np.ndarray, ch_good) -> np.ndarray:
    """Per channel, the mean periodogram of the segments ``select[:, c]`` (NaN when none, and
    for bad channels): Welch over the channel's clean stretches."""
    n_seg, n_ch, n_f = seg.psd.shape if seg.psd.ndim == 3 else (0, select.shape[1], seg.freqs.size)
    out = np.full((n_ch, n_f), np.nan)
    for c in range(n_ch):
        sel = select[:, c]
        if ch_good[c] and sel.any():
            out[c] = seg.psd[sel, c].mean(axis=0)
    return out


def block_min_clean_s(settings: Settings) -> float:
    """Seconds of clean data a channel needs in a block for that block's values (s).

    ``blocks.min_clean_epochs`` epochs stepped as configured: (n − 1) · ``epochs.step_s`` +
    ``epochs.length_s``, 12 s with the defaults (five 4-s epochs stepped by 2 s).
    """
    ep = settings.epochs
    return (settings.blocks.min_clean_epochs - 1) * ep.step_s + ep.length_s


def _session_summary(seg: _Segments, seg_clean, ep_clean, n_times, ch_names, ch_good,
                     settings: Settings):
    """Session values from each channel's clean segments; returns ``(summary, mean_psd)``."""
    ep, bs = settings.epochs, settings.bands
    mpsd = _mean_psd(seg, seg_clean, ch_good)
    valid = ch_good & np.isfinite(mpsd).all(axis=1) if mpsd.size else ch_good & False
    if not valid.any():
        logger.warning("No clean segment on any good channel: session values are undefined.")
    frac = {}
    for c, ch in enumerate(ch_names):
        frac[ch] = (_union_s(seg.starts[seg_clean[:, c]], seg.nperseg) / n_times
                    if ch_good[c] and n_times else None)
    good_fracs = [v for v in frac.values() if v is not None]
    values = _spectral_values(mpsd, seg.freqs, seg.weights, valid, ch_names, ch_good, settings)
    n_clean = int(ep_clean[:, ch_good].all(axis=1).sum()) if ch_good.any() else 0
    summary = {
        "epoch_s": ep.length_s,
        "step_s": ep.step_s,
        "segment_s": settings.spectral.segment_s,
        "n_epochs": int(ep_clean.shape[0]),
        "n_clean_epochs": n_clean,
        "clean_fraction": float(np.mean(good_fracs)) if good_fracs else 0.0,
        "channel_clean_fraction": frac,
        "bands": bs.as_dict(),
        "broadband": list(bs.broadband),
        **values,
    }
    return summary, mpsd


def _block_summaries(seg: _Segments, seg_clean, ep_clean, labels, spans, sfreq, ch_names, ch_good,
                     settings: Settings, psd_out: dict | None = None) -> dict:
    """The ``blocks`` of the summary (see :func:`compute_features_array`); with ``psd_out``, also
    each block's mean PSD and segment counts (``{label: (psd, n_segments)}``)."""
    need_s = block_min_clean_s(settings)
    out: dict[str, dict] = {}
    for onset, dur, label in spans:
        entry = out.setdefault(label, {"onset_s": float(onset), "duration_s": 0.0, "spans": []})
        entry["duration_s"] += float(dur)
        entry["spans"].append([float(onset), float(dur)])
    seg_end = seg.starts + seg.nperseg
    for label, entry in out.items():
        inside_seg = np.zeros(seg.starts.size, bool)
        for onset, dur in entry["spans"]:
            a, b = int(round(onset * sfreq)), int(round((onset + dur) * sfreq))
            inside_seg |= (seg.starts >= a) & (seg_end <= b)
        inside = labels == label
        n_ep = int(inside.sum())
        n_clean = int((inside & ep_clean[:, ch_good].all(axis=1)).sum()) if ch_good.any() else 0
        block_n = entry["duration_s"] * sfreq
        select = seg_clean & inside_seg[:, None]
        clean_n = {ch: _union_s(seg.starts[select[:, c]], seg.nperseg)
                   for c, ch in enumerate(ch_names) if ch_good[c]}
        frac = {ch: (clean_n[ch] / block_n if ch in clean_n and inside_seg.any() and block_n else None)
                for ch in ch_names}
        good_fracs = [v for v in frac.values() if v is not None]
        entry.update(n_epochs=n_ep, n_clean_epochs=n_clean,
                     clean_fraction=float(np.mean(good_fracs)) if good_fracs else None,
                     channel_clean_fraction=frac, reason=None)
        enough = np.array([ch_good[c] and clean_n.get(ch, 0) >= need_s * sfreq - 0.5
                           for c, ch in enumerate(ch_names)])
        if not enough.any():
            best = max(clean_n.values(), default=0) / sfreq
            entry["reason"] = (
                f"too little clean data: {best:.0f} s on its best channel (a block's values need "
                f">= {need_s:g} s on a channel"
                + (")" if inside_seg.any() else f"; no {seg.nperseg / sfreq:g}-s segment lies "
                                                 "wholly inside it)"))
            entry.update({k: None for k in VALUE_KEYS})
            continue
        mpsd = _mean_psd(seg, select & enough[None, :], ch_good)
        if psd_out is not None:
            psd_out[label] = (mpsd, _n_segments(select & enough[None, :], ch_good))
        entry.update(_spectral_values(mpsd, seg.freqs, seg.weights, enough & ch_good, ch_names,
                                      ch_good, settings))
    return out


def _spectral_values(mpsd, freqs, weights, valid, ch_names, ch_good, settings: Settings):
    """The :data:`VALUE_KEYS` from a mean PSD per channel.

    ``valid`` (n_channels,) says which channels have a spectrum; the others (and bad channels)
    get ``None``.
    """
    bs, fs = settings.bands, settings.features
    mpsd = np.array(mpsd, dtype=np.float64)
    valid = np.asarray(valid, bool) & np.asarray(ch_good, bool)
    mpsd[~valid] = np.nan  # a bad channel has no spectrum
    s_abs, _, s_rel, s_log = _band_values(mpsd @ weights, valid)
    # --- specparam: aperiodic fit, its quality, periodic alpha (neurofeedback.periodic) ---
    pfit = _periodic_fit(freqs, mpsd, settings)
    expo, offs = pfit.exponent, pfit.offset
    # --- end specparam ---
    peak, cog = individual_alpha_frequency(
        freqs, mpsd, freq_range=fs.iaf_range, min_prominence=fs.iaf_min_prominence,
        exponent=expo, offset=offs,
    )
    names = list(bs.names)

    def per_channel(values_fn):
        return {ch: (values_fn(i) if valid[i] else None) for i, ch in enumerate(ch_names)}

    ratios = {}
    for i, ch in enumerate(ch_names):
        if not valid[i]:
            ratios[ch] = None
            continue
        ratios[ch] = {
            rname: _none_if_nan(s_abs[i, names.index(num)] / s_abs[i, names.index(den)])
            for rname, num, den in bs.ratios
        }
    alpha_idx = names.index("alpha") if "alpha" in names else None
    faa = {}
    if alpha_idx is not None:
        alpha = {ch: s_abs[i, alpha_idx] for i, ch in enumerate(ch_names) if valid[i]}
        faa = frontal_alpha_asymmetry(alpha, fs.faa_pairs)
    values = {
        "band_power": {
            "absolute": per_channel(lambda i: {b: _none_if_nan(s_abs[i, j]) for j, b in enumerate(names)}),
            "relative": per_channel(lambda i: {b: _none_if_nan(s_rel[i, j]) for j, b in enumerate(names)}),
            "log10": per_channel(lambda i: {b: _none_if_nan(s_log[i, j]) for j, b in enumerate(names)}),
        },
        "ratios": ratios,
        "iaf_hz": per_channel(lambda i: _none_if_nan(peak[i])),
        "iaf_cog_hz": per_channel(lambda i: _none_if_nan(cog[i])),
        "faa": faa,
        "aperiodic": per_channel(lambda i: _aperiodic_entry(pfit, i)),
        "periodic_alpha": per_channel(lambda i: _periodic_alpha_entry(pfit, i)),
        "iaf_ambiguous": per_channel(lambda i: _iaf_ambiguous(pfit, peak, i, settings)),
    }
    return values


def _periodic_fit(freqs, mpsd, settings: Settings) -> PeriodicFit:
    """specparam on each channel of a mean PSD with the ``features`` settings.

    The periodic alpha power is taken over the ``alpha`` band of ``bands.yaml`` when it lies
    inside ``aperiodic_range`` (where the aperiodic fit is defined), else not at all (NaN).
    """
    fs = settings.features
    lo, hi = fs.aperiodic_range
    alpha = next(((b[1], b[2]) for b in settings.bands.bands if b[0] == "alpha"), None)
    if alpha is not None and not (lo <= alpha[0] < alpha[1] <= hi):
        alpha = None
    return fit_periodic(
        freqs, mpsd, freq_range=fs.aperiodic_range, iaf_range=fs.iaf_range, alpha_band=alpha,
        peak_width_limits=fs.specparam_peak_width_limits, max_n_peaks=fs.specparam_max_n_peaks,
        min_peak_height=fs.specparam_min_peak_height, min_prominence=fs.iaf_min_prominence,
        split_ratio=fs.iaf_split_ratio, split_min_separation_hz=fs.iaf_split_min_separation_hz,
        min_r_squared=fs.aperiodic_min_r_squared, min_exponent=fs.aperiodic_min_exponent,
    )


def _iaf_ambiguous(pfit: PeriodicFit, peak_hz, i: int, settings: Settings):
    """Split alpha on channel ``i``: specparam's rule (:func:`neurofeedback.periodic.fit_periodic`),
    or the IAF (the highest point above the 1/f fit) and specparam's strongest alpha peak lying
    ``iaf_split_min_separation_hz`` or more apart — two readings of one spectrum naming different
    peaks (PhysioNet S001R01's Pz: 12.6 against 8.4 Hz). ``None`` without a fit."""
    amb = pfit.iaf_ambiguous[i]
    if amb is None:
        return None
    cf = pfit.alpha_cf_hz[i]
    apart = (np.isfinite(cf) and np.isfinite(peak_hz[i])
             and abs(cf - peak_hz[i]) >= settings.features.iaf_split_min_separation_hz)
    return bool(amb or apart)


def _aperiodic_entry(pfit: PeriodicFit, i: int) -> dict:
    """The summary's ``aperiodic`` values of channel ``i`` (``flag`` None: no spectrum to fit)."""
    return {"exponent": _none_if_nan(pfit.exponent[i]), "offset": _none_if_nan(pfit.offset[i]),
            "r_squared": _none_if_nan(pfit.r_squared[i]), "error": _none_if_nan(pfit.error[i]),
            "flag": pfit.flag[i]}


def _periodic_alpha_entry(pfit: PeriodicFit, i: int) -> dict | None:
    """The summary's ``periodic_alpha`` of channel ``i``; None when there is no fit."""
    if pfit.flag[i] is None or pfit.flag[i] == "fit_failed":
        return None
    return {"cf_hz": _none_if_nan(pfit.alpha_cf_hz[i]),
            "pw_log10": _none_if_nan(pfit.alpha_pw_log10[i]),
            "bw_hz": _none_if_nan(pfit.alpha_bw_hz[i]),
            "power_uv2": _none_if_nan(pfit.alpha_power_uv2[i]),
            "aperiodic_fraction": _none_if_nan(pfit.aperiodic_fraction[i])}


def compute_features(raw: mne.io.BaseRaw, settings: Settings | None = None, *, provenance=None,
                     data_uv=None):
    """Features of a preprocessed recording (see :func:`neurofeedback.preprocessing.preprocess`).

    Parameters
    ----------
    raw : mne.io.Raw
        Preprocessed recording (volts), with ``BAD_*`` annotations and ``info['bads']``.
    settings : Settings | None
    provenance : dict | None
        Provenance to attach (see :func:`neurofeedback.provenance.build_provenance`).
    data_uv : ndarray, shape (n_eeg_channels, n_times) | None
        The EEG channels of ``raw`` already in µV (as
        :attr:`~neurofeedback.preprocessing.PreprocessResult.data_uv`), to skip the conversion.

    Returns
    -------
    features : SessionFeatures
        With the per-epoch table computed; its session values (``summary``, ``psd``,
        ``n_segments``, ``block_psd``) are computed on first access (see
        :class:`SessionFeatures`), the same numbers as :func:`compute_features_array` gives.
    """
    settings = settings or load_settings()
    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    ch_names = [raw.ch_names[i] for i in picks]
    sfreq = float(raw.info["sfreq"])
    if data_uv is None:
        data_uv = raw.get_data(picks=picks) * 1e6
    elif data_uv.shape != (len(picks), raw.n_times):
        raise ValueError(f"data_uv has shape {data_uv.shape}, expected {(len(picks), raw.n_times)}")
    starts = epoch_starts(data_uv.shape[1], sfreq, length_s=settings.epochs.length_s,
                          step_s=settings.epochs.step_s)
    bad_mask = channel_bad_mask(raw.annotations, ch_names, raw.n_times, sfreq, first_time=raw.first_time)
    blocks = block_spans(raw.annotations, sfreq, raw.n_times, first_time=raw.first_time)
    table, freqs, session = _features(
        data_uv, sfreq, ch_names, clean_epochs=None, starts=starts, bad_mask=bad_mask,
        bad_channels=list(raw.info["bads"]), blocks=blocks, settings=settings,
    )
    return SessionFeatures(epochs=table, freqs=freqs, provenance=provenance, session=session)
