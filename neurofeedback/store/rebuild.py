"""Rebuild a lost or damaged SQLite catalog from what the store keeps on disk.

What the store writes for every session (:func:`neurofeedback.store.ingest_file`), and so
what a rebuild reads back:

- ``bids/derivatives/neurofeedback/sub-*/ses-*/eeg/*_summary.json``: the processed session's
  summary (``inspect --json``) with a ``store`` block (subject, session, task, start time,
  protocol, blocks, notes, input SHA-256, config hash, and since issue 16 the device, source
  path and pipeline version). The session's row, its ``session_features`` (through
  :func:`neurofeedback.metrics.session_metrics`, exactly as at import) and its
  ``session_blocks`` (:func:`neurofeedback.metrics.block_table`) are computed from it again.
- ``…_recording.json``: the recorder's sidecar (the device of summaries written before the
  device was in the ``store`` block).
- ``bids/sub-*/ses-*/eeg/*_eeg.vhdr``: the raw copy (its path is the row's ``bids_path``).
- ``…_features.parquet``: the per-epoch features (its path is ``features_path``).

- ``events-backup.json`` beside the catalog (:data:`~neurofeedback.store.catalog.EVENTS_BACKUP`,
  rewritten by the catalog at every change of an event or the practice log): the context events
  (with their ids and times) and the practice log are restored from it.

What cannot come back: the sessions' ``created_at`` / ``updated_at`` live only in the catalog
(the rebuilt rows carry the rebuild's time), the catalog's ``instance_id`` is new, and events of
a catalog written before the backup existed (issue 18) come back only from the damaged file. The
damaged catalog is moved aside, never deleted, so it may still be read (e.g. ``sqlite3 <file>
.recover``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError, NeurofeedbackError, StoreError
from ..home import catalog_url, data_home
from ._engine import forget_engine, sqlite_file, stored_summaries

logger = logging.getLogger("neurofeedback")

__all__ = ["RebuildResult", "rebuild_catalog"]


@dataclass(frozen=True)
class RebuildResult:
    """What :func:`rebuild_catalog` did.

    Attributes
    ----------
    catalog : Path
        The rebuilt catalog file.
    sessions : list of str
        The session IDs restored.
    skipped : list of tuple (Path, str)
        Summaries that could not be used, with the reason.
    moved_aside : list of Path
        Where the old catalog (and its ``-wal``/``-shm`` files) went (empty when there was none).
    lost : str
        What the rebuild could not restore.
    """

    catalog: Path
    sessions: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    moved_aside: list = field(default_factory=list)
    lost: str = ("the sessions' created_at/updated_at and the catalog's instance_id live only in "
                 "the catalog; context events and the practice log come back only from "
                 "events-backup.json")
    events: int = 0
    practice_days: int = 0


def rebuild_catalog(home=None, *, force: bool = False) -> RebuildResult:
    """Rebuild the data home's SQLite catalog from its BIDS copies and derivatives.

    The new catalog is written beside the old one under another name, then the old one (if
    any) is renamed to ``catalog.sqlite.damaged-<UTC stamp>`` and the new one takes its place,
    all under the store's write lock. Nothing is deleted.

    Parameters
    ----------
    home : str | Path | None
        Data home.
    force : bool
        Rebuild even when the current catalog opens fine and holds sessions (it is kept aside;
        its events are not carried over).

    Returns
    -------
    result : RebuildResult

    Raises
    ------
    ConfigError
        The catalog is not an SQLite file of the data home (``NEUROFEEDBACK_DB_URL``).
    StoreError
        The current catalog is healthy and holds sessions, and ``force`` is false.
    """
    from .bids import bids_lock
    from .catalog import Catalog

    home_dir = data_home(home)
    url = catalog_url(home)
    db = sqlite_file(url)
    if db is None:
        raise ConfigError(f"store rebuild works on an SQLite catalog file, but the catalog is "
                          f"{url.split('@')[-1]!r} (NEUROFEEDBACK_DB_URL); restore that database "
                          "from its own backups")
    if not force:
        _refuse_healthy(db, home_dir)
    tmp = db.with_name(db.name + ".rebuild-tmp")
    for p in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
        p.unlink(missing_ok=True)  # our own leftover from an interrupted rebuild
    tmp_url = f"sqlite:///{tmp}"
    new = Catalog(tmp_url, _fresh=True)
    restored, skipped = [], []
    for summary in stored_summaries(home_dir):
        try:
            restored.append(_restore(new, summary, home_dir))
        except (NeurofeedbackError, OSError, ValueError, KeyError, TypeError) as exc:
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            logger.warning("%s: not restored (%s)", summary, reason)
            skipped.append((summary, reason))
    n_events, n_days = _restore_events(new, db)
    forget_engine(tmp_url)  # closes it: SQLite checkpoints its write-ahead log into the file
    moved = []
    with bids_lock(home_dir):
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        for suffix in ("", "-wal", "-shm"):
            old = db.with_name(db.name + suffix)
            if old.exists():
                aside = db.with_name(f"{db.name}.damaged-{stamp}{suffix}")
                old.rename(aside)
                moved.append(aside)
        forget_engine(url)
        tmp.replace(db)
    logger.info("catalog %s rebuilt: %d session(s), %d skipped", db, len(restored), len(skipped))
    return RebuildResult(catalog=db, sessions=restored, skipped=skipped, moved_aside=moved,
                         events=n_events, practice_days=n_days)


def _restore_events(catalog, db: Path) -> tuple[int, int]:
    """Events and practice days from the backup beside ``db`` (none when it is missing or
    unreadable: said in the log, the sessions are restored anyway)."""
    from ._queries import restore_events_backup
    from .catalog import EVENTS_BACKUP

    path = db.with_name(EVENTS_BACKUP)
    if not path.is_file():
        return 0, 0
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        with catalog._write() as conn:
            return restore_events_backup(conn, doc)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("%s: events not restored (%s)", path, " ".join(str(exc).split()))
        return 0, 0


def _refuse_healthy(db: Path, home_dir: Path) -> None:
    from .catalog import Catalog

    try:
        cat = Catalog(f"sqlite:///{db}", _fresh=True) if db.is_file() and db.stat().st_size else None
        n = 0 if cat is None else len(cat.sessions())
        n_events = 0 if cat is None else len(cat.events())
    except StoreError:
        return  # damaged (or unreadable): that is what a rebuild is for
    if n:
        raise StoreError(
            f"{db}: the catalog opens fine and holds {n} session(s) and {n_events} event(s); a "
            "rebuild would lose the rows' created/updated times. Pass --force to rebuild it anyway (the current file "
            "is kept aside)")


def _restore(catalog, summary_path: Path, home_dir: Path) -> str:
    from ..metrics import block_table, session_metrics
    from .bids import bids_path_for

    doc = json.loads(summary_path.read_text(encoding="utf-8"))
    store = doc.get("store")
    if not isinstance(store, dict):
        raise StoreError(f"{summary_path}: no 'store' block: not written by the session store")
    subject, session, task = store["subject"], store["session"], store.get("task") or "rest"
    bids = bids_path_for(subject, session, task, home=home_dir).fpath
    if not Path(bids).is_file():
        raise StoreError(f"{summary_path}: its BIDS copy {bids} is missing")
    features = summary_path.with_name(summary_path.name.replace("_summary.json", "_features.parquet"))
    prov = doc.get("provenance") or {}
    fields = {
        "start_time": datetime.fromisoformat(store["start_time"]),
        "device": store["device"] if "device" in store else _device(summary_path),
        "format": doc.get("format"),
        "protocol": store.get("protocol") or None,
        "blocks": store.get("blocks") or None,
        "notes": store.get("notes") or None,
        "duration_s": float(doc["duration_s"]),
        "sfreq": float(doc["sfreq"]),
        "n_channels": len(doc["channels"]),
        "clean_fraction": float(doc["clean_fraction"]),
        "input_sha256": store["input_sha256"],
        "source_path": store.get("source_path", doc.get("path")),
        "bids_path": str(bids),
        "features_path": str(features),
        "summary_path": str(summary_path),
        "pipeline_version": store.get("pipeline_version")
        or (prov.get("software") or {}).get("neurofeedback", "unknown"),
        "config_hash": store["config_hash"],
    }
    status, sid = catalog.record_session(subject, session, fields, session_metrics(doc),
                                         block_table(doc))
    if status != "imported":
        raise StoreError(f"{summary_path}: session {sid} is already restored from another "
                         "summary (the same recording twice)")
    return sid


def _device(summary_path: Path) -> str | None:
    rec = summary_path.with_name(summary_path.name.replace("_summary.json", "_recording.json"))
    try:
        sidecar = json.loads(rec.read_text(encoding="utf-8")) if rec.is_file() else {}
    except (OSError, ValueError):
        sidecar = {}
    return str(sidecar["board_name"]) if sidecar.get("board_name") else None
