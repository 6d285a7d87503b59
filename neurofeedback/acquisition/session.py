"""From the recorder's files to the canonical session: finalize a finished recording, recover a
crashed one. This is where acquisition ends; processing the FIF and storing it are composed in
:mod:`neurofeedback.recording`.

The canonical on-disk session is a FIF file (``<stem>_raw.fif``, float64, volts) beside the
BrainFlow CSV and its sidecar. Why FIF: it is MNE's own format, so it keeps everything the
session needs in one file — annotations (blocks, keyboard markers, ``BAD_disconnect``), the
montage, the measurement date, device info and bad channels — it stores float64 losslessly,
and it reads in a fraction of the time of the text CSV (1 h × 16 ch: 0.4 s against 9.4 s).
The BIDS copy the session store keeps is written from it on import (BIDS EEG does not accept
FIF, so the store converts to BrainVision there). The CSV stays as the raw record, untouched.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import RecordingFormatError, RecoveryRefusedError
from ..io import read_recording
from ..io.sidecar import find_sidecar, read_sidecar, write_sidecar
from .recorder import SessionPaths

logger = logging.getLogger("neurofeedback")

__all__ = ["FEEDBACK_CHANNELS", "feedback_tsv", "finalize_session", "find_feedback_log",
           "find_session_csv", "find_unfinished_sessions", "read_feedback_log",
           "recover_session"]


def find_session_csv(path) -> Path:
    """Return the recording CSV of a session given its folder, CSV, sidecar or FIF path.

    Raises
    ------
    RecordingFormatError
        When ``path`` holds no recorder CSV.
    """
    p = Path(path)
    if p.is_dir():
        found = sorted(p.glob("*_eeg.csv")) or sorted(p.glob("*.csv"))
        if len(found) != 1:
            what = "no recording CSV" if not found else f"{len(found)} CSV files"
            raise RecordingFormatError(p, f"{what} in this folder; pass the recording's .csv file")
        return found[0]
    if p.suffix == ".json" or p.name.endswith("_raw.fif"):
        stem = p.name.removesuffix(".json").removesuffix("_raw.fif")
        for cand in (p.with_name(stem + ".csv"), p.with_name(stem + "_eeg.csv")):
            if cand.is_file():
                return cand
    if p.suffix == ".csv" and p.is_file():
        return p
    if not p.exists():
        raise RecordingFormatError(p, "does not exist")
    raise RecordingFormatError(p, "is not a recorder session (folder, .csv, .json or _raw.fif)")


def finalize_session(csv) -> Path:
    """Convert a recorded session to the canonical FIF file.

    The feedback log of a feedback session (:func:`feedback_tsv`), when present, becomes misc
    channels of the FIF (:data:`FEEDBACK_CHANNELS`).

    Parameters
    ----------
    csv : str | Path
        The recorder's BrainFlow CSV (its sidecar beside it).

    Returns
    -------
    fif : Path
        ``<stem>_raw.fif`` beside the CSV (float64, volts), written atomically.
    """
    paths = SessionPaths.from_csv(csv)
    raw = read_recording(paths.csv, format="brainflow_csv")
    fb = feedback_tsv(paths.csv)
    if fb.is_file():
        _add_feedback_channels(raw, fb)
    tmp = paths.fif.with_name(paths.fif.stem + ".tmp_raw.fif")
    raw.save(tmp, fmt="double", overwrite=True, verbose=False)
    tmp.replace(paths.fif)
    return paths.fif


#: The feedback values written into the canonical FIF as misc channels (see ``feedback_tsv``).
FEEDBACK_CHANNELS = ("feedback_metric", "feedback_threshold", "feedback_reward")


def feedback_tsv(csv) -> Path:
    """Where a feedback session logs its updates: ``<stem>_feedback.tsv`` beside the recording.

    One line per update, appended and flushed as it happens (crash-safe like the recording):
    ``t_s`` (session time of the window's last sample), ``timestamp`` (the board's, of that
    sample), ``phase``, ``metric``, ``threshold``, ``reward`` (0/1), ``artifact`` (0/1),
    ``inhibited`` (0/1), ``level``, ``reward_rate``, ``latency_s`` (from that sample's
    timestamp to the feedback leaving; empty when the stream's timestamps are not wall-clock
    time) and ``reason``.
    """
    csv = Path(csv)
    return csv.with_name(csv.name.removesuffix(".csv").removesuffix("_eeg") + "_feedback.tsv")


def find_feedback_log(recording) -> Path | None:
    """Return the feedback log of a recorded session (its CSV or ``_raw.fif``), or ``None``.

    Parameters
    ----------
    recording : path-like
        The recorder's ``<stem>_eeg.csv`` or ``<stem>_raw.fif`` (any other file has no log).

    Returns
    -------
    path : Path | None
        ``<stem>_feedback.tsv`` when it exists.
    """
    p = Path(recording)
    name = p.name.removesuffix("_raw.fif") if p.name.endswith("_raw.fif") else None
    cand = p.with_name(name + "_feedback.tsv") if name is not None else feedback_tsv(p)
    return cand if cand.is_file() and cand != p else None


def read_feedback_log(tsv):
    """Read a feedback log (see :func:`feedback_tsv`) as a table, one row per update.

    Parameters
    ----------
    tsv : path-like

    Returns
    -------
    log : pandas.DataFrame
        Numeric columns as floats (``reward``, ``artifact`` and ``inhibited`` as 0/1 integers;
        a missing value, e.g. the threshold during the baseline, is NaN). A last line cut short
        by a crash is dropped.

    Raises
    ------
    RecordingFormatError
        When the file cannot be read or lacks the ``t_s``, ``phase``, ``metric``,
        ``threshold`` or ``reward`` columns.
    """
    import pandas as pd

    tsv = Path(tsv)
    try:
        log = pd.read_csv(tsv, sep="\t", dtype={"phase": str, "reason": str},
                          keep_default_na=True, on_bad_lines="skip")
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise RecordingFormatError(tsv, f"feedback log not readable ({exc})") from None
    need = ("t_s", "phase", "metric", "threshold", "reward")
    missing = [c for c in need if c not in log]
    if missing:
        raise RecordingFormatError(tsv, f"feedback log lacks the column(s) {', '.join(missing)}")
    for col in [c for c in _TSV_NUMERIC if c in log]:
        log[col] = pd.to_numeric(log[col], errors="coerce")
    log = log[log["t_s"].notna() & log["phase"].isin(["baseline", "training"])]
    for col in ("reward", "artifact", "inhibited"):
        if col in log:
            log[col] = log[col].fillna(0).astype(int)
    return log.reset_index(drop=True)


_TSV_NUMERIC = ("t_s", "timestamp", "metric", "threshold", "reward", "artifact", "inhibited",
                "level", "reward_rate", "latency_s")


def _add_feedback_channels(raw, tsv: Path) -> None:
    """Add the feedback metric, threshold and reward as misc channels (held between updates;
    0 before the first update and where the value is undefined: baseline threshold, artifact)."""
    import mne

    try:
        fb = read_feedback_log(tsv)
    except RecordingFormatError as exc:
        logger.warning("%s; the session is kept without it", exc)
        return
    if fb.empty:
        return
    sfreq = raw.info["sfreq"]
    idx = np.clip(np.round(fb["t_s"].to_numpy(float) * sfreq).astype(int), 0, raw.n_times)
    idx = np.maximum.accumulate(idx)  # updates are in time order; a stray line cannot go back
    # each update's value holds from its sample to the next update's (0 before the first)
    lengths = np.diff(np.append(idx, raw.n_times)).clip(min=0)
    values = np.nan_to_num(fb[["metric", "threshold", "reward"]].to_numpy(float).T,
                           nan=0.0, posinf=0.0, neginf=0.0)
    data = np.zeros((len(FEEDBACK_CHANNELS), raw.n_times))
    data[:, idx[0]:idx[0] + lengths.sum()] = np.repeat(values, lengths, axis=1)
    info = mne.create_info(list(FEEDBACK_CHANNELS), sfreq, ch_types="misc")
    extra = mne.io.RawArray(data, info, first_samp=raw.first_samp, verbose="error")
    with extra.info._unlock():
        extra.info["meas_date"] = raw.info["meas_date"]
    raw.add_channels([extra], force_update_info=True)


def recover_session(path, *, force: bool = False) -> Path:
    """Turn the partial files of a crashed recording into a normal session.

    The CSV is left as it is (a partial last line is skipped when reading); the sidecar is
    completed from the data (``n_samples``, ``end_time`` from the last timestamp,
    ``end_reason="recovered"``); then the session is finalized like a normal one.

    What it refuses (:class:`~neurofeedback.errors.RecoveryRefusedError`, nothing written):

    - a recording another process is still writing (its recorder holds the CSV's lock,
      :mod:`neurofeedback.acquisition._lock`), even with ``force``;
    - a recording that ended cleanly (sidecar ``ended_cleanly: true``): there is nothing to
      recover, and finalizing again would replace its FIF;
    - a crashed recording whose ``_raw.fif`` already exists but was not written by an earlier
      ``recover``.

    ``force`` lifts the last two: the FIF is written again (atomically) over the old one. A
    crashed session recovered before (``end_reason="recovered"``) whose FIF is there is not
    written again: that FIF is returned as it is.

    Parameters
    ----------
    path : str | Path
        The session folder, its CSV or its sidecar.
    force : bool
        Finalize a cleanly ended recording, or replace an existing FIF.

    Returns
    -------
    fif : Path
        The canonical session file (:func:`finalize_session`).

    Raises
    ------
    RecoveryRefusedError
        See above (one line naming the file and why).
    RecordingFormatError
        No recording CSV, no sidecar, or data that cannot be read.
    """
    from . import _lock

    csv = find_session_csv(path)
    sc = find_sidecar(csv)
    if sc is None:
        raise RecordingFormatError(csv, "has no sidecar (.json) saying which board recorded it; "
                                        "it cannot be recovered as a session")
    doc = read_sidecar(sc)
    fif = SessionPaths.from_csv(csv).fif
    if _lock.is_being_recorded(csv):
        raise RecoveryRefusedError(csv, "is still being recorded by another process (it holds "
                                        "the recording's lock); nothing was changed")
    if doc.get("ended_cleanly") and not force:
        what = f"{fif.name} exists and would be replaced" if fif.exists() else \
            f"{fif.name} would be written"
        raise RecoveryRefusedError(
            csv, f"ended cleanly (its sidecar {sc.name} says ended_cleanly: true"
                 + (f", end_reason: {doc['end_reason']}" if doc.get("end_reason") else "")
                 + "), so there is nothing to recover; nothing was changed. "
                 + f"Import it with 'neurofeedback process', or pass --force to finalize it again "
                 f"({what})")
    recovered_before = doc.get("end_reason") == "recovered"
    if fif.exists() and not force:
        if recovered_before:
            logger.info("%s: recovered before; keeping %s", csv, fif.name)
            return fif
        raise RecoveryRefusedError(
            fif, "already exists, and this crashed session was never recovered (its sidecar has "
                 "no end_reason 'recovered'); nothing was changed. Move it away, or pass --force "
                 "to replace it")
    raw = read_recording(csv, format="brainflow_csv")  # checks the data before touching anything
    if not doc.get("ended_cleanly"):
        ts = _last_timestamp(csv, doc)
        if ts is not None:
            doc["end_time"] = datetime.fromtimestamp(ts, timezone.utc).isoformat()
        doc["n_samples"] = _n_complete_lines(csv)
        doc["end_reason"] = "recovered"
        write_sidecar(csv, doc)
        logger.info("%s: recovered %d samples (%.1f s)", csv, doc["n_samples"],
                    raw.n_times / raw.info["sfreq"])
    return finalize_session(csv)


def find_unfinished_sessions(home=None) -> list[Path]:
    """The recorder CSVs under ``<home>/recordings`` whose recording never ended cleanly.

    The recorder writes its sidecar with ``ended_cleanly: false`` before the first sample and
    sets it to ``true`` only when it finishes normally (completed, stopped, disconnected), so
    ``false`` means the process died (or is still recording: :func:`recover_session` tells the
    two apart by the recording's lock). Sessions recovered before (``end_reason:
    "recovered"``) are listed too: recovering them again only finishes what is missing (the
    FIF, the store), and the store leaves a stored one ``unchanged``.

    Parameters
    ----------
    home : str | Path | None
        Data home.

    Returns
    -------
    csvs : list of Path
        Sorted; a sidecar that cannot be read counts as unfinished (recovering it then says why).
    """
    from ..home import recordings_dir

    root = recordings_dir(home)
    if not root.is_dir():
        return []
    found = []
    for csv in sorted(root.glob("sub-*/ses-*/*_eeg.csv")):
        sc = find_sidecar(csv)
        try:
            doc = read_sidecar(sc) if sc is not None else {}
        except RecordingFormatError:
            doc = {}
        if not doc.get("ended_cleanly"):
            found.append(csv)
    return found


def _n_complete_lines(csv: Path) -> int:
    n = 0
    with open(csv, "rb") as fh:
        while block := fh.read(1 << 20):
            n += block.count(b"\n")
    return n


def _last_timestamp(csv: Path, doc: dict):
    row = (doc.get("board_descr") or {}).get("timestamp_channel")
    if row is None:
        return None
    with open(csv, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 65536))
        lines = fh.read().split(b"\n")
    for line in reversed(lines[:-1]):  # the last element is after the final newline
        parts = line.split(b"\t")
        if len(parts) > row:
            try:
                v = float(parts[row])
            except ValueError:
                continue
            if np.isfinite(v):
                return v
    return None
