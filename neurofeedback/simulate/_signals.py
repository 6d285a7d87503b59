"""Signal generation: the 1/f background, alpha bursts, blocks and artifacts, with their truth."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from types import MappingProxyType

import numpy as np

from .._validate import check_option, check_positive

#: Measurement start used when none is given (fixed, so outputs are reproducible).
DEFAULT_MEAS_DATE = datetime(2026, 1, 5, 9, 0, 0, tzinfo=timezone.utc)

#: Below this frequency the aperiodic PSD is held at its value here (Hz).
APERIODIC_FMIN_HZ = 0.5

#: Alpha amplitude gain (a factor on amplitude, so ×9 in power) per block label, when
#: ``block_alpha_gain`` is not given. Labels not listed get 1.
DEFAULT_BLOCK_ALPHA_GAIN = MappingProxyType({"eyes-closed": 3.0})

_MUSE_NAMES = ("TP9", "AF7", "AF8", "TP10")
_CYTON_NAMES = ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2")
_BURST_ENV_SD_HZ = 0.15  # spectral width (SD) of the burst envelope's log: ~1 s correlation
# SD of the log-envelope (x0.37-x2.7 at 2 SD), on top of the narrow-band carrier's own waxing
_BURST_ENV_LOG_SD = 0.5
_BLOCK_FADE_S = 1.0  # cross-fade of the block gain at block edges
_BLINK_MIN_GAP_S = 0.8

# Blink weight by 10-05 name prefix (Fp = 1): eye potentials fall off from the front.
_BLINK_WEIGHTS = {
    "FP": 1.0,
    "AF": 0.7,
    "F": 0.45,
    "FC": 0.2,
    "FT": 0.15,
    "C": 0.08,
    "T": 0.06,
    "CP": 0.04,
    "TP": 0.04,
    "P": 0.02,
    "PO": 0.02,
    "O": 0.01,
    "I": 0.01,
}
_NAME_RE = re.compile(r"^(FP|AF|FC|FT|CP|TP|PO|F|C|T|P|O|I)(Z|\d+)$", re.IGNORECASE)


def blink_weight(ch_name: str) -> float:
    """Return the fraction of the blink amplitude that appears on a channel.

    Parameters
    ----------
    ch_name : str
        A 10-20/10-05 name such as ``"Fp1"``, ``"AF7"``, ``"Fz"``, ``"O2"``.

    Returns
    -------
    weight : float
        1.0 on Fp*, 0.7 on AF*, 0.45 on F*, 0.2 on FC*, 0.15 on FT*, 0.08 on C*, 0.06 on T*,
        0.04 on CP*/TP*, 0.02 on P*/PO*, 0.01 on O*/I*; 0.0 for names outside the system
        (e.g. ``"Right AUX"``).
    """
    m = _NAME_RE.match(ch_name.strip())
    if m is None:
        return 0.0
    return _BLINK_WEIGHTS[m.group(1).upper()]


@dataclass(frozen=True)
class SimulatedRecording:
    """A simulated recording and its ground truth.

    Attributes
    ----------
    data_uv : ndarray, shape (n_channels, n_times), µV
        The signals (read-only).
    sfreq : float
        Sampling rate, Hz.
    ch_names : tuple of str
        Channel names.
    meas_date : datetime
        Time of the first sample, UTC.
    events : tuple of (onset_s, duration_s, description)
        Blocks (``"eyes-open"``, …) and the true artifacts (``"BAD_blink"``,
        ``"BAD_movement"``, ``"BAD_box"``), sorted by onset, seconds from the first sample.
    truth : dict
        JSON-serialisable ground truth; see :func:`simulate_eeg` for the keys.
    """

    data_uv: np.ndarray
    sfreq: float
    ch_names: tuple[str, ...]
    meas_date: datetime
    events: tuple[tuple[float, float, str], ...] = ()
    truth: dict = field(default_factory=dict)

    def __post_init__(self):
        data = np.array(self.data_uv, dtype=np.float64)  # our own copy, then frozen
        if data.ndim != 2 or data.shape[0] != len(self.ch_names):
            raise ValueError(
                f"data_uv must have shape (n_channels={len(self.ch_names)}, n_times), "
                f"got {data.shape}."
            )
        data.setflags(write=False)
        object.__setattr__(self, "data_uv", data)
        object.__setattr__(self, "ch_names", tuple(self.ch_names))
        object.__setattr__(self, "events", tuple(tuple(e) for e in self.events))

    @property
    def n_times(self) -> int:
        """Number of samples."""
        return self.data_uv.shape[1]

    @property
    def duration_s(self) -> float:
        """Length in seconds (``n_times / sfreq``)."""
        return self.n_times / self.sfreq

    @property
    def blocks(self) -> list[dict]:
        """The blocks: dicts with ``label``, ``onset_s``, ``duration_s``, ``alpha_gain``."""
        return [dict(b) for b in self.truth.get("blocks", [])]

    def block_markers(self) -> dict[str, int]:
        """Marker value per block label: 1, 2, … in order of first appearance."""
        out: dict[str, int] = {}
        for b in self.truth.get("blocks", []):
            out.setdefault(b["label"], len(out) + 1)
        return out

    def to_raw(self):
        """Return an :class:`mne.io.RawArray` in volts.

        EEG channels get positions from the ``colin27_1005`` template (names it lacks, such as
        ``Right AUX``, are left without one); ``info["line_freq"]`` is the simulated line
        frequency; the annotations hold the blocks only (the ``BAD_*`` truth is for scoring, not
        for the pipeline to see).

        Returns
        -------
        raw : mne.io.RawArray
        """
        import mne

        info = mne.create_info(list(self.ch_names), self.sfreq, ch_types="eeg", verbose=False)
        raw = mne.io.RawArray(self.data_uv * 1e-6, info, verbose=False)
        montage = mne.channels.make_standard_montage("colin27_1005")
        raw.set_montage(montage, on_missing="ignore", match_case=False, verbose=False)
        raw.set_meas_date(self.meas_date)
        with raw.info._unlock():
            raw.info["line_freq"] = self.truth.get("line_freq")
            raw.info["description"] = (
                f"Simulated by neurofeedback.simulate (seed={self.truth.get('seed')})"
            )
        blocks = self.truth.get("blocks", [])
        if blocks:
            raw.set_annotations(
                mne.Annotations(
                    onset=[b["onset_s"] for b in blocks],
                    duration=[b["duration_s"] for b in blocks],
                    description=[b["label"] for b in blocks],
                    orig_time=self.meas_date,
                )
            )
        return raw


# ---------------------------------------------------------------------------------------------
# helpers


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


def _spectral_noise(rng, n_times: int, sfreq: float, psd: np.ndarray) -> np.ndarray:
    """Random-phase signal whose one-sided PSD is ``psd`` (defined on ``rfftfreq``), µV.

    Each bin gets amplitude ``sqrt(psd · sfreq · n / 2)`` and a uniform random phase; by
    Parseval the variance is ``sum(psd) · sfreq / n`` = the integral of the PSD.
    """
    amp = np.sqrt(psd * sfreq * n_times / 2.0)
    amp[0] = 0.0
    if n_times % 2 == 0:
        amp[-1] = 0.0  # the Nyquist bin cannot carry a phase
    phases = rng.uniform(0.0, 2.0 * np.pi, size=amp.shape)
    return np.fft.irfft(amp * np.exp(1j * phases), n=n_times)


def _aperiodic_psd(freqs: np.ndarray, offset: float, exponent: float) -> np.ndarray:
    return offset * np.maximum(freqs, APERIODIC_FMIN_HZ) ** (-exponent)


def _gaussian_peak(freqs: np.ndarray, center: float, fwhm: float) -> np.ndarray:
    sd = fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    return np.exp(-0.5 * ((freqs - center) / sd) ** 2)


def _burst_envelope(rng, n_times: int, sfreq: float) -> np.ndarray:
    """Smooth positive envelope with mean square 1 (log-normal, ~1 s correlation time)."""
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    z = _spectral_noise(rng, n_times, sfreq, np.exp(-0.5 * (freqs / _BURST_ENV_SD_HZ) ** 2))
    sd = z.std()
    z = z / sd if sd > 0 else z
    env = np.exp(_BURST_ENV_LOG_SD * z)
    return env / np.sqrt(np.mean(env**2))


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving Hann-weighted average with edge padding (length preserved)."""
    if width < 3:
        return x
    kernel = np.hanning(width)
    kernel /= kernel.sum()
    pad = width // 2
    xp = np.pad(x, (pad, width - 1 - pad), mode="edge")
    return np.convolve(xp, kernel, mode="valid")


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
    ch_names = tuple(str(c) for c in ch_names)
    n_ch = len(ch_names)
    if n_ch == 0 or len(set(ch_names)) != n_ch:
        raise ValueError(
            "Invalid value for the 'ch_names' parameter. It must be a non-empty sequence of "
            f"unique names, but got {ch_names!r} instead."
        )
    sfreq = check_positive("sfreq", sfreq)
    nyquist = sfreq / 2.0
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
    blink_free = set(blink_free_blocks or ())
    meas_date = _utc(meas_date)

    seed_seq = np.random.SeedSequence(seed)
    (rng_bg, rng_alpha, rng_env, rng_blink, rng_line, rng_move) = (
        np.random.default_rng(s) for s in seed_seq.spawn(6)
    )

    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    data = np.empty((n_ch, n_times))

    # 1/f background, one independent random-phase process per channel
    for i in range(n_ch):
        data[i] = _spectral_noise(
            rng_bg, n_times, sfreq, _aperiodic_psd(freqs, offsets[i], exponents[i])
        )

    # block layout and alpha gain over time
    block_truth, markers = [], {}
    gain_t = np.ones(n_times)
    onset = 0.0
    for label, dur in block_list:
        markers.setdefault(label, len(markers) + 1)
        g = float(gains_by_label.get(label, 1.0))
        block_truth.append(
            {
                "label": label,
                "onset_s": onset,
                "duration_s": dur,
                "alpha_gain": g,
                "marker": markers[label],
            }
        )
        i0, i1 = int(round(onset * sfreq)), int(round((onset + dur) * sfreq))
        gain_t[i0:i1] = g
        onset += dur
    if block_list:
        gain_t = _smooth(gain_t, int(round(_BLOCK_FADE_S * sfreq)))

    # alpha: Gaussian spectral peak x shared burst envelope x block gain
    env = _burst_envelope(rng_env, n_times, sfreq) if alpha_bursts else np.ones(n_times)
    for i in range(n_ch):
        if peaks[i] is None or alpha_amps[i] == 0.0:
            continue
        carrier = _spectral_noise(
            rng_alpha, n_times, sfreq, _gaussian_peak(freqs, peaks[i], alpha_bandwidth_hz)
        )
        a = carrier * env
        a *= alpha_amps[i] / np.sqrt(np.mean(a**2))
        data[i] += a * gain_t

    events: list[tuple[float, float, str]] = [
        (b["onset_s"], b["duration_s"], b["label"]) for b in block_truth
    ]
    artifacts: list[dict] = []

    # blinks
    weights = np.array([blink_weight(c) for c in ch_names])
    blink_onsets, blink_peaks, blink_amps = [], [], []
    if blink_rate > 0 and blink_amp > 0:
        free = [
            (b["onset_s"], b["onset_s"] + b["duration_s"])
            for b in block_truth
            if b["label"] in blink_free
        ]
        mean_gap = 60.0 / blink_rate
        t = rng_blink.exponential(mean_gap)
        while True:
            t_peak = rng_blink.uniform(0.08, 0.12)  # time to peak, s
            dur = 4.0 * t_peak
            amp = blink_amp * rng_blink.uniform(0.8, 1.2)
            if t + dur >= duration_s:
                break
            if not any(a0 - dur < t < a1 for a0, a1 in free):
                i0 = int(round(t * sfreq))
                tt = np.arange(int(round(dur * sfreq))) / sfreq
                shape = (tt / t_peak) ** 4 * np.exp(4.0 * (1.0 - tt / t_peak))
                seg = slice(i0, min(i0 + tt.size, n_times))
                data[:, seg] += (weights[:, None] * amp) * shape[None, : seg.stop - seg.start]
                blink_onsets.append(i0 / sfreq)
                blink_peaks.append(i0 / sfreq + t_peak)
                blink_amps.append(amp)
                events.append((i0 / sfreq, tt.size / sfreq, "BAD_blink"))
                artifacts.append(
                    {
                        "type": "blink",
                        "onset_s": i0 / sfreq,
                        "duration_s": tt.size / sfreq,
                        "channels": [c for c, w in zip(ch_names, weights) if w > 0],
                        "amplitude_uv": amp,
                    }
                )
            gap = max(mean_gap - dur - _BLINK_MIN_GAP_S, 1e-3)  # mean interval = 60 / rate
            t += dur + _BLINK_MIN_GAP_S + rng_blink.exponential(gap)

    # movement bursts: slow broadband activity, mostly shared across channels
    placed: list[tuple[float, float]] = []
    for _ in range(movement_bursts):
        for _attempt in range(200):
            dur = rng_move.uniform(1.0, 3.0)
            if dur + 1.0 > duration_s:
                break
            t0 = rng_move.uniform(0.5, duration_s - dur - 0.5)
            if all(t0 + dur + 1.0 < a or t0 > b + 1.0 for a, b in placed):
                break
        else:
            raise ValueError(
                f"Cannot place {movement_bursts} non-overlapping movement bursts in "
                f"{duration_s:g} s."
            )
        if dur + 1.0 > duration_s:
            raise ValueError(
                f"Invalid value for the 'duration_s' parameter. Movement bursts need at least "
                f"{dur + 1.0:.1f} s, but got {duration_s:g}."
            )
        i0 = int(round(t0 * sfreq))
        n = min(int(round(dur * sfreq)), n_times - i0)
        f_seg = np.fft.rfftfreq(n, 1.0 / sfreq)
        psd = np.where(f_seg > 0, np.maximum(f_seg, 0.3) ** -2.0, 0.0) * (f_seg < 30.0)
        shared = _spectral_noise(rng_move, n, sfreq, psd)
        taper = np.hanning(n) ** 0.5
        amps = []
        for i in range(n_ch):
            own = _spectral_noise(rng_move, n, sfreq, psd)
            w = (0.8 * shared / shared.std() + 0.6 * own / own.std()) * taper
            peak = move_amp * rng_move.uniform(0.4, 1.0)
            data[i, i0 : i0 + n] += w * (peak / np.abs(w).max())
            amps.append(peak)
        placed.append((i0 / sfreq, (i0 + n) / sfreq))
        events.append((i0 / sfreq, n / sfreq, "BAD_movement"))
        artifacts.append(
            {
                "type": "movement",
                "onset_s": i0 / sfreq,
                "duration_s": n / sfreq,
                "channels": list(ch_names),
                "amplitude_uv": dict(zip(ch_names, amps)),
            }
        )

    # line noise
    if line_freq is not None and line_amp > 0:
        times = np.arange(n_times) / sfreq
        phases = rng_line.uniform(0.0, 2.0 * np.pi, size=n_ch)
        data += line_amp * np.sin(2.0 * np.pi * line_freq * times[None, :] + phases[:, None])

    data += np.asarray(dc)[:, None]

    events.sort(key=lambda e: (e[0], e[2]))
    artifacts.sort(key=lambda a: a["onset_s"])
    truth = {
        "units": {
            "data": "uV",
            "aperiodic_offset_uv2": "uV^2/Hz at 1 Hz",
            "alpha_amplitude_uv": "uV RMS where the block gain is 1",
            "alpha_gain": "amplitude factor",
            "line_amplitude_uv": "uV peak",
            "blink_amplitudes_uv": "uV peak at blink weight 1 (Fp)",
            "times": "s from the first sample",
        },
        "seed": seed if seed is None or isinstance(seed, int) else str(seed),
        "sfreq": sfreq,
        "ch_names": list(ch_names),
        "meas_date": meas_date.isoformat(),
        "aperiodic_exponent": dict(zip(ch_names, exponents)),
        "aperiodic_offset_uv2": dict(zip(ch_names, offsets)),
        "aperiodic_fmin_hz": APERIODIC_FMIN_HZ,
        "alpha_peak_hz": dict(zip(ch_names, peaks)),
        "alpha_amplitude_uv": dict(zip(ch_names, alpha_amps)),
        "alpha_bandwidth_hz": alpha_bandwidth_hz,
        "alpha_bursts": bool(alpha_bursts),
        "block_alpha_gain": {k: float(v) for k, v in gains_by_label.items()},
        "blocks": block_truth,
        "line_freq": line_freq,
        "line_amplitude_uv": line_amp if line_freq is not None else 0.0,
        "blink_onsets_s": blink_onsets,
        "blink_peaks_s": blink_peaks,
        "blink_amplitudes_uv": blink_amps,
        "blink_weights": dict(zip(ch_names, weights.tolist())),
        "dc_offset_uv": dict(zip(ch_names, dc)),
        "artifacts": artifacts,
    }
    return SimulatedRecording(
        data_uv=data,
        sfreq=sfreq,
        ch_names=ch_names,
        meas_date=meas_date,
        events=tuple(events),
        truth=truth,
    )


def add_box_artifact(
    rec: SimulatedRecording, *, channel, onset_s, duration_s, amplitude_uv=500.0
) -> SimulatedRecording:
    """Return a copy of ``rec`` with a box (step up, step down) on one channel.

    Parameters
    ----------
    rec : SimulatedRecording
        The recording; it is not modified.
    channel : str | int
        Channel name or index.
    onset_s, duration_s : float
        Start and length of the box, seconds; it must lie inside the recording.
    amplitude_uv : float
        Height of the box, µV (added over its whole length).

    Returns
    -------
    rec : SimulatedRecording
        With a ``"BAD_box"`` event and a ``"box"`` entry in ``truth["artifacts"]``.
    """
    if isinstance(channel, (int, np.integer)) and not isinstance(channel, bool):
        if not 0 <= channel < len(rec.ch_names):
            raise ValueError(
                f"Invalid value for the 'channel' parameter. It must be a name or an index "
                f"below {len(rec.ch_names)}, but got {channel!r} instead."
            )
        idx = int(channel)
    else:
        idx = rec.ch_names.index(check_option("channel", channel, rec.ch_names))
    onset_s = check_positive("onset_s", onset_s, allow_zero=True)
    duration_s = check_positive("duration_s", duration_s)
    amplitude = float(amplitude_uv)
    i0 = int(round(onset_s * rec.sfreq))
    i1 = int(round((onset_s + duration_s) * rec.sfreq))
    if i1 > rec.n_times or i1 <= i0:
        raise ValueError(
            f"Invalid value for the 'duration_s' parameter. The box [{onset_s:g}, "
            f"{onset_s + duration_s:g}) s must lie inside the recording (0-{rec.duration_s:g} s)."
        )
    data = rec.data_uv.copy()
    data[idx, i0:i1] += amplitude
    truth = json.loads(json.dumps(rec.truth))  # deep copy
    truth["artifacts"].append(
        {
            "type": "box",
            "onset_s": i0 / rec.sfreq,
            "duration_s": (i1 - i0) / rec.sfreq,
            "channels": [rec.ch_names[idx]],
            "amplitude_uv": amplitude,
        }
    )
    truth["artifacts"].sort(key=lambda a: a["onset_s"])
    events = sorted(
        [*rec.events, (i0 / rec.sfreq, (i1 - i0) / rec.sfreq, "BAD_box")],
        key=lambda e: (e[0], e[2]),
    )
    return replace(rec, data_uv=data, events=tuple(events), truth=truth)
