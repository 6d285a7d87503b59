"""Per-channel signal checks shared by the readers, offline preprocessing and the recorder.

:func:`railed_fraction` is the one railed-channel rule of the readers and preprocessing;
:func:`check_signal` is the pre-recording quality gate, also run on the live display's last
seconds (railed, flat, line noise, amplitude; thresholds are the module constants below and
the preprocessing settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from ._validate import check_positive

if TYPE_CHECKING:  # pandas is imported when a check runs, not with the readers
    import pandas as pd

__all__ = [
    "FLAT_REPEAT_FRACTION",
    "LINE_HALF_WIDTH_HZ",
    "LINE_TO_EEG_POWER_MAX",
    "MIN_WINDOW_S",
    "PTP_MAX_UV",
    "STD_MAX_UV",
    "QualityCheck",
    "check_signal",
    "railed_fraction",
]


def railed_fraction(data_uv: np.ndarray, *, rail_uv: float) -> np.ndarray:
    """Fraction of samples of each channel sitting at the ADC rail.

    Parameters
    ----------
    data_uv : ndarray, shape (n_channels, n_times)
        Unfiltered signal in µV (railing is a property of the raw values).
    rail_uv : float
        Absolute value at or above which a sample counts as railed (OpenBCI Cyton saturates at
        ±187500 µV, where an unconnected input sits).

    Returns
    -------
    fraction : ndarray, shape (n_channels,)
    """
    out = np.zeros(data_uv.shape[0])
    for c, row in enumerate(data_uv):
        # two cheap reductions first: most channels never reach the rail
        if row.size and (row.max() >= rail_uv or row.min() <= -rail_uv):
            out[c] = np.count_nonzero(np.abs(row) >= rail_uv) / row.size
    return out


# ---------------------------------------------------------------------------------------------
# The pre-recording gate (also run about once a second by the live display)

#: Half-width (Hz) of the bands around the mains frequency (and 50 *and* 60 Hz when it is not
#: known) whose Welch power, relative to the 1–45 Hz power, is the gate's ``line_to_eeg_power``
#: ("line / 1–45 Hz power"). Not to be confused with preprocessing's ``line_peak_ratio`` ("line
#: peak / neighbours", the mains bin over the spectrum 2–6 Hz away, thousands on a Cyton without
#: a notch), which says whether there is mains at all; this one says whether it swamps the EEG.
LINE_HALF_WIDTH_HZ = 1.0

#: ``line_to_eeg_power`` above which a channel fails: mains power within ±1 Hz of the line frequency
#: more than 5 times the EEG power in the whole 1–45 Hz band (line amplitude over ~2x the EEG's)
#: means the electrode picks up the mains far better than the brain (dry or loose contact,
#: high impedance, poor reference/ground). Measured over 4 s windows: simulated clean EEG with
#: 5 µV mains 0.01–0.4; a real Muse 2016 recording's good channels 0.05–0.5 and a mediocre TP10
#: 1.3 (max 2); its badly seated TP9 ~115; the OpenBCI GUI's Cyton sample (no notch) 20–190.
LINE_TO_EEG_POWER_MAX = 5.0

#: Standard deviation (µV) of the 1–45 Hz band-passed signal above which a channel fails.
#: Measured over 4 s windows (90th percentile): real Muse recordings 4–13 µV, the OpenBCI GUI's
#: Cyton sample (blinks, alpha) 35–80 µV, the simulated sample recordings with blinks 18–28 µV;
#: movement, chewing, clenching or a loose electrode go far above.
STD_MAX_UV = 100.0

#: Peak-to-peak (µV) of the 1–45 Hz band-passed signal above which a channel fails. Blinks reach
#: 100–250 µV on frontal sites and pass (90th percentile of 4 s windows: real Muse 30–110 µV,
#: simulated recordings with blinks 110–185 µV); electrode pops and movement reach thousands.
PTP_MAX_UV = 500.0

#: A channel whose raw value repeats the previous sample in at least this fraction of samples
#: is flat (a dead, disconnected or zeroed input; EEG at the boards' resolution rarely repeats).
FLAT_REPEAT_FRACTION = 0.5

#: Shortest window accepted by :func:`check_signal`, seconds (the 1 Hz band edge needs it).
MIN_WINDOW_S = 1.0


@dataclass(frozen=True)
class QualityCheck:
    """The result of :func:`check_signal`: one row per channel and a go/no-go.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per channel: ``channel``; ``railed_fraction`` (raw samples at the rail);
        ``flat_fraction`` (raw samples equal to the previous one); ``line_to_eeg_power`` (Welch
        power within ±1 Hz of the line frequency over the 1–45 Hz power, ×); ``ptp_uv`` and ``std_uv``
        (peak-to-peak and standard deviation of the 1–45 Hz band-passed signal, µV); ``ok``
        (bool); ``problem`` (``""`` when ok, else what is wrong, the worst first, ``"; "``
        between several).
    ok : bool
        Go: **every** channel passes. A session recorded with a bad electrode is a session
        lost for that site (and for any feature that pairs it, e.g. frontal asymmetry), so the
        gate asks for all of them; :attr:`bads` names the ones to fix.
    line_freq : float | None
        The mains frequency checked, or ``None`` when both 50 and 60 Hz were checked.
    """

    table: pd.DataFrame
    ok: bool
    line_freq: float | None

    @property
    def bads(self) -> tuple[str, ...]:
        """Names of the channels that fail, in table order."""
        return tuple(self.table.loc[~self.table["ok"], "channel"])

    def problems(self) -> list[str]:
        """Return one line per failing channel, e.g. ``"TP9: railed (98% of samples at the rail)"``."""
        return [f"{r.channel}: {r.problem}" for r in self.table.itertuples(index=False) if not r.ok]


def check_signal(data_uv, sfreq, ch_names, *, line_freq=None, settings=None) -> QualityCheck:
    """Check a few seconds of raw signal, channel by channel, before (or while) recording.

    Parameters
    ----------
    data_uv : array-like, shape (n_channels, n_times)
        Unfiltered signal in µV, as BrainFlow delivers it (DC offsets allowed), at least
        :data:`MIN_WINDOW_S` long; 2–10 s is the intended use.
    sfreq : float
        Sampling rate, Hz.
    ch_names : sequence of str
        One name per row of ``data_uv``.
    line_freq : float | None
        Mains frequency (50 or 60 Hz); ``None`` checks both.
    settings : Settings | None
        Thresholds ``preprocessing.rail_uv``, ``railed_fraction``, ``flat_uv`` and the band
        edges ``l_freq``/``h_freq``; default :func:`neurofeedback.config.load_settings`.

    Returns
    -------
    check : QualityCheck

    Notes
    -----
    A channel fails, in this order of precedence, when it is

    - **railed**: at least ``railed_fraction`` of raw samples at ``|x| >= rail_uv``
      (:func:`railed_fraction`);
    - **flat**: band-passed standard deviation below ``flat_uv``, or at least
      :data:`FLAT_REPEAT_FRACTION` of raw samples repeating the previous value (not reported
      for a railed channel, which is flat at the rail);
    - **line noise**: ``line_to_eeg_power`` above :data:`LINE_TO_EEG_POWER_MAX`;
    - **large amplitude**: band-passed standard deviation above :data:`STD_MAX_UV` or
      peak-to-peak above :data:`PTP_MAX_UV`.

    The band-pass is a 4th-order Butterworth with notches at the line frequencies, applied
    forwards and backwards after removing a linear trend (the DC offsets of 10^4–10^5 µV of a
    Cyton), the PSD a Welch estimate with 2 s
    Hann segments (0.5 Hz bins) or the whole window when shorter. About 6 ms for 16 channels
    × 4 s at 250 Hz on one core.

    Raises
    ------
    ValueError
        When the shapes disagree, ``sfreq`` is not positive or the window is shorter than
        :data:`MIN_WINDOW_S`.
    """
    import pandas as pd
    import scipy.signal

    data = np.asarray(data_uv, dtype=np.float64)
    sfreq = check_positive("sfreq", sfreq)
    names = [str(c) for c in ch_names]
    if data.ndim != 2 or data.shape[0] != len(names) or not names:
        raise ValueError(
            "Invalid value for the 'data_uv' parameter. It must have shape (n_channels, n_times) "
            f"with one row per name of ch_names ({len(names)}), but got shape {data.shape} instead."
        )
    n = data.shape[1]
    if n < MIN_WINDOW_S * sfreq:
        raise ValueError(
            "Invalid value for the 'data_uv' parameter. It must hold at least "
            f"{MIN_WINDOW_S:g} s ({int(np.ceil(MIN_WINDOW_S * sfreq))} samples at {sfreq:g} Hz), "
            f"but got {n} samples instead."
        )
    if line_freq is not None:
        line_freq = check_positive("line_freq", line_freq)
    if settings is None:
        from .config import load_settings

        settings = load_settings()
    pre = settings.preprocessing
    l_freq, h_freq = float(pre.l_freq), min(float(pre.h_freq), 0.45 * sfreq)

    railed = railed_fraction(data, rail_uv=pre.rail_uv)
    repeat = np.count_nonzero(np.diff(data, axis=1) == 0, axis=1) / (n - 1)
    detrended = _detrend_linear(data)
    line_freqs = (line_freq,) if line_freq else (50.0, 60.0)
    sos = _bandpass_sos(sfreq, l_freq, h_freq, line_freqs)
    filtered = scipy.signal.sosfiltfilt(sos, detrended, axis=1, padlen=min(n - 1, int(sfreq)))
    std = filtered.std(axis=1)
    ptp = np.ptp(filtered, axis=1)
    line = _line_to_eeg_power(detrended, sfreq, line_freqs, l_freq, h_freq)

    problems = []
    for c in range(len(names)):
        found = []
        if railed[c] >= pre.railed_fraction:
            found.append(f"railed ({railed[c]:.0%} of samples at the rail, |x| >= {pre.rail_uv:g} uV)")
        elif repeat[c] >= FLAT_REPEAT_FRACTION:
            found.append(f"flat ({repeat[c]:.0%} of samples repeat the previous value)")
        elif std[c] < pre.flat_uv:
            found.append(f"flat (std {std[c]:.2f} uV in {l_freq:g}-{h_freq:g} Hz, below {pre.flat_uv:g})")
        if line[c] > LINE_TO_EEG_POWER_MAX:
            found.append(f"line noise ({_line_name(line_freq)} power {line[c]:.1f}x the "
                         f"{l_freq:g}-{h_freq:g} Hz power; check the electrode contact)")
        if not found and (std[c] > STD_MAX_UV or ptp[c] > PTP_MAX_UV):
            found.append(f"large amplitude (peak-to-peak {ptp[c]:.0f} uV, std {std[c]:.0f} uV in "
                         f"{l_freq:g}-{h_freq:g} Hz; movement or poor contact)")
        problems.append("; ".join(found))
    ok = np.array([not p for p in problems])
    table = pd.DataFrame({
        "channel": names,
        "railed_fraction": railed,
        "flat_fraction": repeat,
        "line_to_eeg_power": line,
        "ptp_uv": ptp,
        "std_uv": std,
        "ok": ok,
        "problem": problems,
    })
    return QualityCheck(table=table, ok=bool(ok.all()), line_freq=line_freq)


def _detrend_linear(data: np.ndarray) -> np.ndarray:
    """Remove each row's least-squares line (closed form; scipy's lstsq is ~10x slower here)."""
    t = np.arange(data.shape[1], dtype=np.float64)
    t -= t.mean()
    mean = data.mean(axis=1, keepdims=True)
    slope = (data @ t)[:, None] / np.dot(t, t)
    return data - mean - slope * t[None, :]


@lru_cache(maxsize=32)
def _bandpass_sos(sfreq: float, l_freq: float, h_freq: float, line_freqs: tuple) -> np.ndarray:
    """Butterworth band-pass (order 4) plus notches (Q 30) at the line frequencies below Nyquist.

    The notches keep mains noise that leaks past the 45 Hz edge (a 4th-order edge passes 30% of
    a 50 Hz sine's amplitude forwards and backwards) out of ``std_uv``/``ptp_uv``: mains noise
    is measured by ``line_to_eeg_power``, the amplitude checks are about the EEG band.
    """
    import scipy.signal

    sections = [scipy.signal.butter(4, [l_freq, h_freq], btype="bandpass", fs=sfreq, output="sos")]
    for f0 in line_freqs:
        if f0 < 0.45 * sfreq:
            b, a = scipy.signal.iirnotch(f0, 30.0, fs=sfreq)
            sections.append(scipy.signal.tf2sos(b, a))
    return np.concatenate(sections)


def _line_to_eeg_power(detrended: np.ndarray, sfreq: float, line_freqs, l_freq: float,
                h_freq: float) -> np.ndarray:
    """Welch power within ±LINE_HALF_WIDTH_HZ of each line frequency over the l–h Hz power."""
    import scipy.signal

    n = detrended.shape[1]
    nperseg = min(n, int(round(2.0 * sfreq)))
    freqs, psd = scipy.signal.welch(detrended, sfreq, window="hann", nperseg=nperseg,
                                    detrend="constant", axis=1)
    near = np.zeros(freqs.size, dtype=bool)
    for f0 in line_freqs:
        if f0 + LINE_HALF_WIDTH_HZ < sfreq / 2:
            near |= np.abs(freqs - f0) <= LINE_HALF_WIDTH_HZ
    band = (freqs >= l_freq) & (freqs <= h_freq)
    ref = psd[:, band].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = psd[:, near].sum(axis=1) / ref
    return np.where(ref > 0, ratio, 0.0)


def _line_name(line_freq) -> str:
    return f"{line_freq:g} Hz" if line_freq else "50/60 Hz"
