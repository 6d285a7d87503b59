"""Recordings into the store: BIDS copy read back with mne-bids, derivatives, catalog rows equal
to the processed summary, idempotence, reprocessing on a config change, label rules, and 8 OS
processes importing overlapping folders at once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from neurofeedback.config import load_settings
from neurofeedback.errors import ConfigError, PrecomputedFeaturesError, StoreError
from neurofeedback.io import read_recording
from neurofeedback.metrics import session_metrics
from neurofeedback.process import process_recording
from neurofeedback.provenance import METHOD_VERSION, file_sha256, processing_hash
from neurofeedback.simulate import simulate_eeg, write_recording
from neurofeedback.store import Catalog, ingest_file, ingest_processed

ROOT = Path(__file__).resolve().parent.parent
CYTON = ROOT / "sample_data" / "cyton_meditation.csv"
MUSE = ROOT / "sample_data" / "muse_eyes_open_closed.csv"
START = datetime(2026, 1, 5, 7, 30, tzinfo=timezone.utc)

# BrainVision (mne-bids) stores float32 µV: each sample comes back within one float32 rounding
# (relative 2**-24) of its value, plus the µV↔V scaling in double; 2**-23 relative covers both.
BV_RTOL = 2.0 ** -23


def _sim(path: Path, *, seed=0, duration_s=20.0, start=START, fmt="muselsl_csv") -> Path:
    rec = simulate_eeg(duration_s=duration_s, seed=seed, meas_date=start)
    return write_recording(rec, path, format=fmt)


def _sorted(df):
    return df.sort_values(["block", "metric", "channel"]).reset_index(drop=True)


def _assert_features_equal(cat, session_id, summary):
    got = _sorted(cat.session_features(session_id))
    want = _sorted(session_metrics(summary))
    assert len(got) == len(want) > 0
    assert list(got["metric"]) == list(want["metric"])
    assert list(got["channel"]) == list(want["channel"])
    assert list(got["unit"]) == list(want["unit"])
    assert list(got["block"]) == list(want["block"])
    np.testing.assert_allclose(got["value"], want["value"], rtol=1e-12)


def _assert_bids_roundtrip(bids_file: Path, source: Path):
    from mne_bids import get_bids_path_from_fname, read_raw_bids

    with warnings.catch_warnings():  # the Muse AUX channel has no position: said, not a problem
        warnings.simplefilter("ignore", RuntimeWarning)
        back = read_raw_bids(get_bids_path_from_fname(bids_file), verbose=False)
    orig = read_recording(source)
    assert back.ch_names == orig.ch_names
    assert back.info["sfreq"] == orig.info["sfreq"]
    a, b = orig.get_data(), back.get_data()
    assert a.shape == b.shape
    np.testing.assert_allclose(b, a, rtol=BV_RTOL, atol=1e-12)
    return back, orig


def test_cyton_with_sidecar_subject(tmp_path):
    home = tmp_path / "home"
    res = ingest_file(CYTON, home=home)
    assert res.status == "imported"
    assert (res.subject, res.session) == ("sim01", "20260105T100000")  # sidecar subject, start_time
    assert res.session_id == "sub-sim01_ses-20260105T100000"
    # BIDS raw copy, readable by mne-bids with the same data
    assert res.bids_path.is_file() and res.bids_path.suffix == ".vhdr"
    assert res.bids_path.is_relative_to(home / "bids" / "sub-sim01" / "ses-20260105T100000" / "eeg")
    back, orig = _assert_bids_roundtrip(res.bids_path, CYTON)
    assert sorted(set(back.annotations.description)) == sorted(set(orig.annotations.description))
    assert (home / "bids" / "participants.tsv").is_file()
    assert (home / "bids" / "dataset_description.json").is_file()
    # derivatives: per-epoch Parquet with provenance, the summary
    processed = process_recording(CYTON)
    table = pq.read_table(res.features_path)
    assert table.num_rows == len(processed.features.epochs)
    prov = json.loads(table.schema.metadata[b"neurofeedback"])
    assert prov["input"]["sha256"] == file_sha256(CYTON)
    assert prov["config_hash"] == processing_hash(load_settings())
    assert prov["method_version"] == METHOD_VERSION
    summary = json.loads(res.summary_path.read_text())
    assert summary["n_epochs"] == processed.summary()["n_epochs"]
    assert summary["store"]["subject"] == "sim01"
    assert (home / "bids" / "derivatives" / "neurofeedback" / "dataset_description.json").is_file()
    # catalog rows equal the processed summary
    cat = Catalog(home=home)
    s = cat.sessions()
    assert len(s) == 1
    row = s.iloc[0]
    expect = processed.summary()
    assert row["duration_s"] == pytest.approx(expect["duration_s"])
    assert row["clean_fraction"] == pytest.approx(expect["clean_fraction"])
    assert row["sfreq"] == 250.0 and row["n_channels"] == 8
    assert row["device"] == "CYTON_BOARD" and row["format"] == "brainflow_csv"
    assert row["start_time"] == pd.Timestamp("2026-01-05T10:00:00", tz="UTC")
    assert [b["label"] for b in row["blocks"]] == ["eyes-open", "eyes-closed", "meditation"]
    assert row["input_sha256"] == file_sha256(CYTON)
    _assert_features_equal(cat, res.session_id, expect)


def test_second_import_is_unchanged_without_reading(tmp_path, monkeypatch):
    home = tmp_path / "home"
    first = ingest_file(CYTON, home=home)
    stamps = {p: p.stat().st_mtime_ns for p in (first.bids_path, first.features_path, first.summary_path)}

    def no_read(*args, **kwargs):
        raise AssertionError("the recording was read again")

    import neurofeedback.io
    import neurofeedback.process

    monkeypatch.setattr(neurofeedback.io, "read_recording", no_read)
    monkeypatch.setattr(neurofeedback.process, "process_raw", no_read)
    again = ingest_file(CYTON, home=home)
    assert again.status == "unchanged"
    assert again.session_id == first.session_id
    assert (again.bids_path, again.features_path) == (first.bids_path, first.features_path)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert len(Catalog(home=home).sessions()) == 1


def test_config_change_reprocesses_one_session(tmp_path):
    home = tmp_path / "home"
    first = ingest_file(CYTON, home=home)
    other = load_settings().replace(epochs={"length_s": 2.0, "step_s": 1.0})
    res = ingest_file(CYTON, home=home, settings=other)
    assert res.status == "reprocessed"
    assert res.session_id == first.session_id
    cat = Catalog(home=home)
    assert len(cat.sessions()) == 1
    assert cat.session(res.session_id)["config_hash"] == processing_hash(other)
    processed = process_recording(CYTON, settings=other)
    _assert_features_equal(cat, res.session_id, processed.summary())
    assert pq.read_table(res.features_path).num_rows == len(processed.features.epochs)
    assert ingest_file(CYTON, home=home, settings=other).status == "unchanged"


def test_muse_with_explicit_subject(tmp_path):
    home = tmp_path / "home"
    with pytest.raises(StoreError) as err:
        ingest_file(MUSE, home=home)
    assert "subject" in str(err.value) and "\n" not in str(err.value)
    res = ingest_file(MUSE, home=home, subject="muse01")
    assert res.status == "imported"
    assert (res.subject, res.session) == ("muse01", "20260105T090000")  # session from meas_date
    _assert_bids_roundtrip(res.bids_path, MUSE)
    cat = Catalog(home=home)
    _assert_features_equal(cat, res.session_id, process_recording(MUSE).summary())
    assert cat.sessions().iloc[0]["format"] == "muselsl_csv"
    with pytest.raises(StoreError, match="already in the store as subject 'muse01'"):
        ingest_file(MUSE, home=home, subject="other01")


@pytest.mark.parametrize("bad", ["../x", "a/b", "a b"])
def test_invalid_subject_ids(tmp_path, bad):
    home = tmp_path / "home"
    with pytest.raises(ConfigError, match="subject"):
        ingest_file(MUSE, home=home, subject=bad)
    with pytest.raises(ConfigError, match="session"):
        ingest_file(MUSE, home=home, subject="ok01", session=bad)
    assert Catalog(home=home).sessions().empty
    assert not (home / "bids").exists() or not any((home / "bids").glob("sub-*"))
    assert not (tmp_path / "x").exists()


def test_sidecar_subject_is_validated(tmp_path):
    src = tmp_path / "rec.csv"
    shutil.copy(CYTON, src)
    doc = json.loads(CYTON.with_suffix(".json").read_text())
    doc["subject"] = "../../etc"
    src.with_suffix(".json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="subject"):
        ingest_file(src, home=tmp_path / "home")


def test_labels_from_the_file_name(tmp_path):
    home = tmp_path / "home"
    f = _sim(tmp_path / "in" / "sub-pat01_ses-20260105T073000_eeg.csv", start=START + timedelta(hours=1))
    res = ingest_file(f, home=home)
    assert (res.subject, res.session) == ("pat01", "20260105T073000")  # name beats meas_date
    g = _sim(tmp_path / "in" / "P07-run3.csv", seed=1)
    res = ingest_file(g, home=home, filename_pattern=r"(?P<subject>P\d+)-run")
    assert (res.subject, res.session) == ("P07", "20260105T073000")  # session from meas_date
    with pytest.raises(ConfigError, match="filename_pattern"):
        ingest_file(g, home=home, filename_pattern=r"P\d+")
    with pytest.raises(ConfigError, match="filename_pattern"):
        ingest_file(g, home=home, filename_pattern=r"(?P<subject>")
    assert set(Catalog(home=home).subjects()) == {"pat01", "P07"}


def test_copies_and_other_formats_of_one_recording(tmp_path):
    """Copies (same bytes) in two folders are one session; the recorder's CSV and FIF of one
    session (same folder, same labels) too; another recording claiming the labels is refused."""
    home = tmp_path / "home"
    a = _sim(tmp_path / "a" / "sub-f01_ses-20260105T073000_eeg.csv")
    b = tmp_path / "b" / a.name
    b.parent.mkdir()
    shutil.copy(a, b)
    first = ingest_file(a, home=home)
    assert first.status == "imported"
    assert ingest_file(b, home=home).status == "unchanged"
    fif = _sim(tmp_path / "a" / "sub-f01_ses-20260105T073000_raw.fif", fmt="fif")
    res = ingest_file(fif, home=home)
    assert (res.status, res.session_id) == ("unchanged", first.session_id)
    other = _sim(tmp_path / "c" / "sub-f01_ses-20260105T073000_eeg.csv", seed=5)
    with pytest.raises(StoreError, match="already has session"):
        ingest_file(other, home=home)
    assert len(Catalog(home=home).sessions()) == 1


def test_mind_monitor_export_is_refused(tmp_path):
    from test_io_muse import write_mindmonitor

    p = tmp_path / "mm.csv"
    write_mindmonitor(p, 30, period_s=1.0)
    with pytest.raises(PrecomputedFeaturesError) as err:
        ingest_file(p, home=tmp_path / "home", subject="mm01")
    assert "not raw EEG" in str(err.value) and "\n" not in str(err.value)
    assert Catalog(home=tmp_path / "home").sessions().empty


def test_ingest_processed_then_file_is_unchanged(tmp_path):
    home = tmp_path / "home"
    f = _sim(tmp_path / "sub-rec01_ses-20260105T073000_eeg.csv")
    processed = process_recording(f)
    res = ingest_processed(processed, home=home)
    assert res.status == "imported" and res.subject == "rec01"
    _assert_bids_roundtrip(res.bids_path, f)
    _assert_features_equal(Catalog(home=home), res.session_id, processed.summary())
    assert ingest_file(f, home=home).status == "unchanged"


# ---------------------------------------------------------------------------------------------
# 8 OS processes at once

_WORKER = """
import json, sys
from neurofeedback.store import ingest_file
home, files = sys.argv[1], json.loads(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()  # start together
out = []
for f in files:
    r = ingest_file(f, home=home)
    out.append({"path": f, "status": r.status, "session_id": r.session_id})
print(json.dumps(out), flush=True)
"""


@pytest.mark.slow  # 8 concurrent processes, each importing the library
def test_eight_processes_overlapping_folders(tmp_path, catalog_url):
    """Acceptance: 8 concurrent importers over overlapping folders (copies of the same files)
    leave exactly one session per recording, each imported exactly once, no duplicate or lost
    features, a readable BIDS dataset and no crashed process; with the catalog on SQLite (in
    the data home) and on PostgreSQL (``NEUROFEEDBACK_DB_URL``), where the concurrency is the
    server's."""
    src = tmp_path / "src"
    recs = []
    for k, (subj, day) in enumerate([("c01", 5), ("c01", 7), ("c02", 5), ("c02", 8)]):
        start = datetime(2026, 1, day, 7, 0, tzinfo=timezone.utc)
        recs.append(_sim(src / f"sub-{subj}_ses-{start:%Y%m%dT%H%M%S}_eeg.csv", seed=k,
                         duration_s=16.0, start=start))
    folders = {"A": [0, 1, 2], "B": [1, 2, 3], "C": [0, 3]}
    paths = {}
    for name, idx in folders.items():
        (tmp_path / name).mkdir()
        paths[name] = []
        for i in idx:
            dst = tmp_path / name / recs[i].name
            shutil.copy(recs[i], dst)
            paths[name].append(str(dst))
    plans = []
    for k in range(8):
        chosen = [["A", "B", "C"], ["B", "A"], ["C", "B"]][k % 3]
        files = [p for name in chosen for p in paths[name]]
        np.random.default_rng(k).shuffle(files)
        plans.append(files)

    home = tmp_path / "home"
    env = {**os.environ, "NEUROFEEDBACK_HOME": str(home)}  # NEUROFEEDBACK_DB_URL: catalog_url's
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(home), json.dumps(files)],
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for files in plans]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()[-2000:]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p, files in zip(procs, plans):
        out, err = p.communicate(timeout=900)
        assert p.returncode == 0, err[-3000:]
        got = json.loads(out.strip().splitlines()[-1])
        assert [r["path"] for r in got] == files
        results.extend(got)

    # one session per recording, each imported exactly once, every other call unchanged
    cat = Catalog(home=home)
    sessions = cat.sessions()
    want_ids = {f"sub-{r.name.split('_')[0][4:]}_{r.name.split('_')[1]}" for r in recs}
    assert len(sessions) == len(recs) == 4
    assert set(sessions["session_id"]) == want_ids
    assert sorted(sessions["input_sha256"]) == sorted(file_sha256(r) for r in recs)
    statuses = pd.DataFrame(results)
    assert len(statuses) == sum(len(f) for f in plans)
    assert set(statuses["status"]) <= {"imported", "unchanged"}
    imported = statuses[statuses["status"] == "imported"]
    assert sorted(imported["session_id"]) == sorted(want_ids)

    # features: none duplicated, none lost (equal to a one-process import)
    frame = cat.metrics_frame()
    assert not frame.duplicated(["session_id", "block", "metric", "channel"]).any()
    ref_home = tmp_path / "ref"
    ref_cat = Catalog(f"sqlite:///{ref_home / 'catalog.sqlite'}")  # one process, on SQLite
    for r in recs:
        ingest_file(r, home=ref_home, catalog=ref_cat)
    ref = ref_cat.metrics_frame()
    cols = ["session_id", "block", "metric", "channel"]
    a = frame.sort_values(cols).reset_index(drop=True)
    b = ref.sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)

    # the BIDS dataset: one participant row per subject, one scan per session, data readable
    bids = home / "bids"
    participants = pd.read_csv(bids / "participants.tsv", sep="\t")
    assert sorted(participants["participant_id"]) == ["sub-c01", "sub-c02"]
    for row in sessions.itertuples():
        scans = pd.read_csv(Path(row.bids_path).parent.parent / f"{row.session_id}_scans.tsv", sep="\t")
        assert len(scans) == 1
        source = next(r for r in recs if file_sha256(r) == row.input_sha256)
        _assert_bids_roundtrip(Path(row.bids_path), source)
        assert Path(row.features_path).is_file() and Path(row.summary_path).is_file()
    leftovers = [p for p in bids.rglob("*") if p.name.startswith(".") and p.name != ".neurofeedback.lock"]
    assert leftovers == []
