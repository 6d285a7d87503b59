"""Realistic EEG with known ground truth, written in any format the project reads.

The simulator builds each channel as a sum of independent, separately seeded parts, so every
feature the pipeline estimates has a true value to be scored against:

* an **aperiodic (1/f) background**, generated in the frequency domain: each rFFT bin gets the
  amplitude ``sqrt(S(f) · sfreq · n_times / 2)`` of the target one-sided PSD
  ``S(f) = offset · f^(-exponent)`` (µV²/Hz) and a uniformly random phase, then ``irfft``. A Welch
  PSD of the result follows ``S(f)``: its log-log slope over 2–40 Hz is ``-exponent`` and its
  level at 1 Hz is ``offset``. Below ``APERIODIC_FMIN_HZ`` the spectrum is held flat (no infinite
  power at DC); the DC bin is zero.
* an **alpha oscillation**: narrow-band noise whose spectrum is a Gaussian centred on
  ``alpha_peak_hz`` with full width at half maximum ``alpha_bandwidth_hz`` (random phases again),
  multiplied by a smooth positive *burst envelope* shared by all channels (log-normal, correlation
  time ~1 s, so alpha waxes and wanes over a few seconds) and by a *block gain* (e.g. ×3 in
  eyes-closed blocks, cross-faded over 1 s at block edges).
* **artifacts**, each recorded in ``truth`` and as a ``BAD_*`` event: blinks (a ~0.3–0.5 s
  monophasic bump, largest on Fp*, falling off over AF*, F*, FC*, …), movement bursts (1–3 s of
  large slow broadband activity on every channel), line noise (a sinusoid at 50 or 60 Hz), box
  artifacts (:func:`add_box_artifact`), and optional per-channel DC offsets (Cyton-like
  10⁴–10⁵ µV).

Every random draw comes from ``np.random.default_rng`` seeded from one ``seed`` through
:class:`numpy.random.SeedSequence`, one child stream per part: the same seed gives identical
arrays, and switching an artifact on does not change the background or the alpha.

Units: the simulator works in µV (``SimulatedRecording.data_uv``); :meth:`SimulatedRecording.to_raw`
converts once to volts for MNE.

Public API: :func:`simulate_eeg`, :class:`SimulatedRecording`, :func:`add_box_artifact`,
:func:`write_recording` (:data:`FORMATS`), :func:`make_sample_data`, and the multi-week cohort
:func:`simulate_cohort` / :func:`make_cohort` (:class:`CohortTruth`); session series with a known
change after an event, :func:`simulate_event_series` (:class:`EventSeries`) and the demo's
:func:`simulate_event_subject` (``_events``); cohorts at the level of session metrics with
known group slopes, :func:`simulate_cohort_series` (``_cohort_series``).

Modules: ``_spectra`` (random-phase signals of a given spectrum), ``_recording``
(:class:`SimulatedRecording`), ``_artifacts`` (blinks, movements, line noise, boxes),
``_signals`` (:func:`simulate_eeg`, composed of named steps), ``_writers`` (file formats),
``_sample_data`` (the bundled recordings), ``_cohort_design`` (the cohort's subjects and their
expected values), ``_truth`` (the cohort's truth records), ``_cohort`` (generation) and
``_cohort_readme`` (its README). Regenerated files are byte-identical wherever they are
written (see ``tests/test_sample_data.py``).
"""

from __future__ import annotations

from ._artifacts import add_box_artifact, blink_weight
from ._cohort import make_cohort, simulate_cohort
from ._cohort_design import COHORT_SUBJECTS
from ._cohort_series import CohortSeriesTruth, simulate_cohort_series
from ._events import EventSeries, simulate_event_series, simulate_event_subject
from ._recording import SimulatedRecording
from ._sample_data import make_sample_data
from ._signals import DEFAULT_BLOCK_ALPHA_GAIN, DEFAULT_MEAS_DATE, simulate_eeg
from ._spectra import APERIODIC_FMIN_HZ
from ._truth import CohortSession, CohortSubject, CohortTruth, CorruptedFile
from ._writers import FORMATS, write_recording

__all__ = [
    "APERIODIC_FMIN_HZ",
    "COHORT_SUBJECTS",
    "CohortSeriesTruth",
    "CohortSession",
    "CohortSubject",
    "CohortTruth",
    "CorruptedFile",
    "EventSeries",
    "DEFAULT_BLOCK_ALPHA_GAIN",
    "DEFAULT_MEAS_DATE",
    "FORMATS",
    "SimulatedRecording",
    "add_box_artifact",
    "blink_weight",
    "make_cohort",
    "make_sample_data",
    "simulate_cohort",
    "simulate_cohort_series",
    "simulate_eeg",
    "simulate_event_series",
    "simulate_event_subject",
    "write_recording",
]
