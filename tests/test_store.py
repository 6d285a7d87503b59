"""The catalog on real SQLite files and a real PostgreSQL (``catalog_url``, tests/conftest.py):
schema, sessions and features, events, the trends contract, and the unique constraints that keep
one session per file."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlalchemy as sa

from neurofeedback.errors import ConfigError, StoreError
from neurofeedback.store import METRICS_COLUMNS, SCHEMA_VERSION, Catalog, session_id_for
from neurofeedback.trends import REQUIRED_COLUMNS

START = datetime(2026, 1, 5, 7, 30, tzinfo=timezone.utc)


def _fields(sha="a" * 64, cfg="cfg1", *, start=START, source="/data/x/rec.csv", clean=0.8):
    return {
        "start_time": start, "device": "CYTON_BOARD", "format": "brainflow_csv",
        "protocol": "meditation", "blocks": [{"label": "eyes-open", "duration_s": 60.0}],
        "notes": "morning", "duration_s": 180.0, "sfreq": 250.0, "n_channels": 8,
        "clean_fraction": clean, "input_sha256": sha, "source_path": source,
        "bids_path": "/h/bids/x.vhdr", "features_path": "/h/f.parquet",
        "summary_path": "/h/s.json", "pipeline_version": "0.1.0", "config_hash": cfg,
    }


def _metrics(offset=0.0):
    return pd.DataFrame({
        "metric": ["relative_alpha", "relative_alpha", "relative_alpha", "faa"],
        "channel": ["O1", "O2", "mean", "F4/F3"],
        "value": [0.30 + offset, 0.40 + offset, 0.35 + offset, 0.1],
        "unit": ["fraction", "fraction", "fraction", "ln ratio"],
    })


def test_schema_created_once_with_version_and_wal(tmp_path, catalog_url):
    url = catalog_url
    cat = Catalog(url)
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        meta = dict(conn.execute(sa.text("SELECT key, value FROM meta")).all())
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar() if url.startswith("sqlite") else "wal"
    eng.dispose()
    assert {"meta", "subjects", "sessions", "session_features", "session_blocks", "events"} <= tables
    assert int(meta["schema_version"]) == SCHEMA_VERSION == cat.schema_version
    assert mode.lower() == "wal"  # SQLite's write-ahead log (PostgreSQL has its own)
    again = Catalog(url)
    assert again.instance_id == cat.instance_id == meta["instance_id"]
    assert again.sessions().empty and again.subjects() == []


def test_default_catalog_lives_in_the_data_home(tmp_path):
    cat = Catalog(home=tmp_path)
    assert cat.url == f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    assert (tmp_path / "catalog.sqlite").is_file()


def test_newer_schema_is_refused(tmp_path, catalog_url):
    url = catalog_url
    Catalog(url)
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    eng.dispose()
    with pytest.raises(StoreError, match="schema version 99"):
        Catalog(url)


def test_record_and_query_a_session(tmp_path, catalog_url):
    cat = Catalog(home=tmp_path)
    status, sid = cat.record_session("alpha01", "20260105T073000", _fields(), _metrics())
    assert status == "imported"
    assert sid == session_id_for("alpha01", "20260105T073000") == "sub-alpha01_ses-20260105T073000"
    df = cat.sessions()
    assert len(df) == 1
    row = df.iloc[0]
    assert (row["subject"], row["session"], row["session_id"]) == ("alpha01", "20260105T073000", sid)
    assert row["start_time"] == pd.Timestamp(START)
    assert str(df["start_time"].dtype) == "datetime64[ns, UTC]"
    assert row["clean_fraction"] == 0.8 and row["duration_s"] == 180.0 and row["n_channels"] == 8
    assert row["blocks"] == [{"label": "eyes-open", "duration_s": 60.0}]
    assert cat.session(sid)["config_hash"] == "cfg1"
    assert cat.find_by_sha("a" * 64)["session_id"] == sid
    assert cat.find_by_sha("b" * 64) is None
    assert cat.find_session("alpha01", "20260105T073000")["session_id"] == sid
    feats = cat.session_features(sid)
    pd.testing.assert_frame_equal(
        feats.sort_values(["metric", "channel"]).reset_index(drop=True),
        _metrics().assign(block="session").sort_values(["metric", "channel"]).reset_index(drop=True))
    assert cat.subjects() == ["alpha01"]
    with pytest.raises(StoreError, match="no session"):
        cat.session("sub-x_ses-1")


@pytest.mark.parametrize("column", ["metric", "channel", "unit"])
def test_a_metric_row_too_long_for_its_column_is_refused_on_every_backend(tmp_path, catalog_url,
                                                                          column):
    """The limits of ``session_features`` hold on SQLite (which would keep any length) as on
    PostgreSQL (which would refuse at the insert): one line naming the session, the column and
    the limit, and nothing recorded."""
    from neurofeedback._validate import TEXT_LIMITS

    cat = Catalog(home=tmp_path)
    m = _metrics()
    m.loc[2, column] = "x" * (TEXT_LIMITS[column] + 1)
    with pytest.raises(StoreError) as err:
        cat.record_session("alpha01", "20260105T073000", _fields(), m)
    msg = str(err.value)
    assert "\n" not in msg and "sub-alpha01_ses-20260105T073000" in msg
    assert f"metric row {column!r}" in msg and f"at most {TEXT_LIMITS[column]} characters" in msg
    assert cat.sessions().empty
    m.loc[2, column] = "x" * TEXT_LIMITS[column]  # at the limit: kept, whole
    cat.record_session("alpha01", "20260105T073000", _fields(), m)
    feats = cat.session_features("sub-alpha01_ses-20260105T073000")
    assert (feats[column] == "x" * TEXT_LIMITS[column]).sum() == 1


def test_a_missing_unit_is_stored_as_no_unit(tmp_path, catalog_url):
    """A metric row without a unit (None, NaN or pandas' NA, as the string columns of pandas 3
    hold it) is NULL in the catalog, never the text "nan" or "<NA>"."""
    cat = Catalog(home=tmp_path)
    m = _metrics().astype({"unit": "str"})
    m.loc[[0, 3], "unit"] = None
    cat.record_session("alpha01", "20260105T073000", _fields(), m)
    feats = cat.session_features("sub-alpha01_ses-20260105T073000").set_index(["metric", "channel"])
    assert feats["unit"].isna().sum() == 2
    assert feats.loc[("relative_alpha", "O2"), "unit"] == "fraction"
    assert not feats["unit"].isin(["nan", "<NA>", "None"]).any()


def test_same_file_same_config_is_unchanged_other_config_replaces_features(tmp_path, catalog_url):
    cat = Catalog(home=tmp_path)
    _, sid = cat.record_session("alpha01", "20260105T073000", _fields(), _metrics())
    assert cat.record_session("alpha01", "20260105T073000", _fields(), _metrics(0.5)) == ("unchanged", sid)
    assert cat.session_features(sid)["value"].max() < 0.5  # untouched
    new = _metrics(0.1).iloc[:2]
    assert cat.record_session("alpha01", "20260105T073000", _fields(cfg="cfg2"), new) == ("reprocessed", sid)
    assert len(cat.sessions()) == 1
    assert cat.session(sid)["config_hash"] == "cfg2"
    feats = cat.session_features(sid)
    assert len(feats) == 2
    assert sorted(feats["value"]) == pytest.approx([0.4, 0.5])


def test_labels_held_by_another_recording(tmp_path, catalog_url):
    cat = Catalog(home=tmp_path)
    _, sid = cat.record_session("s1", "20260105T073000", _fields(source="/a/rec.csv"), _metrics())
    # the same file rewritten in place: replaced, one session
    st = cat.record_session("s1", "20260105T073000", _fields("c" * 64, source="/a/rec.csv"), _metrics(0.2))
    assert st == ("reprocessed", sid)
    assert cat.session(sid)["input_sha256"] == "c" * 64
    # the same recording in another format in the same folder (recorder CSV + FIF): unchanged
    st = cat.record_session("s1", "20260105T073000", _fields("d" * 64, source="/a/rec_raw.fif"), _metrics())
    assert st == ("unchanged", sid)
    # a different recording elsewhere claiming the labels: refused
    with pytest.raises(StoreError, match="already has session"):
        cat.record_session("s1", "20260105T073000", _fields("e" * 64, source="/b/other.csv"), _metrics())
    assert len(cat.sessions()) == 1
    assert cat.find_by_sha("e" * 64) is None


def test_unique_constraints_are_in_the_database(tmp_path, catalog_url):
    """Not only Python checks: the database itself refuses a second row for a file."""
    cat = Catalog(home=tmp_path)
    cat.record_session("s1", "20260105T073000", _fields(), _metrics())
    eng = sa.create_engine(cat.url)
    with eng.connect() as conn:
        subject_id = conn.execute(sa.text("SELECT id FROM subjects")).scalar()
        conn.commit()
        now = datetime.now(timezone.utc).isoformat()
        with pytest.raises(sa.exc.IntegrityError):
            with conn.begin():
                conn.execute(sa.text(
                    "INSERT INTO sessions (id, subject_id, session_label, start_time, input_sha256, "
                    "config_hash, created_at, updated_at) VALUES ('x', :s, 'other', :t, :sha, 'c', :t, :t)"),
                    {"s": subject_id, "t": now, "sha": "a" * 64})
        with pytest.raises(sa.exc.IntegrityError):
            with conn.begin():
                conn.execute(sa.text(
                    "INSERT INTO session_features (session_id, block, metric, channel, value) "
                    "VALUES ('sub-s1_ses-20260105T073000', 'session', 'faa', 'F4/F3', 1.0)"))
        with pytest.raises(sa.exc.IntegrityError):
            with conn.begin():
                conn.execute(sa.text("INSERT INTO subjects (label, created_at) VALUES ('s1', :t)"),
                             {"t": now})
    eng.dispose()
    assert len(cat.sessions()) == 1 and len(cat.session_features("sub-s1_ses-20260105T073000")) == 4


def test_metrics_frame_contract(tmp_path, catalog_url):
    cat = Catalog(home=tmp_path)
    empty = cat.metrics_frame()
    # the trends' columns, plus the block
    assert tuple(empty.columns) == METRICS_COLUMNS == (*REQUIRED_COLUMNS, "block")
    assert str(empty["start_time"].dtype) == "datetime64[ns, UTC]"
    cat.record_session("s1", "20260112T080000", _fields("1" * 64, start=START + timedelta(days=7),
                                                         source="/a/2.csv", clean=0.5), _metrics(0.1))
    cat.record_session("s1", "20260105T073000", _fields("2" * 64, source="/a/1.csv"), _metrics())
    cat.record_session("s2", "20260105T073000", _fields("3" * 64, source="/b/1.csv"), _metrics())
    f = cat.metrics_frame()
    assert tuple(f.columns) == METRICS_COLUMNS
    assert len(f) == 12
    assert str(f["start_time"].dtype) == "datetime64[ns, UTC]"
    assert f["value"].dtype == "float64" and f["clean_fraction"].dtype == "float64"
    assert not f.duplicated(["session_id", "metric", "channel"]).any()
    assert set(f["block"]) == {"session"}  # metrics without a block column are session rows
    f1 = cat.metrics_frame(subject="s1")
    assert list(f1["session_id"].unique()) == ["sub-s1_ses-20260105T073000", "sub-s1_ses-20260112T080000"]
    later = f1[f1["session_id"] == "sub-s1_ses-20260112T080000"]
    assert set(later["clean_fraction"]) == {0.5}
    assert later.set_index(["metric", "channel"]).loc[("relative_alpha", "mean"), "value"] == pytest.approx(0.45)
    assert cat.metrics_frame(subject="nobody").empty
    # the database-side metric filter gives exactly the rows of those metrics, in the same order
    names = sorted(set(f["metric"]))
    assert cat.metric_names() == names and cat.metric_names(subject="s2") == names
    assert cat.metric_names(subject="nobody") == [] and cat.metric_names(block="meditation") == []
    some = names[:2]
    part = cat.metrics_frame(subject="s1", metrics=some)
    want = f1[f1["metric"].isin(some)].reset_index(drop=True)
    pd.testing.assert_frame_equal(part.reset_index(drop=True), want)
    assert cat.metrics_frame(metrics=[]).empty and tuple(cat.metrics_frame(metrics=[]).columns) == METRICS_COLUMNS


def test_events_on_the_timeline(tmp_path, catalog_url):
    cat = Catalog(home=tmp_path)
    with pytest.raises(StoreError, match="no subject 'k01'"):  # an event never creates a subject
        cat.add_event("k01", date(2026, 3, 2), "ketamine", "infusion 0.5 mg/kg")
    assert cat.subjects() == [] and cat.events().empty
    cat.add_subject("k01")
    cat.add_subject("k02")
    e1 = cat.add_event("k01", date(2026, 3, 2), "ketamine", "infusion 0.5 mg/kg")
    e2 = cat.add_event("k01", datetime(2026, 2, 20, 9, 0), "practice", "started box breathing")
    e3 = cat.add_event("k02", "2026-03-01T10:00:00+01:00", "note", "")
    assert len({e1, e2, e3}) == 3
    ev = cat.events(subject="k01")
    assert list(ev["kind"]) == ["practice", "ketamine"]  # by time
    assert list(ev["time"]) == [pd.Timestamp("2026-02-20 09:00", tz="UTC"), pd.Timestamp("2026-03-02", tz="UTC")]
    assert cat.events().set_index("event_id").loc[e3, "time"] == pd.Timestamp("2026-03-01 09:00", tz="UTC")
    assert cat.subjects() == ["k01", "k02"]
    with pytest.raises(ConfigError, match="'kind' parameter"):
        cat.add_event("k01", date(2026, 3, 2), "party", "")
    with pytest.raises(ConfigError, match="'when' parameter"):
        cat.add_event("k01", "yesterday", "note", "")
    with pytest.raises(ConfigError, match="subject"):
        cat.add_event("../k01", date(2026, 3, 2), "note", "")
    assert len(cat.events()) == 3


@pytest.mark.parametrize("bad", ["../x", "a/b", "a b", "", "x_y"])
def test_invalid_subject_labels(tmp_path, catalog_url, bad):
    cat = Catalog(home=tmp_path)
    with pytest.raises(ConfigError):
        cat.record_session(bad, "20260105T073000", _fields(), _metrics())
    with pytest.raises(ConfigError):
        cat.sessions(subject=bad)
    assert cat.subjects() == []


def test_bad_url_is_a_config_error():
    with pytest.raises(ConfigError, match="catalog URL"):
        Catalog("not a url")
