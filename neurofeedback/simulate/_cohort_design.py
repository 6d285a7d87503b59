"""The built-in subjects of the simulated cohort, and the expected values their design implies.

Each :class:`_Spec` says how one subject is simulated (layout, format, per-channel background
and alpha, trend, artifacts, times of day). The helpers turn a design into the truth the
pipeline is scored against: the protocol's mean squared alpha gain ``K``
(:func:`_mean_square_gain`), the aperiodic power in the alpha band ``B``
(:func:`_aperiodic_band_power`), the session schedule (:func:`_schedule`) and least-squares
slopes (:func:`_ols_slope`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import numpy as np

from ._signals import _BLOCK_FADE_S, _CYTON_NAMES, _MUSE_NAMES
from ._spectra import _smooth

#: Alpha amplitude gain per protocol block (a factor on amplitude, so ×9 in power eyes closed).
_PROTOCOL_GAINS = {"eyes-open": 1.0, "eyes-closed": 3.0, "meditation": 2.0}
_PROTOCOL = ("eyes-open", "eyes-closed", "meditation")
_ALPHA_BAND = (8.0, 13.0)


@dataclass(frozen=True)
class _Spec:
    """How one built-in subject is simulated (private: documented through the README)."""

    subject: str
    scenario: str
    description: str
    layout: str  # "cyton" | "muse"
    format: str  # "brainflow_csv" | "muselsl_csv"
    board: str | None
    protocol: str
    aperiodic_exponent: tuple[float, ...]
    aperiodic_offset_uv2: tuple[float, ...]
    alpha_peak_hz: tuple[float, ...]
    alpha_amplitude_uv: tuple[float, ...]
    alpha_growth_per_week: float = 0.0  # fraction of the week-0 alpha power
    iaf_drift_hz_per_week: float = 0.0
    jitter_sd: float = 0.08  # SD of log(alpha power factor), day to day
    blink_rate_per_min: float = 6.0
    blink_amplitude_uv: float = 150.0
    line_freq: float | None = 50.0
    line_amplitude_uv: float = 5.0
    movement_probability: float = 0.3
    dc_offset_uv: tuple[float, ...] | float = 0.0
    hour_utc: float = 7.0  # mean session start (hours, UTC)
    hour_spread: float = 0.75  # start times uniform within ± this (hours)
    evening_hour_utc: float | None = None  # last session of each week in the evening
    day_shift: int = 0  # weekday of the first session of a week (0 = Monday)
    low_quality: bool = True  # one bad-contact session
    corrupted: bool = False  # one extra, unreadable file


_SPECS = (
    _Spec(
        subject="alpha01",
        scenario="alpha-growth",
        description=(
            "OpenBCI Cyton (8 channels, 250 Hz) recorded with BrainFlow: posterior-dominant alpha "
            "whose power grows linearly with training"
        ),
        layout="cyton",
        format="brainflow_csv",
        board="cyton",
        protocol="alpha-uptraining",
        aperiodic_exponent=(1.4, 1.4, 1.6, 1.6, 1.7, 1.7, 1.8, 1.8),
        aperiodic_offset_uv2=(100.0,) * 8,
        alpha_peak_hz=(9.8, 9.8, 10.0, 10.1, 10.2, 10.3, 10.5, 10.5),
        alpha_amplitude_uv=(1.5, 1.5, 2.5, 2.5, 3.5, 3.5, 5.0, 5.0),
        alpha_growth_per_week=0.25,
        blink_rate_per_min=6.0,
        line_freq=50.0,
        line_amplitude_uv=8.0,
        dc_offset_uv=(52000.0, 41500.0, -18200.0, -23750.0, 8100.0, -3900.0, 9650.0, 2300.0),
        hour_utc=7.25,
        hour_spread=0.75,
        day_shift=0,
        corrupted=True,
    ),
    _Spec(
        subject="stable01",
        scenario="stable",
        description="Muse 2 recorded with muselsl (4 channels, 256 Hz): alpha without any trend",
        layout="muse",
        format="muselsl_csv",
        board=None,
        protocol="meditation",
        aperiodic_exponent=(1.3, 1.6, 1.6, 1.4),
        aperiodic_offset_uv2=(120.0, 90.0, 90.0, 110.0),
        alpha_peak_hz=(10.2, 9.9, 10.0, 10.4),
        alpha_amplitude_uv=(5.0, 2.5, 2.5, 5.5),
        blink_rate_per_min=8.0,
        line_freq=50.0,
        line_amplitude_uv=3.0,
        hour_utc=20.0,
        hour_spread=1.0,
        day_shift=1,
    ),
    _Spec(
        subject="iaf01",
        scenario="iaf-drift",
        description=(
            "Muse 2 recorded with BrainFlow (4 channels, 256 Hz): alpha power stable, individual "
            "alpha frequency rising linearly"
        ),
        layout="muse",
        format="brainflow_csv",
        board="muse_2",
        protocol="meditation",
        aperiodic_exponent=(1.4, 1.5, 1.5, 1.4),
        aperiodic_offset_uv2=(110.0, 90.0, 90.0, 100.0),
        alpha_peak_hz=(9.3, 9.2, 9.2, 9.4),
        alpha_amplitude_uv=(5.0, 2.5, 2.5, 5.0),
        iaf_drift_hz_per_week=0.10,
        blink_rate_per_min=6.0,
        line_freq=60.0,
        line_amplitude_uv=3.0,
        hour_utc=6.5,
        hour_spread=0.5,
        evening_hour_utc=19.5,
        day_shift=0,
        low_quality=False,
    ),
)

#: The built-in subjects, in generation order: ``alpha01`` (Cyton, BrainFlow CSV, alpha power
#: grows), ``stable01`` (Muse, muselsl CSV, no change), ``iaf01`` (Muse 2, BrainFlow CSV, IAF
#: drifts up).
COHORT_SUBJECTS = tuple(s.subject for s in _SPECS)


def _blocks(duration_s: float) -> list[tuple[str, float]]:
    third = duration_s / 3.0
    return [(label, third) for label in _PROTOCOL]


def _mean_square_gain(blocks, sfreq: float, n_times: int) -> float:
    """Mean of the squared block gain over the recording, cross-fades as in the simulator."""
    gain = np.ones(n_times)
    onset = 0.0
    for label, dur in blocks:
        i0, i1 = int(round(onset * sfreq)), int(round((onset + dur) * sfreq))
        gain[i0:i1] = _PROTOCOL_GAINS[label]
        onset += dur
    gain = _smooth(gain, int(round(_BLOCK_FADE_S * sfreq)))
    return float(np.mean(gain**2))


def _aperiodic_band_power(offset: float, exponent: float, band=_ALPHA_BAND) -> float:
    """∫ offset · f^-exponent df over ``band``, µV²."""
    lo, hi = band
    if abs(exponent - 1.0) < 1e-12:
        return offset * math.log(hi / lo)
    return offset * (hi ** (1.0 - exponent) - lo ** (1.0 - exponent)) / (1.0 - exponent)


def _with_mean(values: dict) -> dict:
    """The values as floats plus their ``mean`` (a correctly rounded sum: no BLAS, no SIMD)."""
    out = {k: float(v) for k, v in values.items()}
    out["mean"] = math.fsum(out.values()) / len(values)
    return out


def _ols_slope(t, y) -> float | None:
    """Least-squares slope of ``y`` against ``t`` (None with fewer than 2 distinct ``t``).

    Computed with :func:`math.fsum` rather than a BLAS dot product, whose summation order
    (so its last bits) depends on the CPU; a constant ``y`` gives exactly 0.
    """
    t, y = [float(v) for v in t], [float(v) for v in y]
    if len(t) < 2 or min(t) == max(t):
        return None
    if min(y) == max(y):
        return 0.0
    t_mean, y_mean = math.fsum(t) / len(t), math.fsum(y) / len(y)
    tc = [v - t_mean for v in t]
    return math.fsum(a * (b - y_mean) for a, b in zip(tc, y)) / math.fsum(a * a for a in tc)


def _schedule(spec: _Spec, rng, monday: date, weeks: int, per_week: int) -> list[datetime]:
    """Session start times: ``per_week`` days spread over each ISO week, realistic hours."""
    offsets = sorted({(round(k * 7 / per_week) + spec.day_shift) % 7 for k in range(per_week)})
    k = 0
    while len(offsets) < per_week:  # collisions after the shift: fill the free days in order
        if k not in offsets:
            offsets.append(k)
        k += 1
    offsets.sort()
    starts = []
    for w in range(weeks):
        for j, day in enumerate(offsets):
            evening = spec.evening_hour_utc is not None and j == per_week - 1 and per_week > 1
            hour = spec.evening_hour_utc if evening else spec.hour_utc
            minutes = int(round((hour + rng.uniform(-spec.hour_spread, spec.hour_spread)) * 60))
            minutes = min(max(minutes, 0), 24 * 60 - 1)
            d = monday + timedelta(days=7 * w + int(day))
            starts.append(
                datetime.combine(d, time(minutes // 60, minutes % 60), tzinfo=timezone.utc)
            )
    return starts


def _ch_names(spec: _Spec) -> tuple[str, ...]:
    return _CYTON_NAMES if spec.layout == "cyton" else _MUSE_NAMES


def _sfreq(spec: _Spec) -> float:
    return 250.0 if spec.layout == "cyton" else 256.0


@dataclass(frozen=True)
class _Design:
    """One subject's design in numbers: layout, per-channel week-0 values and the true trend.

    ``background`` is ``B`` (aperiodic power in 8–13 Hz, µV²), ``amplitude`` the week-0 alpha
    RMS at block gain 1 (µV), ``peak`` the week-0 alpha peak (Hz), by channel; ``baseline`` and
    ``slope`` are :class:`~neurofeedback.simulate.CohortSubject`'s (with ``mean``).
    """

    spec: _Spec
    channels: tuple[str, ...]
    sfreq: float
    blocks: list[tuple[str, float]]
    k_gain: float
    background: dict[str, float]
    amplitude: dict[str, float]
    peak: dict[str, float]
    baseline: dict
    slope: dict


def _design(spec: _Spec, duration_s: float) -> _Design:
    """The truth a subject's design implies for sessions of ``duration_s`` seconds."""
    ch = _ch_names(spec)
    sfreq = _sfreq(spec)
    blocks = _blocks(duration_s)
    k_gain = _mean_square_gain(blocks, sfreq, int(round(duration_s * sfreq)))
    bg = {c: _aperiodic_band_power(o, e)
          for c, o, e in zip(ch, spec.aperiodic_offset_uv2, spec.aperiodic_exponent)}
    a0 = dict(zip(ch, spec.alpha_amplitude_uv))
    p0 = dict(zip(ch, spec.alpha_peak_hz))
    baseline = {
        "absolute_alpha": _with_mean({c: bg[c] + k_gain * a0[c] ** 2 for c in ch}),
        "iaf": _with_mean(p0),
    }
    slope = {
        "absolute_alpha": _with_mean({c: k_gain * a0[c] ** 2 * spec.alpha_growth_per_week
                                      for c in ch}),
        "iaf": _with_mean({c: spec.iaf_drift_hz_per_week for c in ch}),
    }
    return _Design(spec=spec, channels=ch, sfreq=sfreq, blocks=blocks, k_gain=k_gain,
                   background=bg, amplitude=a0, peak=p0, baseline=baseline, slope=slope)
