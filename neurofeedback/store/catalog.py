"""The catalog: subjects, sessions, session-level features and context events in a database.

SQLAlchemy 2 Core on any URL: SQLite in the data home by default (no server), PostgreSQL (or any
SQLAlchemy URL) for teams through ``NEUROFEEDBACK_DB_URL`` or ``Catalog(url)``. Tables are
created on first use; the schema version is kept in ``meta``.

:class:`Catalog` is the entry point; behind it, one module per job:

- ``_schema.py``: the tables (schema version 2, described there), :data:`SCHEMA_VERSION`,
  :data:`EVENT_KINDS` and the session ID scheme (:func:`session_id_for`).
- ``_engine.py``: one engine per URL and process; SQLite in WAL mode with a busy timeout and
  ``BEGIN IMMEDIATE`` for writes, and a retry with backoff while the database is locked.
- ``_queries.py``: the selects and the bodies of the write transactions.
- ``_migrate.py``: an older catalog is migrated in place when it is opened (version 1, without
  blocks, to 2), after a backup copy of an SQLite file.

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
import uuid
from contextlib import contextmanager

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .._validate import check_option
from ..blocks import SESSION
from ..errors import ConfigError, StoreError
from ..home import catalog_url, data_home, validate_label
from ._engine import (
    CatalogReadOnlyError,
    check_sqlite_file,
    engine,
    one_line,
    read_only_engine,
    retrying,
    sqlite_file,
)
from ._migrate import backup_sqlite, migrate
from ._queries import (
    block_labels_select,
    blocks_select,
    delete_session_rows,
    ensure_subject,
    events_select,
    features_select,
    insert_event,
    metrics_select,
    session_by_id,
    session_by_labels,
    session_by_sha,
    sessions_list,
    subjects_select,
    write_session,
)
from ._schema import (
    BLOCK_FIELDS,
    BLOCK_LABEL_LENGTH,
    EVENT_KINDS,
    SCHEMA_VERSION,
    SESSION_FIELDS,
    blocks_t,
    check_lengths,
    features_t,
    meta_t,
    metadata,
    session_id_for,
    sessions_t,
    utc,
)

logger = logging.getLogger("neurofeedback")

__all__ = ["FEATURE_COLUMNS", "METRICS_COLUMNS", "Catalog"]

METRICS_COLUMNS = ("subject", "session_id", "start_time", "clean_fraction", "metric", "channel",
                   "value", "block")
#: The columns of :meth:`Catalog.session_features` (those of
#: :func:`neurofeedback.metrics.session_metrics`).
FEATURE_COLUMNS = ("metric", "channel", "value", "unit", "block")


def _block_row(rec: dict) -> dict:
    """A ``session_blocks`` row from a block record (NaN and missing values as NULL)."""
    def get(key, kind):
        v = rec.get(key)
        return None if v is None or pd.isna(v) else kind(v)
    return {"block": str(rec["block"]), "onset_s": get("onset_s", float),
            "duration_s": get("duration_s", float), "n_epochs": get("n_epochs", int),
            "n_clean_epochs": get("n_clean_epochs", int),
            "clean_fraction": get("clean_fraction", float), "reason": get("reason", str)}


def _frame(rows, columns) -> pd.DataFrame:
    """Result rows as a DataFrame, built column by column (5x faster than from the row objects
    for the ~50,000 rows of a 300-session subject, measured in bench/bench_scale.py)."""
    columns = list(columns)
    data = list(zip(*rows)) if rows else [()] * len(columns)
    return pd.DataFrame({c: list(v) for c, v in zip(columns, data)}, columns=columns)


def _utc_column(values) -> pd.Series:
    """Timestamps as ``datetime64[ns, UTC]`` (the same dtype on every pandas and backend)."""
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")


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

    def __init__(self, url: str | None = None, *, home=None, _fresh: bool = False):
        self.url = str(url) if url else catalog_url(home)
        self._db = sqlite_file(self.url)
        # the data home to name in messages (the default catalog lives in it)
        self._home = data_home(home, create=False) if url is None and self._db is not None \
            and self._db.parent == data_home(home, create=False) else None
        #: True when the catalog could only be opened for reading (file or folder read-only)
        self.read_only = False
        if self._db is not None and not _fresh:
            check_sqlite_file(self._db, self._home)
        self._engine = engine(self.url)
        self._instance_id: str | None = None
        try:
            self._retry(self._ensure_schema, "create the catalog tables")
        except CatalogReadOnlyError:
            if self._db is None or not self._db.is_file():
                raise
            self._engine = read_only_engine(self._db)
            self.read_only = True
            self._retry(self._check_schema, "read the catalog")
            logger.info("catalog %s is read-only: opened for reading only", self._db)

    def _retry(self, fn, what):
        return retrying(fn, what, db=self._db, home=self._home)

    def _check_schema(self) -> None:
        """What :meth:`_ensure_schema` checks, for a catalog that cannot be written."""
        with self._read() as conn:
            rows = dict(conn.execute(sa.select(meta_t.c.key, meta_t.c.value)).all())
        version = int(rows.get("schema_version", 0))
        if version != SCHEMA_VERSION:
            raise StoreError(f"{self._db}: the catalog is read-only and has schema version "
                             f"{version}, not {SCHEMA_VERSION}; make it writable once so it can "
                             "be migrated")
        self._instance_id = rows.get("instance_id")

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
        # on a database server the tables are looked up once per engine (process and URL): the
        # inspection costs several round trips on PostgreSQL (~40 ms of ~250 per session when
        # measured by bench/bench_scale.py), and ingest_file opens a Catalog per file. SQLite
        # looks every time (cheap; its file may have been replaced). The schema version below
        # is read every time on every backend (another process may have migrated it).
        sqlite = self._engine.dialect.name == "sqlite"
        if sqlite or not getattr(self._engine, "_nf_tables_seen", False):
            self._create_missing_tables()
            if not sqlite:
                self._engine._nf_tables_seen = True
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
        if version < SCHEMA_VERSION:
            backup_sqlite(self._engine, version)
            with self._write() as conn:
                migrate(conn, version)
        self._instance_id = rows["instance_id"]

    def _create_missing_tables(self) -> None:
        insp_tables = set(sa.inspect(self._engine).get_table_names())
        if not set(metadata.tables) <= insp_tables or "meta" not in insp_tables:
            try:
                with self._write() as conn:
                    metadata.create_all(conn, checkfirst=True)
            except (IntegrityError, sa.exc.ProgrammingError) as err:
                # another process created them at the same moment (PostgreSQL); check again
                logger.debug("concurrent table creation: %s", one_line(err))

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
        return [r[0] for r in self._all(subjects_select(), "list subjects")]

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
                return ensure_subject(conn, label)
        return self._retry(run, "add a subject")

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
        label = None if subject is None else validate_label(subject)
        rows = self._all(sessions_list(label), "list sessions", mappings=True)
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
        row = self._one(session_by_id(session_id), "read a session")
        if row is None:
            raise StoreError(f"no session {session_id!r} in the catalog; list them with "
                             "'neurofeedback sessions'")
        return row

    def find_by_sha(self, sha256: str) -> dict | None:
        """Return the session imported from a file with this SHA-256, or ``None``."""
        return self._one(session_by_sha(sha256), "look up a file")

    def find_session(self, subject: str, session: str) -> dict | None:
        """Return the session with these labels, or ``None``."""
        return self._one(session_by_labels(subject, session), "look up a session")

    def _all(self, query, what, *, mappings=False) -> list:
        def run():
            with self._read() as conn:
                res = conn.execute(query)
                return (res.mappings() if mappings else res).all()
        return self._retry(run, what)

    def _one(self, query, what) -> dict | None:
        def run():
            with self._read() as conn:
                r = conn.execute(query).mappings().first()
                return None if r is None else dict(r)
        return self._retry(run, what)

    def session_features(self, session_id: str, block: str | None = None) -> pd.DataFrame:
        """Return one session's feature rows.

        Parameters
        ----------
        session_id : str
        block : str | None
            Only this block (``"session"`` for the whole-session rows); default all.

        Returns
        -------
        features : pandas.DataFrame
            Columns :data:`FEATURE_COLUMNS` (``metric, channel, value, unit, block``), by block,
            metric and channel. ``unit`` is as stored when the session was processed: ``faa``
            rows written before FAA became unitless say ``ln(uV^2)``, newer ones ``ln ratio``
            (same values; the trends and reports take the unit from
            :func:`neurofeedback.metrics.metric_unit`, never from this column).
        """
        rows = self._all(features_select(session_id, block), "read session features")
        df = _frame(rows, FEATURE_COLUMNS)
        df["value"] = df["value"].astype(float)
        return df

    def session_blocks(self, session_id: str) -> pd.DataFrame:
        """Return one session's blocks (empty for a session without blocks).

        Returns
        -------
        blocks : pandas.DataFrame
            Columns ``block, onset_s, duration_s`` (s, from the recording's first sample; a
            block that recurs: its first onset and its total duration), ``n_epochs,
            n_clean_epochs, clean_fraction`` (``NaN`` without epochs) and ``reason`` (why the
            block has no metrics, else ``None``), by onset.
        """
        rows = self._all(blocks_select(session_id), "read session blocks")
        df = pd.DataFrame(rows, columns=list(BLOCK_FIELDS))
        for c in ("onset_s", "duration_s", "clean_fraction"):
            df[c] = df[c].astype("float64")
        for c in ("n_epochs", "n_clean_epochs"):
            df[c] = df[c].astype("int64")
        df["reason"] = df["reason"].astype(object).where(df["reason"].notna(), None)
        return df

    def blocks(self, subject: str | None = None) -> list[str]:
        """Return the ``block`` values of the stored metrics (of one subject), sorted.

        ``"session"`` (the whole-session metrics) is there as soon as a session is; block labels
        (``eyes-closed``, ``meditation``, …) come from the sessions' blocks that had metrics.
        """
        label = None if subject is None else validate_label(subject)
        return [r[0] for r in self._all(block_labels_select(label), "list blocks")]

    def metrics_frame(self, subject: str | None = None, block: str | None = None) -> pd.DataFrame:
        """Return the session metrics in long form (the input of the trends).

        Parameters
        ----------
        subject : str | None
            Only this subject.
        block : str | None
            Only this block: ``"session"`` for the whole-session metrics (the rows of schema
            version 1), or a block label such as ``"meditation"``; default every block.

        Returns
        -------
        frame : pandas.DataFrame
            Exactly the columns :data:`METRICS_COLUMNS`, ``subject, session_id, start_time,
            clean_fraction, metric, channel, value, block``: ``start_time`` is
            ``datetime64[ns, UTC]``, ``clean_fraction`` and ``value`` float64, the others
            strings. ``clean_fraction`` is the session's for ``"session"`` rows and the
            block's for block rows. One row per (session, block, metric, channel), sorted by
            start time, session, block, metric and channel.
        """
        label = None if subject is None else validate_label(subject)
        rows = self._all(metrics_select(label, None if block is None else str(block)),
                         "read session metrics")
        df = _frame(rows, METRICS_COLUMNS)
        df["start_time"] = _utc_column(df["start_time"])
        for c in ("clean_fraction", "value"):
            df[c] = df[c].astype("float64")
        for c in ("subject", "session_id", "metric", "channel", "block"):
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
            when = utc(when)
        except (TypeError, ValueError, AttributeError):
            raise ConfigError(f"Invalid value for the 'when' parameter. It must be a date, a "
                              f"datetime or an ISO 8601 string, but got {when!r} instead.") from None

        def run():
            with self._write() as conn:
                return insert_event(conn, label, when, kind, str(text or ""))
        return self._retry(run, "add an event")

    def events(self, subject: str | None = None) -> pd.DataFrame:
        """Return the context events, by time.

        Returns
        -------
        events : pandas.DataFrame
            Columns ``event_id, subject, time`` (tz-aware UTC), ``kind, text``.
        """
        label = None if subject is None else validate_label(subject)
        df = pd.DataFrame(self._all(events_select(label), "list events"),
                          columns=["event_id", "subject", "time", "kind", "text"])
        df["time"] = _utc_column(df["time"])
        return df

    def record_session(self, subject: str, session: str, fields: dict, metrics: pd.DataFrame,
                       blocks: pd.DataFrame | None = None) -> tuple[str, str]:
        """Insert or update one session and replace its features and blocks, in one transaction.

        Parameters
        ----------
        subject, session : str
            Labels (validated).
        fields : dict
            Values of :data:`SESSION_FIELDS` (``input_sha256`` and ``config_hash`` required).
        metrics : pandas.DataFrame
            ``metric, channel, value, unit, block`` rows
            (:func:`neurofeedback.metrics.session_metrics`); without a ``block`` column every
            row is a whole-session (``"session"``) row.
        blocks : pandas.DataFrame | None
            The session's blocks, columns ``block, onset_s, duration_s, n_epochs,
            n_clean_epochs, clean_fraction, reason``
            (:func:`neurofeedback.metrics.block_table`); default none.

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
        if "block" not in metrics.columns:
            metrics = metrics.assign(block=SESSION)
        rows = [{"block": str(r.block), "metric": str(r.metric), "channel": str(r.channel),
                 "value": float(r.value), "unit": None if r.unit is None else str(r.unit)}
                for r in metrics.itertuples(index=False)]
        keys = ["block", "metric", "channel"]
        if pd.DataFrame(rows, columns=keys + ["value", "unit"]).duplicated(keys).any():
            raise ValueError("The 'metrics' rows must be unique per (block, metric, channel).")
        block_rows = [] if blocks is None else [_block_row(r) for r in blocks.to_dict("records")]
        long = [r["block"] for r in rows + block_rows if len(r["block"]) > BLOCK_LABEL_LENGTH]
        if long:
            raise ValueError(f"Block labels are at most {BLOCK_LABEL_LENGTH} characters, but got "
                             f"{long[0][:40]!r}... ({len(long[0])}).")
        # the same limits on SQLite (which keeps any length) as on PostgreSQL (which refuses)
        sid = session_id_for(subject, session)
        check_lengths(sessions_t, fields, what=f"session {sid}:", exc=StoreError)
        for r in rows:
            check_lengths(features_t, r, what=f"session {sid}: metric row", exc=StoreError)
        for r in block_rows:
            check_lengths(blocks_t, r, what=f"session {sid}: block", exc=StoreError)

        def run():
            for _ in range(3):
                try:
                    with self._write() as conn:
                        return write_session(conn, subject, session, dict(fields), rows,
                                             block_rows)
                except IntegrityError as err:
                    # lost a race for a unique key (another writer committed first): read again
                    logger.debug("session insert conflict, re-reading: %s", one_line(err))
            raise StoreError(f"catalog: cannot record session {session_id_for(subject, session)} "
                             "(repeated conflicts)")
        return self._retry(run, "record a session")

    def delete_session(self, session_id: str) -> bool:
        """Delete a session, its features and blocks (not its files); return whether it existed."""
        def run():
            with self._write() as conn:
                return delete_session_rows(conn, session_id)
        return self._retry(run, "delete a session")
