"""The catalog's SQL: the selects behind :class:`~neurofeedback.store.Catalog`'s reads and the
bodies of its write transactions.

Each function builds a statement or runs inside a connection the caller opened (and retries);
none opens a connection or converts results to DataFrames.

Concurrency: unique constraints (not Python checks) decide who inserts a subject or a session;
a loser re-reads the winner's row (:func:`ensure_subject`) or the caller retries the transaction
(:func:`write_session`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..blocks import SESSION
from ..errors import StoreError
from ..metrics import CLEAN_FRACTION_METRIC
from ._schema import (
    BLOCK_FIELDS,
    SESSION_FIELDS,
    blocks_t,
    events_t,
    features_t,
    now,
    practice_t,
    session_id_for,
    sessions_t,
    subjects_t,
)

# ------------------------------------------------------------------------------------------
# reads


def subjects_select():
    """The subject labels, sorted."""
    return sa.select(subjects_t.c.label).order_by(subjects_t.c.label)


def groups_select():
    """``subject, group`` rows (``group`` NULL when unset), by subject label."""
    return (sa.select(subjects_t.c.label.label("subject"), subjects_t.c.group_label.label("group"))
            .order_by(subjects_t.c.label))


def set_group(conn, subject: str, group: str | None) -> bool:
    """Set (or clear, with ``None``) the group of an existing subject; ``False`` when the subject
    is not in the catalog (nothing changed)."""
    res = conn.execute(subjects_t.update().where(subjects_t.c.label == subject)
                       .values(group_label=group))
    return res.rowcount > 0


def sessions_select():
    """Every session with its subject label: ``session_id, subject, session``, then
    :data:`SESSION_FIELDS`, ``created_at, updated_at`` (add ``where`` and ``order_by``)."""
    s = sessions_t.c
    return (sa.select(s.id.label("session_id"), subjects_t.c.label.label("subject"),
                      s.session_label.label("session"), *[s[f] for f in SESSION_FIELDS],
                      s.created_at, s.updated_at)
            .select_from(sessions_t.join(subjects_t, s.subject_id == subjects_t.c.id)))


def sessions_list(subject: str | None = None):
    """The sessions (of one subject label, or all), by start time and ID."""
    q = sessions_select()
    if subject is not None:
        q = q.where(subjects_t.c.label == subject)
    return q.order_by(sessions_t.c.start_time, sessions_t.c.id)


# The statements an import runs for every file are built once, with bound parameters:
# SQLAlchemy memoises a statement's cache key on the statement object, and generating it (plus
# building the statement) was most of the Python cost of these small queries (~1 ms each;
# ``ingest_file`` runs ~10 of them per file, bench/bench_scale.py). Each function returns
# ``(statement, parameters)``.
_S = sessions_t.c
_BY_ID = sessions_select().where(_S.id == sa.bindparam("session_id"))
_BY_SHA = sessions_select().where(_S.input_sha256 == sa.bindparam("sha256"))
_BY_LABELS = sessions_select().where(subjects_t.c.label == sa.bindparam("subject"),
                                     _S.session_label == sa.bindparam("session"))
_SAME_FILE = sa.select(_S.id, _S.config_hash).where(_S.input_sha256 == sa.bindparam("sha256"))
_HELD = sa.select(_S.id, _S.source_path).where(_S.subject_id == sa.bindparam("subject_id"),
                                               _S.session_label == sa.bindparam("session"))
_SUBJECT_ID = sa.select(subjects_t.c.id).where(subjects_t.c.label == sa.bindparam("label"))
_INSERT_SESSION = sessions_t.insert()
_INSERT_FEATURES = features_t.insert()
_INSERT_BLOCKS = blocks_t.insert()
_DELETE_FEATURES = features_t.delete().where(features_t.c.session_id == sa.bindparam("sid"))
_DELETE_BLOCKS = blocks_t.delete().where(blocks_t.c.session_id == sa.bindparam("sid"))


def session_by_id(session_id: str):
    """The session with this ID (zero or one row): ``(statement, parameters)``."""
    return _BY_ID, {"session_id": str(session_id)}


def session_by_sha(sha256: str):
    """The session imported from a file with this SHA-256 (zero or one row):
    ``(statement, parameters)``."""
    return _BY_SHA, {"sha256": str(sha256)}


def session_by_labels(subject: str, session: str):
    """The session with these subject and session labels (zero or one row):
    ``(statement, parameters)``."""
    return _BY_LABELS, {"subject": str(subject), "session": str(session)}


def features_select(session_id: str, block: str | None = None):
    """One session's ``metric, channel, value, unit, block`` rows (of one block, or all), by
    block, metric and channel."""
    f = features_t.c
    q = (sa.select(f.metric, f.channel, f.value, f.unit, f.block)
         .where(f.session_id == str(session_id)))
    if block is not None:
        q = q.where(f.block == str(block))
    return q.order_by(f.block, f.metric, f.channel)


def blocks_select(session_id: str):
    """One session's block rows (:data:`BLOCK_FIELDS`), by onset."""
    return (sa.select(*[blocks_t.c[k] for k in BLOCK_FIELDS])
            .where(blocks_t.c.session_id == str(session_id))
            .order_by(blocks_t.c.onset_s, blocks_t.c.block))


def block_labels_select(subject: str | None = None):
    """The distinct ``block`` values of the metrics (of one subject label, or all), sorted."""
    q = (sa.select(features_t.c.block).distinct()
         .select_from(features_t.join(sessions_t, features_t.c.session_id == sessions_t.c.id)
                      .join(subjects_t, sessions_t.c.subject_id == subjects_t.c.id)))
    if subject is not None:
        q = q.where(subjects_t.c.label == subject)
    return q.order_by(features_t.c.block)


def metrics_select(subject: str | None = None, block: str | None = None, metrics=None):
    """``subject, session_id, start_time, clean_fraction, metric, channel, value, block`` rows
    (of one subject label, one block and the given metric names, or all), by start time, session, block, metric and
    channel. ``clean_fraction`` is the row's own channel's (its ``clean_fraction`` metric in the
    same session and block: the share of the time that channel's spectra use; for ``mean`` and
    ``posterior`` the average over their channels) when stored, else the session's for
    ``"session"`` rows and the block's (from ``session_blocks``; NULL when unknown) for block
    rows (FAA pairs, feedback rows, and sessions stored before per-channel clean data)."""
    f, b = features_t.c, blocks_t.c
    cf = features_t.alias("cf")
    clean = sa.func.coalesce(cf.c.value, sa.case((f.block == SESSION, sessions_t.c.clean_fraction),
                                                 else_=b.clean_fraction)).label("clean_fraction")
    q = (sa.select(subjects_t.c.label.label("subject"), sessions_t.c.id.label("session_id"),
                   sessions_t.c.start_time, clean, f.metric, f.channel, f.value, f.block)
         .select_from(features_t.join(sessions_t, f.session_id == sessions_t.c.id)
                      .join(subjects_t, sessions_t.c.subject_id == subjects_t.c.id)
                      .outerjoin(blocks_t, sa.and_(b.session_id == f.session_id,
                                                   b.block == f.block))
                      .outerjoin(cf, sa.and_(cf.c.session_id == f.session_id, cf.c.block == f.block,
                                             cf.c.channel == f.channel,
                                             cf.c.metric == CLEAN_FRACTION_METRIC))))
    if subject is not None:
        q = q.where(subjects_t.c.label == subject)
    if block is not None:
        q = q.where(f.block == str(block))
    if metrics is not None:
        q = q.where(f.metric.in_(sorted({str(m) for m in metrics})))
    return q.order_by(sessions_t.c.start_time, sessions_t.c.id, f.block, f.metric, f.channel)


def metric_names_select(subject: str | None = None, block: str | None = None):
    """The distinct metric names stored (of one subject label and one block, or all), sorted."""
    f = features_t.c
    q = sa.select(f.metric).distinct()
    if subject is not None:
        q = q.select_from(features_t.join(sessions_t, f.session_id == sessions_t.c.id)
                          .join(subjects_t, sessions_t.c.subject_id == subjects_t.c.id))
        q = q.where(subjects_t.c.label == subject)
    if block is not None:
        q = q.where(f.block == str(block))
    return q.order_by(f.metric)


def events_select(subject: str | None = None):
    """``event_id, subject, time, kind, quantity, unit, text, created_at, updated_at`` rows (of
    one subject label, or all), by time and id."""
    e = events_t.c
    q = (sa.select(e.id.label("event_id"), subjects_t.c.label.label("subject"), e.time, e.kind,
                   e.quantity, e.unit, e.text, e.created_at, e.updated_at)
         .select_from(events_t.join(subjects_t, e.subject_id == subjects_t.c.id)))
    if subject is not None:
        q = q.where(subjects_t.c.label == subject)
    return q.order_by(e.time, e.id)


def event_by_id(event_id: int):
    """The event with this id (zero or one row), columns as :func:`events_select`."""
    return events_select().where(events_t.c.id == int(event_id))


def practice_select(subject: str):
    """One subject's practice log: ``day, minutes, source`` rows, by day."""
    p = practice_t.c
    return (sa.select(p.day, p.minutes, p.source)
            .select_from(practice_t.join(subjects_t, p.subject_id == subjects_t.c.id))
            .where(subjects_t.c.label == subject).order_by(p.day))


# ------------------------------------------------------------------------------------------
# writes (inside the caller's write transaction)


def ensure_subject(conn, label: str) -> int:
    """The row id of subject ``label``, inserted when new (a concurrent insert is re-read)."""
    sid = conn.execute(_SUBJECT_ID, {"label": label}).scalar()
    if sid is not None:
        return int(sid)
    try:
        with conn.begin_nested():
            conn.execute(subjects_t.insert().values(label=label, created_at=now()))
    except IntegrityError:
        pass  # inserted by a concurrent writer (PostgreSQL, READ COMMITTED): read it below
    return int(conn.execute(_SUBJECT_ID, {"label": label}).scalar_one())


def subject_id_of(conn, label: str) -> int | None:
    """The row id of subject ``label``, or ``None`` when it is not in the catalog."""
    sid = conn.execute(sa.select(subjects_t.c.id).where(subjects_t.c.label == label)).scalar()
    return None if sid is None else int(sid)


def insert_event(conn, subject_label: str, when: datetime, kind: str, text: str, *,
                 quantity: float | None = None, unit: str | None = None) -> int | None:
    """Add an event to an existing subject's timeline; its id, or ``None`` when the subject is
    not in the catalog (nothing written: an event never creates a subject)."""
    sid = subject_id_of(conn, subject_label)
    if sid is None:
        return None
    res = conn.execute(events_t.insert().values(
        subject_id=sid, time=when, kind=kind, text=text, quantity=quantity, unit=unit,
        created_at=now()))
    return int(res.inserted_primary_key[0])


def update_event(conn, event_id: int, values: dict) -> bool:
    """Set some of an event's ``time, kind, quantity, unit, text`` (and ``updated_at``);
    whether it existed."""
    res = conn.execute(events_t.update().where(events_t.c.id == int(event_id))
                       .values(updated_at=now(), **values))
    return res.rowcount > 0


def delete_event(conn, event_id: int) -> bool:
    """Delete one event; whether it existed."""
    res = conn.execute(events_t.delete().where(events_t.c.id == int(event_id)))
    return res.rowcount > 0


def events_backup(conn) -> dict:
    """Every event and practice day, as JSON-ready lists (the catalog's events backup)."""
    e = events_t.c
    events = conn.execute(
        sa.select(e.id, subjects_t.c.label, e.time, e.kind, e.quantity, e.unit, e.text,
                  e.created_at, e.updated_at)
        .select_from(events_t.join(subjects_t, e.subject_id == subjects_t.c.id))
        .order_by(e.id)).all()
    p = practice_t.c
    days = conn.execute(
        sa.select(subjects_t.c.label, p.day, p.minutes, p.source)
        .select_from(practice_t.join(subjects_t, p.subject_id == subjects_t.c.id))
        .order_by(subjects_t.c.label, p.day)).all()

    def iso(v):
        return None if v is None else v.isoformat()
    return {
        "events": [{"event_id": int(r[0]), "subject": r[1], "time": iso(r[2]), "kind": r[3],
                    "quantity": r[4], "unit": r[5], "text": r[6], "created_at": iso(r[7]),
                    "updated_at": iso(r[8])} for r in events],
        "practice": [{"subject": r[0], "day": iso(r[1]), "minutes": r[2], "source": r[3]}
                     for r in days],
    }


def restore_events_backup(conn, doc: dict) -> tuple[int, int]:
    """Insert the events (with their ids) and practice days of an events backup; the subjects
    are added when missing (they were in the catalog the backup was taken from)."""
    from datetime import date as _date

    from ._schema import utc

    n_events = n_days = 0
    for r in doc.get("events", []):
        sid = ensure_subject(conn, r["subject"])
        conn.execute(events_t.insert().values(
            id=int(r["event_id"]), subject_id=sid, time=utc(r["time"]), kind=r["kind"],
            quantity=r.get("quantity"), unit=r.get("unit"), text=r.get("text") or "",
            created_at=utc(r["created_at"]) if r.get("created_at") else now(),
            updated_at=utc(r["updated_at"]) if r.get("updated_at") else None))
        n_events += 1
    for r in doc.get("practice", []):
        sid = ensure_subject(conn, r["subject"])
        conn.execute(practice_t.insert().values(subject_id=sid, day=_date.fromisoformat(r["day"]),
                                                minutes=float(r["minutes"]), source=r.get("source")))
        n_days += 1
    return n_events, n_days


def replace_practice(conn, subject_label: str, rows: list[dict], source: str) -> int | None:
    """Write a subject's practice days (``day``, ``minutes``), replacing the days it names;
    the number of days written, or ``None`` when the subject is not in the catalog."""
    sid = subject_id_of(conn, subject_label)
    if sid is None:
        return None
    days = [r["day"] for r in rows]
    if days:
        conn.execute(practice_t.delete().where(practice_t.c.subject_id == sid,
                                               practice_t.c.day.in_(days)))
        conn.execute(practice_t.insert(), [{"subject_id": sid, "day": r["day"],
                                            "minutes": float(r["minutes"]), "source": source}
                                           for r in rows])
    return len(rows)


def write_session(conn, subject: str, session: str, fields: dict, rows: list[dict],
                  blocks: list[dict] = ()) -> tuple[str, str]:
    """Insert or update one session and replace its features and blocks; ``(status,
    session_id)``.

    The statuses are those of :meth:`~neurofeedback.store.Catalog.record_session`. Raises
    :class:`~neurofeedback.errors.StoreError` when another recording holds the labels, and
    ``IntegrityError`` when a concurrent writer won a unique key (the caller retries).
    """
    t_now = now()
    same_file = conn.execute(_SAME_FILE, {"sha256": fields["input_sha256"]}).first()
    if same_file is not None:
        sid = same_file.id
        if same_file.config_hash == fields["config_hash"]:
            return "unchanged", sid
        _update(conn, sid, fields, t_now)
        _replace_features(conn, sid, rows, blocks)
        return "reprocessed", sid
    subject_id = ensure_subject(conn, subject)
    sid = session_id_for(subject, session)
    held = conn.execute(_HELD, {"subject_id": subject_id, "session": session}).first()
    if held is not None:
        src_new, src_old = fields.get("source_path"), held.source_path
        if src_new and src_old and src_new == src_old:  # the same file rewritten
            _update(conn, held.id, fields, t_now)
            _replace_features(conn, held.id, rows, blocks)
            return "reprocessed", held.id
        if src_new and src_old and same_recording(src_new, src_old):
            return "unchanged", held.id  # the same recording in another format of its folder
        raise StoreError(
            f"{src_new}: subject {subject!r} already has session {session!r} (from {src_old}); "
            "pass another session label to import it as a separate session")
    conn.execute(_INSERT_SESSION, {"id": sid, "subject_id": subject_id, "session_label": session,
                                   "created_at": t_now, "updated_at": t_now, **fields})
    _replace_features(conn, sid, rows, blocks)
    return "imported", sid


#: Name endings of one recording's files (the recorder's ``<stem>_eeg.csv`` and ``<stem>_raw.fif``;
#: MNE's ``_raw``/``_eeg`` conventions), dropped with the extension to compare two files' stems.
_RECORDING_SUFFIXES = ("_raw", "_eeg")


def recording_stem(path) -> str:
    """The name of a recording file without its extension(s) and a trailing ``_raw``/``_eeg``."""
    name = Path(path).name
    for ext in (".gz", ".bz2", ".xz", ".zip"):
        name = name.removesuffix(ext)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    for suffix in _RECORDING_SUFFIXES:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def same_recording(path_a, path_b) -> bool:
    """Whether two files are one recording in two formats: same folder and same stem.

    The recorder writes ``<stem>_eeg.csv`` and, at the end, ``<stem>_raw.fif`` beside it: one
    session, two files (different bytes). Two files with other names that claim the same subject
    and session (e.g. three takes started in the same second, or a stale copy) are different
    recordings and must never share a session: the import skips the later one with the reason.
    """
    a, b = Path(path_a), Path(path_b)
    return a.parent == b.parent and recording_stem(a) == recording_stem(b)


def delete_session_rows(conn, session_id: str) -> bool:
    """Delete a session's row, features and blocks; return whether it existed."""
    conn.execute(features_t.delete().where(features_t.c.session_id == str(session_id)))
    conn.execute(blocks_t.delete().where(blocks_t.c.session_id == str(session_id)))
    res = conn.execute(sessions_t.delete().where(sessions_t.c.id == str(session_id)))
    return res.rowcount > 0


def _update(conn, sid: str, fields: dict, t_now: datetime) -> None:
    conn.execute(sessions_t.update().where(sessions_t.c.id == sid)
                 .values(updated_at=t_now, **fields))


def _replace_features(conn, sid: str, rows: list[dict], blocks: list[dict]) -> None:
    conn.execute(_DELETE_FEATURES, {"sid": sid})
    conn.execute(_DELETE_BLOCKS, {"sid": sid})
    if rows:
        conn.execute(_INSERT_FEATURES, [{**r, "session_id": sid} for r in rows])
    if blocks:
        conn.execute(_INSERT_BLOCKS, [{**b, "session_id": sid} for b in blocks])
