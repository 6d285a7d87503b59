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
import math
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
    delete_event,
    delete_session_rows,
    ensure_subject,
    event_by_id,
    events_backup,
    events_select,
    features_select,
    groups_select,
    insert_event,
    metric_names_select,
    metrics_select,
    practice_select,
    replace_practice,
    session_by_id,
    session_by_labels,
    session_by_sha,
    sessions_list,
    set_group,
    subjects_select,
    update_event,
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
    check_lengths_rows,
    events_t,
    features_t,
    meta_t,
    metadata,
    session_id_for,
    sessions_t,
    utc,
)

logger = logging.getLogger("neurofeedback")

__all__ = ["EVENTS_BACKUP", "EVENT_COLUMNS", "FEATURE_COLUMNS", "METRICS_COLUMNS", "PRACTICE_COLUMNS", "Catalog"]

#: The columns of :meth:`Catalog.events`.
EVENT_COLUMNS = ("event_id", "subject", "time", "kind", "quantity", "unit", "text", "created_at",
                 "updated_at")
#: The columns of :meth:`Catalog.practice`.
PRACTICE_COLUMNS = ("date", "minutes", "source")
#: The file beside an SQLite catalog that keeps a copy of its events and practice log (rewritten in
#: the same write transaction as every change of them): ``neurofeedback store rebuild`` restores
#: them from it, as they are not in the BIDS copies and derivatives the sessions come back from.
EVENTS_BACKUP = "events-backup.json"
#: The fields :meth:`Catalog.edit_event` can change.
EVENT_FIELDS = ("time", "kind", "quantity", "unit", "text")

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


def _event_id(value) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        out = int(value)
        if out != value and str(out) != str(value).strip():
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"Invalid event id {value!r}: it must be a whole number (see "
                          "'neurofeedback event list')") from None
    return out


def _event_frame(df: pd.DataFrame) -> pd.DataFrame:
    for c in ("time", "created_at", "updated_at"):
        df[c] = _utc_column(df[c])
    df["event_id"] = df["event_id"].astype("int64")
    df["quantity"] = df["quantity"].astype(float)
    for c in ("unit", "subject", "kind", "text"):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    df["text"] = df["text"].fillna("")
    return df


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

    def set_group(self, subject: str, group: str | None) -> None:
        """Put a subject in a cohort group (``course``, ``waitlist``), or out of any (``None``).

        Parameters
        ----------
        subject : str
            A subject already in the catalog.
        group : str | None
            A label of 1-64 letters or digits (as subject labels), or ``None`` to clear it.

        Raises
        ------
        ConfigError
            ``subject`` or ``group`` is not a valid label.
        StoreError
            The subject is not in the catalog (a group never creates a subject: a typo would
            otherwise become a new, empty subject).
        """
        label = validate_label(subject)
        value = None if group is None else validate_label(group, kind="group")

        def run():
            with self._write() as conn:
                return set_group(conn, label, value)
        if not self._retry(run, "set a subject's group"):
            raise StoreError(f"catalog {self.display_url}: no subject {label!r}; subjects come "
                             "from their sessions (neurofeedback process / record) or "
                             "Catalog.add_subject")

    def groups(self) -> dict[str, str | None]:
        """Return every subject's group: ``{subject: group or None}``, by subject label."""
        return {r[0]: r[1] for r in self._all(groups_select(), "list the subjects' groups")}

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
        row = self._one(*session_by_id(session_id), what="read a session")
        if row is None:
            raise StoreError(f"no session {session_id!r} in the catalog; list them with "
                             "'neurofeedback sessions'")
        return row

    def find_by_sha(self, sha256: str) -> dict | None:
        """Return the session imported from a file with this SHA-256, or ``None``."""
        return self._one(*session_by_sha(sha256), what="look up a file")

    def find_session(self, subject: str, session: str) -> dict | None:
        """Return the session with these labels, or ``None``."""
        return self._one(*session_by_labels(subject, session), what="look up a session")

    def _all(self, query, what, *, mappings=False) -> list:
        def run():
            with self._read() as conn:
                res = conn.execute(query)
                return (res.mappings() if mappings else res).all()
        return self._retry(run, what)

    def _one(self, query, params=None, *, what: str) -> dict | None:
        def run():
            with self._read() as conn:
                r = conn.execute(query, params).mappings().first()
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

    def metric_names(self, subject: str | None = None, block: str | None = None) -> list[str]:
        """Return the names of the stored metrics (of one subject, of one block), sorted.

        One ``SELECT DISTINCT``: what a command checks a ``--metric`` against before it reads
        only those metrics with :meth:`metrics_frame`.
        """
        label = None if subject is None else validate_label(subject)
        return [r[0] for r in self._all(metric_names_select(label, None if block is None
                                                            else str(block)), "list metrics")]

    def metrics_frame(self, subject: str | None = None, block: str | None = None, *,
                      metrics=None) -> pd.DataFrame:
        """Return the session metrics in long form (the input of the trends).

        Parameters
        ----------
        subject : str | None
            Only this subject.
        block : str | None
            Only this block: ``"session"`` for the whole-session metrics (the rows of schema
            version 1), or a block label such as ``"meditation"``; default every block.
        metrics : iterable of str | None
            Only these metric names (filtered in the database: a session stores ~175 metric
            rows and a trend or cohort analysis uses a handful); default every metric.

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
        rows = self._all(metrics_select(label, None if block is None else str(block),
                                        None if metrics is None else list(metrics)),
                         "read session metrics")
        df = _frame(rows, METRICS_COLUMNS)
        df["start_time"] = _utc_column(df["start_time"])
        for c in ("clean_fraction", "value"):
            df[c] = df[c].astype("float64")
        for c in ("subject", "session_id", "metric", "channel", "block"):
            df[c] = df[c].astype(object)
        return df

    def add_event(self, subject: str, when, kind: str, text: str = "", *,
                  quantity: float | None = None, unit: str | None = None) -> int:
        """Add a context event (a therapy session, an infusion, a new practice, a note) to an
        existing subject's timeline.

        Parameters
        ----------
        subject : str
            Subject label; the subject must be in the catalog (from its sessions, or
            :meth:`add_subject`): an event never creates a subject, so a typo cannot start a new,
            empty one.
        when : datetime | date | str
            When it happened; naive times and dates are taken as UTC; ISO strings accepted.
        kind : str
            One of :data:`EVENT_KINDS` (``therapy``, ``ketamine``, ``course-start``,
            ``practice-change``, ``note``, ...).
        text : str
            Free text (e.g. "integration session 2"); stored verbatim, escaped where shown.
        quantity : float | None
            An optional amount: a dose (0.5, with ``unit="mg/kg"``), minutes of practice per day.
        unit : str | None
            The quantity's unit (at most 32 characters); only with a quantity.

        Returns
        -------
        event_id : int

        Raises
        ------
        ConfigError
            A bad label, kind, time, quantity (not finite) or unit.
        StoreError
            The subject is not in the catalog (nothing written).
        """
        label = validate_label(subject)
        values = self._event_values(when=when, kind=kind, text=text, quantity=quantity, unit=unit)

        def run():
            with self._write() as conn:
                event_id = insert_event(conn, label, values["time"], values["kind"],
                                        values["text"], quantity=values["quantity"],
                                        unit=values["unit"])
                self._backup_events(conn)
                return event_id
        event_id = self._retry(run, "add an event")
        if event_id is None:
            raise StoreError(self._no_subject(label, "an event"))
        return event_id

    def _no_subject(self, label: str, what: str) -> str:
        return (f"catalog {self.display_url}: no subject {label!r}; {what} needs a subject that is "
                "in the catalog (subjects come from their sessions: neurofeedback process / "
                "record, or Catalog.add_subject)")

    @staticmethod
    def _event_values(**fields) -> dict:
        """Validated event columns from the given fields (only those given)."""
        out = {}
        if "kind" in fields:
            out["kind"] = check_option("kind", fields["kind"], EVENT_KINDS, exc=ConfigError)
        if "time" in fields or "when" in fields:
            when = fields.get("when", fields.get("time"))
            try:
                out["time"] = utc(when)
            except (TypeError, ValueError, AttributeError):
                raise ConfigError(f"Invalid value for the 'when' parameter. It must be a date, a "
                                  f"datetime or an ISO 8601 string, but got {when!r} instead."
                                  ) from None
        if "text" in fields:
            out["text"] = str(fields["text"] or "")
        if "quantity" in fields:
            q = fields["quantity"]
            if q is not None:
                try:
                    q = float(q)
                except (TypeError, ValueError):
                    q = float("nan")
                if not math.isfinite(q):
                    raise ConfigError("Invalid value for the 'quantity' parameter. It must be a "
                                      f"finite number or None, but got {fields['quantity']!r} "
                                      "instead.")
            out["quantity"] = q
        if "unit" in fields:
            u = fields["unit"]
            out["unit"] = None if u is None or str(u).strip() == "" else str(u).strip()
        check_lengths(events_t, out, what="event", exc=ConfigError)
        return out

    def _backup_events(self, conn) -> None:
        """Rewrite :data:`EVENTS_BACKUP` beside an SQLite catalog file (inside the write
        transaction, so concurrent writers leave the backup in commit order); atomic replace."""
        if self._db is None:
            return  # PostgreSQL & co.: backed up with the database
        import json
        import os

        path = self._db.with_name(EVENTS_BACKUP)
        tmp = path.with_name(path.name + ".tmp")
        doc = {"about": "events and practice log of the catalog beside this file; "
                        "'neurofeedback store rebuild' restores them", "version": 1,
               **events_backup(conn)}
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    def events(self, subject: str | None = None) -> pd.DataFrame:
        """Return the context events, by time.

        Parameters
        ----------
        subject : str | None
            Only this subject's events.

        Returns
        -------
        events : pandas.DataFrame
            Columns :data:`EVENT_COLUMNS`: ``event_id`` (int), ``subject``, ``time`` (tz-aware
            UTC), ``kind``, ``quantity`` (float, NaN when none), ``unit`` (str or None),
            ``text``, ``created_at``, ``updated_at`` (UTC; NaT when never edited).
        """
        label = None if subject is None else validate_label(subject)
        df = pd.DataFrame(self._all(events_select(label), "list events"),
                          columns=list(EVENT_COLUMNS))
        return _event_frame(df)

    def event(self, event_id: int) -> dict:
        """Return one event as a dict (the columns of :meth:`events`).

        Raises
        ------
        StoreError
            When there is no event with this id.
        """
        event_id = _event_id(event_id)
        row = self._one(event_by_id(event_id), what="read an event")
        if row is None:
            raise StoreError(f"no event {event_id} in the catalog; list them with "
                             "'neurofeedback event list'")
        return _event_frame(pd.DataFrame([row], columns=list(EVENT_COLUMNS))).iloc[0].to_dict()

    def edit_event(self, event_id: int, **fields) -> dict:
        """Change some of an event's fields; its ``updated_at`` is set to now.

        Parameters
        ----------
        event_id : int
        **fields
            Any of :data:`EVENT_FIELDS` (``time``, ``kind``, ``quantity``, ``unit``, ``text``);
            ``quantity=None`` / ``unit=None`` clear them.

        Returns
        -------
        event : dict
            The event as stored afterwards.

        Raises
        ------
        ConfigError
            An unknown field, or a bad value (as :meth:`add_event`).
        StoreError
            No event with this id (nothing written).
        """
        event_id = _event_id(event_id)
        unknown = sorted(set(fields) - set(EVENT_FIELDS))
        if unknown:
            raise ConfigError(f"Invalid event field {unknown[0]!r}. Allowed fields are "
                              f"{', '.join(EVENT_FIELDS)}.")
        if not fields:
            raise ConfigError("Nothing to change: give at least one of " + ", ".join(EVENT_FIELDS))
        values = self._event_values(**fields)

        def run():
            with self._write() as conn:
                done = update_event(conn, event_id, values)
                self._backup_events(conn)
                return done
        if not self._retry(run, "edit an event"):
            raise StoreError(f"no event {event_id} in the catalog; list them with "
                             "'neurofeedback event list'")
        return self.event(event_id)

    def delete_event(self, event_id: int) -> None:
        """Delete one event.

        Raises
        ------
        StoreError
            No event with this id (nothing deleted).
        """
        event_id = _event_id(event_id)

        def run():
            with self._write() as conn:
                done = delete_event(conn, event_id)
                self._backup_events(conn)
                return done
        if not self._retry(run, "delete an event"):
            raise StoreError(f"no event {event_id} in the catalog; list them with "
                             "'neurofeedback event list'")

    def import_practice(self, subject: str, csv) -> int:
        """Import a practice log (minutes per day) from a CSV file with columns ``date,minutes``.

        A day already in the log is replaced; other days are kept. The whole file is checked
        before anything is written.

        Parameters
        ----------
        subject : str
            A subject in the catalog.
        csv : path-like
            UTF-8 text: a header line naming ``date`` and ``minutes`` (other columns ignored),
            then one day per line: an ISO date (``2026-03-02``) and minutes >= 0.

        Returns
        -------
        n_days : int
            Days written.

        Raises
        ------
        ConfigError
            The file is unreadable or a line is bad: one line naming the file and line number.
        StoreError
            The subject is not in the catalog.
        """
        from .practice import read_practice_csv

        label = validate_label(subject)
        rows = read_practice_csv(csv)

        def run():
            with self._write() as conn:
                n = replace_practice(conn, label, rows, str(csv))
                self._backup_events(conn)
                return n
        n = self._retry(run, "import a practice log")
        if n is None:
            raise StoreError(self._no_subject(label, "a practice log"))
        return n

    def practice(self, subject: str) -> pd.DataFrame:
        """Return a subject's practice log.

        Returns
        -------
        practice : pandas.DataFrame
            Columns :data:`PRACTICE_COLUMNS`: ``date`` (``datetime64[ns]``, a calendar day),
            ``minutes`` (float, minutes of practice that day) and ``source`` (the file it came
            from), by date; empty when none was imported.
        """
        label = validate_label(subject)
        rows = self._all(practice_select(label), "read a practice log")
        df = pd.DataFrame(rows, columns=list(PRACTICE_COLUMNS))
        df["date"] = pd.to_datetime(df["date"]).astype("datetime64[ns]")
        df["minutes"] = df["minutes"].astype(float)
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
        # column by column, not itertuples(): ~175 rows per session, and this is the part of
        # an import the catalog pays in Python (bench/bench_scale.py)
        rows = [{"block": str(b), "metric": str(m), "channel": str(c), "value": float(v),
                 "unit": None if u is None or pd.isna(u) else str(u)}  # NaN/NA: no unit, not "nan"
                for b, m, c, v, u in zip(*(metrics[col].to_numpy(dtype=object) for col in
                                           ("block", "metric", "channel", "value", "unit")))]
        if len({(r["block"], r["metric"], r["channel"]) for r in rows}) != len(rows):
            raise ValueError("The 'metrics' rows must be unique per (block, metric, channel).")
        block_rows = [] if blocks is None or blocks.empty else \
            [_block_row(r) for r in blocks.to_dict("records")]
        long = [r["block"] for r in rows + block_rows if len(r["block"]) > BLOCK_LABEL_LENGTH]
        if long:
            raise ValueError(f"Block labels are at most {BLOCK_LABEL_LENGTH} characters, but got "
                             f"{long[0][:40]!r}... ({len(long[0])}).")
        # the same limits on SQLite (which keeps any length) as on PostgreSQL (which refuses)
        sid = session_id_for(subject, session)
        check_lengths(sessions_t, fields, what=f"session {sid}:", exc=StoreError)
        check_lengths_rows(features_t, rows, what=f"session {sid}: metric row", exc=StoreError)
        check_lengths_rows(blocks_t, block_rows, what=f"session {sid}: block", exc=StoreError)

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
