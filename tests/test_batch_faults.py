"""Fault corpus for batches (issue 16, items 1–2): every file is imported or skipped with one line,
the batch always finishes, a failed file leaves nothing behind, and two different recordings
are never one session.

Fast tests call :func:`neurofeedback.store.ingest_file` (real SQLite, real files, a real
``RLIMIT_FSIZE`` in a child process for a full disk, a real SQLite trigger for a catalog that
fails after the files were written). The slow ones run the corpus (20 good files in five formats
+ 5 bad ones of different kinds) through the ``process-recordings`` flow (threads and processes
runners), the CLI in a subprocess with Prefect's temporary server and against a ``prefect server
start`` of their own, a real full disk (a 1 MB tmpfs, when ``mount`` works here), and a
``kill -9`` in the middle of ``process``.

The field case ``../shared/cases/muse-millisecond-timestamps`` that once raised a ValueError from
the filter design is read correctly since the readers learned millisecond timestamps, so the
"unexpected exception" of the corpus is a sidecar whose ``feedback`` is a string (an
AttributeError in the session metrics), and a sidecar whose ``notes`` the catalog cannot store
makes a file fail *after* its BIDS copy and derivatives were written.

"Unreadable" here is a broken link and a FIFO: the tests run as root, for whom ``chmod 000``
changes nothing (root reads it anyway), so permission bits cannot make a file fail here.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from _nfprocs import api, end_groups, free_port, prefect_server_start

from neurofeedback.errors import RecordingFormatError, StoreError
from neurofeedback.simulate import simulate_eeg, write_recording
from neurofeedback.store import Catalog, failure_reason, ingest_file, is_transient

START = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)
#: (simulate format, file-name ending) of the good files: five formats, four files each
GOOD_FORMATS = (("muselsl_csv", "_eeg.csv"), ("fif", "_raw.fif"), ("edf", "_eeg.edf"),
                ("brainvision", "_eeg.vhdr"), ("brainflow_csv", "_eeg.csv"))


def _sim(path: Path, *, seed=0, duration_s=10.0, start=START, fmt="muselsl_csv", **kw) -> Path:
    rec = simulate_eeg(duration_s=duration_s, seed=seed, meas_date=start, **kw)
    return write_recording(rec, path, format=fmt)


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path → SHA-256); the lock file excluded."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".neurofeedback.lock"}


def _assert_no_orphans(home: Path) -> None:
    """Every session folder in bids/ and the derivatives is a catalog session, and nothing
    temporary (staged files, snapshots) is left."""
    sessions = set(Catalog(home=home).sessions()["session_id"])
    bids = home / "bids"
    found = {f"{d.parent.name}_{d.name}" for d in bids.glob("sub-*/ses-*")}
    deriv = {f"{d.parent.name}_{d.name}" for d in (bids / "derivatives" / "neurofeedback").glob("sub-*/ses-*")}
    assert found == sessions and deriv == sessions
    assert {d.name for d in bids.glob("sub-*")} == {s.split("_")[0] for s in sessions}
    leftovers = [p for p in bids.rglob("*") if ".tmp" in p.name or p.name.startswith(".undo")
                 or p.name.endswith(".undo")]
    assert leftovers == []


# ---------------------------------------------------------------------------------------------
# the corpus: 20 good files + 5 bad ones


def make_corpus(folder: Path) -> dict:
    """Write the corpus into ``folder``; return ``{"good": [paths], "bad": {kind: path},
    "clash": (good path, clashing path)}``."""
    folder.mkdir(parents=True, exist_ok=True)
    good = []
    for k in range(20):
        fmt, ending = GOOD_FORMATS[k % len(GOOD_FORMATS)]
        start = START + timedelta(days=k)
        good.append(_sim(folder / f"sub-g{k:02d}_ses-{start:%Y%m%dT%H%M%S}{ending}", seed=k,
                         start=start, fmt=fmt))
    bad = {}
    # 1. an unreadable path: a link whose target is gone (a file on an unmounted drive)
    gone = folder / "sub-gone01_ses-20260301T070000_eeg.csv"
    gone.symlink_to(folder / "no-such-recording.csv")
    bad["broken-link"] = gone
    # 2. a truncated file (a copy interrupted half-way)
    whole = _sim(folder / "tmp_raw.fif", seed=99, fmt="fif", start=START + timedelta(days=40))
    data = whole.read_bytes()
    trunc = folder / "sub-trunc01_ses-20260215T070000_raw.fif"
    trunc.write_bytes(data[: len(data) // 2])
    whole.unlink()
    bad["truncated"] = trunc
    # 3. a sidecar whose "feedback" is a string (an AttributeError deep in the session metrics
    #    once; now refused where the sidecar is read, naming the field: skipped either way)
    odd = _sim(folder / "sub-odd01_ses-20260220T070000_eeg.csv", seed=7, fmt="brainflow_csv",
               start=datetime(2026, 2, 20, 7, tzinfo=timezone.utc))
    _edit_sidecar(odd, feedback="not a table")
    bad["unexpected-exception"] = odd
    # 4. a sidecar whose notes are an object, not text (once a failure after the session's files
    #    were written, in the catalog; now refused where the sidecar is read; the roll-back after
    #    a late failure is tested with a catalog trigger below)
    late = _sim(folder / "sub-late01_ses-20260221T070000_eeg.csv", seed=8, fmt="brainflow_csv",
                start=datetime(2026, 2, 21, 7, tzinfo=timezone.utc))
    _edit_sidecar(late, notes={"mood": "calm"})
    bad["late-failure"] = late
    # 5. a different recording claiming the labels of good file 0 (same subject and start)
    clash = _sim(folder / f"{good[0].name.removesuffix('_eeg.csv')}_take2.csv", seed=1000)
    bad["clash"] = clash
    return {"good": good, "bad": bad, "clash": (good[0], clash)}


def _edit_sidecar(recording: Path, **fields) -> None:
    side = recording.with_suffix(".json")
    doc = json.loads(side.read_text())
    doc.update(fields)
    side.write_text(json.dumps(doc))


def check_batch(records: list[dict], corpus: dict, home: Path) -> None:
    """The acceptance: 20 imported, 5 listed with one-line reasons naming their file, 20
    sessions in the catalog, no orphans."""
    assert len(records) == 25, [r["path"] for r in records]
    by_status = {}
    for r in records:
        by_status.setdefault(r["status"], []).append(r)
    assert len(by_status.get("imported", [])) == 20, by_status.get("skipped")
    skipped = {r["path"]: r["reason"] for r in by_status["skipped"]}
    assert len(skipped) == 5
    clash_pair = {str(p) for p in corpus["clash"]}
    want_bad = {str(p) for k, p in corpus["bad"].items() if k != "clash"}
    assert want_bad <= set(skipped)
    assert len(set(skipped) & clash_pair) == 1  # whichever of the two came second
    for path, reason in skipped.items():
        assert "\n" not in reason and reason.startswith(path) and len(reason) <= 400, reason
    reasons = {k: skipped[str(p)] for k, p in corpus["bad"].items() if str(p) in skipped}
    assert "broken link" in reasons["broken-link"]
    assert "already has session" in next(skipped[p] for p in clash_pair if p in skipped)
    assert len(Catalog(home=home).sessions()) == 20
    _assert_no_orphans(home)


# ---------------------------------------------------------------------------------------------
# fast: the pieces, without Prefect


def test_transient_set_is_explicit():
    """Only errors that may pass are retried: a locked SQLite, PostgreSQL serialization or
    connection errors, EAGAIN/EBUSY; never a ValueError, a full disk or a bad recording."""
    import sqlalchemy as sa

    locked = sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert is_transient(locked)
    assert not is_transient(sa.exc.OperationalError("x", {}, sqlite3.OperationalError("disk I/O error")))
    for code in (errno.EAGAIN, errno.EBUSY):
        assert is_transient(OSError(code, os.strerror(code)))
    for code in (errno.ENOSPC, errno.EFBIG, errno.EACCES, errno.ENOENT):
        assert not is_transient(OSError(code, os.strerror(code)))

    class PgError(Exception):
        def __init__(self, sqlstate):
            super().__init__("could not serialize access")
            self.sqlstate = sqlstate

    assert is_transient(PgError("40001")) and is_transient(PgError("08006"))
    assert not is_transient(PgError("23505"))  # a unique violation is not "try again"
    assert not is_transient(ValueError("Invalid cutoff frequency"))
    assert not is_transient(RecordingFormatError("x.csv", "empty"))
    gave_up = StoreError("catalog: cannot record a session: the database stayed locked")
    gave_up.transient = True
    assert is_transient(gave_up)
    # raised from a transient one (``raise ... from err``) counts too
    try:
        try:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        except OSError as err:
            raise RuntimeError("wrapped") from err
    except RuntimeError as exc:
        assert is_transient(exc)


def test_failure_reason_is_one_line_naming_the_file():
    r = failure_reason("/d/a.csv", ValueError("Invalid cutoff frequency:\n  must be < fs/2"))
    assert r == "/d/a.csv: ValueError: Invalid cutoff frequency: must be < fs/2"
    assert failure_reason("/d/a.csv", RecordingFormatError("/d/a.csv", "empty")) == "/d/a.csv: empty"
    assert failure_reason("/d/a.csv", KeyError()) == "/d/a.csv: KeyError"
    assert len(failure_reason("/d/a.csv", ValueError("x" * 5000))) == 400


def test_three_recordings_same_start_in_one_folder_are_never_merged(tmp_path):
    """Three different files with the same subject and start time in one folder: one session,
    the other two refused naming the holder (never ``unchanged``); the same file again is
    ``unchanged``, other settings ``reprocessed``; the recorder's CSV + FIF stay one session."""
    home = tmp_path / "home"
    takes = [_sim(tmp_path / "rec" / f"take{k}.csv", seed=k) for k in range(3)]
    first = ingest_file(takes[0], home=home, subject="s01")
    assert first.status == "imported"
    for other in takes[1:]:
        with pytest.raises(StoreError, match="already has session") as err:
            ingest_file(other, home=home, subject="s01")
        msg = str(err.value)
        assert "\n" not in msg and str(other) in msg and str(takes[0]) in msg
    assert len(Catalog(home=home).sessions()) == 1
    assert ingest_file(takes[0], home=home, subject="s01").status == "unchanged"
    again = ingest_file(takes[0], home=home, subject="s01", channel_names="TP9,AF7,AF8,TP10")
    assert (again.status, again.session_id) == ("reprocessed", first.session_id)
    # the same recording in another format of its folder is the same session (recorder)
    csv = _sim(tmp_path / "r2" / "sub-r01_ses-20260105T070000_eeg.csv", seed=5)
    fif = _sim(tmp_path / "r2" / "sub-r01_ses-20260105T070000_raw.fif", fmt="fif", seed=5)
    a, b = ingest_file(csv, home=home), ingest_file(fif, home=home)
    assert (a.status, b.status, b.session_id) == ("imported", "unchanged", a.session_id)
    # and the refused takes come in with their own session label
    assert ingest_file(takes[1], home=home, subject="s01", session="take1").status == "imported"
    assert len(Catalog(home=home).sessions()) == 3
    _assert_no_orphans(home)


def test_broken_link_and_fifo_are_one_line(tmp_path):
    gone = tmp_path / "sub-x01_ses-1_eeg.csv"
    gone.symlink_to(tmp_path / "nowhere.csv")
    fifo = tmp_path / "sub-x02_ses-1_eeg.csv"
    os.mkfifo(fifo)  # opening it would block forever: it must be refused before reading
    for p, what in ((gone, "broken link"), (fifo, "not a regular file")):
        with pytest.raises(RecordingFormatError, match=what) as err:
            ingest_file(p, home=tmp_path / "home")
        assert "\n" not in str(err.value) and str(p) in str(err.value)


_LIMITED = """
import json, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so Python gets OSError(EFBIG), as on a full disk
from neurofeedback.store import Catalog, failure_reason, ingest_file, is_transient
import mne, mne_bids, pyarrow.parquet  # imported (and their caches set up) before the limit
home, limit, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
Catalog(home=home)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
for path in paths:
    try:
        r = ingest_file(path, home=home)
        print(json.dumps({"status": r.status}))
    except Exception as exc:
        print(json.dumps({"type": type(exc).__name__, "reason": failure_reason(path, exc),
                          "transient": is_transient(exc)}))
"""


def test_full_disk_rolls_back_a_new_and_a_replaced_session(tmp_path):
    """``ulimit -f`` (RLIMIT_FSIZE, in a child process) makes the BIDS raw copy fail half-way
    (a short write), as a full disk would: each import fails with one line, not transient, and
    the store's files are byte-identical to before (no orphan folder, no half-replaced
    session); the catalog too."""
    home = tmp_path / "home"
    keep = _sim(tmp_path / "in" / "sub-k01_ses-20260105T070000_eeg.csv", duration_s=10.0)
    assert ingest_file(keep, home=home).status == "imported"
    before = _tree(home / "bids")
    row = Catalog(home=home).sessions().iloc[0].to_dict()
    limit = 150_000  # > the derivatives and the 10 s copies; < a 120 s BrainVision .eeg (~490 kB)
    # a new session, and the same file rewritten with a long recording (replaces its session)
    big = _sim(tmp_path / "in" / "sub-k02_ses-20260106T070000_eeg.csv", duration_s=120.0, seed=2,
               start=START + timedelta(days=1))
    _sim(keep, duration_s=120.0, seed=3)
    r = subprocess.run([sys.executable, "-c", _LIMITED, str(home), str(limit), str(big), str(keep)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    outs = [json.loads(line) for line in r.stdout.strip().splitlines()[-2:]]
    for out, path in zip(outs, (big, keep)):
        # numpy's tofile (pybv) reports the short write as "OSError: N requested and M written"
        assert out.get("type") == "OSError" and out["reason"].startswith(str(path)), out
        assert "\n" not in out["reason"] and out["transient"] is False
    assert _tree(home / "bids") == before
    sessions = Catalog(home=home).sessions()
    assert len(sessions) == 1 and sessions.iloc[0]["input_sha256"] == row["input_sha256"]
    _assert_no_orphans(home)


def test_catalog_failure_after_the_files_were_written_leaves_nothing(tmp_path):
    """A catalog that refuses the session row *after* the raw copy and the derivatives were
    written (a real SQLite trigger): the files are removed again, nothing else changes."""
    home = tmp_path / "home"
    ingest_file(_sim(tmp_path / "in" / "sub-c01_ses-20260105T070000_eeg.csv"), home=home)
    before = _tree(home / "bids")
    db = home / "catalog.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TRIGGER refuse BEFORE INSERT ON sessions "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    new = _sim(tmp_path / "in" / "sub-c02_ses-20260106T070000_eeg.csv", seed=4,
               start=START + timedelta(days=1))
    with pytest.raises(StoreError):
        ingest_file(new, home=home)
    assert _tree(home / "bids") == before
    assert not (home / "bids" / "sub-c02").exists()
    assert not (home / "bids" / "derivatives" / "neurofeedback" / "sub-c02").exists()
    with sqlite3.connect(db) as con:
        con.execute("DROP TRIGGER refuse")
    assert ingest_file(new, home=home).status == "imported"  # and it imports once fixed
    _assert_no_orphans(home)


def test_stale_leftovers_of_a_killed_import_are_removed(tmp_path):
    """What a ``kill -9`` can leave (a staged ``.…tmp.parquet``, a ``.undo-…`` snapshot) is
    removed by the next import that holds the write lock."""
    home = tmp_path / "home"
    rec = _sim(tmp_path / "in" / "sub-d01_ses-20260105T070000_eeg.csv")
    res = ingest_file(rec, home=home)
    folder = res.features_path.parent
    stale = [folder / f".{res.features_path.name}.0123456789ab.tmp.parquet",
             home / "bids" / ".undo-0123456789ab" / "0" / "x.eeg"]
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"left by a killed writer")
    assert ingest_file(rec, home=home, channel_names="TP9,AF7,AF8,TP10").status == "reprocessed"
    assert not any(p.exists() for p in stale)
    _assert_no_orphans(home)


# ---------------------------------------------------------------------------------------------
# slow: the corpus through the flow and the CLI


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus") / "recordings")


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["threads", "processes", "dask"])
def test_flow_imports_20_and_lists_5(harness, corpus, tmp_path, runner, caplog):
    """Acceptance 2 through the flow, with each runner: 20 imported, 5 skipped with reasons,
    the table artifact written, every task run completed; no failure was retried (none of them
    may pass: the retry would log "trying again")."""
    import logging

    import pipelines.process as pp

    home = tmp_path / "home"
    folder = corpus["good"][0].parent
    with caplog.at_level(logging.INFO, logger="neurofeedback"):
        records = pp.run_process([folder], home=home, runner=runner)
    check_batch(records, corpus, home)
    assert not [r for r in caplog.records if "trying again" in r.getMessage()]

    from prefect import get_client

    with get_client(sync_client=True) as client:
        arts = [a for a in client.read_artifacts() if a.key == "imported-recordings"]
        runs = client.read_task_runs()
    assert arts and "5 skipped" in arts[-1].description
    assert runs and all(r.state_type.value == "COMPLETED" for r in runs)  # none failed
    assert max(r.run_count for r in runs) <= 1


def _cli(args, env, timeout=900):
    return subprocess.run([sys.executable, "-m", "neurofeedback", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def _cli_env(home: Path, prefect_home: Path, **extra) -> dict:
    env = {**os.environ, "NEUROFEEDBACK_HOME": str(home), "PREFECT_HOME": str(prefect_home),
           "COLUMNS": "250", **extra}
    if "PREFECT_API_URL" not in extra:
        env.pop("PREFECT_API_URL", None)
    return env


def _check_cli_runs(corpus, home, env):
    """A human run (summary line, the skipped table, exit 0, no traceback), then a --json run
    (nothing imported again: 20 unchanged, the same 5 skipped)."""
    folder = corpus["good"][0].parent
    r = _cli(["process", str(folder)], env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stdout + r.stderr, r.stderr[-3000:]
    assert "25 files" in r.stdout and "20 imported" in r.stdout and "5 skipped" in r.stdout, r.stdout
    for kind, p in corpus["bad"].items():
        if kind != "clash":
            assert p.name in r.stdout, (p.name, r.stdout)
    assert len(Catalog(home=home).sessions()) == 20
    _assert_no_orphans(home)
    r = _cli(["process", str(folder), "--json"], env)
    assert r.returncode == 0, r.stderr[-3000:]
    records = json.loads(r.stdout)["records"]
    assert [x["status"] for x in records].count("unchanged") == 20
    assert [x["status"] for x in records].count("skipped") == 5
    assert len(Catalog(home=home).sessions()) == 20


@pytest.mark.slow
def test_cli_process_without_a_server(corpus, tmp_path):
    """Acceptance 2 through ``neurofeedback process`` in a subprocess, Prefect's temporary
    local server (no server started by anyone)."""
    home = tmp_path / "home"
    _check_cli_runs(corpus, home, _cli_env(home, tmp_path / "prefect"))


@pytest.mark.slow
def test_cli_process_against_a_running_server(corpus, tmp_path):
    """Acceptance 2 against a ``prefect server start`` of this test (its own PREFECT_HOME and
    port; ~25 s to become healthy on 2 cores), stopped afterwards."""
    port = free_port()
    phome = tmp_path / "prefect-server"
    env = _cli_env(tmp_path / "unused", phome, PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   DO_NOT_TRACK="1", PREFECT_SERVER_LOGGING_LEVEL="WARNING",
                   PREFECT_API_URL=f"http://127.0.0.1:{port}/api")
    server = prefect_server_start(port, env)
    try:
        home = tmp_path / "home"
        _check_cli_runs(corpus, home, {**env, "NEUROFEEDBACK_HOME": str(home)})
        # the runs went to this server
        runs = api(env["PREFECT_API_URL"], "/flow_runs/filter", {})
        assert len([r for r in runs if r["state_type"] == "COMPLETED"]) >= 2
    finally:
        end_groups(server)


@pytest.mark.slow
def test_kill_9_during_process_then_rerun(corpus, tmp_path):
    """Acceptance 4: ``kill -9`` of ``neurofeedback process`` (and everything it started) once a
    few sessions are in; a rerun gives the same sessions as an uninterrupted run, no orphans."""
    folder = corpus["good"][0].parent
    home = tmp_path / "home"
    env = _cli_env(home, tmp_path / "prefect")
    proc = subprocess.Popen([sys.executable, "-m", "neurofeedback", "process", str(folder), "--json",
                             "--workers", "2"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        db = home / "catalog.sqlite"
        while time.monotonic() < deadline and proc.poll() is None:
            if db.is_file():
                try:
                    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
                        if con.execute("SELECT count(*) FROM sessions").fetchone()[0] >= 3:
                            break
                except sqlite3.Error:
                    pass
            time.sleep(0.05)
        assert proc.poll() is None, "process finished before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    n_killed = len(Catalog(home=home).sessions())
    assert 3 <= n_killed < 20
    r = _cli(["process", str(folder), "--json"], env)
    assert r.returncode == 0, r.stderr[-3000:]
    records = json.loads(r.stdout)["records"]
    sessions = Catalog(home=home).sessions()
    # an uninterrupted run gives one session per good file (the clashing take has file 0's labels)
    want = {p.name.split("_eeg")[0].split("_raw")[0] for p in corpus["good"]}
    assert len(sessions) == 20 and set(sessions["session_id"]) == want
    assert [x["status"] for x in records].count("skipped") == 5
    _assert_no_orphans(home)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs (a real full disk); skipped where ``mount`` is not allowed."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.slow
def test_cli_process_onto_a_full_disk(corpus, small_disk, tmp_path):
    """``process`` of 20 good files into a data home on a 1 MB disk: the first sessions fit,
    every later file is skipped with one line (no space / disk full), exit 0, no traceback,
    and what is in the catalog is complete (no orphans)."""
    home = small_disk / "home"
    good = tmp_path / "good"
    shutil.copytree(corpus["good"][0].parent, good, symlinks=True)
    for p in corpus["bad"].values():
        (good / p.name).unlink()
    r = _cli(["process", str(good), "--json"], _cli_env(home, tmp_path / "prefect"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    records = json.loads(r.stdout)["records"]
    statuses = [x["status"] for x in records]
    assert len(records) == 20 and 0 < statuses.count("imported") < 20, statuses
    for x in records:
        if x["status"] == "skipped":
            assert "\n" not in x["reason"] and x["reason"].startswith(x["path"])
            assert any(t in x["reason"].lower() for t in ("no space", "disk is full", "full")), x
    assert len(Catalog(home=home).sessions()) == statuses.count("imported")
    _assert_no_orphans(home)


@pytest.mark.parametrize("field, value, what", [
    ("feedback", "not a table", "an object"), ("notes", {"mood": "calm"}, "text"),
    ("subject", 12, "text"), ("blocks", "eyes-open", "a list"), ("sfreq", True, "a number"),
])
def test_a_sidecar_field_of_the_wrong_type_is_one_line_naming_it(tmp_path, field, value, what):
    """Every field the product reads is type-checked where a sidecar is read, so a hand-edited
    sidecar fails as one line naming the field, never deep in the metrics or the catalog."""
    from neurofeedback.errors import RecordingFormatError
    from neurofeedback.io.sidecar import read_sidecar

    rec = _sim(tmp_path / "sub-x01_ses-20260301T070000_eeg.csv", seed=3, fmt="brainflow_csv",
               start=datetime(2026, 3, 1, 7, tzinfo=timezone.utc))
    _edit_sidecar(rec, **{field: value})
    with pytest.raises(RecordingFormatError, match=f"field '{field}' must be {what} or null") as err:
        read_sidecar(rec.with_suffix(".json"))
    assert "\n" not in str(err.value)
