"""The catalog's database engines (one per URL and process) and its retry on a locked SQLite.

SQLite runs in WAL mode with a busy timeout and takes its write lock at ``BEGIN IMMEDIATE``
(:func:`engine` marks write connections with the ``nf_write`` execution option), so concurrent
writers wait instead of failing; a call that still finds the database locked is retried with
backoff (:func:`retrying`). Other URLs (PostgreSQL) get SQLAlchemy's defaults and
``pool_pre_ping``.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.exc import OperationalError

from ..errors import CatalogDamagedError, ConfigError, StoreError

logger = logging.getLogger("neurofeedback")

_BUSY_TIMEOUT_S = 60.0
_RETRIES = 12

_ENGINES: dict[tuple[str, int], sa.Engine] = {}
_ENGINES_LOCK = threading.Lock()
#: (resolved SQLite file, pid) that this process has opened through SQLite (an engine made):
#: such a file must never be opened and closed by plain Python in this process, see
#: :func:`check_sqlite_file`.
_SQLITE_OPENED: set[tuple[Path, int]] = set()


def _opened_key(db: Path) -> tuple[Path, int]:
    try:
        return Path(db).resolve(), os.getpid()
    except OSError:
        return Path(db).absolute(), os.getpid()


def engine(url: str) -> sa.Engine:
    """The engine of ``url`` in this process (created and configured on first use)."""
    key = (url, os.getpid())
    with _ENGINES_LOCK:
        eng = _ENGINES.get(key)
        if eng is None:
            eng = _make_engine(url)
            _ENGINES[key] = eng
            db = sqlite_file(url)
            if db is not None:
                _SQLITE_OPENED.add(_opened_key(db))
        return eng


#: Python module of a database driver -> what to ``pip install`` for it.
_DRIVER_PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg[binary]",
                    "asyncpg": "asyncpg", "pg8000": "pg8000", "pymysql": "pymysql",
                    "MySQLdb": "mysqlclient"}


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # e.g. a module set to None in sys.modules
        return False


def _with_driver(parsed, url: str):
    """A plain ``postgresql://`` URL uses psycopg 3 when psycopg2 (SQLAlchemy's default for it)
    is absent, so the URL of the docs works with ``pip install 'neurofeedback[postgres]'``."""
    if parsed.drivername != "postgresql":
        return parsed
    if _importable("psycopg2"):
        return parsed
    if _importable("psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    raise ConfigError(
        f"Invalid catalog URL {parsed.render_as_string(hide_password=True)!r} "
        "(NEUROFEEDBACK_DB_URL): PostgreSQL needs a driver and none is installed; install one "
        "with: pip install 'psycopg[binary]' (or pip install 'neurofeedback[postgres]')")


def _make_engine(url: str) -> sa.Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"Invalid catalog URL {url!r} (expected an SQLAlchemy URL such as "
                          "'sqlite:///path' or 'postgresql://host/db')") from None
    if parsed.get_backend_name() != "sqlite":
        parsed = _with_driver(parsed, url)
        try:
            return sa.create_engine(parsed, pool_pre_ping=True)
        except ImportError as exc:  # the URL's driver is not installed
            module = (getattr(exc, "name", None) or str(exc)).split(".")[0]
            package = _DRIVER_PACKAGES.get(module, module)
            raise ConfigError(
                f"Invalid catalog URL {parsed.render_as_string(hide_password=True)!r} "
                f"(NEUROFEEDBACK_DB_URL): its database driver {module!r} is not installed; "
                f"install it with: pip install '{package}'") from None
    db = parsed.database
    if db and db != ":memory:" and not db.startswith("file:"):
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    eng = sa.create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_S})

    @sa_event.listens_for(eng, "connect")
    def _on_connect(dbapi_conn, _record):
        # let SQLAlchemy (not the driver) emit BEGIN, so writes can BEGIN IMMEDIATE
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA foreign_keys = ON")
        if db and db != ":memory:":
            for attempt in range(_RETRIES):
                try:
                    cur.execute("PRAGMA journal_mode = WAL")
                    break
                except Exception as err:
                    if not _is_locked(err) or attempt == _RETRIES - 1:
                        raise
                    time.sleep(_backoff(attempt))
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @sa_event.listens_for(eng, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get("nf_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return eng


def _is_locked(err) -> bool:
    text = str(getattr(err, "orig", err)).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def _backoff(attempt: int) -> float:
    return min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.Random().random())


def retrying(fn: Callable, what: str, *, db: Path | None = None, home=None):
    """Run ``fn()``, retrying while SQLite reports the database locked.

    Every database error becomes one line: :class:`~neurofeedback.errors.CatalogDamagedError`
    for a damaged SQLite file (naming it and what to do), :class:`CatalogReadOnlyError` for a
    catalog that cannot be written, :class:`~neurofeedback.errors.StoreError` otherwise.
    ``db`` (the SQLite file) and ``home`` (the data home) make the messages name them.
    """
    where = str(db) if db is not None else "catalog"
    for attempt in range(_RETRIES):
        try:
            return fn()
        except sa.exc.DatabaseError as err:
            if _is_damaged(err):
                raise CatalogDamagedError(damage_message(db, one_line(err), home)) from None
            if _is_read_only(err):
                raise CatalogReadOnlyError(
                    f"{where}: the catalog is read-only ({one_line(err)}), so it cannot {what}; "
                    "it can still be listed and reported. Make the file and its folder writable, "
                    "or work on a copy") from None
            if not isinstance(err, OperationalError) or not _is_locked(err):
                raise StoreError(f"{where}: cannot {what} ({one_line(err)})") from None
            if attempt == _RETRIES - 1:
                locked = StoreError(f"{where}: cannot {what}: the database stayed locked")
                locked.transient = True  # a batch may retry the whole file later (store/faults.py)
                raise locked from None
            logger.debug("catalog locked while trying to %s; retry %d", what, attempt + 1)
            time.sleep(_backoff(attempt))


# --- damage and read-only catalogs (issue 16) ------------------------------------------------

#: The first 16 bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"


class CatalogReadOnlyError(StoreError):
    """The catalog cannot be written (file or folder not writable, read-only mount)."""


def sqlite_file(url: str) -> Path | None:
    """The database file of a file-based SQLite URL (``None`` for other URLs and ``:memory:``)."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None
    db = parsed.database
    if parsed.get_backend_name() != "sqlite" or not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db).expanduser().absolute()


def _is_damaged(err) -> bool:
    text = str(getattr(err, "orig", err)).lower()
    return ("malformed" in text or "not a database" in text or "file is encrypted" in text
            or "database corrupt" in text)


def _is_read_only(err) -> bool:
    text = str(getattr(err, "orig", err)).lower()
    return "readonly database" in text or "read-only" in text or "unable to open database" in text


def damage_message(db: Path | None, detail: str, home=None) -> str:
    """One line: which catalog file is damaged, how, and what to do about it."""
    where = str(db) if db is not None else "catalog"
    backups = sorted(str(p) for p in db.parent.glob(f"{db.name}*.bak")) if db is not None else []
    restore = (f"restore it from a backup ({', '.join(backups)})" if backups
               else "restore it from a backup")
    rebuild = "neurofeedback store rebuild" + (f" --home {home}" if home is not None else "")
    return (f"{where}: the catalog is damaged ({detail}); nothing was changed. To fix it, "
            f"{restore}, or rebuild it from the data home's BIDS copies and derivatives with "
            f"'{rebuild}' (the damaged file is kept aside)")


def check_sqlite_file(db: Path, home=None) -> None:
    """Refuse to open a damaged catalog file, or to create an empty one over stored sessions.

    A file that exists and is not empty must start with the SQLite header. A missing or empty
    file (without a write-ahead log holding its pages) is only created afresh when the data
    home (``db``'s folder) stores no session: otherwise the sessions' derivatives say a catalog
    was there, and ``store rebuild`` is what brings it back. A file this process has already
    opened through SQLite is not read again here (a plain ``open``/``close`` of it would cancel
    SQLite's POSIX locks and let another process delete the write-ahead log under it).

    Raises
    ------
    CatalogDamagedError
        One line naming the file and what to do.
    """
    try:
        size = db.stat().st_size
    except FileNotFoundError:
        size = None
    except OSError as err:
        raise StoreError(f"{db}: cannot read the catalog ({err.strerror or err})") from None
    if size and _opened_key(db) in _SQLITE_OPENED:
        # This process already has the file open through SQLite: reading its header with a
        # plain open()/close() here would cancel every POSIX lock the process holds on it
        # (fcntl locks belong to the process and any close() of the file drops them), among
        # them the SHARED lock each WAL connection keeps on the database file. Another process
        # closing its last connection then gets the EXCLUSIVE lock, believes it is the last
        # user, checkpoints and deletes the -wal file, and this process's next commits go to
        # the deleted file: lost (seen as a scheduled import whose session was missing). See
        # https://www.sqlite.org/howtocorrupt.html, section 2.2. The header was checked when
        # the file was first opened; SQLite itself reports a file damaged since then.
        return
    if size:
        try:
            with open(db, "rb") as fh:
                head = fh.read(len(SQLITE_HEADER))
        except OSError as err:
            raise StoreError(f"{db}: cannot read the catalog ({err.strerror or err})") from None
        if head != SQLITE_HEADER[:len(head)] or len(head) < len(SQLITE_HEADER):
            raise CatalogDamagedError(damage_message(
                db, "not an SQLite database: its header is "
                    + ("cut short" if len(head) < len(SQLITE_HEADER) else "wrong"), home))
        return
    wal = db.with_name(db.name + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        return  # a live catalog whose pages are still in its write-ahead log
    n = len(stored_summaries(db.parent))
    if n:
        state = "missing" if size is None else "empty (0 bytes)"
        rebuild = "neurofeedback store rebuild" + (f" --home {home}" if home is not None else "")
        raise CatalogDamagedError(
            f"{db}: the catalog is {state} but the data home holds {n} stored session(s) in "
            f"{db.parent / 'bids'}; it was not re-created empty. Restore it from a backup, or "
            f"rebuild it from them with '{rebuild}'")


def stored_summaries(home_dir: Path) -> list[Path]:
    """The session summaries the store wrote under ``<home_dir>/bids/derivatives`` (sorted)."""
    root = Path(home_dir) / "bids" / "derivatives" / "neurofeedback"
    if not root.is_dir():
        return []
    return sorted(root.glob("sub-*/ses-*/eeg/*_summary.json"))


def read_only_engine(db: Path) -> sa.Engine:
    """An engine that only reads ``db`` (a catalog whose file or folder cannot be written).

    SQLite's ``mode=ro``; when even that cannot open it (a write-ahead-log database in a folder
    where SQLite cannot create its ``-shm`` file), ``immutable=1``, which is safe because no
    write-ahead log with pages is there and nobody can write the file.
    """
    import sqlite3
    from urllib.parse import quote

    uri = f"file:{quote(str(db))}?mode=ro"
    try:
        probe = sqlite3.connect(uri, uri=True)
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchall()
        finally:
            probe.close()
    except sqlite3.DatabaseError:
        wal = db.with_name(db.name + "-wal")
        if wal.is_file() and wal.stat().st_size > 0:
            raise
        uri += "&immutable=1"

    _SQLITE_OPENED.add(_opened_key(db))
    eng = sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(
        uri, uri=True, timeout=_BUSY_TIMEOUT_S, check_same_thread=False))

    @sa_event.listens_for(eng, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA query_only = ON")

    @sa_event.listens_for(eng, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN")

    return eng


def forget_engine(url: str) -> None:
    """Close and drop this process's engine of ``url`` (its file was replaced, e.g. rebuilt)."""
    with _ENGINES_LOCK:
        eng = _ENGINES.pop((url, os.getpid()), None)
        db = sqlite_file(url)
        if db is not None:
            _SQLITE_OPENED.discard(_opened_key(db))
    if eng is not None:
        eng.dispose()


def one_line(err) -> str:
    """A database error as one line of at most 300 characters."""
    return " ".join(str(getattr(err, "orig", err)).split())[:300]
