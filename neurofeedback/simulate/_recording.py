"""The simulated recording: signals in µV, their events and their ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


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
