"""Per-block rows in the catalog: schema version 2, the in-place migration of a version-1
catalog (every row kept), block rows and clean fractions in ``metrics_frame``, and ingest."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from neurofeedback.errors import StoreError
from neurofeedback.metrics import block_table, session_metrics
from neurofeedback.process import process_recording
from neurofeedback.store import SCHEMA_VERSION, Catalog, ingest_file

ROOT = Path(__file__).resolve().parent.parent
CYTON = ROOT / "sample_data" / "cyton_meditation.csv"
START = datetime(2026, 1, 5, 7, 30, tzinfo=timezone.utc)

#: The catalog as schema version 1 created it (SQLAlchemy's SQLite DDL of that version).
V1_DDL = """
CREATE TABLE meta ("key" VARCHAR(64) NOT NULL, value TEXT NOT NULL, PRIMARY KEY ("key"));
CREATE TABLE subjects (id INTEGER NOT NULL, label VARCHAR(64) NOT NULL,
    created_at DATETIME NOT NULL, PRIMARY KEY (id), UNIQUE (label));
CREATE TABLE sessions (id VARCHAR(160) NOT NULL, subject_id INTEGER NOT NULL,
    session_label VARCHAR(64) NOT NULL, start_time DATETIME NOT NULL, device VARCHAR(128),
    format VARCHAR(32), protocol VARCHAR(128), blocks JSON, notes TEXT, duration_s FLOAT,
    sfreq FLOAT, n_channels INTEGER, clean_fraction FLOAT, input_sha256 VARCHAR(64) NOT NULL,
    source_path TEXT, bids_path TEXT, features_path TEXT, summary_path TEXT,
    pipeline_version VARCHAR(64), config_hash VARCHAR(64) NOT NULL, created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL, PRIMARY KEY (id),
    CONSTRAINT uq_sessions_subject_label UNIQUE (subject_id, session_label),
    FOREIGN KEY(subject_id) REFERENCES subjects (id), UNIQUE (input_sha256));
CREATE TABLE events (id INTEGER NOT NULL, subject_id INTEGER NOT NULL, time DATETIME NOT NULL,
    kind VARCHAR(32) NOT NULL, text TEXT NOT NULL, created_at DATETIME NOT NULL, PRIMARY KEY (id),
    FOREIGN KEY(subject_id) REFERENCES subjects (id));
CREATE INDEX ix_events_subject_time ON events (subject_id, time);
CREATE TABLE session_features (session_id VARCHAR(160) NOT NULL, metric VARCHAR(64) NOT NULL,
    channel VARCHAR(64) NOT NULL, value FLOAT NOT NULL, unit VARCHAR(32),
    PRIMARY KEY (session_id, metric, channel),
    FOREIGN KEY(session_id) REFERENCES sessions (id) ON DELETE CASCADE);
"""


def _v1_catalog(path: Path, n_sessions=3) -> list[tuple]:
    """A version-1 catalog with subjects, sessions, features and an event; its feature rows."""
    con = sqlite3.connect(path)
    con.executescript(V1_DDL)
    con.executemany("INSERT INTO meta VALUES (?, ?)", [("schema_version", "1"),
                                                       ("instance_id", "v1instance")])
    con.execute("INSERT INTO subjects (label, created_at) VALUES ('alpha01', '2026-01-05 08:00:00')")
    feats = []
    for i in range(n_sessions):
        sid = f"sub-alpha01_ses-2026010{5 + i}T073000"
        con.execute(
            "INSERT INTO sessions (id, subject_id, session_label, start_time, protocol, clean_fraction,"
            " input_sha256, config_hash, created_at, updated_at) VALUES (?, 1, ?, ?, 'meditation', ?,"
            " ?, 'oldcfg', '2026-01-05 08:00:00', '2026-01-05 08:00:00')",
            (sid, sid[-15:], f"2026-01-0{5 + i} 07:30:00", 0.7 + 0.1 * i, f"{i}" * 64))
        for metric, channel, value, unit in (("relative_alpha", "O1", 0.3 + i, "fraction"),
                                             ("relative_alpha", "mean", 0.25 + i, "fraction"),
                                             ("faa", "F4/F3", -0.1 * i, "ln(uV^2)"),
                                             ("iaf", "O1", 10.0 + i, "Hz")):
            feats.append((sid, metric, channel, value, unit))
    con.executemany("INSERT INTO session_features VALUES (?, ?, ?, ?, ?)", feats)
    con.execute("INSERT INTO events (subject_id, time, kind, text, created_at) VALUES "
                "(1, '2026-01-06 10:00:00', 'therapy', 'ketamine infusion 1', '2026-01-06 10:00:00')")
    con.commit()
    con.close()
    return feats


def _dump(path: Path, table: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return sorted(con.execute(f"SELECT * FROM {table}").fetchall())
    finally:
        con.close()


def test_a_version_1_catalog_is_migrated_in_place_keeping_every_row(tmp_path):
    db = tmp_path / "catalog.sqlite"
    feats = _v1_catalog(db)
    before = {t: _dump(db, t) for t in ("subjects", "sessions", "events")}

    cat = Catalog(home=tmp_path)

    con = sqlite3.connect(db)
    version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    cols = [r[1] for r in con.execute("PRAGMA table_info(session_features)")]
    pk = [r[1] for r in sorted(con.execute("PRAGMA table_info(session_features)"), key=lambda r: r[5])
          if r[5]]
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    con.close()
    assert int(version) == SCHEMA_VERSION == 3
    assert pk == ["session_id", "block", "metric", "channel"] and "block" in cols
    assert "session_blocks" in tables and not any(t.endswith("_v2") for t in tables)
    # every feature row kept, as a whole-session row; the other tables untouched
    got = _dump(db, "session_features")
    by_name = [dict(zip(cols, r)) for r in got]
    assert sorted((r["session_id"], r["metric"], r["channel"], r["value"], r["unit"]) for r in by_name) \
        == sorted(feats)
    assert {r["block"] for r in by_name} == {"session"}
    # version 3 appended nullable columns to subjects (group_label) and events (quantity, unit,
    # updated_at): the old values are unchanged and the new ones empty
    assert _dump(db, "sessions") == before["sessions"]
    assert _dump(db, "subjects") == [(*r, None) for r in before["subjects"]]
    assert _dump(db, "events") == [(*r, None, None, None) for r in before["events"]]
    assert _dump(db, "practice") == []
    assert cat.instance_id == "v1instance"
    # the version-1 file was copied first, and the copy is still version 1 with every row
    backup = tmp_path / "catalog.sqlite.schema-v1.bak"
    assert sorted(_dump(backup, "session_features")) == sorted(feats)
    assert _dump(backup, "meta") == [("instance_id", "v1instance"), ("schema_version", "1")]

    # the catalog works as a version-2 one
    frame = cat.metrics_frame("alpha01")
    assert len(frame) == len(feats) and set(frame["block"]) == {"session"}
    assert frame.groupby("session_id")["clean_fraction"].first().tolist() == pytest.approx([0.7, 0.8, 0.9])
    assert cat.events("alpha01")["text"].tolist() == ["ketamine infusion 1"]
    assert cat.blocks() == ["session"]
    # opening again does nothing
    Catalog(home=tmp_path)
    assert _dump(db, "session_features") == got


def test_a_failed_migration_leaves_the_version_1_catalog_as_it_was(tmp_path):
    """The migration is one transaction: here the rebuild's table name is taken, so it fails,
    and the catalog is still a complete version-1 catalog."""
    db = tmp_path / "catalog.sqlite"
    feats = _v1_catalog(db)
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE session_features_v2 (x INTEGER)")
    con.commit()
    con.close()
    # the message names the catalog file (issue 16)
    with pytest.raises(StoreError, match=f"^{re.escape(str(db))}: cannot create the catalog tables"):
        Catalog(home=tmp_path)
    assert sorted(_dump(db, "session_features")) == sorted(feats)
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "1"
    assert [r[1] for r in con.execute("PRAGMA table_info(session_features)")] == [
        "session_id", "metric", "channel", "value", "unit"]
    con.close()


def _fields(sha, start, clean):
    return {"start_time": start, "protocol": "meditation", "clean_fraction": clean,
            "input_sha256": sha, "source_path": f"/d/{sha[:4]}.csv", "config_hash": "cfg"}


def _metrics(i):
    rows = []
    for block, rel in (("session", 0.4), ("eyes-closed", 0.6), ("meditation", 0.5)):
        rows += [("relative_alpha", "O1", rel + i, "fraction", block),
                 ("relative_alpha", "mean", rel + i - 0.1, "fraction", block)]
    rows.append(("alpha_vs_eyes_closed", "O1", -0.1, "fraction", "meditation"))
    return pd.DataFrame(rows, columns=["metric", "channel", "value", "unit", "block"])


def _blocks(i):
    return pd.DataFrame({
        "block": ["eyes-open", "eyes-closed", "meditation"], "onset_s": [0.0, 60.0, 120.0],
        "duration_s": [60.0, 60.0, 60.0], "n_epochs": [29, 29, 29],
        "n_clean_epochs": [3, 20, 29 - i],
        "clean_fraction": [3 / 29, 20 / 29, (29 - i) / 29],
        "reason": ["too few clean epochs: 3 of 29 (a block's values need >= 5)", None, None]})


def test_block_rows_and_block_clean_fractions(tmp_path, catalog_url):
    cat = Catalog(home=tmp_path)
    for i in range(2):
        cat.record_session("s1", f"2026010{5 + i}T073000",
                           _fields(f"{i}" * 64, START + timedelta(days=i), 0.6), _metrics(i),
                           _blocks(i))
    f = cat.metrics_frame("s1")
    assert set(f["block"]) == {"session", "eyes-closed", "meditation"}
    assert not f.duplicated(["session_id", "block", "metric", "channel"]).any()
    cf = f.groupby(["session_id", "block"])["clean_fraction"].first()
    assert cf["sub-s1_ses-20260105T073000", "session"] == 0.6  # the session's
    assert cf["sub-s1_ses-20260105T073000", "eyes-closed"] == pytest.approx(20 / 29)  # the block's
    assert cf["sub-s1_ses-20260106T073000", "meditation"] == pytest.approx(28 / 29)
    med = cat.metrics_frame("s1", block="meditation")
    assert set(med["block"]) == {"meditation"} and len(med) == 6
    assert tuple(med.columns) == tuple(f.columns)
    sess = cat.metrics_frame(block="session")
    assert len(sess) == 4 and (sess["clean_fraction"] == 0.6).all()
    assert cat.metrics_frame("s1", block="nothing").empty
    assert cat.blocks("s1") == ["eyes-closed", "meditation", "session"]
    b = cat.session_blocks("sub-s1_ses-20260105T073000")
    assert b["block"].tolist() == ["eyes-open", "eyes-closed", "meditation"]
    assert b.loc[0, "reason"].startswith("too few clean epochs") and b.loc[1, "reason"] is None
    assert b["n_clean_epochs"].tolist() == [3, 20, 29]
    feats = cat.session_features("sub-s1_ses-20260105T073000", block="meditation")
    assert list(feats.columns) == ["metric", "channel", "value", "unit", "block"] and len(feats) == 3
    # reprocessing replaces the blocks too; deleting removes them
    cat.record_session("s1", "20260105T073000", {**_fields("0" * 64, START, 0.6), "config_hash": "c2"},
                       _metrics(0), _blocks(0).iloc[:1])
    assert cat.session_blocks("sub-s1_ses-20260105T073000")["block"].tolist() == ["eyes-open"]
    assert cat.delete_session("sub-s1_ses-20260105T073000")
    assert cat.session_blocks("sub-s1_ses-20260105T073000").empty
    with pytest.raises(ValueError, match=r"unique per \(block, metric, channel\)"):
        cat.record_session("s1", "20260107T073000", _fields("7" * 64, START, 0.6),
                           pd.concat([_metrics(0), _metrics(0)]))


def test_the_block_is_part_of_the_key_in_the_database(tmp_path, catalog_url):
    cat = Catalog(home=tmp_path)
    cat.record_session("s1", "20260105T073000", _fields("1" * 64, START, 0.6), _metrics(0))
    eng = sa.create_engine(cat.url)
    with eng.connect() as conn:
        with pytest.raises(sa.exc.IntegrityError):
            with conn.begin():
                conn.execute(sa.text(
                    "INSERT INTO session_features (session_id, block, metric, channel, value) "
                    "VALUES ('sub-s1_ses-20260105T073000', 'meditation', 'relative_alpha', 'O1', 1)"))
        with conn.begin():  # the same metric and channel in another block is another row
            conn.execute(sa.text(
                "INSERT INTO session_features (session_id, block, metric, channel, value) "
                "VALUES ('sub-s1_ses-20260105T073000', 'eyes-open', 'relative_alpha', 'O1', 1)"))
    eng.dispose()


def test_ingest_stores_the_blocks(tmp_path, catalog_url):
    res = ingest_file(CYTON, home=tmp_path)
    cat = Catalog(home=tmp_path)
    summary = process_recording(CYTON).summary()
    feats = cat.session_features(res.session_id)
    want = session_metrics(summary)
    cols = ["block", "metric", "channel"]
    pd.testing.assert_frame_equal(
        feats.sort_values(cols).reset_index(drop=True)[list(want.columns)],
        want.sort_values(cols).reset_index(drop=True), check_exact=False, rtol=1e-12)
    assert set(feats["block"]) == {"session", "eyes-open", "eyes-closed", "meditation"}
    blocks = cat.session_blocks(res.session_id)
    pd.testing.assert_frame_equal(blocks, block_table(summary))
    f = cat.metrics_frame(block="meditation")
    # each series carries its own channel's clean fraction in the block (what the quality floor
    # reads); the mean of the channels' for ``mean``; the block's for rows of no one channel
    med = summary["blocks"]["meditation"]
    own = {**med["channel_clean_fraction"], "mean": med["clean_fraction"]}
    wcf = want[(want["metric"] == "clean_fraction") & (want["block"] == "meditation")]
    own["posterior"] = wcf.set_index("channel")["value"]["posterior"]
    for row in f.itertuples():
        want_cf = own.get(row.channel, med["clean_fraction"])
        assert row.clean_fraction == pytest.approx(want_cf, rel=1e-12), (row.metric, row.channel)
    alpha = f[(f["metric"] == "alpha_vs_eyes_closed") & (f["channel"] == "posterior")]
    assert len(alpha) == 1 and alpha["value"].item() < 0  # meditation ×2 vs eyes closed ×3
    # the per-epoch derivative carries the block column
    import pyarrow.parquet as pq

    table = pq.read_table(res.features_path).to_pandas()
    assert set(table["block"]) == {"", "eyes-open", "eyes-closed", "meditation"}


def test_a_version_2_catalog_gains_groups_event_quantities_and_the_practice_log(tmp_path):
    """Schema 2 → 3 adds nullable columns and an empty table; rows and values are kept."""
    db = tmp_path / "catalog.sqlite"
    _v1_catalog(db)
    Catalog(home=tmp_path)  # → current version
    con = sqlite3.connect(db)  # back to a version-2 shape: drop what version 3 added
    for table, column in (("subjects", "group_label"), ("events", "quantity"), ("events", "unit"),
                          ("events", "updated_at")):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("DROP TABLE practice")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    before = {t: _dump(db, t) for t in ("subjects", "sessions", "session_features", "events")}

    cat = Catalog(home=tmp_path)
    assert _dump(db, "meta")[1] == ("schema_version", "3")
    assert _dump(db, "session_features") == before["session_features"]
    assert _dump(db, "subjects") == [(*r, None) for r in before["subjects"]]
    assert (tmp_path / "catalog.sqlite.schema-v2.bak").is_file()
    # the new columns work
    assert cat.groups() == {"alpha01": None}
    cat.set_group("alpha01", "course")
    assert cat.groups() == {"alpha01": "course"}
    cat.set_group("alpha01", None)
    assert cat.groups() == {"alpha01": None}
    with pytest.raises(StoreError, match="no subject 'nobody'"):
        cat.set_group("nobody", "course")
    assert cat.subjects() == ["alpha01"]


# --- every older schema version upgrades, on SQLite and PostgreSQL ---------------------------
#
# Each old version's tables as that version's code created them (SQLAlchemy Core, so the same
# definition makes the SQLite and the PostgreSQL DDL), frozen here: a later version that changes
# the schema adds the previous version's builder to OLD_SCHEMAS (the test below fails until it
# does), and every catalog that older versions can have written is checked to reach
# SCHEMA_VERSION with its rows.


def _v1_tables(md: sa.MetaData, *, blocks: bool = False) -> dict[str, sa.Table]:
    """Schema version 1 (``blocks=False``) or 2 (``True``: the block key and session_blocks)."""
    ts = sa.DateTime(timezone=True)
    t = {
        "meta": sa.Table("meta", md, sa.Column("key", sa.String(64), primary_key=True),
                         sa.Column("value", sa.Text, nullable=False)),
        "subjects": sa.Table("subjects", md, sa.Column("id", sa.Integer, primary_key=True),
                             sa.Column("label", sa.String(64), nullable=False, unique=True),
                             sa.Column("created_at", ts, nullable=False)),
        "sessions": sa.Table(
            "sessions", md, sa.Column("id", sa.String(160), primary_key=True),
            sa.Column("subject_id", sa.Integer, sa.ForeignKey("subjects.id"), nullable=False),
            sa.Column("session_label", sa.String(64), nullable=False),
            sa.Column("start_time", ts, nullable=False), sa.Column("device", sa.String(128)),
            sa.Column("format", sa.String(32)), sa.Column("protocol", sa.String(128)),
            sa.Column("blocks", sa.JSON), sa.Column("notes", sa.Text),
            sa.Column("duration_s", sa.Float), sa.Column("sfreq", sa.Float),
            sa.Column("n_channels", sa.Integer), sa.Column("clean_fraction", sa.Float),
            sa.Column("input_sha256", sa.String(64), nullable=False, unique=True),
            *[sa.Column(c, sa.Text) for c in ("source_path", "bids_path", "features_path",
                                              "summary_path")],
            sa.Column("pipeline_version", sa.String(64)),
            sa.Column("config_hash", sa.String(64), nullable=False),
            sa.Column("created_at", ts, nullable=False), sa.Column("updated_at", ts, nullable=False),
            sa.UniqueConstraint("subject_id", "session_label", name="uq_sessions_subject_label")),
        "events": sa.Table(
            "events", md, sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("subject_id", sa.Integer, sa.ForeignKey("subjects.id"), nullable=False),
            sa.Column("time", ts, nullable=False), sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("text", sa.Text, nullable=False), sa.Column("created_at", ts, nullable=False),
            sa.Index("ix_events_subject_time", "subject_id", "time")),
        "session_features": sa.Table(
            "session_features", md,
            sa.Column("session_id", sa.String(160), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                      primary_key=True),
            *([sa.Column("block", sa.String(64), primary_key=True)] if blocks else []),
            sa.Column("metric", sa.String(64), primary_key=True),
            sa.Column("channel", sa.String(64), primary_key=True),
            sa.Column("value", sa.Float, nullable=False), sa.Column("unit", sa.String(32))),
    }
    if blocks:
        t["session_blocks"] = sa.Table(
            "session_blocks", md,
            sa.Column("session_id", sa.String(160), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                      primary_key=True),
            sa.Column("block", sa.String(64), primary_key=True),
            *[sa.Column(c, sa.Float) for c in ("onset_s", "duration_s")],
            *[sa.Column(c, sa.Integer) for c in ("n_epochs", "n_clean_epochs")],
            sa.Column("clean_fraction", sa.Float), sa.Column("reason", sa.Text))
    return t


def _old_rows(version: int) -> dict[str, list[dict]]:
    """The rows an old catalog holds: 2 subjects, 3 sessions, their features, an event."""
    t0 = datetime(2026, 1, 5, 7, 30, tzinfo=timezone.utc)
    rows = {"meta": [{"key": "schema_version", "value": str(version)},
                     {"key": "instance_id", "value": f"v{version}instance"}],
            "subjects": [{"id": 1, "label": "alpha01", "created_at": t0},
                         {"id": 2, "label": "beta01", "created_at": t0}],
            "sessions": [], "session_features": [], "session_blocks": [],
            "events": [{"id": 1, "subject_id": 1, "time": t0 + timedelta(days=1, hours=3),
                        "kind": "therapy", "text": "ketamine infusion 1", "created_at": t0}]}
    for i in range(3):
        start = t0 + timedelta(days=i)
        sid = f"sub-{'alpha01' if i < 2 else 'beta01'}_ses-{start:%Y%m%dT%H%M%S}"
        rows["sessions"].append({
            "id": sid, "subject_id": 1 if i < 2 else 2, "session_label": sid[-15:],
            "start_time": start, "protocol": "meditation", "blocks": [{"label": "rest"}],
            "clean_fraction": 0.7 + 0.1 * i, "input_sha256": f"{i}" * 64, "config_hash": "oldcfg",
            "created_at": t0, "updated_at": t0})
        for metric, channel, value, unit in (("relative_alpha", "O1", 0.3 + i, "fraction"),
                                             ("relative_alpha", "mean", 0.25 + i, "fraction"),
                                             ("iaf", "O1", 10.0 + i, "Hz")):
            row = {"session_id": sid, "metric": metric, "channel": channel, "value": value,
                   "unit": unit}
            rows["session_features"].append(row if version < 2 else {**row, "block": "session"})
        if version >= 2:
            rows["session_blocks"].append({"session_id": sid, "block": "rest", "onset_s": 0.0,
                                           "duration_s": 60.0, "n_epochs": 29,
                                           "n_clean_epochs": 20 + i, "clean_fraction": (20 + i) / 29,
                                           "reason": None})
    return rows


#: Schema version -> builder of its tables (in a MetaData); every version before SCHEMA_VERSION.
OLD_SCHEMAS = {1: _v1_tables, 2: lambda md: _v1_tables(md, blocks=True)}


def _comparable(rows: list[dict], columns) -> list[tuple]:
    def norm(v):
        if isinstance(v, datetime):  # SQLite returns the UTC wall clock, PostgreSQL tz-aware
            return (v.astimezone(timezone.utc) if v.tzinfo else v).replace(tzinfo=None)
        return json.dumps(v) if isinstance(v, list | dict) else v
    return sorted(tuple(norm(r.get(c)) for c in columns) for r in rows)


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_every_older_catalog_upgrades_to_the_current_version_with_its_rows(catalog_url, version):
    """A catalog written at any older schema version (here on SQLite and PostgreSQL) is migrated
    in place when opened: schema_version becomes SCHEMA_VERSION, every row of every old table
    is still there (its old columns unchanged) and the catalog works."""
    assert version in OLD_SCHEMAS, (
        f"schema version {version} has no builder in OLD_SCHEMAS: freeze its tables there so the "
        "upgrade from it is tested")
    md = sa.MetaData()
    old = OLD_SCHEMAS[version](md)
    rows = _old_rows(version)
    eng = sa.create_engine(catalog_url)
    try:
        with eng.begin() as conn:
            md.create_all(conn)
            for name, table in old.items():  # in dependency order (dict order above)
                if rows.get(name):
                    conn.execute(table.insert(), rows[name])
            if eng.dialect.name == "postgresql":  # explicit ids: move the sequences past them
                for name in ("subjects", "events"):
                    conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                         f"(SELECT max(id) FROM {name}))"))
    finally:
        eng.dispose()

    cat = Catalog(catalog_url)
    assert cat.instance_id == f"v{version}instance"
    eng = sa.create_engine(catalog_url)
    try:
        with eng.connect() as conn:
            stored = int(conn.execute(sa.text("SELECT value FROM meta WHERE key = 'schema_version'"))
                         .scalar())
            for name, table in old.items():
                if name == "meta":
                    continue
                cols = [c.name for c in table.columns]
                got = [dict(r) for r in conn.execute(sa.select(*table.columns)).mappings()]
                assert _comparable(got, cols) == _comparable(rows[name], cols), name
    finally:
        eng.dispose()
    assert stored == SCHEMA_VERSION
    # and it works as a current catalog: reads, a new session, an event
    frame = cat.metrics_frame("alpha01", block="session")
    assert len(frame) == 6 and frame["clean_fraction"].drop_duplicates().tolist() == pytest.approx([0.7, 0.8])
    assert cat.events("alpha01")["text"].tolist() == ["ketamine infusion 1"]
    assert len(cat.sessions()) == 3 and cat.subjects() == ["alpha01", "beta01"]
    cat.record_session("beta01", "20260110T073000", _fields("9" * 64, START + timedelta(days=5), 0.9),
                       _metrics(0), _blocks(0))
    cat.add_event("beta01", START, "note", "an event after the upgrade", quantity=1.0, unit="mg")
    assert len(cat.sessions("beta01")) == 2 and cat.subjects() == ["alpha01", "beta01"]
    assert cat.events("beta01")[["text", "quantity", "unit"]].values.tolist() == [
        ["an event after the upgrade", 1.0, "mg"]]
    # opening again does nothing
    assert Catalog(catalog_url).instance_id == f"v{version}instance"
