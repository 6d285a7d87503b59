"""Aperiodic (1/f) and periodic (oscillatory) parts of a spectrum, fitted with specparam.

Why: a band power mixes the oscillation with the 1/f background under it. On consumer
recordings 20–89 % of the 8–13 Hz power is background (issue 15; with this module, on the
session spectra of the three eyes-closed EEGHacker O1 recordings in ``shared/data``: 37, 40 and
43 %), so a change of headset fit that lifts or tilts the background reads as an alpha change;
on simulated weekly sessions whose alpha power grows 21 % a week, the 8–13 Hz band power grows
15 % a week and the periodic alpha 22 % (``tests/test_periodic.py``). The
spectral-parameterisation model separates the two (Donoghue et al., 2020,
*Nature Neuroscience* 23, 1655–1665; the ``specparam`` package, successor of FOOOF), and its fit
quality says when the "1/f" is really the amplifier's noise floor.

For each channel of a mean PSD (µV²/Hz), :func:`fit_periodic` fits ``specparam.SpectralModel``
with the ``'fixed'`` aperiodic mode over ``freq_range`` (default 2–40 Hz)::

    log10 P(f) = offset − exponent · log10 f + Σ_k gaussian_k(f)

and returns:

- **aperiodic** ``exponent`` (unitless) and ``offset`` (log10 µV²/Hz, the fit's value at 1 Hz);
- **fit quality**: ``r_squared`` (specparam's ``gof_rsquared``: R² between the log10 power
  spectrum and the full model over the fit range) and ``error`` (specparam's ``error_mae``:
  mean absolute error between the two, in log10 power units);
- **periodic alpha**: the specparam peak with the highest power whose centre lies inside the IAF
  range (default 7–13 Hz): centre frequency ``alpha_cf_hz`` (Hz), ``alpha_pw_log10`` (specparam's
  PW: the model's height above the aperiodic fit at the centre, log10 units; 0.3 = twice the
  background) and ``alpha_bw_hz`` (specparam's BW: full width, 2 σ of the Gaussian, Hz); NaN
  when no peak lies in the range;
- **periodic alpha power** ``alpha_power_uv2`` (µV², the *aperiodic-adjusted alpha*)::

      P_alpha = max(0, ∫_band [PSD(f) − 10**(offset − exponent · log10 f)] df)

  the integral over the alpha band (``alpha_band``, default 8–13 Hz, the band of
  ``bands.yaml``) of the measured PSD minus the aperiodic fit, with the same trapezoid weights
  as the band powers (:func:`neurofeedback.spectral.band_weights`); the *total* is clipped at 0
  (not each bin, which would turn zero-mean noise into positive power). It is the measured
  spectrum, not specparam's Gaussians, so it does not depend on how many peaks the model used;
  ``aperiodic_fraction`` is the background's share of the band power,
  ``∫ aperiodic / ∫ PSD`` (may exceed 1 when the PSD dips under the fit);
- ``n_alpha_peaks`` and ``iaf_ambiguous`` (see below);
- a ``flag``: ``"ok"``; ``"noise_floor"`` when ``exponent < min_exponent`` (a flat spectrum is
  the amplifier's noise, not neural 1/f activity); ``"poor_fit"`` when
  ``r_squared < min_r_squared``; ``"fit_failed"`` when specparam raised (the numbers are then
  NaN). ``noise_floor`` wins over ``poor_fit`` when both apply.

**Split alpha** (``iaf_ambiguous``): the specparam peaks whose centre lies in the IAF range and
whose PW is at least ``min_prominence`` (0.1 log10, the IAF's "clear peak" height) are the
alpha candidates. The IAF is *ambiguous* when there are two or more candidates at least
``split_min_separation_hz`` apart and the second-highest has a PW of at least ``split_ratio``
(default 0.5) × the highest. A single peak, or a much smaller side peak, is not ambiguous.

**Thresholds** (``min_r_squared = 0.9``, ``min_exponent = 0.5``), from the distributions
measured on the session spectra: simulated EEG (:func:`neurofeedback.simulate.simulate_eeg`,
30 recordings × 4 channels, exponents 0.8–2.2) gives R² 0.996–0.999 and recovers the exponent
within 0.03; the PhysioNet research recording S001R01 (64 channels) R² 0.62–0.98 (median 0.98,
2 channels below 0.9) and exponents 0.55–1.78 (median 1.56); the consumer recordings R² 0.70–0.99
and exponents 0.26–0.66 (OpenBCI GUI sample 0.40–0.66, EEGHacker O1 0.26–0.43, NeuroTechX Muse
0.29–1.28). Scalp EEG of adults has 2–40 Hz exponents of roughly 0.8–2; below 0.5 the spectrum
is the amplifier's flat floor. Judgements from these distributions, not fitted cut-offs.

Channels whose spectrum is NaN (bad channels), has a non-positive value in the fit range or
lies outside it get NaN values and ``flag = None`` (no fit was attempted): never numbers.

Settings (``pipeline.yaml`` ``features``): ``peak_width_limits = (1.0, 8.0)`` Hz — the lower
limit is two bins of the 0.5-Hz Welch spectra (specparam warns below 1.5 bins), the upper one
keeps a wide "peak" from absorbing the background's bend over 2–40 Hz (alpha bandwidths are
~1–4 Hz); ``max_n_peaks = 6`` (theta, two alpha, two beta and one spare: more fits noise
wiggles); ``min_peak_height = 0.05`` log10 (+12 %, half the IAF prominence, so a split side peak
is still found). Judgements, checked on the recordings in ``shared/data``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .spectral import band_weights

logger = logging.getLogger("neurofeedback")

__all__ = ["FLAGS", "PeriodicFit", "aperiodic_log10", "fit_periodic"]

#: The values of :attr:`PeriodicFit.flag` for a channel that was fitted.
FLAGS = ("ok", "noise_floor", "poor_fit", "fit_failed")


@dataclass(frozen=True)
class PeriodicFit:
    """Per-channel results of :func:`fit_periodic` (arrays of shape ``(n_channels,)``).

    Attributes
    ----------
    exponent, offset : ndarray of float
        Aperiodic exponent (unitless) and offset (log10 µV²/Hz).
    r_squared, error : ndarray of float
        specparam's ``gof_rsquared`` and ``error_mae`` (log10 power units).
    alpha_cf_hz, alpha_pw_log10, alpha_bw_hz : ndarray of float
        The strongest alpha peak (NaN when none).
    alpha_power_uv2 : ndarray of float
        Periodic alpha power (µV²).
    aperiodic_fraction : ndarray of float
        Share of the alpha-band power under the aperiodic fit.
    n_alpha_peaks : ndarray of int
        Candidate alpha peaks (-1 when not fitted).
    iaf_ambiguous : ndarray of object
        True/False, ``None`` when not fitted or the fit failed.
    flag : ndarray of object
        One of :data:`FLAGS`, ``None`` when not fitted (no usable spectrum).
    """

    exponent: np.ndarray
    offset: np.ndarray
    r_squared: np.ndarray
    error: np.ndarray
    alpha_cf_hz: np.ndarray
    alpha_pw_log10: np.ndarray
    alpha_bw_hz: np.ndarray
    alpha_power_uv2: np.ndarray
    aperiodic_fraction: np.ndarray
    n_alpha_peaks: np.ndarray
    iaf_ambiguous: np.ndarray
    flag: np.ndarray


def aperiodic_log10(freqs, exponent, offset):
    """The fixed-mode aperiodic fit, ``offset − exponent · log10 f`` (log10 µV²/Hz).

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
        Hz; non-positive frequencies give NaN.
    exponent, offset : ndarray, shape (n_channels,)

    Returns
    -------
    fit : ndarray, shape (n_channels, n_freqs)
    """
    freqs = np.asarray(freqs, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        lf = np.where(freqs > 0, np.log10(np.where(freqs > 0, freqs, 1.0)), np.nan)
    return np.asarray(offset, float)[:, None] - np.asarray(exponent, float)[:, None] * lf[None, :]


def _specparam():
    """``(SpectralModel, FitError)``, imported on first use (a heavy import, needed only here).

    specparam imports ``matplotlib.pyplot`` for its own plots, ~0.6 s of CPU on every
    ``inspect`` and ``features``. Hiding matplotlib during that import was measured and
    rejected: specparam then records matplotlib as missing for the whole process, so a user who
    imports specparam after neurofeedback in the same session could not plot with it.
    """
    from specparam import SpectralModel
    from specparam.modutils.errors import FitError

    return SpectralModel, FitError


def fit_periodic(freqs, psd, *, freq_range=(2.0, 40.0), iaf_range=(7.0, 13.0),
                 alpha_band=(8.0, 13.0), peak_width_limits=(1.0, 8.0), max_n_peaks=6,
                 min_peak_height=0.05, min_prominence=0.1, split_ratio=0.5,
                 split_min_separation_hz=1.0, min_r_squared=0.9,
                 min_exponent=0.5) -> PeriodicFit:
    """Fit specparam to each channel of a mean PSD (see the module docstring).

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
        Increasing frequencies (Hz), covering ``freq_range``.
    psd : ndarray, shape (n_channels, n_freqs) or (n_freqs,)
        Power spectral density (µV²/Hz); NaN rows for bad channels.
    freq_range : (float, float)
        specparam fit range (Hz), ``features.aperiodic_range``.
    iaf_range : (float, float)
        Where alpha peaks are looked for (Hz), ``features.iaf_range``.
    alpha_band : (float, float) | None
        Band of the periodic alpha power (Hz), the ``alpha`` of ``bands.yaml``; ``None``: no
        periodic alpha power (NaN).
    peak_width_limits : (float, float)
        specparam's limits on a peak's full width (Hz).
    max_n_peaks : int
        specparam's maximum number of peaks.
    min_peak_height : float
        specparam's minimum peak height above the aperiodic fit (log10 units).
    min_prominence : float
        PW (log10) an alpha peak needs to be an IAF candidate.
    split_ratio : float
        A second candidate with PW >= ``split_ratio`` × the highest makes the IAF ambiguous.
    split_min_separation_hz : float
        Least distance between the two candidates' centres (Hz).
    min_r_squared : float
        Below it the flag is ``"poor_fit"``.
    min_exponent : float
        Below it the flag is ``"noise_floor"``.

    Returns
    -------
    fit : PeriodicFit

    Raises
    ------
    ValueError
        If ``psd`` does not have ``n_freqs`` columns or ``alpha_band`` lies outside
        ``freq_range``.

    Notes
    -----
    specparam runs in debug mode, so a fit failure raises inside specparam and is turned here
    into NaN values and ``flag = "fit_failed"`` (logged), never an exception for the caller.
    """
    SpectralModel, FitError = _specparam()

    freqs = np.asarray(freqs, dtype=np.float64)
    psd = np.atleast_2d(np.asarray(psd, dtype=np.float64))
    if psd.shape[-1] != freqs.size:
        raise ValueError(f"psd has {psd.shape[-1]} frequencies but freqs has {freqs.size}.")
    if alpha_band is not None and not (freq_range[0] <= alpha_band[0] < alpha_band[1]
                                       <= freq_range[1]):
        raise ValueError(
            "Invalid value for the 'alpha_band' parameter. It must lie inside the fit range "
            f"{list(freq_range)} Hz, but got {list(alpha_band)} instead.")
    n_ch = psd.shape[0]
    nan = np.full(n_ch, np.nan)
    out = {k: nan.copy() for k in ("exponent", "offset", "r_squared", "error", "alpha_cf_hz",
                                   "alpha_pw_log10", "alpha_bw_hz", "alpha_power_uv2",
                                   "aperiodic_fraction")}
    n_alpha = np.full(n_ch, -1, dtype=int)
    ambiguous = np.full(n_ch, None, dtype=object)
    flag = np.full(n_ch, None, dtype=object)
    sel = (freqs >= freq_range[0]) & (freqs <= freq_range[1])
    w_alpha = None if alpha_band is None else band_weights(freqs, [alpha_band])[:, 0]
    for c in range(n_ch):
        spec = psd[c, sel]
        if sel.sum() < 4 or not np.all(np.isfinite(spec)) or np.any(spec <= 0):
            continue  # a bad channel, or no usable spectrum: no fit, no numbers
        fm = SpectralModel(aperiodic_mode="fixed", periodic_mode="gaussian",
                           peak_width_limits=tuple(peak_width_limits), max_n_peaks=max_n_peaks,
                           min_peak_height=min_peak_height, verbose=False, debug=True)
        try:
            fm.fit(freqs[sel], spec, [float(freq_range[0]), float(freq_range[1])])
            offset, exponent = (float(v) for v in fm.results.get_params("aperiodic"))
            peaks = np.atleast_2d(fm.results.get_params("peak"))  # CF, PW, BW per row
            r2 = float(fm.get_metrics("gof"))
            err = float(fm.get_metrics("error"))
            if not np.isfinite([offset, exponent, r2, err]).all():
                raise RuntimeError("non-finite fit parameters")
        except (FitError, RuntimeError, ValueError, TypeError, np.linalg.LinAlgError) as exc:
            # FitError: specparam's own (debug mode); the rest: what its optimiser may raise
            logger.warning("specparam fit failed on channel %d: %s", c, exc)
            flag[c] = "fit_failed"
            continue
        out["exponent"][c], out["offset"][c] = exponent, offset
        out["r_squared"][c], out["error"][c] = r2, err
        if w_alpha is not None:
            inside = w_alpha != 0  # the band's bins (inside the fit range: checked above)
            ap = 10.0 ** aperiodic_log10(freqs[inside], [exponent], [offset])[0]
            total = float(psd[c, inside] @ w_alpha[inside])
            background = float(ap @ w_alpha[inside])
            out["alpha_power_uv2"][c] = max(0.0, total - background)
            out["aperiodic_fraction"][c] = background / total if total > 0 else np.nan
        peaks = peaks[np.all(np.isfinite(peaks), axis=1)] if peaks.size else np.empty((0, 3))
        in_alpha = peaks[(peaks[:, 0] >= iaf_range[0]) & (peaks[:, 0] <= iaf_range[1])]
        if in_alpha.size:
            best = in_alpha[np.argmax(in_alpha[:, 1])]
            out["alpha_cf_hz"][c], out["alpha_pw_log10"][c], out["alpha_bw_hz"][c] = best
        ambiguous[c], n_alpha[c] = _split_alpha(in_alpha, min_prominence, split_ratio,
                                                split_min_separation_hz)
        if exponent < min_exponent:
            flag[c] = "noise_floor"
        elif r2 < min_r_squared:
            flag[c] = "poor_fit"
        else:
            flag[c] = "ok"
    return PeriodicFit(**out, n_alpha_peaks=n_alpha, iaf_ambiguous=ambiguous, flag=flag)


def _split_alpha(peaks, min_prominence, split_ratio, min_separation):
    """``(ambiguous, n_candidates)`` from the alpha-range peaks (rows CF, PW, BW)."""
    cand = peaks[peaks[:, 1] >= min_prominence] if peaks.size else np.empty((0, 3))
    if cand.shape[0] < 2:
        return False, int(cand.shape[0])
    order = np.argsort(cand[:, 1])[::-1]
    first = cand[order[0]]
    for other in cand[order[1:]]:
        if other[1] >= split_ratio * first[1] and abs(other[0] - first[0]) >= min_separation:
            return True, int(cand.shape[0])
    return False, int(cand.shape[0])
