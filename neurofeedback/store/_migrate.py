"""Migrations of an older catalog to :data:`~neurofeedback.store._schema.SCHEMA_VERSION`, in place.

Version 1 → 2 (per-block metrics): ``session_features`` gains ``block`` as part of its primary
key and every existing row becomes block ``"session"`` (they are the whole-session metrics);
``session_blocks`` is created empty. A primary key cannot be altered in SQLite, so the table is
rebuilt the way SQLite documents: create the new table under another name, copy every row,
check the count, drop the old table, rename the new one. All of it, and the new
``schema_version``, is one transaction: a failure leaves the version-1 catalog as it was.

Version 2 → 3 (cohorts and structured events): ``subjects.group_label``, ``events.quantity``,
``events.unit`` and ``events.updated_at`` are added with ``ALTER TABLE … ADD COLUMN`` (nullable, so
SQLite and PostgreSQL both can, and the existing rows keep their values with the new columns
empty); the ``practice`` table is created empty. Nothing is reprocessed.

This is a documented versioned schema rather than Alembic: the catalog has few tables, every
migration so far is a handful of statements, and it runs inside the opening transaction on
every back end with no migration scripts or ``alembic.ini`` to ship. A migration that outgrows
that (renamed columns on PostgreSQL with live writers) is when Alembic would pay for itself.

Before any migration, a file-based SQLite catalog is copied with ``VACUUM INTO`` to
``<catalog>.schema-v1.bak`` beside it (once; the copy is consistent even while other processes
read). Concurrent openers queue on the write lock and the second finds the work done.

The old sessions keep their whole-session rows but have no per-block rows until they are
processed again: the settings gained a ``blocks`` section, so the config hash changed and the
next ``neurofeedback process`` of the same files reprocesses them in place.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa

from ..blocks import SESSION
from ..errors import StoreError
from ._schema import (
    SCHEMA_VERSION,
    V3_COLUMNS,
    blocks_t,
    features_t,
    meta_t,
    metadata,
    practice_t,
    sessions_t,
    subjects_t,
)

logger = logging.getLogger("neurofeedback")

__all__ = ["backup_sqlite", "migrate"]


def backup_sqlite(engine: sa.Engine, version: int) -> Path | None:
    """Copy a file-based SQLite catalog to ``<file>.schema-v<version>.bak`` (once); its path.

    Returns ``None`` for other databases, in-memory ones, or when the copy cannot be made (a
    warning says why; the migration itself is still one transaction).
    """
    url = engine.url
    db = url.database
    if url.get_backend_name() != "sqlite" or not db or db == ":memory:" or db.startswith("file:"):
        return None
    dest = Path(db).with_name(f"{Path(db).name}.schema-v{version}.bak")
    if dest.exists():
        return dest
    try:
        raw = engine.raw_connection()
        try:
            # the driver connection is in autocommit mode (see _engine): VACUUM needs no transaction
            raw.driver_connection.execute("VACUUM INTO ?", (str(dest),))
        finally:
            raw.close()
    except Exception as err:  # noqa: BLE001 - any failure only means no backup; say so and go on
        logger.warning("catalog %s: no backup copy before the migration (%s)", db, err)
        return None
    logger.info("catalog %s: copied to %s before migrating it to schema version %d", db, dest,
                SCHEMA_VERSION)
    return dest


def migrate(conn, version: int) -> int:
    """Bring the catalog from ``version`` to :data:`SCHEMA_VERSION` inside the caller's write
    transaction; return the version now stored (re-read first: another process may have done it).
    """
    row = conn.execute(sa.select(meta_t.c.value).where(meta_t.c.key == "schema_version")
                       .with_for_update()).scalar()
    version = int(row) if row is not None else version
    if version >= SCHEMA_VERSION:
        return version
    if version == 1:
        _v1_to_v2(conn)
        version = 2
    if version == 2:
        _v2_to_v3(conn)
        version = 3
    conn.execute(meta_t.update().where(meta_t.c.key == "schema_version")
                 .values(value=str(version)))
    return version


def _v1_to_v2(conn) -> None:
    columns = {c["name"] for c in sa.inspect(conn).get_columns(features_t.name)}
    if "block" not in columns:
        md = sa.MetaData()  # the new table under another name; its foreign key needs sessions
        for t in (subjects_t, sessions_t):
            t.to_metadata(md)
        tmp = features_t.to_metadata(md, name=f"{features_t.name}_v2")
        tmp.create(conn)
        old = sa.table(features_t.name, *[sa.column(c) for c in
                                          ("session_id", "metric", "channel", "value", "unit")])
        conn.execute(tmp.insert().from_select(
            ["session_id", "block", "metric", "channel", "value", "unit"],
            sa.select(old.c.session_id, sa.literal(SESSION), old.c.metric, old.c.channel,
                      old.c.value, old.c.unit)))
        n_old = conn.execute(sa.select(sa.func.count()).select_from(old)).scalar_one()
        n_new = conn.execute(sa.select(sa.func.count()).select_from(tmp)).scalar_one()
        if n_old != n_new:
            raise StoreError(f"catalog migration to schema version 2: copied {n_new} of {n_old} "
                             "session_features rows; nothing was changed")
        conn.execute(sa.text(f"DROP TABLE {features_t.name}"))
        conn.execute(sa.text(f"ALTER TABLE {tmp.name} RENAME TO {features_t.name}"))
        logger.info("catalog: %d session_features rows kept as block '%s' (schema version 2)",
                    n_old, SESSION)
    blocks_t.create(conn, checkfirst=True)


def _v2_to_v3(conn) -> None:
    insp = sa.inspect(conn)
    for table, column in V3_COLUMNS:
        have = {c["name"] for c in insp.get_columns(table)}
        if column in have:
            continue
        col = metadata.tables[table].c[column]
        type_sql = col.type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {type_sql}"))
    practice_t.create(conn, checkfirst=True)
    logger.info("catalog: schema version 3 (subject groups, event quantities, practice log)")
