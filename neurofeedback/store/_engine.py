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

from ..errors import ConfigError, StoreError

logger = logging.getLogger("neurofeedback")

_BUSY_TIMEOUT_S = 60.0
_RETRIES = 12

_ENGINES: dict[tuple[str, int], sa.Engine] = {}
_ENGINES_LOCK = threading.Lock()


def engine(url: str) -> sa.Engine:
    """The engine of ``url`` in this process (created and configured on first use)."""
    key = (url, os.getpid())
    with _ENGINES_LOCK:
        eng = _ENGINES.get(key)
        if eng is None:
            eng = _make_engine(url)
            _ENGINES[key] = eng
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


def retrying(fn: Callable, what: str):
    """Run ``fn()``, retrying while SQLite reports the database locked."""
    for attempt in range(_RETRIES):
        try:
            return fn()
        except OperationalError as err:
            if not _is_locked(err):
                raise StoreError(f"catalog: cannot {what} ({one_line(err)})") from None
            if attempt == _RETRIES - 1:
                raise StoreError(f"catalog: cannot {what}: the database stayed locked") from None
            logger.debug("catalog locked while trying to %s; retry %d", what, attempt + 1)
            time.sleep(_backoff(attempt))


def one_line(err) -> str:
    """A database error as one line of at most 300 characters."""
    return " ".join(str(getattr(err, "orig", err)).split())[:300]
