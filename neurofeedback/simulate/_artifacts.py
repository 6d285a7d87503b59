"""Artifacts added to a simulated recording, each recorded as truth and as a ``BAD_*`` event.

Blinks (:func:`_add_blinks`), movement bursts (:func:`_add_movements`) and line noise
(:func:`_add_line_noise`) are steps of :func:`~neurofeedback.simulate.simulate_eeg`; a box
(:func:`add_box_artifact`) is added to a finished recording. Every step adds in place to a
``(n_channels, n_times)`` µV array and draws only from its own random stream.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

import numpy as np

from .._validate import check_option, check_positive
from ._recording import SimulatedRecording
from ._spectra import _spectral_noise

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

#: An event: (onset_s, duration_s, description), seconds from the first sample.
Event = tuple[float, float, str]


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


@dataclass
class _Blinks:
    """What :func:`_add_blinks` added: the truth lists, events and artifact records."""

    onsets_s: list[float]
    peaks_s: list[float]
    amplitudes_uv: list[float]
    events: list[Event]
    artifacts: list[dict]


def _add_blinks(data, rng, *, ch_names, weights, sfreq: float, duration_s: float, rate: float,
                amplitude: float, free: list[tuple[float, float]],
                interval_s: tuple[float, float] | None = None,
                amplitude_range: tuple[float, float] | None = None) -> _Blinks:
    """Add blinks: a Poisson process (``rate`` per minute, 0.8 s refractory gap) of monophasic
    bumps (rise ``(t/tp)^4 · exp(4 (1 - t/tp))``, time to peak 80–120 ms, 4 tp long, peak
    ``amplitude`` ±20 %) scaled per channel by ``weights``; none overlaps a ``free`` interval
    (``(start_s, end_s)``, e.g. the eyes-closed blocks).

    With ``interval_s = (lo, hi)`` the onsets are instead ``lo``–``hi`` s apart (uniform, first
    onset uniform in ``[0, hi)``) and ``rate`` is ignored; with ``amplitude_range = (lo, hi)``
    the peak is uniform in ``[lo, hi]`` µV instead of ``amplitude`` ±20 %. Both ``None`` (the
    defaults) draw exactly what they drew before these options existed."""
    out = _Blinks([], [], [], [], [])
    if interval_s is None and not (rate > 0 and amplitude > 0):
        return out
    if interval_s is not None and amplitude_range is None and not amplitude > 0:
        return out
    n_times = data.shape[1]
    channels = [c for c, w in zip(ch_names, weights) if w > 0]
    mean_gap = 60.0 / rate if interval_s is None else float(np.mean(interval_s))
    t = rng.exponential(mean_gap) if interval_s is None else rng.uniform(0.0, interval_s[1])
    while True:
        t_peak = rng.uniform(0.08, 0.12)  # time to peak, s
        dur = 4.0 * t_peak
        if amplitude_range is None:
            amp = amplitude * rng.uniform(0.8, 1.2)
        else:
            amp = rng.uniform(*amplitude_range)
        if t + dur >= duration_s:
            break
        if not any(a0 - dur < t < a1 for a0, a1 in free):
            i0 = int(round(t * sfreq))
            tt = np.arange(int(round(dur * sfreq))) / sfreq
            shape = (tt / t_peak) ** 4 * np.exp(4.0 * (1.0 - tt / t_peak))
            seg = slice(i0, min(i0 + tt.size, n_times))
            data[:, seg] += (weights[:, None] * amp) * shape[None, : seg.stop - seg.start]
            out.onsets_s.append(i0 / sfreq)
            out.peaks_s.append(i0 / sfreq + t_peak)
            out.amplitudes_uv.append(amp)
            out.events.append((i0 / sfreq, tt.size / sfreq, "BAD_blink"))
            out.artifacts.append(
                {
                    "type": "blink",
                    "onset_s": i0 / sfreq,
                    "duration_s": tt.size / sfreq,
                    "channels": list(channels),
                    "amplitude_uv": amp,
                }
            )
        if interval_s is not None:
            t += rng.uniform(*interval_s)
            continue
        gap = max(mean_gap - dur - _BLINK_MIN_GAP_S, 1e-3)  # mean interval = 60 / rate
        t += dur + _BLINK_MIN_GAP_S + rng.exponential(gap)
    return out


def _place_movement(rng, *, n_bursts: int, duration_s: float,
                    placed: list[tuple[float, float]]) -> tuple[float, float]:
    """Draw the onset and length (s) of one 1–3 s burst, at least 1 s away from ``placed``."""
    for _attempt in range(200):
        dur = rng.uniform(1.0, 3.0)
        if dur + 1.0 > duration_s:
            break
        t0 = rng.uniform(0.5, duration_s - dur - 0.5)
        if all(t0 + dur + 1.0 < a or t0 > b + 1.0 for a, b in placed):
            break
    else:
        raise ValueError(
            f"Cannot place {n_bursts} non-overlapping movement bursts in {duration_s:g} s."
        )
    if dur + 1.0 > duration_s:
        raise ValueError(
            f"Invalid value for the 'duration_s' parameter. Movement bursts need at least "
            f"{dur + 1.0:.1f} s, but got {duration_s:g}."
        )
    return t0, dur


def _add_movements(data, rng, *, ch_names, sfreq: float, duration_s: float, n_bursts: int,
                   amplitude: float) -> tuple[list[Event], list[dict]]:
    """Add ``n_bursts`` movement bursts: slow broadband (1/f², < 30 Hz) activity, mostly shared
    across channels, under a square-root Hann taper, peak 40–100 % of ``amplitude`` per
    channel. Returns the ``BAD_movement`` events and the artifact records."""
    n_times = data.shape[1]
    events: list[Event] = []
    artifacts: list[dict] = []
    placed: list[tuple[float, float]] = []
    for _ in range(n_bursts):
        t0, dur = _place_movement(rng, n_bursts=n_bursts, duration_s=duration_s, placed=placed)
        i0 = int(round(t0 * sfreq))
        n = min(int(round(dur * sfreq)), n_times - i0)
        f_seg = np.fft.rfftfreq(n, 1.0 / sfreq)
        psd = np.where(f_seg > 0, np.maximum(f_seg, 0.3) ** -2.0, 0.0) * (f_seg < 30.0)
        shared = _spectral_noise(rng, n, sfreq, psd)
        taper = np.hanning(n) ** 0.5
        amps = []
        for i in range(len(ch_names)):
            own = _spectral_noise(rng, n, sfreq, psd)
            w = (0.8 * shared / shared.std() + 0.6 * own / own.std()) * taper
            peak = amplitude * rng.uniform(0.4, 1.0)
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
    return events, artifacts


def _add_line_noise(data, rng, *, sfreq: float, line_freq: float | None,
                    amplitude: float) -> None:
    """Add mains: a sinusoid at ``line_freq`` Hz, peak ``amplitude`` µV, random phase per
    channel (nothing when ``line_freq`` is None or the amplitude 0)."""
    if line_freq is None or not amplitude > 0:
        return
    n_ch, n_times = data.shape
    times = np.arange(n_times) / sfreq
    phases = rng.uniform(0.0, 2.0 * np.pi, size=n_ch)
    data += amplitude * np.sin(2.0 * np.pi * line_freq * times[None, :] + phases[:, None])


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
