"""The catalog: subjects, sessions, session-level features and context events in a database.

SQLAlchemy 2 Core on any URL: SQLite in the data home by default (no server), PostgreSQL (or any
SQLAlchemy URL) for teams through ``NEUROFEEDBACK_DB_URL`` or ``Catalog(url)``. Tables are
created on first use; the schema version is kept in ``meta``.

Schema (version 1)::

    meta              key (PK), value                       schema_version, instance_id
    subjects          id (PK), label (UNIQUE), created_at
    sessions          id (PK, "sub-<subject>_ses-<session>"), subject_id → subjects,
                      session_label, start_time (UTC), device, format, protocol, blocks (JSON),
                      notes, duration_s, sfreq, n_channels, clean_fraction,
                      input_sha256 (UNIQUE), source_path, bids_path, features_path,
                      summary_path, pipeline_version, config_hash, created_at, updated_at;
                      UNIQUE (subject_id, session_label)
    session_features  session_id → sessions, metric, channel (PK together), value, unit
    events            id (PK), subject_id → subjects, time (UTC), kind, text, created_at

One session per input file: ``input_sha256`` is unique. ``config_hash`` records the processing
settings the session's features were computed with; processing the same file with other
settings replaces the session's features and keeps its row (and its ID). The session ID is
derived from the labels, so two catalogs built from the same files in any order agree.

Concurrency: every write is one transaction; unique constraints (not Python checks) decide who
inserts a subject or a session, and a loser re-reads the winner's row. SQLite runs in WAL mode
with a busy timeout and takes its write lock at ``BEGIN IMMEDIATE``, so concurrent writers wait
instead of failing; a write that still finds the database locked is retried with backoff.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from .._validate import check_option
from ..errors import ConfigError, StoreError
from ..home import catalog_url, validate_label

logger = logging.getLogger("neurofeedback")

__all__ = ["EVENT_KINDS", "METRICS_COLUMNS", "SCHEMA_VERSION", "Catalog", "session_id_for"]

#: Version of the tables below; a catalog written by a newer version is refused.
SCHEMA_VERSION = 1
#: Kinds of context events on a subject's timeline.
EVENT_KINDS = ("note", "practice", "therapy", "ketamine", "medication", "other")
#: Columns of :meth:`Catalog.metrics_frame` (the input of :func:`neurofeedback.trends.compute_trends`).
METRICS_COLUMNS = ("subject", "session_id", "start_time", "clean_fraction", "metric", "channel",
                   "value")

_BUSY_TIMEOUT_S = 60.0
_RETRIES = 12


class _UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored as UTC and returned tz-aware (UTC) on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = _utc(value)
        if dialect.name == "sqlite":  # SQLite keeps no offset: store the UTC wall clock
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return _utc(value)


def _utc(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _utc_column(values) -> pd.Series:
    """Timestamps as ``datetime64[ns, UTC]`` (the same dtype on every pandas and backend)."""
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")


def _now() -> datetime:
    return datetime.now(timezone.utc)


metadata = sa.MetaData()

meta_t = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

subjects_t = sa.Table(
    "subjects", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("label", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", _UTCDateTime, nullable=False),
)

sessions_t = sa.Table(
    "sessions", metadata,
    sa.Column("id", sa.String(160), primary_key=True),
    sa.Column("subject_id", sa.Integer, sa.ForeignKey("subjects.id"), nullable=False),
    sa.Column("session_label", sa.String(64), nullable=False),
    sa.Column("start_time", _UTCDateTime, nullable=False),
    sa.Column("device", sa.String(128)),
    sa.Column("format", sa.String(32)),
    sa.Column("protocol", sa.String(128)),
    sa.Column("blocks", sa.JSON),
    sa.Column("notes", sa.Text),
    sa.Column("duration_s", sa.Float),
    sa.Column("sfreq", sa.Float),
    sa.Column("n_channels", sa.Integer),
    sa.Column("clean_fraction", sa.Float),
    sa.Column("input_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("source_path", sa.Text),
    sa.Column("bids_path", sa.Text),
    sa.Column("features_path", sa.Text),
    sa.Column("summary_path", sa.Text),
    sa.Column("pipeline_version", sa.String(64)),
    sa.Column("config_hash", sa.String(64), nullable=False),
    sa.Column("created_at", _UTCDateTime, nullable=False),
    sa.Column("updated_at", _UTCDateTime, nullable=False),
    sa.UniqueConstraint("subject_id", "session_label", name="uq_sessions_subject_label"),
)

features_t = sa.Table(
    "session_features", metadata,
    sa.Column("session_id", sa.String(160), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("metric", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("unit", sa.String(32)),
)

events_t = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_id", sa.Integer, sa.ForeignKey("subjects.id"), nullable=False),
    sa.Column("time", _UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False, default=""),
    sa.Column("created_at", _UTCDateTime, nullable=False),
    sa.Index("ix_events_subject_time", "subject_id", "time"),
)

#: The session columns a caller of :meth:`Catalog.record_session` provides.
SESSION_FIELDS = (
    "start_time", "device", "format", "protocol", "blocks", "notes", "duration_s", "sfreq",
    "n_channels", "clean_fraction", "input_sha256", "source_path", "bids_path", "features_path",
    "summary_path", "pipeline_version", "config_hash",
)


def session_id_for(subject: str, session: str) -> str:
    """Return the ID of a session: ``sub-<subject>_ses-<session>`` (labels validated)."""
    return f"sub-{validate_label(subject)}_ses-{validate_label(session, kind='session')}"


# ------------------------------------------------------------------------------------------
# engines: one per URL and process, configured once


_ENGINES: dict[tuple[str, int], sa.Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(url: str) -> sa.Engine:
    key = (url, os.getpid())
    with _ENGINES_LOCK:
        eng = _ENGINES.get(key)
        if eng is None:
            eng = _make_engine(url)
            _ENGINES[key] = eng
        return eng


def _make_engine(url: str) -> sa.Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"Invalid catalog URL {url!r} (expected an SQLAlchemy URL such as "
                          "'sqlite:///path' or 'postgresql://host/db')") from None
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
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
                except Exception as err:  # noqa: BLE001  (sqlite3.OperationalError: locked)
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


def _retrying(fn: Callable, what: str):
    """Run ``fn()``, retrying while SQLite reports the database locked."""
    for attempt in range(_RETRIES):
        try:
            return fn()
        except OperationalError as err:
            if not _is_locked(err):
                raise StoreError(f"catalog: cannot {what} ({_one_line(err)})") from None
            if attempt == _RETRIES - 1:
                raise StoreError(f"catalog: cannot {what}: the database stayed locked") from None
            logger.debug("catalog locked while trying to %s; retry %d", what, attempt + 1)
            time.sleep(_backoff(attempt))


def _one_line(err) -> str:
    return " ".join(str(getattr(err, "orig", err)).split())[:300]


# ------------------------------------------------------------------------------------------


class Catalog:
    """The session catalog.

    Parameters
    ----------
    url : str | None
        SQLAlchemy URL; default :func:`neurofeedback.home.catalog_url` (``$NEUROFEEDBACK_DB_URL``
        or ``<home>/catalog.sqlite``).
    home : str | Path | None
        Data home used for the default URL.

    Notes
    -----
    Tables are created on first use. Instances are cheap: the engine (connection pool) is
    shared per URL within a process.
    """

    def __init__(self, url: str | None = None, *, home=None):
        self.url = str(url) if url else catalog_url(home)
        self._engine = _engine(self.url)
        self._instance_id: str | None = None
        _retrying(self._ensure_schema, "create the catalog tables")

    def __repr__(self) -> str:
        return f"Catalog({self.display_url!r})"

    @property
    def display_url(self) -> str:
        """The database URL without its password (safe for messages)."""
        return self._engine.url.render_as_string(hide_password=True)

    # -- connections ---------------------------------------------------------------------

    @contextmanager
    def _write(self):
        """A write transaction (SQLite: ``BEGIN IMMEDIATE``, so writers queue up front)."""
        with self._engine.connect().execution_options(nf_write=True) as conn:
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self):
        with self._engine.connect() as conn:
            with conn.begin():
                yield conn

    def _ensure_schema(self) -> None:
        insp_tables = set(sa.inspect(self._engine).get_table_names())
        if not set(metadata.tables) <= insp_tables or "meta" not in insp_tables:
            try:
                with self._write() as conn:
                    metadata.create_all(conn, checkfirst=True)
            except (IntegrityError, sa.exc.ProgrammingError) as err:
                # another process created them at the same moment (PostgreSQL); check again
                logger.debug("concurrent table creation: %s", _one_line(err))
        with self._read() as conn:
            rows = dict(conn.execute(sa.select(meta_t.c.key, meta_t.c.value)).all())
        if "schema_version" not in rows or "instance_id" not in rows:
            for key, value in (("schema_version", str(SCHEMA_VERSION)),
                               ("instance_id", uuid.uuid4().hex)):
                if key not in rows:
                    self._insert_ignore_conflict(meta_t, {"key": key, "value": value})
            with self._read() as conn:
                rows = dict(conn.execute(sa.select(meta_t.c.key, meta_t.c.value)).all())
        version = int(rows["schema_version"])
        if version > SCHEMA_VERSION:
            raise StoreError(f"catalog {self!r} has schema version {version}, newer than this "
                             f"neurofeedback ({SCHEMA_VERSION}); upgrade neurofeedback")
        self._instance_id = rows["instance_id"]

    def _insert_ignore_conflict(self, table, values) -> None:
        try:
            with self._write() as conn:
                conn.execute(table.insert().values(**values))
        except IntegrityError:
            pass  # someone else inserted it first

    # -- public API -------------------------------------------------------------------------

    @property
    def instance_id(self) -> str:
        """A random ID stored in the catalog when it was created (identifies this catalog)."""
        return self._instance_id

    @property
    def schema_version(self) -> int:
        """The schema version of the tables."""
        return SCHEMA_VERSION

    def subjects(self) -> list[str]:
        """Return the subject labels, sorted."""
        q = sa.select(subjects_t.c.label).order_by(subjects_t.c.label)
        return [r[0] for r in self._all(q, "list subjects")]

    def add_subject(self, subject: str) -> int:
        """Add a subject if it is not there yet; return its row id.

        Raises
        ------
        ConfigError
            For an invalid label (see :func:`neurofeedback.home.validate_label`).
        """
        label = validate_label(subject)

        def run():
            with self._write() as conn:
                return _ensure_subject(conn, label)
        return _retrying(run, "add a subject")

    def sessions(self, subject: str | None = None) -> pd.DataFrame:
        """Return the sessions (one row each, by start time).

        Parameters
        ----------
        subject : str | None
            Only this subject.

        Returns
        -------
        sessions : pandas.DataFrame
            Columns ``session_id, subject, session, start_time`` (tz-aware UTC) and then
            ``device, format, protocol, blocks, notes, duration_s, sfreq, n_channels,
            clean_fraction, input_sha256, source_path, bids_path, features_path, summary_path,
            pipeline_version, config_hash, created_at, updated_at``.
        """
        q = _sessions_select()
        if subject is not None:
            q = q.where(subjects_t.c.label == validate_label(subject))
        q = q.order_by(sessions_t.c.start_time, sessions_t.c.id)

        rows = self._all(q, "list sessions", mappings=True)
        cols = ["session_id", "subject", "session", *SESSION_FIELDS, "created_at", "updated_at"]
        df = pd.DataFrame([dict(r) for r in rows], columns=cols)
        for c in ("start_time", "created_at", "updated_at"):
            df[c] = _utc_column(df[c])
        for c in ("duration_s", "sfreq", "clean_fraction"):
            df[c] = df[c].astype(float)
        for c in ("device", "format", "protocol", "notes", "source_path", "bids_path",
                  "features_path", "summary_path", "pipeline_version"):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
        return df

    def session(self, session_id: str) -> dict:
        """Return one session as a dict (the columns of :meth:`sessions`).

        Raises
        ------
        StoreError
            When there is no such session.
        """
        row = self._one(_sessions_select().where(sessions_t.c.id == str(session_id)), "read a session")
        if row is None:
            raise StoreError(f"no session {session_id!r} in the catalog; list them with "
                             "'neurofeedback sessions'")
        return row

    def find_by_sha(self, sha256: str) -> dict | None:
        """Return the session imported from a file with this SHA-256, or ``None``."""
        return self._one(_sessions_select().where(sessions_t.c.input_sha256 == str(sha256)),
                         "look up a file")

    def find_session(self, subject: str, session: str) -> dict | None:
        """Return the session with these labels, or ``None``."""
        q = _sessions_select().where(subjects_t.c.label == str(subject),
                                     sessions_t.c.session_label == str(session))
        return self._one(q, "look up a session")

    def _all(self, q, what, *, mappings=False) -> list:
        def run():
            with self._read() as conn:
                res = conn.execute(q)
                return (res.mappings() if mappings else res).all()
        return _retrying(run, what)

    def _one(self, q, what) -> dict | None:
        def run():
            with self._read() as conn:
                r = conn.execute(q).mappings().first()
                return None if r is None else dict(r)
        return _retrying(run, what)

    def session_features(self, session_id: str) -> pd.DataFrame:
        """Return one session's feature rows: ``metric, channel, value, unit``."""
        q = (sa.select(features_t.c.metric, features_t.c.channel, features_t.c.value, features_t.c.unit)
             .where(features_t.c.session_id == str(session_id))
             .order_by(features_t.c.metric, features_t.c.channel))

        rows = self._all(q, "read session features")
        df = pd.DataFrame(rows, columns=["metric", "channel", "value", "unit"])
        df["value"] = df["value"].astype(float)
        return df

    def metrics_frame(self, subject: str | None = None) -> pd.DataFrame:
        """Return the session metrics in long form (the input of the trends).

        Parameters
        ----------
        subject : str | None
            Only this subject.

        Returns
        -------
        frame : pandas.DataFrame
            Exactly the columns ``subject, session_id, start_time, clean_fraction, metric,
            channel, value``: ``start_time`` is ``datetime64[ns, UTC]``, ``clean_fraction`` and
            ``value`` float64, the others strings. One row per (session, metric, channel),
            sorted by start time, session, metric and channel.
        """
        q = (sa.select(subjects_t.c.label.label("subject"), sessions_t.c.id.label("session_id"),
                       sessions_t.c.start_time, sessions_t.c.clean_fraction, features_t.c.metric,
                       features_t.c.channel, features_t.c.value)
             .select_from(features_t.join(sessions_t, features_t.c.session_id == sessions_t.c.id)
                          .join(subjects_t, sessions_t.c.subject_id == subjects_t.c.id)))
        if subject is not None:
            q = q.where(subjects_t.c.label == validate_label(subject))
        q = q.order_by(sessions_t.c.start_time, sessions_t.c.id, features_t.c.metric,
                       features_t.c.channel)

        rows = self._all(q, "read session metrics")
        df = pd.DataFrame(rows, columns=list(METRICS_COLUMNS))
        df["start_time"] = _utc_column(df["start_time"])
        for c in ("clean_fraction", "value"):
            df[c] = df[c].astype("float64")
        for c in ("subject", "session_id", "metric", "channel"):
            df[c] = df[c].astype(object)
        return df

    def add_event(self, subject: str, when, kind: str, text: str = "") -> int:
        """Add a context event (a note, a practice, a therapy session) to a subject's timeline.

        Parameters
        ----------
        subject : str
            Subject label (added to the catalog when new).
        when : datetime | date | str
            When it happened; naive times and dates are taken as UTC; ISO strings accepted.
        kind : str
            One of :data:`EVENT_KINDS`.
        text : str
            Free text (e.g. "ketamine infusion 0.5 mg/kg").

        Returns
        -------
        event_id : int
        """
        label = validate_label(subject)
        check_option("kind", kind, EVENT_KINDS, exc=ConfigError)
        try:
            when = _utc(when)
        except (TypeError, ValueError, AttributeError):
            raise ConfigError(f"Invalid value for the 'when' parameter. It must be a date, a "
                              f"datetime or an ISO 8601 string, but got {when!r} instead.") from None

        def run():
            with self._write() as conn:
                sid = _ensure_subject(conn, label)
                res = conn.execute(events_t.insert().values(
                    subject_id=sid, time=when, kind=kind, text=str(text or ""), created_at=_now()))
                return int(res.inserted_primary_key[0])
        return _retrying(run, "add an event")

    def events(self, subject: str | None = None) -> pd.DataFrame:
        """Return the context events, by time.

        Returns
        -------
        events : pandas.DataFrame
            Columns ``event_id, subject, time`` (tz-aware UTC), ``kind, text``.
        """
        q = (sa.select(events_t.c.id.label("event_id"), subjects_t.c.label.label("subject"),
                       events_t.c.time, events_t.c.kind, events_t.c.text)
             .select_from(events_t.join(subjects_t, events_t.c.subject_id == subjects_t.c.id)))
        if subject is not None:
            q = q.where(subjects_t.c.label == validate_label(subject))
        q = q.order_by(events_t.c.time, events_t.c.id)

        df = pd.DataFrame(self._all(q, "list events"),
                          columns=["event_id", "subject", "time", "kind", "text"])
        df["time"] = _utc_column(df["time"])
        return df

    def record_session(self, subject: str, session: str, fields: dict,
                       metrics: pd.DataFrame) -> tuple[str, str]:
        """Insert or update one session and replace its features, in one transaction.

        Parameters
        ----------
        subject, session : str
            Labels (validated).
        fields : dict
            Values of :data:`SESSION_FIELDS` (``input_sha256`` and ``config_hash`` required).
        metrics : pandas.DataFrame
            ``metric, channel, value, unit`` rows (:func:`neurofeedback.metrics.session_metrics`).

        Returns
        -------
        status : str
            ``"imported"`` (new row), ``"reprocessed"`` (row kept, data and features replaced:
            other settings, or the same source file rewritten) or ``"unchanged"`` (the file is
            already there with these settings, or the same recording from another file of the
            same folder, e.g. the recorder's CSV and its FIF).
        session_id : str

        Raises
        ------
        StoreError
            When another recording already holds these labels.
        """
        subject = validate_label(subject)
        session = validate_label(session, kind="session")
        unknown = set(fields) - set(SESSION_FIELDS)
        if unknown:
            raise ValueError(f"Invalid session field(s) {sorted(unknown)}. Allowed fields are "
                             f"{list(SESSION_FIELDS)}.")
        for key in ("input_sha256", "config_hash", "start_time"):
            if not fields.get(key):
                raise ValueError(f"The {key!r} field is required.")
        rows = [{"metric": str(r.metric), "channel": str(r.channel), "value": float(r.value),
                 "unit": None if r.unit is None else str(r.unit)}
                for r in metrics.itertuples(index=False)]
        dup = pd.DataFrame(rows, columns=["metric", "channel", "value", "unit"]).duplicated(["metric", "channel"])
        if dup.any():
            raise ValueError("The 'metrics' rows must be unique per (metric, channel).")

        def run():
            for _ in range(3):
                try:
                    with self._write() as conn:
                        return _record(conn, subject, session, dict(fields), rows)
                except IntegrityError as err:
                    # lost a race for a unique key (another writer committed first): read again
                    logger.debug("session insert conflict, re-reading: %s", _one_line(err))
            raise StoreError(f"catalog: cannot record session {session_id_for(subject, session)} "
                             "(repeated conflicts)")
        return _retrying(run, "record a session")

    def delete_session(self, session_id: str) -> bool:
        """Delete a session and its features (not its files); return whether it existed."""
        def run():
            with self._write() as conn:
                conn.execute(features_t.delete().where(features_t.c.session_id == str(session_id)))
                res = conn.execute(sessions_t.delete().where(sessions_t.c.id == str(session_id)))
                return res.rowcount > 0
        return _retrying(run, "delete a session")


def _sessions_select():
    s = sessions_t.c
    return (sa.select(s.id.label("session_id"), subjects_t.c.label.label("subject"),
                      s.session_label.label("session"), *[s[f] for f in SESSION_FIELDS],
                      s.created_at, s.updated_at)
            .select_from(sessions_t.join(subjects_t, s.subject_id == subjects_t.c.id)))


def _ensure_subject(conn, label: str) -> int:
    q = sa.select(subjects_t.c.id).where(subjects_t.c.label == label)
    sid = conn.execute(q).scalar()
    if sid is not None:
        return int(sid)
    try:
        with conn.begin_nested():
            conn.execute(subjects_t.insert().values(label=label, created_at=_now()))
    except IntegrityError:
        pass  # inserted by a concurrent writer (PostgreSQL, READ COMMITTED): read it below
    return int(conn.execute(q).scalar_one())


def _record(conn, subject: str, session: str, fields: dict, rows: list[dict]) -> tuple[str, str]:
    s = sessions_t.c
    now = _now()
    same_file = conn.execute(
        sa.select(s.id, s.config_hash).where(s.input_sha256 == fields["input_sha256"])).first()
    if same_file is not None:
        sid = same_file.id
        if same_file.config_hash == fields["config_hash"]:
            return "unchanged", sid
        _update(conn, sid, fields, now)
        _replace_features(conn, sid, rows)
        return "reprocessed", sid
    subject_id = _ensure_subject(conn, subject)
    sid = session_id_for(subject, session)
    held = conn.execute(
        sa.select(s.id, s.source_path).where(s.subject_id == subject_id, s.session_label == session)
    ).first()
    if held is not None:
        src_new, src_old = fields.get("source_path"), held.source_path
        if src_new and src_old and src_new == src_old:  # the same file rewritten
            _update(conn, held.id, fields, now)
            _replace_features(conn, held.id, rows)
            return "reprocessed", held.id
        if src_new and src_old and Path(src_new).parent == Path(src_old).parent:
            return "unchanged", held.id  # the same recording in another format of its folder
        raise StoreError(
            f"{src_new}: subject {subject!r} already has session {session!r} (from {src_old}); "
            "pass another session label to import it as a separate session")
    conn.execute(sessions_t.insert().values(
        id=sid, subject_id=subject_id, session_label=session, created_at=now, updated_at=now,
        **fields))
    _replace_features(conn, sid, rows)
    return "imported", sid


def _update(conn, sid: str, fields: dict, now: datetime) -> None:
    conn.execute(sessions_t.update().where(sessions_t.c.id == sid).values(updated_at=now, **fields))


def _replace_features(conn, sid: str, rows: list[dict]) -> None:
    conn.execute(features_t.delete().where(features_t.c.session_id == sid))
    if rows:
        conn.execute(features_t.insert(), [{**r, "session_id": sid} for r in rows])
