"""The catalog's tables (SQLAlchemy Core), its schema version and the session ID scheme.

Schema (version 3)::

    meta              key (PK), value                       schema_version, instance_id
    subjects          id (PK), label (UNIQUE), group_label, created_at
    sessions          id (PK, "sub-<subject>_ses-<session>"), subject_id → subjects,
                      session_label, start_time (UTC), device, format, protocol, blocks (JSON),
                      notes, duration_s, sfreq, n_channels, clean_fraction,
                      input_sha256 (UNIQUE), source_path, bids_path, features_path,
                      summary_path, pipeline_version, config_hash, created_at, updated_at;
                      UNIQUE (subject_id, session_label)
    session_features  session_id → sessions, block, metric, channel (PK together), value, unit
    session_blocks    session_id → sessions, block (PK together), onset_s, duration_s,
                      n_epochs, n_clean_epochs, clean_fraction, reason
    events            id (PK), subject_id → subjects, time (UTC), kind, quantity, unit, text,
                      created_at, updated_at
    practice          subject_id → subjects, day (PK together), minutes, source

``session_features.block`` is ``"session"`` for the whole-session metrics and a block label
(``meditation``, …) for a block's (:func:`neurofeedback.metrics.session_metrics`);
``session_blocks`` holds each block's bookkeeping (seconds from the recording's first sample;
``reason`` says why a block has no metrics). Version 1 had no blocks: ``session_features`` was
keyed by (session_id, metric, channel) and ``session_blocks`` did not exist; a version-1
catalog is migrated in place when it is opened (:mod:`neurofeedback.store._migrate`).
Version 2 had no ``subjects.group_label`` (a subject's group in a cohort: ``course``,
``waitlist``), no ``events.quantity``/``unit``/``updated_at`` (a dose with its unit, minutes of
practice per day) and no ``practice`` table (a practice log: minutes per day, a covariate);
version 2 → 3 adds them (nullable columns, an empty table).

Timestamps are stored as UTC and come back tz-aware (UTC) on every backend
(:class:`UTCDateTime`). ``input_sha256`` is unique (one session per input file); the session ID
is derived from the labels (:func:`session_id_for`), so two catalogs built from the same files in
any order agree.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timezone

import pandas as pd
import sqlalchemy as sa

from .._validate import TEXT_LIMITS, check_text_length
from ..home import validate_label

#: Version of the tables below; a catalog written by a newer version is refused, an older one
#: migrated when opened.
SCHEMA_VERSION = 3
#: Longest block label the catalog keeps.
BLOCK_LABEL_LENGTH = TEXT_LIMITS["block"]
#: Kinds of context events on a subject's timeline.
EVENT_KINDS = ("note", "practice", "practice-change", "course-start", "course-end", "therapy",
               "ketamine", "medication", "other")
#: Longest group label (a cohort group such as ``course`` or ``waitlist``).
GROUP_LABEL_LENGTH = 64
#: Longest unit of an event's quantity (``mg``, ``mg/kg``, ``min/day``).
EVENT_UNIT_LENGTH = 32


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored as UTC and returned tz-aware (UTC) on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = utc(value)
        if dialect.name == "sqlite":  # SQLite keeps no offset: store the UTC wall clock
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return utc(value)


def utc(value) -> datetime:
    """``value`` (datetime, date, ISO string, Timestamp) as tz-aware UTC; naive means UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def now() -> datetime:
    """The current time, tz-aware UTC."""
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
    sa.Column("group_label", sa.String(GROUP_LABEL_LENGTH)),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

sessions_t = sa.Table(
    "sessions", metadata,
    sa.Column("id", sa.String(160), primary_key=True),
    sa.Column("subject_id", sa.Integer, sa.ForeignKey("subjects.id"), nullable=False),
    sa.Column("session_label", sa.String(64), nullable=False),
    sa.Column("start_time", UTCDateTime, nullable=False),
    sa.Column("device", sa.String(TEXT_LIMITS["device"])),
    sa.Column("format", sa.String(TEXT_LIMITS["format"])),
    sa.Column("protocol", sa.String(TEXT_LIMITS["protocol"])),
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
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("subject_id", "session_label", name="uq_sessions_subject_label"),
)

features_t = sa.Table(
    "session_features", metadata,
    sa.Column("session_id", sa.String(160), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("block", sa.String(BLOCK_LABEL_LENGTH), primary_key=True),
    sa.Column("metric", sa.String(TEXT_LIMITS["metric"]), primary_key=True),
    sa.Column("channel", sa.String(TEXT_LIMITS["channel"]), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("unit", sa.String(TEXT_LIMITS["unit"])),
)

blocks_t = sa.Table(
    "session_blocks", metadata,
    sa.Column("session_id", sa.String(160), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("block", sa.String(BLOCK_LABEL_LENGTH), primary_key=True),
    sa.Column("onset_s", sa.Float),
    sa.Column("duration_s", sa.Float),
    sa.Column("n_epochs", sa.Integer),
    sa.Column("n_clean_epochs", sa.Integer),
    sa.Column("clean_fraction", sa.Float),
    sa.Column("reason", sa.Text),
)

#: The columns of a session's block rows (:meth:`~neurofeedback.store.Catalog.session_blocks`).
BLOCK_FIELDS = ("block", "onset_s", "duration_s", "n_epochs", "n_clean_epochs", "clean_fraction",
                "reason")

events_t = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_id", sa.Integer, sa.ForeignKey("subjects.id"), nullable=False),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("quantity", sa.Float),
    sa.Column("unit", sa.String(EVENT_UNIT_LENGTH)),
    sa.Column("text", sa.Text, nullable=False, default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime),
    sa.Index("ix_events_subject_time", "subject_id", "time"),
)

#: Columns added to existing tables by schema version 3 (table, column); the migration adds
#: them with ``ALTER TABLE … ADD COLUMN`` (all nullable, so every back end can).
V3_COLUMNS = (("subjects", "group_label"), ("events", "quantity"), ("events", "unit"),
              ("events", "updated_at"))

practice_t = sa.Table(
    "practice", metadata,
    sa.Column("subject_id", sa.Integer, sa.ForeignKey("subjects.id"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("minutes", sa.Float, nullable=False),
    sa.Column("source", sa.Text),
)

#: The session columns a caller of :meth:`Catalog.record_session` provides.
SESSION_FIELDS = (
    "start_time", "device", "format", "protocol", "blocks", "notes", "duration_s", "sfreq",
    "n_channels", "clean_fraction", "input_sha256", "source_path", "bids_path", "features_path",
    "summary_path", "pipeline_version", "config_hash",
)


@functools.cache
def _limited_columns(table: sa.Table) -> tuple[tuple[str, int], ...]:
    """``(name, length)`` of ``table``'s ``String(n)`` columns (computed once per table)."""
    return tuple((col.name, col.type.length) for col in table.columns
                 if isinstance(col.type, sa.String) and getattr(col.type, "length", None))


def check_lengths(table: sa.Table, values: dict, *, what: str, exc=ValueError) -> None:
    """Refuse text longer than its ``String(n)`` column of ``table`` holds, on every back end.

    PostgreSQL would refuse it at the insert (``StringDataRightTruncation``, after the
    recording); SQLite would keep it. ``what`` names the values in the one-line message.
    """
    check_lengths_rows(table, [values], what=what, exc=exc)


def check_lengths_rows(table: sa.Table, rows: list[dict], *, what: str, exc=ValueError) -> None:
    """:func:`check_lengths` of many rows at once (a session records ~175 metric rows, so the
    columns to check are found once per table and each is checked in one pass)."""
    for name, length in _limited_columns(table):
        for r in rows:
            value = r.get(name)
            if value is not None and len(value if isinstance(value, str) else str(value)) > length:
                check_text_length(name, value, limit=length, what=f"{what} {name!r}", exc=exc)


def session_id_for(subject: str, session: str) -> str:
    """Return the ID of a session: ``sub-<subject>_ses-<session>`` (labels validated)."""
    return f"sub-{validate_label(subject)}_ses-{validate_label(session, kind='session')}"
