"""The ground-truth records of a simulated cohort (what :func:`simulate_cohort` returns).

:class:`CohortTruth` holds one :class:`CohortSubject` per subject, each with its
:class:`CohortSession` records, and the :class:`CorruptedFile` records;
:meth:`CohortTruth.to_dict` is the content of the cohort's ``truth.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from .._validate import check_option

#: Significant digits of the floats in ``truth.json`` (:meth:`CohortTruth.to_dict`).
TRUTH_JSON_DIGITS = 9


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
        written. Floats are rounded to :data:`TRUTH_JSON_DIGITS` significant digits: the
        derived values (expected and realised powers, jitter, slopes) come out of FFTs, SIMD
        ``exp`` and BLAS reductions whose last bits differ between CPUs and library builds,
        and 9 digits are far finer than any estimate they are compared with.
        """
        return _rounded({
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
        })


def _rounded(obj):
    """``obj`` with every float rounded to :data:`TRUTH_JSON_DIGITS` significant digits (and
    ``-0.0`` written as ``0.0``); dicts and lists are copied, other values kept."""
    if isinstance(obj, float):
        return float(f"{obj:.{TRUTH_JSON_DIGITS}g}") + 0.0
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    return obj


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
