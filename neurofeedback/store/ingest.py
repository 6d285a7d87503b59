"""One recording into the store: BIDS copy, derivatives and catalog rows.

:func:`ingest_file` is what the batch flow calls once per file:

1. SHA-256 of the file. If the catalog already holds it, processed with the same settings
   (``Settings.config_hash``), return ``unchanged`` at once: nothing is read or processed.
2. Subject and session labels, first found wins: the explicit arguments, the recording's sidecar
   (``subject``, ``session``, ``start_time``), the file name (``filename_pattern``, a regex with
   named groups ``subject`` and ``session``; default :data:`DEFAULT_FILENAME_PATTERN`), and, for
   the session only, the recording's measurement date (``YYYYmmddTHHMMSS`` in UTC). Labels are
   BIDS labels (:func:`neurofeedback.home.validate_label`).
3. Read and process (:func:`neurofeedback.process.process_raw`, as ``process_recording`` does,
   keeping the unfiltered recording for the BIDS copy).
4. Under the data home's write lock (:func:`neurofeedback.store.bids.bids_lock`): look again
   (another process may have finished the same file meanwhile), stage the derivatives, write the
   raw copy with mne-bids, rename the staged derivatives into place and record the session and
   its features in one catalog transaction. If any of it fails (a full disk, an unwritable
   folder, a locked catalog, a bug), the session's folders and the dataset-level files are put
   back as they were (:func:`neurofeedback.store._undo.undo_on_failure`) and the catalog
   transaction rolls back: a failed import leaves nothing behind and damages no earlier session.

One session per file content: copies of a file in several folders are one session; processing
with other settings, or with other EEG names given (``channel_names``), replaces the session's
features, BIDS copy and metrics (``reprocessed``); a file rewritten in place
(e.g. a recording imported while still being written) replaces its session; and the same
recording in another format (the recorder's ``<stem>_eeg.csv`` and its ``<stem>_raw.fif``: same
folder, same stem) is recognised by its labels and left ``unchanged``.

Two *different* recordings (other content, other stem) are never one session. When a second
one claims a subject and session that another recording already holds (e.g. three takes whose
sidecars give the same start time, wherever they are), it is refused with a
:class:`~neurofeedback.errors.StoreError` naming both files, and a batch lists it as skipped.
We refuse rather than invent a suffixed label (``…T073000b``): a second file with the same
start time is as often a stale or edited copy as a real second take, a made-up session would
count twice in the trends, and the fix is the user's one choice (give it its own ``session``
label in its sidecar), which the message says.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError, PrecomputedFeaturesError, RecordingFormatError, StoreError
from ..home import session_label, validate_label
from ._queries import same_recording
from ._undo import undo_on_failure
from .bids import (
    _commit,
    _discard,
    _ensure_derivatives_description,
    _stage_file,
    _stage_json,
    bids_lock,
    derivative_paths,
    task_label,
    write_raw_to_bids,
)
from .catalog import Catalog

logger = logging.getLogger("neurofeedback")

__all__ = ["DEFAULT_FILENAME_PATTERN", "INGEST_STATUSES", "IngestResult", "ingest_file",
           "ingest_processed"]

#: Subject and session from names like ``sub-alpha01_ses-20260105T073000_eeg.csv``.
DEFAULT_FILENAME_PATTERN = r"sub-(?P<subject>[A-Za-z0-9]+)_ses-(?P<session>[A-Za-z0-9]+)"
#: What :class:`IngestResult.status` can be.
INGEST_STATUSES = ("imported", "unchanged", "reprocessed")
_STAMP = re.compile(r"\d{8}T\d{6}")  # fullmatch: no trailing newline


@dataclass(frozen=True)
class IngestResult:
    """What importing one recording did.

    Attributes
    ----------
    status : str
        ``"imported"`` (a new session), ``"unchanged"`` (already in the store with these
        settings: nothing was read, processed or written) or ``"reprocessed"`` (the session
        was processed again, e.g. with other settings; still one session row).
    session_id : str
        ``sub-<subject>_ses-<session>``.
    subject, session : str
        The labels.
    path : Path
        The recording imported.
    bids_path : Path | None
        The BIDS raw copy (``.vhdr``).
    features_path : Path | None
        The per-epoch features (Parquet, with provenance).
    summary_path : Path | None
        The session summary (JSON).
    seconds : float
        Wall time of the call.
    """

    status: str
    session_id: str
    subject: str
    session: str
    path: Path
    bids_path: Path | None
    features_path: Path | None
    summary_path: Path | None
    seconds: float


def ingest_file(path, *, home=None, catalog: Catalog | None = None, subject=None, session=None,
                filename_pattern=None, settings=None, format="auto", board=None,
                line_freq="config", channel_names=None) -> IngestResult:
    """Import one recording into the store (idempotent, safe to run concurrently).

    Parameters
    ----------
    path : path-like
        A raw recording :func:`neurofeedback.io.read_recording` reads.
    home : path-like | None
        Data home (default ``$NEUROFEEDBACK_HOME`` or ``~/neurofeedback``).
    catalog : Catalog | None
        Catalog to record into (default ``Catalog(home=home)``).
    subject, session : str | None
        Labels; override the sidecar and the file name.
    filename_pattern : str | re.Pattern | None
        Regex with named groups ``subject`` and/or ``session``, searched in the file name, then
        in the whole path; default :data:`DEFAULT_FILENAME_PATTERN`.
    settings : Settings | None
        Processing settings (default :func:`neurofeedback.config.load_settings`).
    format : str
        Format name or ``"auto"``.
    board : str | int | None
        BrainFlow board of a CSV without sidecar.
    line_freq : 50 | 60 | "auto" | None | "config"
        Notch frequency (see :func:`neurofeedback.preprocessing.preprocess`).
    channel_names : str | sequence of str | None
        EEG names in file order (see :func:`neurofeedback.io.read_recording`), e.g. for an
        OpenBCI GUI file's ``EEG 1…8``. They name the BIDS copy's channels, the features and
        the metrics, are recorded in the provenance and are part of the processing key
        (:func:`neurofeedback.provenance.processing_hash`): the same file imported again with
        other names (or without them) is ``reprocessed``, with the same names ``unchanged``.

    Returns
    -------
    result : IngestResult

    Raises
    ------
    StoreError
        No subject can be found, the labels are held by another recording, or the catalog
        cannot be written.
    ConfigError
        An invalid label or pattern.
    RecordingFormatError
        The file cannot be read; :class:`~neurofeedback.errors.PrecomputedFeaturesError` for a
        band-power export (Mind Monitor), which holds no raw EEG to import.
    """
    from ..config import load_settings
    from ..io._raw import check_channel_names
    from ..provenance import file_sha256, processing_hash

    t0 = time.perf_counter()
    names = check_channel_names(channel_names)
    path = Path(path).expanduser().absolute()
    if not path.is_file():
        if path.is_symlink() and not path.exists():
            raise RecordingFormatError(path, f"a broken link: its target {path.readlink()} does "
                                             "not exist")
        if path.exists() and not path.is_dir():
            raise RecordingFormatError(path, "not a regular file (a FIFO, socket or device); the "
                                             "store imports recording files")
        raise RecordingFormatError(path, "no such file")
    subject = None if subject is None else validate_label(subject)
    session = None if session is None else validate_label(session, kind="session")
    pattern = compile_filename_pattern(filename_pattern)
    settings = settings or load_settings()
    catalog = catalog if catalog is not None else Catalog(home=home)
    sha = file_sha256(path)
    cfg = processing_hash(settings, names)

    existing = catalog.find_by_sha(sha)
    if existing is not None:
        _check_explicit(existing, subject, session, path)
        if existing["config_hash"] == cfg:
            return _done("unchanged", existing, path, t0)
    sidecar = _read_sidecar(path)
    if existing is not None:
        subj, ses = existing["subject"], existing["session"]
    else:
        subj, ses = _labels(path, subject, session, sidecar, pattern)
        if ses is not None:
            held = _held_elsewhere(catalog, subj, ses, sha, path)
            if held is not None:
                return _done("unchanged", held, path, t0)

    from ..process import process_raw

    fmt = _format_of(path, format)
    raw = _read_raw(path, fmt, board, names)
    processed = process_raw(raw, settings, line_freq=line_freq, path=path, fmt=fmt, input_sha256=sha,
                            channel_names=names)
    if ses is None:
        ses = _session_from_date(path, raw.info["meas_date"])
    return _store(processed, raw, catalog=catalog, home=home, sha=sha, cfg=cfg, subject=subj,
                  session=ses, sidecar=sidecar, path=path, t0=t0)


def ingest_processed(processed, *, raw=None, home=None, catalog: Catalog | None = None,
                     subject=None, session=None, filename_pattern=None) -> IngestResult:
    """Import a recording that is already processed (e.g. by the recorder), without redoing it.

    Parameters
    ----------
    processed : neurofeedback.process.ProcessedRecording
        Its provenance gives the input SHA-256 and the config hash.
    raw : mne.io.Raw | None
        The unfiltered recording for the BIDS copy; default: read again from
        ``processed.path`` (reading only; nothing is reprocessed).
    home, catalog, subject, session, filename_pattern
        As in :func:`ingest_file`.

    Returns
    -------
    result : IngestResult
    """
    from ..provenance import file_sha256

    t0 = time.perf_counter()
    prov = processed.features.provenance or {}
    path = Path(processed.path).absolute() if processed.path is not None else None
    sha = (prov.get("input") or {}).get("sha256")
    if sha is None and path is not None and path.is_file():
        sha = file_sha256(path)
    cfg = prov.get("config_hash")
    if sha is None or cfg is None:
        raise StoreError("cannot import a processed recording without the SHA-256 of its file and "
                         "its config hash (process it from a file)")
    subject = None if subject is None else validate_label(subject)
    session = None if session is None else validate_label(session, kind="session")
    pattern = compile_filename_pattern(filename_pattern)
    catalog = catalog if catalog is not None else Catalog(home=home)
    existing = catalog.find_by_sha(sha)
    if existing is not None:
        _check_explicit(existing, subject, session, path)
        if existing["config_hash"] == cfg:
            return _done("unchanged", existing, path, t0)
    sidecar = _read_sidecar(path) if path is not None else {}
    if existing is not None:
        subj, ses = existing["subject"], existing["session"]
    else:
        subj, ses = _labels(path or Path("<memory>"), subject, session, sidecar, pattern)
    if ses is None:
        ses = _session_from_date(path, processed.raw.info["meas_date"])
    if raw is None:
        if path is None:
            raise StoreError("cannot write the BIDS copy of a processed recording without its "
                             "file; pass raw=")
        raw = _read_raw(path, processed.format or "auto", None, prov.get("channel_names"))
    return _store(processed, raw, catalog=catalog, home=home, sha=sha, cfg=cfg, subject=subj,
                  session=ses, sidecar=sidecar, path=path, t0=t0)


# ------------------------------------------------------------------------------------------


def _store(processed, raw, *, catalog, home, sha, cfg, subject, session, sidecar, path, t0):
    from ..io.sidecar import software_versions
    from ..metrics import block_table, session_metrics
    from ..process import write_table
    from .spectra import write_spectra

    summary = processed.summary()
    if sidecar.get("feedback"):
        summary["feedback"] = sidecar["feedback"]  # reward rate & co. become session metrics
    metrics = session_metrics(summary)
    protocol = sidecar.get("protocol") or None
    _check_text(path, protocol=protocol, device=_device(raw, sidecar), fmt=processed.format,
                metrics=metrics)  # before anything is written: the same limits on every back end
    task = task_label(protocol)
    start = _start_time(path, sidecar, raw.info["meas_date"], session)
    deriv = derivative_paths(subject, session, task, home=home)
    summary_doc = _json_safe({
        **summary,
        "store": {"subject": subject, "session": session, "task": task,
                  "start_time": start.isoformat(), "protocol": protocol,
                  "blocks": sidecar.get("blocks"), "notes": sidecar.get("notes"),
                  "input_sha256": sha, "config_hash": cfg,
                  # what ``store rebuild`` needs to restore the catalog row exactly (issue 16)
                  "device": _device(raw, sidecar), "source_path": None if path is None else str(path),
                  "pipeline_version": software_versions().get("neurofeedback", "unknown")},
    })
    with bids_lock(home):
        # another writer may have finished this file (or this recording) while we processed
        again = catalog.find_by_sha(sha)
        if again is not None and again["config_hash"] == cfg:
            return _done("unchanged", again, path, t0)
        if again is None and path is not None:
            held = _held_elsewhere(catalog, subject, session, sha, path)
            if held is not None:
                return _done("unchanged", held, path, t0)
        staged: list[tuple[Path, Path]] = []
        # any failure from here on (a full disk, a locked catalog, a bug) puts the session's
        # folders and the dataset-level files back as they were: no orphan, no half session
        with undo_on_failure(subject, session, home=home):
            try:
                staged.append((_stage_file(deriv["features"], lambda tmp: write_table(
                    processed.features.epochs, processed.features.provenance, tmp)), deriv["features"]))
                staged.append((_stage_json(deriv["summary"], summary_doc), deriv["summary"]))
                staged.append((_stage_file(deriv["psd"], lambda tmp: write_spectra(processed, tmp)),
                               deriv["psd"]))
                if sidecar:
                    staged.append((_stage_json(deriv["recording"], _json_safe(sidecar)),
                                   deriv["recording"]))
                bids_file = write_raw_to_bids(raw, subject, session, task=task,
                                              line_freq=processed.line_freq, home=home)
                _ensure_derivatives_description(home)
                _commit(staged)
                fields = {
                    "start_time": start,
                    "device": _device(raw, sidecar),
                    "format": processed.format,
                    "protocol": protocol,
                    "blocks": sidecar.get("blocks") or None,
                    "notes": sidecar.get("notes") or None,
                    "duration_s": float(summary["duration_s"]),
                    "sfreq": float(summary["sfreq"]),
                    "n_channels": len(summary["channels"]),
                    "clean_fraction": float(summary["clean_fraction"]),
                    "input_sha256": sha,
                    "source_path": None if path is None else str(path),
                    "bids_path": str(bids_file),
                    "features_path": str(deriv["features"]),
                    "summary_path": str(deriv["summary"]),
                    "pipeline_version": software_versions().get("neurofeedback", "unknown"),
                    "config_hash": cfg,
                }
                status, sid = catalog.record_session(subject, session, fields, metrics,
                                                     block_table(summary))
            finally:
                _discard(staged)  # no-op for the files renamed into place
    logger.info("%s: %s as %s (%d metrics)", path, status, sid, len(metrics))
    if status == "unchanged":
        return _done(status, catalog.session(sid), path, t0)
    return IngestResult(status=status, session_id=sid, subject=subject, session=session,
                        path=path, bids_path=bids_file, features_path=deriv["features"],
                        summary_path=deriv["summary"], seconds=time.perf_counter() - t0)


def _check_text(path, *, protocol, device, fmt, metrics) -> None:
    """Refuse text the catalog's columns cannot hold (:data:`neurofeedback._validate.TEXT_LIMITS`)."""
    from .._validate import check_text_length

    name = "<memory>" if path is None else str(path)
    for key, value, source in (("protocol", protocol, "the sidecar's"), ("device", device, "the"),
                               ("format", fmt, "the")):
        check_text_length(key, value, what=f"{name}: {source} {key!r}", exc=StoreError)
    for col, key in (("block", "block"), ("channel", "channel")):
        if col in metrics.columns:
            for value in dict.fromkeys(map(str, metrics[col])):
                check_text_length(key, value, what=f"{name}: a {key} name", exc=StoreError)


def _done(status: str, row: dict, path, t0: float) -> IngestResult:
    if status == "unchanged":
        logger.info("%s: unchanged (%s)", path, row["session_id"])

    def p(key):
        return Path(row[key]) if row.get(key) else None
    return IngestResult(status=status, session_id=row["session_id"], subject=row["subject"],
                        session=row["session"], path=path, bids_path=p("bids_path"),
                        features_path=p("features_path"), summary_path=p("summary_path"),
                        seconds=time.perf_counter() - t0)


def compile_filename_pattern(pattern) -> re.Pattern:
    """Compile and check a file-name pattern (named groups ``subject`` and/or ``session``)."""
    if pattern is None:
        pattern = DEFAULT_FILENAME_PATTERN
    if isinstance(pattern, re.Pattern):
        compiled = pattern
    else:
        try:
            compiled = re.compile(str(pattern))
        except re.error as err:
            raise ConfigError(f"Invalid value for the 'filename_pattern' parameter: not a regular "
                              f"expression ({err}), got {pattern!r}") from None
    if not {"subject", "session"} & set(compiled.groupindex):
        raise ConfigError(f"Invalid value for the 'filename_pattern' parameter. It needs a named "
                          f"group (?P<subject>...) and/or (?P<session>...), but got "
                          f"{compiled.pattern!r} instead.")
    return compiled


def _read_sidecar(path: Path) -> dict:
    """The recording's sidecar as a dict ({} without one; a broken one is the reader's error)."""
    from ..io.sidecar import find_sidecar, read_sidecar

    found = find_sidecar(path)  # the recorder's _raw.fif finds its CSV's _eeg.json
    if found is None:
        return {}
    try:
        return read_sidecar(found)
    except RecordingFormatError as err:
        logger.warning("%s", err)
        return {}


def _labels(path: Path, subject, session, sidecar: dict, pattern: re.Pattern):
    """Subject and session: explicit > sidecar > file name (session may stay None)."""
    match = pattern.search(path.name) or pattern.search(path.as_posix())
    groups = match.groupdict() if match else {}
    subj = subject
    if subj is None and sidecar.get("subject"):
        subj = validate_label(sidecar["subject"])
    if subj is None and groups.get("subject"):
        subj = validate_label(groups["subject"])
    if subj is None:
        raise StoreError(
            f"{path}: no subject ID: pass one (--subject / subject=), set 'subject' in the "
            "recording's sidecar, or name the file sub-<id>_ses-<YYYYmmddTHHMMSS>_... "
            "(filename_pattern)")
    ses = session
    if ses is None and sidecar.get("session"):
        ses = validate_label(sidecar["session"], kind="session")
    if ses is None and sidecar.get("start_time"):
        ses = session_label(_parse_time(sidecar["start_time"], path))
    if ses is None and groups.get("session"):
        ses = validate_label(groups["session"], kind="session")
    return subj, ses


def _session_from_date(path, meas_date) -> str:
    if meas_date is None:
        raise StoreError(f"{path}: no session label and no recording date: pass one "
                         "(--session / session=) or name the file sub-<id>_ses-<label>_...")
    return session_label(meas_date)


def _start_time(path, sidecar: dict, meas_date, session: str) -> datetime:
    if sidecar.get("start_time"):
        return _parse_time(sidecar["start_time"], path)
    if meas_date is not None:
        return meas_date.astimezone(timezone.utc)
    if _STAMP.fullmatch(session):
        return datetime.strptime(session, "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    raise StoreError(f"{path}: no start time (no sidecar 'start_time', no recording date, and the "
                     f"session label {session!r} is not YYYYmmddTHHMMSS)")


def _parse_time(text, path) -> datetime:
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        raise RecordingFormatError(path, f"sidecar start_time {text!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def _check_explicit(row: dict, subject, session, path) -> None:
    if (subject is not None and subject != row["subject"]) or (session is not None and session != row["session"]):
        raise StoreError(
            f"{path}: this recording is already in the store as subject {row['subject']!r}, "
            f"session {row['session']!r} ({row['session_id']}); delete that session first to "
            "import it under other labels")


def _held_elsewhere(catalog: Catalog, subject: str, session: str, sha: str, path: Path):
    """The session already holding these labels when it is this recording in another format
    (:func:`~neurofeedback.store._queries.same_recording`: same folder, same stem → unchanged);
    raise when another recording holds them; else ``None``."""
    held = catalog.find_session(subject, session)
    if held is None or held["input_sha256"] == sha:
        return None
    src = held.get("source_path")
    if src is None or src == str(path):
        return None  # the same file rewritten: process it again, replacing the session
    if same_recording(path, src):
        return held
    raise StoreError(
        f"{path}: subject {subject!r} already has session {session!r} from another recording "
        f"({src}); give this one its own session label (sidecar 'session', or session=) to "
        "import it as a separate session")


def _format_of(path: Path, format) -> str:
    if format != "auto":
        return format
    from ..io import detect_format

    return detect_format(path)


def _read_raw(path: Path, format, board, channel_names=None):
    from ..io import read_recording

    try:
        return read_recording(path, format=format, board=board, channel_names=channel_names)
    except PrecomputedFeaturesError:
        raise PrecomputedFeaturesError(
            path, "holds precomputed band powers (a Mind Monitor export), not raw EEG; the store "
            "imports raw recordings only") from None


def _device(raw, sidecar: dict) -> str | None:
    if sidecar.get("board_name"):
        return str(sidecar["board_name"])
    info = raw.info.get("device_info") or {}
    parts = [str(v) for v in (info.get("type"), info.get("model")) if v]
    return " ".join(dict.fromkeys(parts)) or None


def _json_safe(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return _json_safe(obj.item())
    if isinstance(obj, (datetime, Path)):
        return str(obj)
    return obj
