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
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import numpy as np

from .._validate import check_option, check_positive
from ..home import session_label, validate_label
from ._artifacts import add_box_artifact
from ._cohort_design import (
    _PROTOCOL_GAINS,
    _SPECS,
    COHORT_SUBJECTS,
    _blocks,
    _ch_names,
    _Design,
    _design,
    _ols_slope,
    _schedule,
    _sfreq,
    _Spec,
    _with_mean,
)
from ._cohort_readme import _readme
from ._signals import simulate_eeg
from ._truth import CohortSession, CohortSubject, CohortTruth, CorruptedFile
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

_MIN_DURATION_S = 30.0
_CORRUPT_BYTES = b"@@@ garbled by an interrupted copy @@@"

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



def _simulate_session(spec: _Spec, *, seed: int, start: datetime, duration_s: float,
                      alpha_amp, alpha_peak, movement_bursts: int, low_quality: bool,
                      alpha: bool = True):
    blink_rate = spec.blink_rate_per_min
    line_amp = spec.line_amplitude_uv
    if low_quality:  # a loose electrode: constant movement, more mains pick-up
        # one 1-3 s burst every ~5 s: since artifacts cost only the channels and seconds they
        # touch (issue 15), a burst every 8 s left two thirds of the data usable, which is no
        # longer a session the quality floor should drop
        movement_bursts = max(2, int(round(duration_s / 5.0)))
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
    + sidecar) gains alpha power linearly (+25 % of its week-0 alpha power per week);
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
                                       encoding="utf-8", newline="\n")
    return truth


def _simulate_subject(spec: _Spec, child, folder: Path, *, monday, weeks, per_week, duration_s):
    """Simulate and write one subject: ``(CohortSubject, [CorruptedFile], [paths written])``.

    ``child`` (a :class:`numpy.random.SeedSequence`) gives four streams: the schedule, the
    day-to-day jitter, the sessions' seeds and whether each session has a movement burst.
    """
    rng_sched, rng_jitter, rng_seeds, rng_move = (np.random.default_rng(s) for s in child.spawn(4))
    design = _design(spec, duration_s)
    starts = _schedule(spec, rng_sched, monday, weeks, per_week)
    n = len(starts)
    jitter = np.exp(spec.jitter_sd * rng_jitter.standard_normal(n) - spec.jitter_sd**2 / 2.0)
    seeds = rng_seeds.integers(0, 2**31 - 1, size=n + 1)
    moves = (rng_move.uniform(size=n) < spec.movement_probability).astype(int)
    low_idx = (weeks // 2) * per_week + min(1, per_week - 1) if spec.low_quality else -1

    sessions, files = [], []
    for i, t0 in enumerate(starts):
        session, written = _write_session(
            design, folder, start=t0, first=starts[0], monday=monday, seed=int(seeds[i]),
            jitter=float(jitter[i]), movement_bursts=int(moves[i]), low_quality=i == low_idx,
            duration_s=duration_s)
        sessions.append(session)
        files += written
    corrupted = []
    if spec.corrupted:
        bad, written = _write_corrupted(design, folder, sessions, weeks=weeks,
                                        seed=int(seeds[n]), duration_s=duration_s)
        corrupted.append(bad)
        files += written
    return _subject_truth(design, sessions), corrupted, files


def _write_session(d: _Design, folder: Path, *, start: datetime, first: datetime, monday: date,
                   seed: int, jitter: float, movement_bursts: int, low_quality: bool,
                   duration_s: float) -> tuple[CohortSession, list[Path]]:
    """Simulate, write and describe one session (``weeks_since_first`` counted from ``first``)."""
    spec, ch = d.spec, d.channels
    weeks_since = (start - first).total_seconds() / (7 * 86400.0)
    factor = (1.0 + spec.alpha_growth_per_week * weeks_since) * jitter
    amp = [d.amplitude[c] * math.sqrt(factor) for c in ch]
    peak = [d.peak[c] + spec.iaf_drift_hz_per_week * weeks_since for c in ch]
    label = session_label(start)
    kw = {"seed": seed, "start": start, "duration_s": duration_s, "alpha_amp": amp,
          "alpha_peak": peak, "movement_bursts": movement_bursts, "low_quality": low_quality}
    rec = _simulate_session(spec, **kw)
    # the alpha actually simulated: same seed without alpha (every other part identical)
    no_alpha = _simulate_session(spec, **kw, alpha=False)
    alpha_ms = np.mean((rec.data_uv - no_alpha.data_uv) ** 2, axis=1)
    n_boxes = 0
    if low_quality:
        # three pops of the loose reference, seen on every channel (pops on two channels only
        # cost just those two since artifacts are per channel, and the session's channels kept
        # more than half their data: no longer a session the quality floor drops)
        for frac in (0.2, 0.5, 0.8):
            for name in ch:
                rec = add_box_artifact(rec, channel=name, onset_s=duration_s * frac,
                                       duration_s=4.0, amplitude_uv=600.0)
                n_boxes += 1

    path = folder / f"sub-{spec.subject}" / f"sub-{spec.subject}_ses-{label}_eeg.csv"
    side = _write(spec, rec, path, session=label)
    iso = start.isocalendar()
    session = CohortSession(
        session=label,
        start_time=start,
        week=(start.date() - monday).days // 7,
        iso_week=f"{iso[0]}-W{iso[1]:02d}",
        weeks_since_first=weeks_since,
        path=_rel(path, folder),
        sidecar=_rel(side, folder) if side else None,
        seed=seed,
        low_quality=low_quality,
        alpha_power_factor=factor,
        jitter=jitter,
        expected={
            "absolute_alpha": _with_mean({c: d.background[c] + d.k_gain * a ** 2
                                          for c, a in zip(ch, amp)}),
            "iaf": _with_mean(dict(zip(ch, peak))),
        },
        realised={"absolute_alpha": _with_mean({c: d.background[c] + float(m)
                                                for c, m in zip(ch, alpha_ms)})},
        artifacts={
            "blinks": len(rec.truth["blink_onsets_s"]),
            "movement_bursts": sum(a["type"] == "movement" for a in rec.truth["artifacts"]),
            "boxes": n_boxes,
            "line_freq": spec.line_freq,
        },
    )
    return session, [path] + ([side] if side else [])


def _write_corrupted(d: _Design, folder: Path, sessions: list[CohortSession], *, weeks: int,
                     seed: int, duration_s: float) -> tuple[CorruptedFile, list[Path]]:
    """Write the unreadable recording: a week-0-like session at 12:15 UTC on the first session
    day of week 2 (or the last week), cut mid-value by :func:`_corrupt`."""
    spec = d.spec
    w = min(2, weeks - 1)
    first_day = min(s.start_time.date() for s in sessions if s.week == w)
    t0 = datetime.combine(first_day, time(12, 15), tzinfo=timezone.utc)
    label = session_label(t0)
    rec = _simulate_session(spec, seed=seed, start=t0, duration_s=duration_s,
                            alpha_amp=list(d.amplitude.values()),
                            alpha_peak=list(d.peak.values()), movement_bursts=0,
                            low_quality=False)
    path = folder / f"sub-{spec.subject}" / f"sub-{spec.subject}_ses-{label}_corrupted_eeg.csv"
    side = _write(spec, rec, path, session=label)
    line = _corrupt(path)
    bad = CorruptedFile(
        subject=spec.subject,
        session=label,
        path=_rel(path, folder),
        sidecar=_rel(side, folder) if side else None,
        line=line,
        problem=(f"line {line} is cut mid-value and followed by the text "
                 f"{_CORRUPT_BYTES.decode()!r} (an interrupted copy); the sidecar is valid"),
    )
    return bad, [path] + ([side] if side else [])


def _subject_truth(d: _Design, sessions: list[CohortSession]) -> CohortSubject:
    """The subject's record; its sample slopes leave the bad-contact sessions out."""
    spec = d.spec
    kept = [x for x in sessions if not x.low_quality]
    weeks_since = [x.weeks_since_first for x in kept]
    return CohortSubject(
        subject=spec.subject,
        scenario=spec.scenario,
        description=spec.description,
        format=spec.format,
        board=spec.board,
        sfreq=d.sfreq,
        channels=tuple(d.channels),
        protocol=spec.protocol,
        blocks=tuple({"label": lab, "duration_s": dur, "alpha_gain": _PROTOCOL_GAINS[lab]}
                     for lab, dur in d.blocks),
        alpha_growth_per_week=spec.alpha_growth_per_week,
        iaf_drift_hz_per_week=spec.iaf_drift_hz_per_week,
        jitter_sd=spec.jitter_sd,
        baseline=d.baseline,
        slope_per_week=d.slope,
        sample_slope_per_week={
            metric: {key: _ols_slope(weeks_since, [x.expected[metric][key] for x in kept])
                     for key in d.baseline[metric]}
            for metric in d.baseline
        },
        sessions=tuple(sessions),
    )


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
    (Path(folder) / "README.md").write_text(_readme(truth), encoding="utf-8", newline="\n")
    return truth
