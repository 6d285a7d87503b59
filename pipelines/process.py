"""Batch processing: discover recordings, import each into the session store as one task.

``process_recordings(paths)`` maps one task per file. A task

- is cached by the file's SHA-256 + the processing config hash in the catalog it writes to: a
  file already imported with the same config is ``unchanged`` after hashing it, without
  reading, processing or writing anything (a second run over the same folder does no work).
  This is the store's own lookup rather than Prefect's result cache: it cannot go stale when a
  catalog is reset or shared, and it costs ~1 ms where Prefect's persisted-result cache cost
  ~65 ms a task (measured: 88 against 22 ms per task; see ``bench/bench_batch.py``). The lookup
  runs before any task is submitted (:func:`pipelines._batch.split_unchanged`): an unchanged
  file gets no task at all (a task costs ~20 ms against a running server), and ``process`` asks
  it before Prefect is even imported, so a folder with nothing new runs no flow;
- retries only failures that may pass (:func:`neurofeedback.store.is_transient`: a locked
  SQLite database, a PostgreSQL serialization or connection error, EAGAIN/EBUSY-like OS
  errors), twice, a second apart, inside the task (:data:`RETRIES`); never a bad recording, a
  full disk or a bug;
- never fails the batch for a file: *any* exception of a file's import (a bad recording, an
  unreadable path, a full disk, a bug in processing, a transient error still failing after its
  retries, a worker process that died) becomes ``status="skipped"`` with a one-line reason
  naming the file and the error (:func:`neurofeedback.store.failure_reason`; the traceback is
  logged at debug level), and the flow's table artifact lists what was imported, skipped and
  why. What a failed file had written is undone by :func:`~neurofeedback.store.ingest_file`.
  Every runner behaves the same: the task catches what it can, and the flow turns a task that
  still failed (a crash outside the task's body, e.g. a worker process that died) into the
  same record.

Task runners: ``threads`` (default), ``processes`` (one Python per core: processing is
NumPy-heavy and partly holds the GIL), or ``dask`` (prefect-dask; a ``LocalCluster`` or a
scheduler at ``dask_address`` for when one machine is not enough). The workers of a Dask cluster
on other machines must see the recordings and the data home at the same paths (shared storage)
and use the same catalog (the same ``NEUROFEEDBACK_DB_URL``, or none). A task on a worker checks
that first (:func:`_check_worker_sees`) and skips the file with one line naming the worker and
the path it cannot see, rather than importing into a data home of its own that the client's
catalog would never hear of.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from neurofeedback._validate import check_option
from neurofeedback.errors import ConfigError, OrchestrationError

from ._batch import discover, split_unchanged

__all__ = ["RUNNERS", "discover", "import_recording", "process_recordings", "run_process",
           "task_runner"]

RUNNERS = ("threads", "processes", "dask")

#: Set by the CLI to draw a progress bar: ``hook(done, total, record)``. Not a flow parameter
#: (parameters must be serialisable), and ignored by deployments.
PROGRESS_HOOK = None


def _progress_hook():
    """:data:`PROGRESS_HOOK`, read through a function: the flow's body must not name the global
    itself, or a Dask task runner pickles the flow (in its run context) with the hook's console
    and lock (``TypeError: cannot pickle '_thread.RLock' object`` for every file)."""
    return PROGRESS_HOOK


#: Retries of a failure that may pass (:func:`neurofeedback.store.is_transient`), and the wait
#: before each. Done in the task's body, not with Prefect's task retries: a retry then needs no
#: round trip to the API, and a failure that persists ends as one line, never as Prefect's
#: "Task run failed" traceback on the user's terminal.
RETRIES = 2
RETRY_DELAY_S = 1.0


def _skipped(path, exc: BaseException, subject, seconds: float) -> dict:
    """The record of a file whose import failed: one line of reason, traceback to the log."""
    from neurofeedback.store import failure_reason

    reason = failure_reason(path, exc)
    logger = logging.getLogger("neurofeedback")
    logger.debug("%s: skipped", path, exc_info=(type(exc), exc, exc.__traceback__))
    return {"path": str(path), "status": "skipped", "reason": reason, "session_id": None,
            "subject": subject, "seconds": seconds}


def _dask_worker() -> str | None:
    """``"<worker address> on <host>"`` when this runs in a Dask worker, else ``None``."""
    if "distributed" not in sys.modules:
        return None
    from distributed import get_worker

    try:
        return f"{get_worker().address} on {socket.gethostname()}"
    except ValueError:  # not in a worker
        return None


def catalog_key(home) -> str:
    """A digest of the catalog URL of ``home`` (no password crosses to a worker or the API)."""
    from neurofeedback.home import catalog_url

    return hashlib.sha256(catalog_url(home).encode()).hexdigest()[:16]


def _check_worker_sees(path: str, home: str | None, key: str | None, worker: str) -> None:
    """Raise (one line naming ``worker`` and what it cannot see) unless this worker reads
    ``path``, finds the data ``home`` writable (never creating one of its own) and has the
    client's catalog (``key``, :func:`catalog_key`)."""
    need = ("the workers need the recordings and the data home on storage shared with the "
            "client, at the same paths, and the client's NEUROFEEDBACK_DB_URL (or none)")
    where = f"on Dask worker {worker}"
    # a path that is there but is no readable file (a broken link, a FIFO) is the import's to
    # explain; what the worker cannot see at all, or cannot read, is said here
    if not os.path.lexists(path):
        raise OrchestrationError(f"{path}: does not exist {where}; {need}")
    if os.path.isfile(path) and not os.access(path, os.R_OK):
        raise OrchestrationError(f"{path}: cannot be read {where}; {need}")
    if home is not None:
        if not Path(home).is_dir():
            raise OrchestrationError(f"{path}: the data home {home} does not exist {where}; {need}")
        if not os.access(home, os.W_OK | os.X_OK):
            raise OrchestrationError(f"{path}: the data home {home} is not writable {where}; {need}")
        if key is not None and catalog_key(home) != key:
            raise OrchestrationError(f"{path}: the catalog {where} is not the client's; {need}")


@task(name="import-recording")
def import_recording(path: str, home: str | None = None, subject: str | None = None,
                     filename_pattern: str | None = None, channel_names: str | None = None,
                     catalog: str | None = None) -> dict:
    """Import one recording into the store; any failure returns ``status="skipped"``.

    A failure that may pass (:func:`neurofeedback.store.is_transient`) is tried again
    :data:`RETRIES` times, :data:`RETRY_DELAY_S` apart, first; any other is skipped at once.
    On a Dask worker it first checks that the worker sees the file, the data home and the
    client's catalog (``catalog``: :func:`catalog_key` on the client).
    """
    from neurofeedback.store import failure_reason, ingest_file, is_transient

    t0 = time.perf_counter()
    worker = _dask_worker()
    if worker is not None:
        try:
            _check_worker_sees(path, home, catalog, worker)
        except OrchestrationError as exc:
            return _skipped(path, exc, subject, time.perf_counter() - t0)
    for attempt in range(RETRIES + 1):
        try:
            res = ingest_file(path, home=home, subject=subject, filename_pattern=filename_pattern,
                              channel_names=channel_names)
        except Exception as exc:  # noqa: BLE001 -- one file never stops the batch
            if attempt < RETRIES and is_transient(exc):
                logging.getLogger("neurofeedback").info(
                    "%s; trying again in %.0f s", failure_reason(path, exc), RETRY_DELAY_S)
                time.sleep(RETRY_DELAY_S)
                continue
            return _skipped(path, exc, subject, time.perf_counter() - t0)
        return {"path": str(path), "status": res.status, "reason": "", "session_id": res.session_id,
                "subject": res.subject, "seconds": time.perf_counter() - t0}
    raise AssertionError("unreachable")  # the loop always returns


def task_runner(runner: str = "threads", *, dask_address: str | None = None,
                max_workers: int | None = None):
    """Build the Prefect task runner for ``runner`` (threads | processes | dask)."""
    check_option("runner", runner, RUNNERS, exc=ConfigError)
    if runner == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=max_workers)
    if runner == "processes":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=max_workers)
    from prefect_dask import DaskTaskRunner

    if dask_address:
        return DaskTaskRunner(address=dask_address)
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs={"n_workers": max_workers or 2, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})


@flow(name="process-recordings")
def process_recordings(paths: list[str], home: str | None = None, subject: str | None = None,
                       filename_pattern: str | None = None, channel_names: str | None = None) -> list[dict]:
    """Import every recording under ``paths`` into the store; return one record per file.

    ``channel_names`` (comma-separated EEG names in file order) applies to every file; a file
    with another number of EEG channels is skipped with that reason.

    The run publishes a table artifact (``imported-recordings``) of what was imported, left
    unchanged, skipped and why, and always ends with it: a file's failure of any kind is a
    skipped record, never the flow's failure.
    """
    files = [str(f) for f in discover(paths)]
    known, rest = split_unchanged(files, home=home, subject=subject, channel_names=channel_names)
    key = catalog_key(home) if rest else None
    futures = {f: import_recording.submit(f, home, subject, filename_pattern, channel_names, key)
               for f in rest}
    records = []
    hook = _progress_hook()
    for path in files:
        rec = known.get(path)
        if rec is None:
            t0 = time.perf_counter()
            try:
                rec = futures[path].result()
            except Exception as exc:  # noqa: BLE001 -- the worker itself failed (e.g. it died)
                rec = _skipped(path, exc, subject, time.perf_counter() - t0)
            rec["cached"] = rec["status"] == "unchanged"  # found in the catalog: no work done
        records.append(rec)
        if hook is not None:
            hook(len(records), len(files), rec)
    counts = {s: sum(r["status"] == s for r in records)
              for s in ("imported", "reprocessed", "unchanged", "skipped")}
    create_table_artifact(
        key="imported-recordings",
        table=[{k: r[k] for k in ("path", "status", "reason", "session_id", "cached")} for r in records],
        description=(f"# Recordings processed\n{len(records)} files: "
                     + ", ".join(f"{v} {k}" for k, v in counts.items())
                     + f" ({sum(r['cached'] for r in records)} found in the catalog: no work)"),
    )
    return records


def run_process(paths, *, home=None, subject=None, runner="threads", dask_address=None,
                max_workers=None, filename_pattern=None, channel_names=None) -> list[dict]:
    """Run :func:`process_recordings` with the chosen task runner (what the CLI calls).

    ``home`` is made absolute here: the workers of a Dask cluster must write to the client's
    data home, not resolve ``$NEUROFEEDBACK_HOME`` (or ``~``) on their own machine.
    """
    from neurofeedback.home import data_home

    check_option("runner", runner, RUNNERS, exc=ConfigError)
    home = data_home(home)
    f = process_recordings.with_options(
        task_runner=task_runner(runner, dask_address=dask_address, max_workers=max_workers))
    if channel_names is not None and not isinstance(channel_names, str):
        channel_names = ",".join(map(str, channel_names))
    with _no_heartbeat(), _workers_share_the_server(runner, dask_address):
        return f([str(p) for p in paths], str(home), subject, filename_pattern, channel_names)


@contextmanager
def _workers_share_the_server(runner: str, dask_address: str | None):
    """With no API URL set (Prefect's temporary server), give the runner's worker processes this
    process's temporary server through ``PREFECT_API_URL`` for the run.

    Without it, every worker process of the ``processes`` runner (and of a local Dask cluster)
    has no API URL either and starts a temporary server of its own on the first task (seen here:
    three ``uvicorn`` servers for one batch with 2 workers): ~10 s of CPU each on 2 cores, three
    servers writing one ``prefect.db``, and under load a worker's server that does not start in
    time fails its tasks ("Timed out while attempting to connect to ephemeral Prefect API
    server": 2 of 20 files skipped in ``bench/bench_scale.py`` at load 20). A URL that is set
    (a running ``neurofeedback server``, a team's server, a profile) is left alone. If the
    temporary server cannot be started here, the flow runs as before and says why itself.
    """
    from prefect.settings import get_current_settings

    if (runner == "threads" or (runner == "dask" and dask_address)
            or os.environ.get("PREFECT_API_URL") or get_current_settings().api.url):
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    try:
        server = SubprocessASGIServer()  # the one this process's client uses (one per process)
        server.start()
        url = server.api_url
    except Exception:  # noqa: BLE001 -- the flow starts it again and reports a failure its way
        yield
        return
    os.environ["PREFECT_API_URL"] = url  # inherited by the workers started by the run
    try:
        yield
    finally:
        if os.environ.get("PREFECT_API_URL") == url:
            del os.environ["PREFECT_API_URL"]


def _no_heartbeat():
    """Prefect's flow-run heartbeat off for this run, unless the environment sets its frequency.

    The heartbeat (an event every 180 s, for an automation to mark a run whose process died as
    crashed) is a thread that sleeps in 1-second steps, and the flow engine joins it when the
    run ends: up to 1 s of every run's wall time doing nothing (measured here: a flow of 3
    trivial tasks against a running server, median of 8, 1.49 s with it and 0.77 s without, at
    load 12). ``process`` runs its flow in the command's own process, which says itself how the
    batch ended; a team that relies on heartbeats sets ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``
    and keeps them.
    """
    from contextlib import nullcontext

    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if any(k in os.environ for k in ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY",
                                      "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")):
        return nullcontext()
    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
