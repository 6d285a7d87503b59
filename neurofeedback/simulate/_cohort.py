"""A simulated multi-week cohort with known trends: the batch-import and trends sample data.

Layout of ``folder`` (one subfolder per subject, every file named
``sub-<id>_ses-<YYYYmmddTHHMMSS>_<what>.<ext>``, the session label being the UTC start)::

    folder/
      README.md                      the ground truth in words and tables (generated)
      truth.json                     CohortTruth.to_dict() (generated)
      sub-alpha01/                   Cyton, BrainFlow CSV + sidecar: alpha power grows linearly
        sub-alpha01_ses-20260105T071500_eeg.csv
        sub-alpha01_ses-20260105T071500_eeg.json
        sub-alpha01_ses-20260119T121500_corrupted_eeg.csv   (+ .json) unreadable on purpose
      sub-stable01/                  Muse, muselsl CSV (no sidecar): no change
        sub-stable01_ses-20260106T201000_eeg.csv
      sub-iaf01/                     Muse 2, BrainFlow CSV + sidecar: IAF drifts upwards
        ...

The truth is stated in the units the pipeline reports (:mod:`neurofeedback.metrics`):

* ``absolute_alpha`` (µV², 8–13 Hz): the expected session value of a channel is
  ``B + K · a² · f(t)``: ``B`` the aperiodic power in 8–13 Hz (``∫ offset · f^-exponent df``),
  ``a`` the alpha RMS amplitude at block gain 1 in week 0, ``K`` the mean square of the block
  gain over the protocol (eyes-open ×1, eyes-closed ×3, meditation ×2, one third each,
  cross-faded: 4.66), and ``f(t) = (1 + growth · t) · jitter`` with ``t`` in weeks since the
  subject's first session and ``jitter`` a log-normal day-to-day factor of mean 1. The true
  slope is therefore ``K · a² · growth`` µV² per week on each channel, and its average over the
  channels for the ``mean`` row.
* ``iaf`` (Hz): the simulated alpha peak of each channel, ``peak + drift · t``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import numpy as np

from .._validate import check_option, check_positive
from ..home import session_label, validate_label
from ._signals import _BLOCK_FADE_S, _CYTON_NAMES, _MUSE_NAMES, _smooth, add_box_artifact, simulate_eeg
from ._writers import write_recording

__all__ = [
    "COHORT_SUBJECTS",
    "CohortSession",
    "CohortSubject",
    "CohortTruth",
    "CorruptedFile",
    "make_cohort",
    "simulate_cohort",
]

#: First Monday of the default cohort (ISO week 2026-W02).
DEFAULT_COHORT_START = date(2026, 1, 5)
#: The seed of the bundled ``sample_data/cohort``.
DEFAULT_COHORT_SEED = 2026

#: Alpha amplitude gain per protocol block (a factor on amplitude, so ×9 in power eyes closed).
_PROTOCOL_GAINS = {"eyes-open": 1.0, "eyes-closed": 3.0, "meditation": 2.0}
_PROTOCOL = ("eyes-open", "eyes-closed", "meditation")
_ALPHA_BAND = (8.0, 13.0)
_MIN_DURATION_S = 30.0
_CORRUPT_BYTES = b"@@@ garbled by an interrupted copy @@@"


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
        alpha_growth_per_week=0.10,
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


# ---------------------------------------------------------------------------------------------
# the truth records


@dataclass(frozen=True)
class CohortSession:
    """One simulated session and its true metric values.

    Attributes
    ----------
    session : str
        Session label, ``YYYYmmddTHHMMSS`` (UTC start).
    start_time : datetime
        First sample, UTC.
    week : int
        Week of the cohort, 0 = the first (ISO weeks, Monday to Sunday, UTC).
    iso_week : str
        ``YYYY-Www``.
    weeks_since_first : float
        Time since the subject's first session start, weeks (the trends' time axis).
    path : str
        The recording, relative to the cohort folder (POSIX separators).
    sidecar : str | None
        Its JSON sidecar (BrainFlow CSV) relative to the folder, else ``None``.
    seed : int
        The :func:`~neurofeedback.simulate.simulate_eeg` seed.
    low_quality : bool
        A bad-contact session: mostly movement artifacts, its clean fraction falls below the
        trends' quality floor (0.5) and it should be excluded.
    alpha_power_factor : float
        ``(1 + growth · weeks_since_first) · jitter``: alpha power relative to week 0.
    jitter : float
        The day-to-day alpha power factor (log-normal, mean 1).
    expected : dict
        ``{"absolute_alpha": {channel: µV², ..., "mean": µV²}, "iaf": {channel: Hz, ...,
        "mean": Hz}}``: the values an unbiased estimate converges to for this session.
    realised : dict
        ``{"absolute_alpha": {...}}``: ``B`` plus the mean square of the alpha actually
        simulated in this recording (includes the random waxing and waning of the bursts).
    artifacts : dict
        Counts: ``blinks``, ``movement_bursts``, ``boxes``; ``line_freq`` (Hz or ``None``).
    """

    session: str
    start_time: datetime
    week: int
    iso_week: str
    weeks_since_first: float
    path: str
    sidecar: str | None
    seed: int
    low_quality: bool
    alpha_power_factor: float
    jitter: float
    expected: dict = field(default_factory=dict)
    realised: dict = field(default_factory=dict)
    artifacts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CohortSubject:
    """One simulated subject: layout, design truth and sessions.

    Attributes
    ----------
    subject : str
        Subject label (letters and digits).
    scenario : str
        ``"alpha-growth"``, ``"stable"`` or ``"iaf-drift"``.
    description : str
    format : str
        ``"brainflow_csv"`` or ``"muselsl_csv"``.
    board : str | None
        BrainFlow board name for BrainFlow CSV files.
    sfreq : float
        Hz.
    channels : tuple of str
    protocol : str
        The sidecar's ``protocol``.
    blocks : tuple of dict
        ``label``, ``duration_s``, ``alpha_gain`` of each protocol block, in order.
    alpha_growth_per_week : float
        Growth of alpha power per week, as a fraction of the week-0 alpha power.
    iaf_drift_hz_per_week : float
    jitter_sd : float
        SD of the log of the day-to-day alpha power factor.
    baseline : dict
        Design value at ``t = 0``: ``{"absolute_alpha": {...}, "iaf": {...}}`` per channel and
        ``mean``.
    slope_per_week : dict
        True (design) slope per week, same keys (µV²/week, Hz/week).
    sample_slope_per_week : dict
        Least-squares slope per week of the sessions' ``expected`` values, bad-contact sessions
        left out: what a perfect measurement of these very sessions gives, the day-to-day
        jitter included. The pipeline's estimate scatters around it.
    sessions : tuple of CohortSession
        In time order (the corrupted file is not among them).
    """

    subject: str
    scenario: str
    description: str
    format: str
    board: str | None
    sfreq: float
    channels: tuple[str, ...]
    protocol: str
    blocks: tuple[dict, ...]
    alpha_growth_per_week: float
    iaf_drift_hz_per_week: float
    jitter_sd: float
    baseline: dict
    slope_per_week: dict
    sample_slope_per_week: dict
    sessions: tuple[CohortSession, ...]

    @property
    def low_quality_sessions(self) -> tuple[str, ...]:
        """Labels of the sessions that should fall below the quality floor."""
        return tuple(s.session for s in self.sessions if s.low_quality)


@dataclass(frozen=True)
class CorruptedFile:
    """The deliberately unreadable recording.

    Attributes
    ----------
    subject : str
    session : str
        Session label in its name and sidecar.
    path : str
        Relative to the cohort folder.
    sidecar : str | None
        Its (valid) sidecar, relative to the folder.
    line : int
        1-based line of the file where the garbage starts.
    problem : str
        What is wrong with it.
    """

    subject: str
    session: str
    path: str
    sidecar: str | None
    line: int
    problem: str


@dataclass(frozen=True)
class CohortTruth:
    """Ground truth of a simulated cohort (:func:`simulate_cohort`).

    Attributes
    ----------
    folder : Path
        Where the cohort was written.
    seed : int
    weeks, sessions_per_week : int
    duration_s : float
    start : date
        Monday of the first week.
    subjects : tuple of CohortSubject
    corrupted : tuple of CorruptedFile
    files : dict
        ``{relative path: sha256}`` of every recording and sidecar written (not README/truth).
    size_bytes : int
        Their total size.
    """

    folder: Path
    seed: int
    weeks: int
    sessions_per_week: int
    duration_s: float
    start: date
    subjects: tuple[CohortSubject, ...]
    corrupted: tuple[CorruptedFile, ...]
    files: dict = field(default_factory=dict)
    size_bytes: int = 0

    def subject(self, subject: str) -> CohortSubject:
        """Return the truth of one subject by label."""
        names = [s.subject for s in self.subjects]
        return self.subjects[names.index(check_option("subject", subject, names))]

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict (times ISO 8601, paths relative to the folder).

        The folder itself is left out, so the same seed gives the same dict wherever it is
        written.
        """
        return {
            "schema": "neurofeedback-cohort-truth/1",
            "seed": self.seed,
            "weeks": self.weeks,
            "sessions_per_week": self.sessions_per_week,
            "duration_s": self.duration_s,
            "start": self.start.isoformat(),
            "units": {
                "absolute_alpha": "uV^2 (Welch PSD integrated over 8-13 Hz)",
                "iaf": "Hz",
                "slope_per_week": "metric unit per week",
                "weeks_since_first": "weeks since the subject's first session start",
            },
            "subjects": [_subject_dict(s) for s in self.subjects],
            "corrupted": [dict(vars(c)) for c in self.corrupted],
            "files": dict(self.files),
            "size_bytes": self.size_bytes,
        }


def _subject_dict(s: CohortSubject) -> dict:
    out = {k: v for k, v in vars(s).items() if k != "sessions"}
    out["channels"] = list(s.channels)
    out["blocks"] = [dict(b) for b in s.blocks]
    out["low_quality_sessions"] = list(s.low_quality_sessions)
    out["sessions"] = []
    for ses in s.sessions:
        d = dict(vars(ses))
        d["start_time"] = ses.start_time.isoformat()
        out["sessions"].append(d)
    return out


# ---------------------------------------------------------------------------------------------
# helpers


def _check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"Invalid value for the {name!r} parameter. It must be an int, but got {value!r} "
            "instead."
        )
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" + (f" and <= {hi}" if hi is not None else "")
        raise ValueError(
            f"Invalid value for the {name!r} parameter. It must be {bound}, but got {value!r} "
            "instead."
        )
    return int(value)


def _first_monday(start) -> date:
    if start is None:
        return DEFAULT_COHORT_START
    if isinstance(start, datetime):
        if start.tzinfo is None:
            raise ValueError(
                "Invalid value for the 'start' parameter. A datetime must be timezone-aware, but "
                f"got the naive {start.isoformat()} instead."
            )
        start = start.astimezone(timezone.utc).date()
    if not isinstance(start, date):
        raise TypeError(
            "Invalid value for the 'start' parameter. It must be a date, a timezone-aware "
            f"datetime or None, but got {type(start).__name__} instead."
        )
    return start - timedelta(days=start.weekday())


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
    out = {k: float(v) for k, v in values.items()}
    out["mean"] = float(np.mean(list(values.values())))
    return out


def _ols_slope(t, y) -> float | None:
    """Least-squares slope of ``y`` against ``t`` (None with fewer than 2 distinct ``t``)."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    if t.size < 2 or np.ptp(t) == 0:
        return None
    tc = t - t.mean()
    return float(tc @ (y - y.mean()) / (tc @ tc))


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


def _simulate_session(spec: _Spec, *, seed: int, start: datetime, duration_s: float,
                      alpha_amp, alpha_peak, movement_bursts: int, low_quality: bool,
                      alpha: bool = True):
    blink_rate = spec.blink_rate_per_min
    line_amp = spec.line_amplitude_uv
    if low_quality:  # a loose electrode: constant movement, more mains pick-up
        movement_bursts = max(2, int(round(duration_s / 8.0)))
        line_amp *= 4.0
    return simulate_eeg(
        ch_names=_ch_names(spec),
        sfreq=_sfreq(spec),
        duration_s=duration_s,
        blocks=_blocks(duration_s),
        block_alpha_gain=_PROTOCOL_GAINS,
        aperiodic_exponent=list(spec.aperiodic_exponent),
        aperiodic_offset_uv2=list(spec.aperiodic_offset_uv2),
        alpha_peak_hz=list(alpha_peak),
        alpha_amplitude_uv=list(alpha_amp) if alpha else 0.0,
        blink_rate_per_min=blink_rate,
        blink_amplitude_uv=spec.blink_amplitude_uv,
        blink_free_blocks=("eyes-closed", "meditation"),
        line_freq=spec.line_freq,
        line_amplitude_uv=line_amp,
        movement_bursts=movement_bursts,
        movement_amplitude_uv=300.0,
        dc_offset_uv=spec.dc_offset_uv,
        meas_date=start,
        seed=seed,
    )


def _write(spec: _Spec, rec, path: Path, *, session: str) -> Path | None:
    """Write one recording; BrainFlow CSV gets its sidecar completed (session, protocol)."""
    write_recording(rec, path, format=spec.format, board=spec.board,
                    subject=spec.subject if spec.format == "brainflow_csv" else None)
    if spec.format != "brainflow_csv":
        return None
    from ..io.sidecar import read_sidecar, sidecar_path, write_sidecar

    side = sidecar_path(path)
    doc = read_sidecar(side)
    doc.update(
        session=session,
        protocol=spec.protocol,
        end_reason="completed",
        duration_planned_s=rec.duration_s,
        notes=f"Simulated cohort session (neurofeedback.simulate, seed={rec.truth['seed']}).",
    )
    write_sidecar(path, doc)
    return side


def _corrupt(path: Path) -> int:
    """Cut a line mid-value (4th column, the 3rd EEG channel) at 40 % of the file and splice
    garbage in; return that line (1-based)."""
    lines = path.read_bytes().split(b"\n")
    k = int(len(lines) * 0.4)
    fields = lines[k].split(b"\t")
    lines[k] = b"\t".join(fields[:3] + [fields[3][:4] + _CORRUPT_BYTES])
    path.write_bytes(b"\n".join(lines))
    return k + 1


def _rel(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# public API


def simulate_cohort(folder, *, seed=DEFAULT_COHORT_SEED, subjects=None, weeks=8,
                    sessions_per_week=3, duration_s=90.0, start=None) -> CohortTruth:
    """Simulate a multi-week cohort of EEG sessions with known trends and write it to a folder.

    Each built-in subject (:data:`COHORT_SUBJECTS`) has ``sessions_per_week`` sessions in each of
    ``weeks`` consecutive ISO weeks, at realistic UTC times of day, each a protocol of three
    equal blocks (eyes-open, eyes-closed, meditation; alpha amplitude ×1, ×3, ×2) with blinks
    in eyes-open, occasional movement bursts and mains noise. ``alpha01`` (Cyton, BrainFlow CSV
    + sidecar) gains alpha power linearly (+10 % of its week-0 alpha power per week);
    ``stable01`` (Muse, muselsl CSV) does not change; ``iaf01`` (Muse 2, BrainFlow CSV +
    sidecar) keeps its alpha power while its alpha peak rises 0.1 Hz per week. Alpha power
    also varies from day to day (log-normal factor, SD 0.08 in log). ``alpha01`` and
    ``stable01`` each have one bad-contact session (mostly movement artifacts, below the
    trends' quality floor), and ``alpha01`` one extra, corrupted recording that every reader
    must reject with :class:`~neurofeedback.errors.RecordingFormatError`.

    Files are named ``sub-<id>/sub-<id>_ses-<YYYYmmddTHHMMSS>_eeg.csv`` (``..._corrupted_eeg.csv``
    for the broken one); BrainFlow CSV sidecars carry ``subject``, ``session``, ``start_time``,
    ``protocol`` and ``blocks``. ``truth.json`` (:meth:`CohortTruth.to_dict`) is written too.
    The same arguments give byte-identical files (and every subject's files are the same
    whichever other ``subjects`` are chosen).

    Parameters
    ----------
    folder : str | Path
        Output folder (created; existing files of the same names are overwritten).
    seed : int
        Seed of :class:`numpy.random.SeedSequence` (one child per built-in subject).
    subjects : sequence of str | None
        Built-in subject labels to generate; ``None`` = all of :data:`COHORT_SUBJECTS`.
    weeks : int
        Consecutive ISO weeks (>= 1).
    sessions_per_week : int
        Sessions in each week (1–5).
    duration_s : float
        Length of every session, seconds (>= 30).
    start : date | datetime | None
        Any day of the first week (its Monday is used); ``None`` = Monday 2026-01-05.

    Returns
    -------
    truth : CohortTruth
    """
    folder = Path(folder)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(
            f"Invalid value for the 'seed' parameter. It must be a non-negative int, but got "
            f"{seed!r} instead."
        )
    seed = int(seed)
    if subjects is None:
        chosen = list(COHORT_SUBJECTS)
    else:
        chosen = [check_option("subjects", s, COHORT_SUBJECTS) for s in
                  ([subjects] if isinstance(subjects, str) else subjects)]
        if not chosen or len(set(chosen)) != len(chosen):
            raise ValueError(
                "Invalid value for the 'subjects' parameter. It must name at least one subject, "
                f"each once, but got {subjects!r} instead."
            )
    weeks = _check_int("weeks", weeks, 1)
    per_week = _check_int("sessions_per_week", sessions_per_week, 1, 5)
    duration_s = check_positive("duration_s", duration_s)
    if duration_s < _MIN_DURATION_S:
        raise ValueError(
            f"Invalid value for the 'duration_s' parameter. It must be >= {_MIN_DURATION_S:g} s "
            f"(three protocol blocks), but got {duration_s!r} instead."
        )
    monday = _first_monday(start)
    folder.mkdir(parents=True, exist_ok=True)

    children = np.random.SeedSequence(seed).spawn(len(_SPECS))
    subjects_out, corrupted, written = [], [], []
    for spec, child in zip(_SPECS, children):
        if spec.subject not in chosen:
            continue
        validate_label(spec.subject)
        s_out, c_out, files = _simulate_subject(spec, child, folder, monday=monday, weeks=weeks,
                                                per_week=per_week, duration_s=duration_s)
        subjects_out.append(s_out)
        corrupted += c_out
        written += files
    written.sort()
    truth = CohortTruth(
        folder=folder,
        seed=seed,
        weeks=weeks,
        sessions_per_week=per_week,
        duration_s=duration_s,
        start=monday,
        subjects=tuple(subjects_out),
        corrupted=tuple(corrupted),
        files={_rel(p, folder): _sha256(p) for p in written},
        size_bytes=int(sum(p.stat().st_size for p in written)),
    )
    (folder / "truth.json").write_text(json.dumps(truth.to_dict(), indent=1) + "\n",
                                       encoding="utf-8")
    return truth


def _simulate_subject(spec: _Spec, child, folder: Path, *, monday, weeks, per_week, duration_s):
    rng_sched, rng_jitter, rng_seeds, rng_move = (np.random.default_rng(s) for s in child.spawn(4))
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

    starts = _schedule(spec, rng_sched, monday, weeks, per_week)
    n = len(starts)
    jitter = np.exp(spec.jitter_sd * rng_jitter.standard_normal(n) - spec.jitter_sd**2 / 2.0)
    seeds = rng_seeds.integers(0, 2**31 - 1, size=n + 1)
    moves = (rng_move.uniform(size=n) < spec.movement_probability).astype(int)
    low_idx = (weeks // 2) * per_week + min(1, per_week - 1) if spec.low_quality else -1

    sub_dir = folder / f"sub-{spec.subject}"
    sessions, files = [], []
    for i, t0 in enumerate(starts):
        weeks_since = (t0 - starts[0]).total_seconds() / (7 * 86400.0)
        factor = (1.0 + spec.alpha_growth_per_week * weeks_since) * float(jitter[i])
        amp = [a0[c] * math.sqrt(factor) for c in ch]
        peak = [p0[c] + spec.iaf_drift_hz_per_week * weeks_since for c in ch]
        label = session_label(t0)
        low = i == low_idx
        rec = _simulate_session(spec, seed=int(seeds[i]), start=t0, duration_s=duration_s,
                                alpha_amp=amp, alpha_peak=peak, movement_bursts=int(moves[i]),
                                low_quality=low)
        # the alpha actually simulated: same seed without alpha (every other part identical)
        no_alpha = _simulate_session(spec, seed=int(seeds[i]), start=t0, duration_s=duration_s,
                                     alpha_amp=amp, alpha_peak=peak,
                                     movement_bursts=int(moves[i]), low_quality=low, alpha=False)
        alpha_ms = np.mean((rec.data_uv - no_alpha.data_uv) ** 2, axis=1)
        n_boxes = 0
        if low:  # electrode pops on the two most posterior channels
            for j, name in enumerate(ch[-2:]):
                rec = add_box_artifact(rec, channel=name, onset_s=duration_s * (0.3 + 0.35 * j),
                                       duration_s=3.0, amplitude_uv=600.0)
                n_boxes += 1

        path = sub_dir / f"sub-{spec.subject}_ses-{label}_eeg.csv"
        side = _write(spec, rec, path, session=label)
        files += [path] + ([side] if side else [])
        iso = t0.isocalendar()
        sessions.append(CohortSession(
            session=label,
            start_time=t0,
            week=(t0.date() - monday).days // 7,
            iso_week=f"{iso[0]}-W{iso[1]:02d}",
            weeks_since_first=weeks_since,
            path=_rel(path, folder),
            sidecar=_rel(side, folder) if side else None,
            seed=int(seeds[i]),
            low_quality=low,
            alpha_power_factor=factor,
            jitter=float(jitter[i]),
            expected={
                "absolute_alpha": _with_mean({c: bg[c] + k_gain * a ** 2
                                              for c, a in zip(ch, amp)}),
                "iaf": _with_mean(dict(zip(ch, peak))),
            },
            realised={"absolute_alpha": _with_mean({c: bg[c] + float(m)
                                                    for c, m in zip(ch, alpha_ms)})},
            artifacts={
                "blinks": len(rec.truth["blink_onsets_s"]),
                "movement_bursts": sum(a["type"] == "movement" for a in rec.truth["artifacts"]),
                "boxes": n_boxes,
                "line_freq": spec.line_freq,
            },
        ))

    corrupted = []
    if spec.corrupted:
        w = min(2, weeks - 1)
        first_day = min(s.start_time.date() for s in sessions if s.week == w)
        t0 = datetime.combine(first_day, time(12, 15), tzinfo=timezone.utc)
        label = session_label(t0)
        rec = _simulate_session(spec, seed=int(seeds[n]), start=t0, duration_s=duration_s,
                                alpha_amp=list(a0.values()), alpha_peak=list(p0.values()),
                                movement_bursts=0, low_quality=False)
        path = sub_dir / f"sub-{spec.subject}_ses-{label}_corrupted_eeg.csv"
        side = _write(spec, rec, path, session=label)
        line = _corrupt(path)
        files += [path] + ([side] if side else [])
        corrupted.append(CorruptedFile(
            subject=spec.subject,
            session=label,
            path=_rel(path, folder),
            sidecar=_rel(side, folder) if side else None,
            line=line,
            problem=(f"line {line} is cut mid-value and followed by the text "
                     f"{_CORRUPT_BYTES.decode()!r} (an interrupted copy); the sidecar is valid"),
        ))

    subject = CohortSubject(
        subject=spec.subject,
        scenario=spec.scenario,
        description=spec.description,
        format=spec.format,
        board=spec.board,
        sfreq=sfreq,
        channels=tuple(ch),
        protocol=spec.protocol,
        blocks=tuple({"label": lab, "duration_s": d, "alpha_gain": _PROTOCOL_GAINS[lab]}
                     for lab, d in blocks),
        alpha_growth_per_week=spec.alpha_growth_per_week,
        iaf_drift_hz_per_week=spec.iaf_drift_hz_per_week,
        jitter_sd=spec.jitter_sd,
        baseline=baseline,
        slope_per_week=slope,
        sample_slope_per_week={
            metric: {key: _ols_slope([x.weeks_since_first for x in kept],
                                     [x.expected[metric][key] for x in kept])
                     for key in baseline[metric]}
            for metric in baseline
            for kept in [[x for x in sessions if not x.low_quality]]
        },
        sessions=tuple(sessions),
    )
    return subject, corrupted, files


def make_cohort(folder) -> CohortTruth:
    """(Re)generate the bundled cohort deterministically and write its README.

    The default of :func:`simulate_cohort` (seed 2026, all built-in subjects, 8 weeks from
    Monday 2026-01-05, 3 sessions a week, 90 s each), plus ``README.md`` documenting the
    layout and the ground truth (rewritten every time).

    Parameters
    ----------
    folder : str | Path
        Output folder, e.g. ``sample_data/cohort``.

    Returns
    -------
    truth : CohortTruth
    """
    truth = simulate_cohort(folder)
    (Path(folder) / "README.md").write_text(_readme(truth), encoding="utf-8")
    return truth


# ---------------------------------------------------------------------------------------------
# README


def _fmt(values: dict, fmt: str = "{:.1f}") -> str:
    return ", ".join(f"{k} {'n/a' if v is None else fmt.format(v)}" for k, v in values.items())


def _readme(truth: CohortTruth) -> str:
    n_rec = sum(len(s.sessions) for s in truth.subjects)
    out = [
        "# Sample cohort (simulated)",
        "",
        "Generated by `neurofeedback.simulate.make_cohort` — do not edit by hand. The recordings",
        "are not in git (see `.gitignore`); regenerate them, byte for byte, with",
        "",
        "```",
        "neurofeedback sample-data cohort sample_data/cohort",
        "```",
        "",
        f"{len(truth.subjects)} simulated subjects (no real person), {truth.weeks} consecutive ISO "
        f"weeks from Monday {truth.start.isoformat()}, {truth.sessions_per_week} sessions a week "
        f"of {truth.duration_s:g} s each: {n_rec} readable recordings, "
        f"{sum(len(s.low_quality_sessions) for s in truth.subjects)} of them bad-contact sessions "
        f"below the quality floor, and {len(truth.corrupted)} corrupted file; "
        f"{len(truth.files)} files, {truth.size_bytes / 1e6:.1f} MB. Seed {truth.seed}. "
        "`truth.json` holds everything below in machine-readable form "
        "(`CohortTruth.to_dict()`).",
        "",
        "## Layout",
        "",
        "```",
        "sample_data/cohort/",
        "  README.md, truth.json",
        "  sub-<id>/sub-<id>_ses-<YYYYmmddTHHMMSS>_eeg.csv        one recording per session",
        "  sub-<id>/sub-<id>_ses-<YYYYmmddTHHMMSS>_eeg.json       its sidecar (BrainFlow CSV only)",
        "```",
        "",
        "The session label is the UTC start of the recording (`neurofeedback.home.session_label`).",
        "BrainFlow CSV sessions also carry `subject`, `session`, `start_time`, `protocol` and",
        "`blocks` in their sidecar; muselsl CSV files have no sidecar, so the subject and session",
        "come from the file name (and the start time from the timestamps).",
        "",
        "Every session is one protocol of three equal blocks — eyes-open, eyes-closed, meditation "
        "(alpha amplitude ×1, ×3, ×2; block starts carry markers 1, 2, 3) — with blinks in the "
        "eyes-open block, a movement burst in about a third of the sessions and mains noise. "
        "Alpha waxes and wanes within a session (the simulator's burst envelope) and its power "
        "varies from day to day by a log-normal factor of mean 1 (SD 0.08 in log).",
        "",
        "| subject | recording | channels | scenario | times of day (UTC) |",
        "|---|---|---|---|---|",
    ]
    for s in truth.subjects:
        fmt = s.format + (f" (board `{s.board}`) + sidecar" if s.format == "brainflow_csv" else
                          ", no sidecar")
        hours = sorted({ses.start_time.strftime("%H:%M") for ses in s.sessions})
        out.append(f"| `{s.subject}` | {fmt} | {len(s.channels)} @ {s.sfreq:g} Hz: "
                   f"{', '.join(s.channels)} | {s.scenario}: {s.description} | "
                   f"{hours[0]}–{hours[-1]} |")
    out += [
        "",
        "## Ground truth",
        "",
        "Metrics as the pipeline names them (`neurofeedback.metrics`): `absolute_alpha` is the "
        "session's Welch PSD integrated over 8–13 Hz, µV², per channel and as the `mean` over "
        "channels; `iaf` is the alpha peak, Hz. The expected `absolute_alpha` of a channel is "
        "`B + K·a²·(1 + growth·t)·jitter` with `B` the aperiodic (1/f) power in 8–13 Hz, `a` the "
        "week-0 alpha RMS amplitude at block gain 1, `K` the mean squared block gain of the "
        "protocol (cross-fades included), `t` the weeks since the subject's first session (the "
        "trends' time axis); the true slope is `K·a²·growth` µV² per week.",
        "",
    ]
    for s in truth.subjects:
        k = s.blocks and _mean_square_gain(
            [(b["label"], b["duration_s"]) for b in s.blocks], s.sfreq,
            int(round(truth.duration_s * s.sfreq)))
        out += [
            f"### `{s.subject}` — {s.scenario}",
            "",
            f"- alpha power growth: {s.alpha_growth_per_week * 100:g} % of the week-0 alpha power "
            f"per week; IAF drift {s.iaf_drift_hz_per_week:g} Hz per week; K = {k:.3f}",
            f"- **true slope of `absolute_alpha`** (µV²/week): "
            f"{_fmt(s.slope_per_week['absolute_alpha'], '{:.2f}')}",
            f"- least-squares slope of these sessions' expected `absolute_alpha` (jitter "
            f"included, bad contact left out; µV²/week): "
            f"{_fmt(s.sample_slope_per_week['absolute_alpha'], '{:.2f}')}",
            f"- `absolute_alpha` at week 0 (µV²): {_fmt(s.baseline['absolute_alpha'])}",
            f"- **true slope of `iaf`** (Hz/week): {_fmt(s.slope_per_week['iaf'], '{:.2f}')}; "
            f"`iaf` at week 0 (Hz): {_fmt(s.baseline['iaf'], '{:.2f}')}",
            f"- bad-contact session(s) (below the quality floor, to be excluded): "
            + (", ".join(f"`{x}`" for x in s.low_quality_sessions) or "none"),
            "",
            "| session | ISO week | weeks since first | file | alpha power × | expected "
            "`absolute_alpha` mean (µV²) | realised (µV²) | expected `iaf` mean (Hz) | blinks, "
            "movements | note |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for ses in s.sessions:
            note = "bad contact (movement, electrode pops, mains ×4)" if ses.low_quality else ""
            out.append(
                f"| {ses.session} | {ses.iso_week} | {ses.weeks_since_first:.2f} | "
                f"`{Path(ses.path).name}` | {ses.alpha_power_factor:.3f} | "
                f"{ses.expected['absolute_alpha']['mean']:.1f} | "
                f"{ses.realised['absolute_alpha']['mean']:.1f} | "
                f"{ses.expected['iaf']['mean']:.2f} | {ses.artifacts['blinks']}, "
                f"{ses.artifacts['movement_bursts']} | {note} |"
            )
        out.append("")
    out += ["## The corrupted file", ""]
    for c in truth.corrupted:
        out.append(
            f"`{c.path}` (subject `{c.subject}`, session `{c.session}`): {c.problem}. Reading it "
            "raises `RecordingFormatError` with one line naming the file, the column and the "
            "line; a batch import must report it and skip it. It is not among the sessions above."
        )
    out += [
        "",
        "## What the pipeline should find",
        "",
        "- `realised` is `B` plus the mean square of the alpha actually simulated in that "
        "recording: it differs from `expected` by the random waxing and waning of alpha bursts "
        "(about ±12 % per session). The pipeline's session value averages the clean epochs "
        "only, so a session reads differently again (about ±15 %): blinks remove eyes-open "
        "epochs (low alpha), strong eyes-closed alpha bursts are sometimes rejected as "
        "amplitude artifacts. Expect per-session `absolute_alpha` within roughly ±25 % of "
        "`expected`, slopes within a few standard errors of the truth.",
        "- `trends` should report a positive `absolute_alpha` slope with a 95 % CI excluding 0 "
        "for `alpha01`, a CI including 0 for `stable01` and `iaf01`, an `iaf` slope near "
        "+0.1 Hz/week for `iaf01` only, and exclude the bad-contact sessions by their clean "
        "fraction.",
        "- Measured when this generator was written (default configs, plain least squares on "
        "the sessions with clean fraction >= 0.5): `alpha01` `absolute_alpha` mean "
        "5.33 ± 1.32 µV²/week (SE; truth 5.33), O2 10.4 ± 2.7 (truth 11.65); `stable01` "
        "1.1 ± 1.8 (truth 0); `iaf01` `iaf` mean 0.101 ± 0.003 Hz/week (truth 0.100); regular "
        "sessions' clean fraction >= 0.66, bad-contact sessions 0.16 and 0.27; the corrupted "
        "file fails with \"non-numeric value ... in EEG channel 'C3' (column 4) at line 9001\".",
        "",
    ]
    return "\n".join(out)
