"""``simulate_eeg``: a recording composed of independent, separately seeded parts.

The steps, in the order they add to the signal (µV):

1. :func:`_check_params` validates the arguments into one :class:`_Params`;
2. :func:`_background`: the aperiodic (1/f) background, one random-phase process per channel;
3. :func:`_block_layout`: the blocks' truth and the alpha gain over time (cross-faded);
4. :func:`_add_alpha`: the alpha component (Gaussian spectral peak × burst envelope × gain);
5. the artifacts (:mod:`._artifacts`): blinks, movement bursts, line noise; then DC offsets;
6. :func:`_truth`: the JSON-serialisable ground truth.

Each part draws from its own child of one :class:`numpy.random.SeedSequence` (:func:`_streams`),
so switching a part on or off changes no other part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from .._validate import check_positive
from ._artifacts import (
    Event,
    _add_blinks,
    _add_line_noise,
    _add_movements,
    _Blinks,
    blink_weight,
)
from ._recording import SimulatedRecording
from ._spectra import (
    APERIODIC_FMIN_HZ,
    _aperiodic_psd,
    _burst_envelope,
    _gaussian_peak,
    _smooth,
    _spectral_noise,
)

#: Measurement start used when none is given (fixed, so outputs are reproducible).
DEFAULT_MEAS_DATE = datetime(2026, 1, 5, 9, 0, 0, tzinfo=timezone.utc)

#: Alpha amplitude gain (a factor on amplitude, so ×9 in power) per block label, when
#: ``block_alpha_gain`` is not given. Labels not listed get 1.
DEFAULT_BLOCK_ALPHA_GAIN = MappingProxyType({"eyes-closed": 3.0})

_MUSE_NAMES = ("TP9", "AF7", "AF8", "TP10")
_CYTON_NAMES = ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2")
_BLOCK_FADE_S = 1.0  # cross-fade of the block gain at block edges

_TRUTH_UNITS = {
    "data": "uV",
    "aperiodic_offset_uv2": "uV^2/Hz at 1 Hz",
    "alpha_amplitude_uv": "uV RMS where the block gain is 1",
    "alpha_gain": "amplitude factor",
    "line_amplitude_uv": "uV peak",
    "blink_amplitudes_uv": "uV peak at blink weight 1 (Fp)",
    "times": "s from the first sample",
}


# ---------------------------------------------------------------------------------------------
# argument checks


def _per_channel(name: str, value, n: int, *, allow_none: bool = False) -> list:
    """Broadcast a scalar to ``n`` channels, or check a per-channel sequence."""
    if value is None and allow_none:
        return [None] * n
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        values = [value] * n
    else:
        values = list(value)
        if len(values) != n:
            raise ValueError(
                f"Invalid value for the {name!r} parameter. It must be a number or a sequence "
                f"of {n} numbers (one per channel), but got {len(values)} values instead."
            )
    out = []
    for v in values:
        if v is None and allow_none:
            out.append(None)
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise TypeError(
                f"Invalid value for the {name!r} parameter. It must be a number, but got "
                f"{v!r} instead."
            ) from None
        if not math.isfinite(f):
            raise ValueError(
                f"Invalid value for the {name!r} parameter. It must be finite, but got {v!r} "
                "instead."
            )
        out.append(f)
    return out


def _check_range(name: str, values, lo: float, hi: float | None = None) -> None:
    for v in values:
        if v is None:
            continue
        if v < lo or (hi is not None and v >= hi):
            bound = f">= {lo}" + (f" and < {hi:g}" if hi is not None else "")
            raise ValueError(
                f"Invalid value for the {name!r} parameter. It must be {bound}, but got {v!r} "
                "instead."
            )


def _utc(meas_date) -> datetime:
    if meas_date is None:
        return DEFAULT_MEAS_DATE
    if not isinstance(meas_date, datetime):
        raise TypeError(
            f"Invalid value for the 'meas_date' parameter. It must be a datetime, but got "
            f"{type(meas_date).__name__} instead."
        )
    if meas_date.tzinfo is None:
        raise ValueError(
            "Invalid value for the 'meas_date' parameter. It must be timezone-aware "
            f"(e.g. tzinfo=timezone.utc), but got the naive {meas_date.isoformat()} instead."
        )
    return meas_date.astimezone(timezone.utc)


def _check_blocks(blocks) -> list[tuple[str, float]]:
    if blocks is None:
        return []
    out = []
    for item in blocks:
        try:
            label, dur = item
        except (TypeError, ValueError):
            raise TypeError(
                "Invalid value for the 'blocks' parameter. It must be a sequence of "
                f"(label, duration_s) pairs, but got {item!r} instead."
            ) from None
        if not isinstance(label, str) or not label:
            raise TypeError(
                "Invalid value for the 'blocks' parameter. Each label must be a non-empty "
                f"string, but got {label!r} instead."
            )
        out.append((label, check_positive("blocks", dur)))
    return out


@dataclass(frozen=True)
class _Params:
    """The validated arguments of :func:`simulate_eeg` (per-channel values as lists)."""

    ch_names: tuple[str, ...]
    sfreq: float
    duration_s: float
    n_times: int
    blocks: list[tuple[str, float]]
    exponents: list[float]
    offsets: list[float]
    alpha_bandwidth_hz: float
    peaks: list[float | None]
    alpha_amps: list[float]
    dc: list[float]
    alpha_bursts: bool
    blink_rate: float
    blink_amp: float
    line_amp: float
    line_freq: float | None
    move_amp: float
    movement_bursts: int
    gains_by_label: dict[str, float]
    blink_free: set[str]
    blink_interval: tuple[float, float] | None
    blink_amp_range: tuple[float, float] | None
    meas_date: datetime
    seed: object


def _check_layout(ch_names, sfreq, duration_s, blocks):
    """Channel names, rate, blocks and length: ``(ch_names, sfreq, duration_s, n_times, blocks)``."""
    ch_names = tuple(str(c) for c in ch_names)
    n_ch = len(ch_names)
    if n_ch == 0 or len(set(ch_names)) != n_ch:
        raise ValueError(
            "Invalid value for the 'ch_names' parameter. It must be a non-empty sequence of "
            f"unique names, but got {ch_names!r} instead."
        )
    sfreq = check_positive("sfreq", sfreq)
    block_list = _check_blocks(blocks)
    block_total = float(sum(d for _, d in block_list))
    if duration_s is None:
        duration_s = block_total if block_list else 120.0
    duration_s = check_positive("duration_s", duration_s)
    if block_total > duration_s + 1e-9:
        raise ValueError(
            f"Invalid value for the 'duration_s' parameter. The blocks last {block_total:g} s, "
            f"longer than duration_s={duration_s:g}."
        )
    n_times = int(round(duration_s * sfreq))
    if n_times < 2:
        raise ValueError(
            f"Invalid value for the 'duration_s' parameter. It gives {n_times} sample(s) at "
            f"{sfreq:g} Hz; at least 2 are needed."
        )
    return ch_names, sfreq, duration_s, n_times, block_list


def _check_spectrum(n_ch: int, nyquist: float, *, aperiodic_exponent, aperiodic_offset_uv2,
                    alpha_bandwidth_hz, alpha_peak_hz, alpha_amplitude_uv, dc_offset_uv) -> dict:
    """The per-channel background, alpha and DC parameters, as :class:`_Params` fields."""
    exponents = _per_channel("aperiodic_exponent", aperiodic_exponent, n_ch)
    _check_range("aperiodic_exponent", exponents, 0.0)
    offsets = _per_channel("aperiodic_offset_uv2", aperiodic_offset_uv2, n_ch)
    for v in offsets:
        check_positive("aperiodic_offset_uv2", v)
    alpha_bandwidth_hz = check_positive("alpha_bandwidth_hz", alpha_bandwidth_hz)
    peaks = _per_channel("alpha_peak_hz", alpha_peak_hz, n_ch, allow_none=True)
    _check_range("alpha_peak_hz", peaks, 1e-9, nyquist - alpha_bandwidth_hz)
    alpha_amps = _per_channel("alpha_amplitude_uv", alpha_amplitude_uv, n_ch)
    _check_range("alpha_amplitude_uv", alpha_amps, 0.0)
    dc = _per_channel("dc_offset_uv", dc_offset_uv, n_ch)
    return {"exponents": exponents, "offsets": offsets, "alpha_bandwidth_hz": alpha_bandwidth_hz,
            "peaks": peaks, "alpha_amps": alpha_amps, "dc": dc}


def _check_artifacts(nyquist: float, *, blink_rate_per_min, blink_amplitude_uv,
                     line_amplitude_uv, line_freq, movement_amplitude_uv, movement_bursts,
                     block_alpha_gain, blink_free_blocks, blink_interval_s,
                     blink_amplitude_range_uv) -> dict:
    """The artifact parameters and the block gains, as :class:`_Params` fields."""
    blink_rate = check_positive("blink_rate_per_min", blink_rate_per_min, allow_zero=True)
    blink_amp = check_positive("blink_amplitude_uv", blink_amplitude_uv, allow_zero=True)
    line_amp = check_positive("line_amplitude_uv", line_amplitude_uv, allow_zero=True)
    if line_freq is not None:
        line_freq = check_positive("line_freq", line_freq)
        _check_range("line_freq", [line_freq], 0.0, nyquist)
    move_amp = check_positive("movement_amplitude_uv", movement_amplitude_uv, allow_zero=True)
    if isinstance(movement_bursts, bool) or not isinstance(movement_bursts, (int, np.integer)):
        raise TypeError(
            "Invalid value for the 'movement_bursts' parameter. It must be an int (a count), "
            f"but got {movement_bursts!r} instead."
        )
    if movement_bursts < 0:
        raise ValueError(
            "Invalid value for the 'movement_bursts' parameter. It must be >= 0, but got "
            f"{movement_bursts!r} instead."
        )
    gains_by_label = dict(
        DEFAULT_BLOCK_ALPHA_GAIN if block_alpha_gain is None else block_alpha_gain
    )
    for label, g in gains_by_label.items():
        check_positive(f"block_alpha_gain[{label!r}]", g, allow_zero=True)
    blink_interval = _check_pair_range("blink_interval_s", blink_interval_s, lo=0.5)
    blink_amp_range = _check_pair_range("blink_amplitude_range_uv", blink_amplitude_range_uv,
                                        lo=0.0)
    if blink_interval is not None and blink_rate > 0:
        raise ValueError(
            "Invalid value for the 'blink_interval_s' parameter. Give either blink_interval_s or "
            f"blink_rate_per_min, but got both ({blink_interval_s!r} and {blink_rate_per_min!r})."
        )
    return {"blink_rate": blink_rate, "blink_amp": blink_amp, "line_amp": line_amp,
            "line_freq": line_freq, "move_amp": move_amp, "movement_bursts": movement_bursts,
            "gains_by_label": gains_by_label, "blink_free": set(blink_free_blocks or ()),
            "blink_interval": blink_interval, "blink_amp_range": blink_amp_range}


def _check_pair_range(name: str, value, *, lo: float) -> tuple[float, float] | None:
    """``None`` or a ``(low, high)`` pair of finite numbers with ``lo <= low <= high``."""
    if value is None:
        return None
    vals = _per_channel(name, value, 2)
    if not lo <= vals[0] <= vals[1]:
        raise ValueError(
            f"Invalid value for the {name!r} parameter. It must be a (low, high) pair with "
            f"{lo:g} <= low <= high, but got {value!r} instead."
        )
    return (vals[0], vals[1])


def _check_params(args: dict) -> _Params:
    """Validate :func:`simulate_eeg`'s keyword arguments (``args``) in the order documented."""
    ch_names, sfreq, duration_s, n_times, blocks = _check_layout(
        args["ch_names"], args["sfreq"], args["duration_s"], args["blocks"])
    nyquist = sfreq / 2.0
    spectrum = _check_spectrum(
        len(ch_names), nyquist,
        **{k: args[k] for k in ("aperiodic_exponent", "aperiodic_offset_uv2", "alpha_bandwidth_hz",
                                "alpha_peak_hz", "alpha_amplitude_uv", "dc_offset_uv")})
    artifacts = _check_artifacts(
        nyquist,
        **{k: args[k] for k in ("blink_rate_per_min", "blink_amplitude_uv", "line_amplitude_uv",
                                "line_freq", "movement_amplitude_uv", "movement_bursts",
                                "block_alpha_gain", "blink_free_blocks", "blink_interval_s",
                                "blink_amplitude_range_uv")})
    return _Params(ch_names=ch_names, sfreq=sfreq, duration_s=duration_s, n_times=n_times,
                   blocks=blocks, alpha_bursts=args["alpha_bursts"],
                   meas_date=_utc(args["meas_date"]), seed=args["seed"], **spectrum, **artifacts)


# ---------------------------------------------------------------------------------------------
# the signal parts


class _Streams(NamedTuple):
    """One random generator per signal part (children of the seed, in this order)."""

    background: np.random.Generator
    alpha: np.random.Generator
    envelope: np.random.Generator
    blinks: np.random.Generator
    line: np.random.Generator
    movement: np.random.Generator


def _streams(seed) -> _Streams:
    """Spawn the six part streams from ``SeedSequence(seed)``."""
    return _Streams(*(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)))


def _background(p: _Params, rng, freqs: np.ndarray) -> np.ndarray:
    """The 1/f background, ``(n_channels, n_times)`` µV: one random-phase process per channel
    with PSD ``offset · f^-exponent``."""
    data = np.empty((len(p.ch_names), p.n_times))
    for i in range(len(p.ch_names)):
        data[i] = _spectral_noise(
            rng, p.n_times, p.sfreq, _aperiodic_psd(freqs, p.offsets[i], p.exponents[i])
        )
    return data


def _block_layout(p: _Params) -> tuple[list[dict], np.ndarray]:
    """The blocks' truth (``label``, ``onset_s``, ``duration_s``, ``alpha_gain``, ``marker``:
    1, 2, … by first appearance) and the alpha amplitude gain per sample, cross-faded over
    1 s at block edges (1 outside blocks)."""
    block_truth, markers = [], {}
    gain_t = np.ones(p.n_times)
    onset = 0.0
    for label, dur in p.blocks:
        markers.setdefault(label, len(markers) + 1)
        g = float(p.gains_by_label.get(label, 1.0))
        block_truth.append(
            {
                "label": label,
                "onset_s": onset,
                "duration_s": dur,
                "alpha_gain": g,
                "marker": markers[label],
            }
        )
        i0, i1 = int(round(onset * p.sfreq)), int(round((onset + dur) * p.sfreq))
        gain_t[i0:i1] = g
        onset += dur
    if p.blocks:
        gain_t = _smooth(gain_t, int(round(_BLOCK_FADE_S * p.sfreq)))
    return block_truth, gain_t


def _add_alpha(data, p: _Params, streams: _Streams, freqs: np.ndarray,
               gain_t: np.ndarray) -> None:
    """Add alpha: a Gaussian spectral peak (random phases) × the burst envelope shared by all
    channels, scaled to the channel's RMS amplitude, × the block gain."""
    if p.alpha_bursts:
        env = _burst_envelope(streams.envelope, p.n_times, p.sfreq)
    else:
        env = np.ones(p.n_times)
    for i in range(len(p.ch_names)):
        if p.peaks[i] is None or p.alpha_amps[i] == 0.0:
            continue
        carrier = _spectral_noise(
            streams.alpha, p.n_times, p.sfreq,
            _gaussian_peak(freqs, p.peaks[i], p.alpha_bandwidth_hz),
        )
        a = carrier * env
        a *= p.alpha_amps[i] / np.sqrt(np.mean(a**2))
        data[i] += a * gain_t


def _add_artifacts(data, p: _Params, streams: _Streams, block_truth: list[dict],
                   weights: np.ndarray) -> tuple[_Blinks, list[Event], list[dict]]:
    """Add blinks (none in ``blink_free`` blocks), movement bursts and line noise, in that
    order; return the blinks and every artifact's events and records (unsorted)."""
    free = [(b["onset_s"], b["onset_s"] + b["duration_s"]) for b in block_truth
            if b["label"] in p.blink_free]
    blinks = _add_blinks(data, streams.blinks, ch_names=p.ch_names, weights=weights,
                         sfreq=p.sfreq, duration_s=p.duration_s, rate=p.blink_rate,
                         amplitude=p.blink_amp, free=free, interval_s=p.blink_interval,
                         amplitude_range=p.blink_amp_range)
    move_events, move_artifacts = _add_movements(
        data, streams.movement, ch_names=p.ch_names, sfreq=p.sfreq, duration_s=p.duration_s,
        n_bursts=p.movement_bursts, amplitude=p.move_amp)
    _add_line_noise(data, streams.line, sfreq=p.sfreq, line_freq=p.line_freq,
                    amplitude=p.line_amp)
    return (blinks, blinks.events + move_events, blinks.artifacts + move_artifacts)


def _truth(p: _Params, block_truth: list[dict], blinks: _Blinks, artifacts: list[dict],
           weights: np.ndarray) -> dict:
    """The ground-truth dict documented in :func:`simulate_eeg` (``artifacts`` sorted)."""
    ch = p.ch_names
    return {
        "units": dict(_TRUTH_UNITS),
        "seed": p.seed if p.seed is None or isinstance(p.seed, int) else str(p.seed),
        "sfreq": p.sfreq,
        "ch_names": list(ch),
        "meas_date": p.meas_date.isoformat(),
        "aperiodic_exponent": dict(zip(ch, p.exponents)),
        "aperiodic_offset_uv2": dict(zip(ch, p.offsets)),
        "aperiodic_fmin_hz": APERIODIC_FMIN_HZ,
        "alpha_peak_hz": dict(zip(ch, p.peaks)),
        "alpha_amplitude_uv": dict(zip(ch, p.alpha_amps)),
        "alpha_bandwidth_hz": p.alpha_bandwidth_hz,
        "alpha_bursts": bool(p.alpha_bursts),
        "block_alpha_gain": {k: float(v) for k, v in p.gains_by_label.items()},
        "blocks": block_truth,
        "line_freq": p.line_freq,
        "line_amplitude_uv": p.line_amp if p.line_freq is not None else 0.0,
        "blink_onsets_s": blinks.onsets_s,
        "blink_peaks_s": blinks.peaks_s,
        "blink_amplitudes_uv": blinks.amplitudes_uv,
        "blink_weights": dict(zip(ch, weights.tolist())),
        "dc_offset_uv": dict(zip(ch, p.dc)),
        "artifacts": sorted(artifacts, key=lambda a: a["onset_s"]),
    }


# ---------------------------------------------------------------------------------------------
# simulation


def simulate_eeg(
    *,
    ch_names=_MUSE_NAMES,
    sfreq=256.0,
    duration_s=None,
    aperiodic_exponent=1.5,
    aperiodic_offset_uv2=100.0,
    alpha_peak_hz=10.0,
    alpha_amplitude_uv=5.0,
    alpha_bandwidth_hz=1.0,
    alpha_bursts=True,
    blocks=None,
    block_alpha_gain=None,
    blink_rate_per_min=0.0,
    blink_amplitude_uv=150.0,
    blink_free_blocks=("eyes-closed",),
    line_freq=None,
    line_amplitude_uv=5.0,
    movement_bursts=0,
    movement_amplitude_uv=300.0,
    dc_offset_uv=0.0,
    meas_date=None,
    seed=0,
    blink_interval_s=None,
    blink_amplitude_range_uv=None,
) -> SimulatedRecording:
    """Simulate EEG with a known 1/f background, alpha peak, blocks and artifacts.

    Artifacts (blinks, line noise, movements, DC offsets) are off by default, so that
    ``simulate_eeg()`` is a clean background-plus-alpha recording; switch each on explicitly.

    Parameters
    ----------
    ch_names : sequence of str
        Channel names (10-05 names get blink weights, see :func:`blink_weight`).
    sfreq : float
        Sampling rate, Hz.
    duration_s : float | None
        Length in seconds. ``None``: the sum of the block durations, or 120 s without blocks.
        When given with ``blocks`` it must be at least their sum (the rest is unlabelled).
    aperiodic_exponent : float | sequence of float
        Exponent χ of the background PSD ``offset · f^-χ`` (per channel or one for all), ≥ 0.
    aperiodic_offset_uv2 : float | sequence of float
        The background PSD at 1 Hz, µV²/Hz (``log10`` of it is specparam's offset). The default
        100 gives a 1–45 Hz background SD of ~20, 13 and 10 µV for χ = 1, 1.5 and 2.
    alpha_peak_hz : float | sequence of float or None | None
        Centre of the alpha peak (individual alpha frequency), per channel or one for all;
        ``None`` (or ``None`` for a channel) means no alpha.
    alpha_amplitude_uv : float | sequence of float
        **RMS** amplitude of the alpha component, µV, over the recording where the block gain
        is 1 (the peak amplitude of a sinusoid with this RMS would be √2 times larger). Its
        power is ``alpha_amplitude_uv**2`` µV², spread as a Gaussian spectral peak.
    alpha_bandwidth_hz : float
        Full width at half maximum of the alpha spectral peak, Hz (before the burst envelope,
        which widens it by a few tenths of a hertz).
    alpha_bursts : bool
        Modulate alpha with a smooth log-normal envelope shared by all channels (bursts of a
        few seconds); ``False`` keeps its amplitude steady.
    blocks : sequence of (label, duration_s) | None
        Consecutive blocks from t = 0, e.g. ``[("eyes-open", 60), ("eyes-closed", 60)]``.
    block_alpha_gain : mapping of str to float | None
        Alpha **amplitude** factor per block label (×3 amplitude = ×9 power). ``None`` uses
        ``{"eyes-closed": 3.0}``; labels not listed get 1. The gain is cross-faded over 1 s at
        block edges.
    blink_rate_per_min : float
        Mean blink rate (Poisson with a 0.8 s refractory gap). 0 = no blinks.
    blink_amplitude_uv : float
        Blink peak amplitude on Fp channels, µV (±20 % per blink); other channels get
        :func:`blink_weight` times it.
    blink_free_blocks : sequence of str
        Block labels in which nobody blinks (eyes closed).
    line_freq : float | None
        Mains frequency, Hz (50 or 60); ``None`` = no line noise.
    line_amplitude_uv : float
        Peak amplitude of the line sinusoid, µV (random phase per channel).
    movement_bursts : int
        Number of movement bursts (1–3 s each, non-overlapping, placed at random).
    movement_amplitude_uv : float
        Largest absolute deflection of a movement burst, µV (per channel 40–100 % of it).
    dc_offset_uv : float | sequence of float
        Constant offset added per channel, µV (Cyton-like recordings carry 1e4–1e5).
    meas_date : datetime | None
        Time of the first sample (timezone-aware). ``None``: 2026-01-05 09:00 UTC.
    seed : int | None
        Seed of :class:`numpy.random.SeedSequence`; one child stream per signal part.
    blink_interval_s : (float, float) | None
        Blinks at regular-ish intervals instead of a Poisson process: consecutive onsets are
        uniformly ``low``–``high`` s apart (``low`` >= 0.5 s). Use with
        ``blink_rate_per_min=0``. ``None`` (default): the Poisson process.
    blink_amplitude_range_uv : (float, float) | None
        Blink peak on Fp channels uniform in ``[low, high]`` µV instead of
        ``blink_amplitude_uv`` ±20 %. ``None`` (default) keeps the latter. Neither option
        changes any other part of the recording (the blinks have their own random stream), so
        the same ``seed`` without blinks gives the same recording without them.

    Returns
    -------
    rec : SimulatedRecording
        Its ``truth`` dict holds: ``units``; ``seed``; ``sfreq``; ``ch_names``;
        ``aperiodic_exponent``, ``aperiodic_offset_uv2``, ``alpha_peak_hz``,
        ``alpha_amplitude_uv`` and ``dc_offset_uv`` (dicts by channel); ``alpha_bandwidth_hz``,
        ``alpha_bursts``, ``aperiodic_fmin_hz``; ``block_alpha_gain``; ``blocks`` (``label``,
        ``onset_s``, ``duration_s``, ``alpha_gain``, ``marker``); ``line_freq``,
        ``line_amplitude_uv``; ``blink_onsets_s``, ``blink_peaks_s``, ``blink_amplitudes_uv``
        (at weight 1), ``blink_weights`` (by channel); ``artifacts`` (one dict per blink,
        movement or box: ``type``, ``onset_s``, ``duration_s``, ``channels``,
        ``amplitude_uv``); ``meas_date`` (ISO 8601).
    """
    p = _check_params(dict(locals()))  # the keyword arguments: no other name is bound yet
    streams = _streams(p.seed)
    freqs = np.fft.rfftfreq(p.n_times, 1.0 / p.sfreq)
    data = _background(p, streams.background, freqs)
    block_truth, gain_t = _block_layout(p)
    _add_alpha(data, p, streams, freqs, gain_t)
    weights = np.array([blink_weight(c) for c in p.ch_names])
    blinks, artifact_events, artifacts = _add_artifacts(data, p, streams, block_truth, weights)
    data += np.asarray(p.dc)[:, None]
    events = [(b["onset_s"], b["duration_s"], b["label"]) for b in block_truth]
    events = sorted(events + artifact_events, key=lambda e: (e[0], e[2]))
    return SimulatedRecording(
        data_uv=data,
        sfreq=p.sfreq,
        ch_names=p.ch_names,
        meas_date=p.meas_date,
        events=tuple(events),
        truth=_truth(p, block_truth, blinks, artifacts, weights),
    )
