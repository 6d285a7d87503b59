"""Record → process → store: a live session from the board into the session store.

Acquisition ends at its files (:func:`neurofeedback.acquisition.record.record_session`: quality
gate, crash-safe CSV + sidecar, the canonical FIF at the end). This module is the one place that
goes on from there: it processes the FIF (:func:`neurofeedback.process.process_recording`) and
imports it into the session store (:func:`neurofeedback.store.ingest_processed`), so the session
shows up in ``sessions``, ``trends`` and the reports.

Who calls what:

- ``neurofeedback record``: :func:`record_and_store`;
- ``neurofeedback feedback``: :func:`feedback_and_store` (the feedback runner records the
  session with its hooks on the stream; this module never goes below it, and the runner never
  imports this module);
- ``neurofeedback recover``: :func:`recover_and_store` (one session), :func:`recover_all`
  (every crashed session of the data home);
- the Prefect recording flow (``pipelines/record.py``): :func:`record_and_store` without
  processing in one task, :func:`process_and_store` in the next (only paths cross tasks).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

from .acquisition.record import RecordedSession, record_session
from .acquisition.recorder import RecordingResult

logger = logging.getLogger("neurofeedback")

__all__ = ["RecoveredSession", "SessionResult", "feedback_and_store", "process_and_store",
           "record_and_store", "recover_all", "recover_and_process", "recover_and_store"]


@dataclass(frozen=True)
class SessionResult:
    """A recorded session, processed and (usually) in the session store.

    Attributes
    ----------
    recording : RecordingResult
        What the recorder wrote (paths, samples, markers, disconnects, how it ended).
    fif : Path | None
        The canonical session file (``None`` when too few samples were recorded to write one;
        the CSV is still there).
    quality : QualityCheck | None
        The pre-recording check.
    summary : dict | None
        The processed session's summary (the ``inspect --json`` object); ``None`` when it was
        not processed.
    session_id : str | None
        Its ID in the session store (``None`` when it was not stored).
    """

    recording: RecordingResult
    fif: Path | None
    quality: object
    summary: dict | None
    session_id: str | None = None

    @property
    def folder(self) -> Path:
        return self.recording.paths.folder


def process_and_store(fif, *, subject=None, home=None, settings=None, store: bool = True):
    """Process a finalized session's FIF and import it into the session store.

    Parameters
    ----------
    fif : str | Path
        The canonical session file (``<stem>_raw.fif``; its sidecar beside it gives the
        protocol, blocks, notes and feedback summary the store keeps).
    subject : str | None
        The session's subject (default: from its sidecar).
    home : str | Path | None
        Data home (default ``$NEUROFEEDBACK_HOME`` or ``~/neurofeedback``).
    settings : Settings | None
    store : bool
        Import the processed session into the store of ``home`` (catalog, BIDS copy,
        derivatives).

    Returns
    -------
    processed : ProcessedRecording
    stored : IngestResult | None
        ``None`` when ``store`` is false.
    """
    from .process import process_recording

    processed = process_recording(fif, format="fif", settings=settings)
    stored = None
    if store:
        from .store import ingest_processed

        stored = ingest_processed(processed, home=home, subject=subject)
    return processed, stored


def _complete(recorded: RecordedSession, *, subject, home, settings, process: bool,
              store: bool) -> SessionResult:
    summary = session_id = None
    if recorded.fif is not None and process:
        processed, stored = process_and_store(recorded.fif, subject=subject, home=home,
                                              settings=settings, store=store)
        summary = processed.summary()
        session_id = stored.session_id if stored is not None else None
    return SessionResult(recording=recorded.recording, fif=recorded.fif, quality=recorded.quality,
                         summary=summary, session_id=session_id)


def record_and_store(connection, *, subject: str, duration_s: float, protocol=None, blocks=(),
                     notes: str = "", home=None, settings=None, gate_s: float = 4.0,
                     force: bool = False, stall_timeout_s: float = 5.0,
                     reconnect_interval_s: float = 1.0, on_gate=None, on_update=None,
                     keyboard: bool = False, stop_event=None, process: bool = True,
                     store: bool = True) -> SessionResult:
    """Record a session, then process it and import it into the session store.

    Parameters
    ----------
    connection : Connection
        See :func:`neurofeedback.acquisition.record.connection_from_options`.
    subject : str
        Subject label (letters and digits).
    duration_s : float
    protocol, blocks, notes, home, settings, gate_s, force
        As in :func:`neurofeedback.acquisition.record.record_session`.
    stall_timeout_s, reconnect_interval_s, on_gate, on_update, keyboard, stop_event
        As in :func:`neurofeedback.acquisition.record.record_session`.
    process : bool
        Compute the session's features at the end (``False`` stops at the files: the Prefect
        flow processes in a task of its own with :func:`process_and_store`).
    store : bool
        Also import the processed session into the session store of ``home`` (catalog, BIDS
        copy, derivatives), so it shows up in ``sessions`` and ``trends``.

    Returns
    -------
    result : SessionResult

    Raises
    ------
    BoardError
        The device cannot be reached (one line naming the board and what to check).
    QualityGateError
        The quality check said no-go and ``force`` is false (nothing was recorded).
    """
    recorded = record_session(connection, subject=subject, duration_s=duration_s,
                              protocol=protocol, blocks=blocks, notes=notes, home=home,
                              settings=settings, gate_s=gate_s, force=force,
                              stall_timeout_s=stall_timeout_s,
                              reconnect_interval_s=reconnect_interval_s, on_gate=on_gate,
                              on_update=on_update, keyboard=keyboard, stop_event=stop_event)
    return _complete(recorded, subject=subject, home=home, settings=settings, process=process,
                     store=store)


def feedback_and_store(connection, protocol, *, subject: str, duration_s: float,
                       baseline_s: float = 60.0, outputs=(), sink_options: dict | None = None,
                       home=None, notes: str = "", gate_s: float = 4.0, force: bool = False,
                       stall_timeout_s: float = 5.0, on_gate=None, on_update=None,
                       on_output=None, stop_event=None, settings=None, store: bool = True):
    """Run a real-time neurofeedback session, then process it and import it into the store.

    The feedback runner (:func:`neurofeedback.feedback.runner.run_feedback`) records the session
    like ``record`` with its hooks on the stream (the feedback log, the summary in the sidecar,
    the feedback channels of the FIF); the session is then processed and stored like any other,
    so its reward rate becomes a session metric.

    Parameters
    ----------
    connection : Connection
    protocol : Protocol | str
        A protocol, or the name of a shipped one (``neurofeedback protocols`` lists them).
    subject : str
    duration_s : float
        Session length, baseline included.
    baseline_s, outputs, sink_options, home, notes, gate_s, force
        As in :func:`neurofeedback.feedback.runner.run_feedback`.
    stall_timeout_s, on_gate, on_update, on_output, stop_event, settings
        As in :func:`neurofeedback.feedback.runner.run_feedback`.
    store : bool
        Import the processed session into the session store of ``home``.

    Returns
    -------
    result : FeedbackResult
        Its ``session`` is a :class:`SessionResult` (summary and store ID included).
    """
    from .feedback.runner import run_feedback

    res = run_feedback(connection, protocol, subject=subject, duration_s=duration_s,
                       baseline_s=baseline_s, outputs=outputs, sink_options=sink_options,
                       home=home, notes=notes, gate_s=gate_s, force=force,
                       stall_timeout_s=stall_timeout_s, on_gate=on_gate, on_update=on_update,
                       on_output=on_output, stop_event=stop_event, settings=settings)
    session = _complete(res.session, subject=subject, home=home, settings=settings, process=True,
                        store=store)
    return dataclasses.replace(res, session=session)


def recover_and_process(path, *, settings=None, force: bool = False):
    """Recover a crashed recording (:func:`neurofeedback.acquisition.session.recover_session`)
    and process it, without storing it (``recover`` stores it: :func:`recover_and_store`).

    Parameters
    ----------
    path : str | Path
        The session folder, its CSV or its sidecar.
    settings : Settings | None
    force : bool
        As in :func:`~neurofeedback.acquisition.session.recover_session`.

    Returns
    -------
    fif : Path
    processed : ProcessedRecording
    """
    from .acquisition.session import recover_session

    fif = recover_session(path, force=force)
    processed, _ = process_and_store(fif, settings=settings, store=False)
    return fif, processed


@dataclass(frozen=True)
class RecoveredSession:
    """What :func:`recover_and_store` did with one crashed session.

    Attributes
    ----------
    csv : Path
        The recorder's CSV.
    fif : Path | None
        The canonical session file (``None`` when skipped).
    status : str
        ``"recovered"`` (processed and stored: ``stored`` says how), ``"skipped"``.
    summary : dict | None
        The processed session's summary (``None`` when it was already stored or skipped).
    session_id : str | None
    stored : str | None
        The store's status (``imported``, ``reprocessed``, ``unchanged``).
    reason : str | None
        Why it was skipped (one line).
    """

    csv: Path
    fif: Path | None
    status: str
    summary: dict | None = None
    session_id: str | None = None
    stored: str | None = None
    reason: str | None = None


def recover_and_store(path, *, home=None, settings=None, force: bool = False) -> RecoveredSession:
    """Recover a crashed recording and import it into the session store, as ``record`` does.

    The files are recovered by :func:`neurofeedback.acquisition.session.recover_session`
    (which refuses a cleanly ended or still running recording, and never replaces an existing
    FIF without ``force``); the FIF is then processed and stored by :func:`process_and_store`,
    the same path ``record`` takes, so the session shows up in ``sessions`` and ``trends``.

    Parameters
    ----------
    path : str | Path
        The session folder, its CSV or its sidecar.
    home : str | Path | None
        Data home of the store (default ``$NEUROFEEDBACK_HOME`` or ``~/neurofeedback``).
    settings : Settings | None
    force : bool
        As in :func:`~neurofeedback.acquisition.session.recover_session`.

    Returns
    -------
    result : RecoveredSession
        ``status="recovered"``.

    Raises
    ------
    RecoveryRefusedError, RecordingFormatError, StoreError
        One line naming the file and the problem.
    """
    from .acquisition.session import find_session_csv, recover_session

    csv = find_session_csv(path)
    fif = recover_session(csv, force=force)
    processed, stored = process_and_store(fif, home=home, settings=settings, store=True)
    return RecoveredSession(csv=csv, fif=fif, status="recovered", summary=processed.summary(),
                            session_id=stored.session_id, stored=stored.status)


def recover_all(*, home=None, settings=None) -> list[RecoveredSession]:
    """Recover and store every crashed session of the data home; a batch that always finishes.

    Each session found by :func:`neurofeedback.acquisition.session.find_unfinished_sessions`
    goes through :func:`recover_and_store`; one that cannot be recovered (still being recorded,
    unreadable, refused) becomes a ``"skipped"`` entry with its one-line reason, and the next
    one goes on. A session recovered and stored before is ``"recovered"`` with ``stored =
    "unchanged"`` (nothing is processed again).

    Parameters
    ----------
    home : str | Path | None
    settings : Settings | None

    Returns
    -------
    results : list of RecoveredSession
        One per unfinished session, in path order (empty when there is none).
    """
    from .acquisition.recorder import SessionPaths
    from .acquisition.session import find_unfinished_sessions
    from .errors import CatalogDamagedError, NeurofeedbackError

    results = []
    catalog = None
    for csv in find_unfinished_sessions(home):
        fif = SessionPaths.from_csv(csv).fif
        try:
            if fif.exists():  # recovered before: already stored? (cheap: no processing)
                from .provenance import file_sha256
                from .store import Catalog

                catalog = catalog or Catalog(home=home)
                row = catalog.find_by_sha(file_sha256(fif))
                if row is not None:
                    results.append(RecoveredSession(csv=csv, fif=fif, status="recovered",
                                                    session_id=row["session_id"],
                                                    stored="unchanged"))
                    continue
            results.append(recover_and_store(csv, home=home, settings=settings))
        except CatalogDamagedError:
            raise  # the same for every session: one line for the whole batch
        except Exception as exc:  # noqa: BLE001 - a batch lists what it cannot use and goes on
            ours = isinstance(exc, (NeurofeedbackError, OSError))
            reason = " ".join(str(exc).split()) if ours else f"{type(exc).__name__}: {exc}"
            logger.warning("%s: not recovered: %s", csv, reason)
            results.append(RecoveredSession(csv=csv, fif=fif if fif.exists() else None,
                                            status="skipped", reason=reason))
    return results
