"""Fault corpus of issue 16, items 3-4: safe recovery and a catalog that explains its damage.

- ``recover`` refuses a cleanly ended recording (the committed sample data stays byte for byte
  as it is), never replaces an existing ``_raw.fif`` without ``--force``, stores what it
  recovers like ``record`` does, takes ``--home``, and without a path recovers every crashed
  session of the data home (a still-running recording is listed, never touched).
- A damaged catalog (truncated, garbage, broken header, 0 bytes, missing while ``bids/`` holds
  sessions) gives one line naming the file and what to do, exit 2, from every command that
  opens it; ``store rebuild`` brings back the same sessions, features, blocks and trends; a
  read-only catalog is read and refuses writes in one line.

Real components throughout: SQLite files, the CLI in subprocesses where the exit code and the
one line on stderr are the point, and real ``record`` processes killed with SIGKILL.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _nfprocs import sigkill, start_recording
from typer.testing import CliRunner

from neurofeedback.cli import app
from neurofeedback.errors import CatalogDamagedError, StoreError
from neurofeedback.store import Catalog

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
runner = CliRunner()


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _cli(*args, env=None, timeout=120, prefix=()) -> subprocess.CompletedProcess:
    """Run the real command line in a subprocess (exit code and stderr as a user sees them)."""
    return subprocess.run([*prefix, sys.executable, "-m", "neurofeedback", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr[:3000]}"
    assert lines[0].startswith("neurofeedback: error: ")
    assert "Traceback" not in stderr
    return lines[0]


# --- recover -----------------------------------------------------------------------------

def test_recover_refuses_the_cleanly_ended_sample_and_changes_nothing(tmp_path):
    """Acceptance 3 (first half): the committed sample recording ended cleanly; ``recover``
    says so in one line, exit 2, and the files (the committed _raw.fif included) are unchanged."""
    before = {p.name: _sha(p) for p in SAMPLE.glob("cyton_meditation*")}
    assert "cyton_meditation_raw.fif" in before
    res = _cli("recover", SAMPLE / "cyton_meditation.csv", "--home", tmp_path / "home")
    assert res.returncode == 2, res.stderr
    line = _one_line(res.stderr)
    assert "cyton_meditation.csv: ended cleanly" in line and "--force" in line
    assert "nothing was changed" in line
    assert {p.name: _sha(p) for p in SAMPLE.glob("cyton_meditation*")} == before
    assert not (tmp_path / "home" / "catalog.sqlite").exists()  # nothing stored either
    if shutil.which("git") and (ROOT / ".git").exists():
        st = subprocess.run(["git", "status", "--porcelain", "--", "sample_data"], cwd=ROOT,
                            capture_output=True, text=True)
        assert st.returncode != 0 or st.stdout == ""


def _crashed_session(home: Path, subject: str, stamp: str, n_lines: int = 5000) -> Path:
    """A crashed recorder session in ``home``: the first ``n_lines`` samples of the sample
    Cyton recording and a sidecar that never got its end (``ended_cleanly: false``), with a
    cut-off last line as SIGKILL leaves it."""
    folder = home / "recordings" / f"sub-{subject}" / f"ses-{stamp}"
    folder.mkdir(parents=True)
    stem = f"sub-{subject}_ses-{stamp}"
    csv = folder / f"{stem}_eeg.csv"
    with open(SAMPLE / "cyton_meditation.csv", "rb") as src:
        lines = [next(src) for _ in range(n_lines + 1)]
    csv.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    doc = json.loads((SAMPLE / "cyton_meditation.json").read_text())
    doc.update(subject=subject, session=stamp, ended_cleanly=False, end_time=None,
               n_samples=None, end_reason=None, blocks=[], markers={})
    (folder / f"{stem}_eeg.json").write_text(json.dumps(doc))
    return csv


def test_recover_never_replaces_an_existing_fif_without_force(tmp_path):
    home = tmp_path / "home"
    csv = _crashed_session(home, "fif01", "20260105T100000")
    fif = csv.with_name(csv.name.replace("_eeg.csv", "_raw.fif"))
    fif.write_bytes(b"someone's file")
    sidecar = csv.with_suffix(".json")
    before = _tree_hashes(home)
    res = runner.invoke(app, ["recover", str(csv), "--home", str(home)])
    assert res.exit_code == 2
    line = _one_line(res.stderr)
    assert str(fif) in line and "already exists" in line and "--force" in line
    assert _tree_hashes(home) == before  # the FIF, the CSV and the sidecar are untouched
    res = runner.invoke(app, ["recover", str(csv), "--home", str(home), "--force"])
    assert res.exit_code == 0, res.output
    assert fif.read_bytes()[:4] != b"some" and fif.stat().st_size > 100_000
    assert json.loads(sidecar.read_text())["end_reason"] == "recovered"
    assert len(Catalog(home=home).sessions()) == 1


def test_recover_with_no_path_recovers_and_stores_every_crashed_session(tmp_path):
    """Two crashed sessions and one that cannot be read: the good two are recovered into the
    store (as ``record`` stores), the bad one is listed with its reason, exit 0; a second run
    changes nothing (same session count, FIFs unchanged)."""
    home = tmp_path / "home"
    for subject, stamp, n in (("crash01", "20260105T100000", 5000), ("crash02", "20260106T100000", 4000)):
        _crashed_session(home, subject, stamp, n_lines=n)
    bad = _crashed_session(home, "crash03", "20260107T100000")
    bad.write_bytes(b"not\ta\tbrainflow\tfile\n" * 3)
    res = runner.invoke(app, ["recover", "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    rows = {Path(r["csv"]).name.split("_")[0]: r for r in json.loads(res.stdout)}
    assert rows["sub-crash01"]["status"] == rows["sub-crash02"]["status"] == "recovered"
    assert rows["sub-crash01"]["stored"] == "imported"
    assert rows["sub-crash03"]["status"] == "skipped" and str(bad) in rows["sub-crash03"]["reason"]
    listed = runner.invoke(app, ["sessions", "--home", str(home), "--json"])
    assert listed.exit_code == 0
    ids = {r["session_id"] for r in json.loads(listed.stdout)}
    assert ids == {"sub-crash01_ses-20260105T100000", "sub-crash02_ses-20260106T100000"}
    fifs = {p: _sha(p) for p in home.rglob("*_raw.fif")}
    assert len(fifs) == 2
    again = runner.invoke(app, ["recover", "--home", str(home), "--json"])
    assert again.exit_code == 0
    assert {r["stored"] for r in json.loads(again.stdout) if r["status"] == "recovered"} == {"unchanged"}
    assert len(Catalog(home=home).sessions()) == 2
    assert {p: _sha(p) for p in home.rglob("*_raw.fif")} == fifs


@pytest.mark.slow
def test_sigkilled_recording_recovered_with_no_path_appears_in_sessions(tmp_path):
    """Acceptance 3 (second half), with a real recorder: while it records, ``recover`` lists
    it as still being recorded and leaves it alone; after SIGKILL, ``recover --home`` (no path)
    recovers it and ``sessions`` lists it."""
    home = tmp_path / "home"
    proc, csv = start_recording(home, "kill01", min_bytes=20_001)
    try:
        res = _cli("recover", "--home", home, "--json")
        assert res.returncode == 0, res.stderr
        (row,) = json.loads(res.stdout)
        assert row["status"] == "skipped" and "still being recorded" in row["reason"]
        assert proc.poll() is None  # the recording went on
        time.sleep(1.0)
    finally:
        sigkill(proc)
    assert json.loads(csv.with_suffix(".json").read_text())["ended_cleanly"] is False
    res = _cli("recover", "--home", home)
    assert res.returncode == 0, res.stderr
    assert "1 recovered, 0 skipped" in res.stdout
    listed = _cli("sessions", "--home", home, "--json")
    assert listed.returncode == 0, listed.stderr
    (session,) = json.loads(listed.stdout)
    assert session["subject"] == "kill01" and session["duration_s"] > 1.0


# --- catalog damage -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stored_home(tmp_path_factory):
    """Four sessions of two subjects (a BrainFlow CSV with sidecar, a muselsl CSV without),
    one context event; and what ``sessions``, ``metrics_frame`` and ``trends`` said."""
    from neurofeedback.simulate import simulate_cohort
    from neurofeedback.store import ingest_file
    from neurofeedback.store._engine import forget_engine

    folder = tmp_path_factory.mktemp("cohort")
    home = tmp_path_factory.mktemp("stored")
    truth = simulate_cohort(folder, subjects=("alpha01", "stable01"), weeks=2,
                            sessions_per_week=1, duration_s=30.0)
    for subj in truth.subjects:
        for s in subj.sessions:
            ingest_file(folder / s.path, home=home)
    cat = Catalog(home=home)
    cat.add_event("alpha01", "2026-01-10", "note", "started meditating")
    snapshot = _snapshot(cat)
    assert len(snapshot["sessions"]) == 4
    forget_engine(cat.url)  # closed: its write-ahead log is checkpointed into the file
    return home, snapshot


def _snapshot(cat: Catalog) -> dict:
    sessions = cat.sessions().drop(columns=["created_at", "updated_at"])
    return {
        "sessions": sessions,
        "metrics": cat.metrics_frame(),
        "features": {sid: cat.session_features(sid) for sid in sessions["session_id"]},
        "blocks": {sid: cat.session_blocks(sid) for sid in sessions["session_id"]},
        "events": cat.events(),
    }


def _copy_home(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    db = dst / "catalog.sqlite"
    con = sqlite3.connect(db)  # fold any write-ahead log into the copy, then close it
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    for extra in ("catalog.sqlite-wal", "catalog.sqlite-shm"):
        (dst / extra).unlink(missing_ok=True)
    return dst


def _damage(db: Path, kind: str) -> None:
    if kind == "truncated":
        size = db.stat().st_size
        os.truncate(db, size // 2)
    elif kind == "garbage":
        db.write_bytes(np.random.default_rng(16).bytes(40_000))
    elif kind == "header":
        with open(db, "r+b") as fh:
            fh.write(b"XXXXXXXXXXXXXXXX")
    elif kind == "empty":
        db.write_bytes(b"")
    elif kind == "missing":
        db.unlink()
    else:
        raise ValueError(kind)


def _rebased(frame: pd.DataFrame, old: Path, new: Path) -> pd.DataFrame:
    """The catalog's paths into the copied home (``bids_path``, ``features_path``, …)."""
    out = frame.copy()
    for col in ("bids_path", "features_path", "summary_path"):
        out[col] = out[col].str.replace(str(old), str(new), regex=False)
    return out


DAMAGE = ("truncated", "garbage", "header", "empty", "missing")


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_catalog_one_line_then_rebuild_gives_the_same_rows(stored_home, tmp_path, kind):
    """Every command that opens a damaged catalog says one line naming the file and what to
    do, exit 2, and writes nothing; ``store rebuild`` moves the damaged file aside (byte for
    byte) and restores the same sessions, features, blocks, metrics and trends."""
    src, snap = stored_home
    home = _copy_home(src, tmp_path / "home")
    db = home / "catalog.sqlite"
    _damage(db, kind)
    damaged = _sha(db) if db.exists() else None
    bids_before = _tree_hashes(home / "bids")
    for args in (["sessions"], ["trends", "--subject", "alpha01"],
                 ["event", "add", "--subject", "alpha01", "--date", "2026-02-01", "--kind", "note"],
                 ["report", "subject", "alpha01", "--out", str(tmp_path / "r.html")]):
        res = runner.invoke(app, [*args, "--home", str(home)])
        assert res.exit_code == 2, (args, res.output)
        line = _one_line(res.stderr)
        assert str(db) in line and f"neurofeedback store rebuild --home {home}" in line, line
    assert (_sha(db) if db.exists() else None) == damaged  # nothing re-created or written
    assert _tree_hashes(home / "bids") == bids_before
    assert not (tmp_path / "r.html").exists()
    with pytest.raises(CatalogDamagedError):
        Catalog(home=home)

    res = runner.invoke(app, ["store", "rebuild", "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert len(out["sessions"]) == 4 and out["skipped"] == []
    if damaged is not None:
        (aside,) = [Path(p) for p in out["moved_aside"] if not p.endswith(("-wal", "-shm"))]
        assert _sha(aside) == damaged  # kept, never deleted
    assert out["events_restored"] == len(snap["events"]) == 1  # from events-backup.json
    again = _snapshot(Catalog(home=home))
    pd.testing.assert_frame_equal(again["sessions"], _rebased(snap["sessions"], src, home))
    pd.testing.assert_frame_equal(again["metrics"], snap["metrics"])
    for sid, frame in snap["features"].items():
        pd.testing.assert_frame_equal(again["features"][sid], frame)
        pd.testing.assert_frame_equal(again["blocks"][sid], snap["blocks"][sid])
    cols = ["event_id", "subject", "time", "kind", "quantity", "unit", "text"]
    pd.testing.assert_frame_equal(Catalog(home=home).events()[cols], snap["events"][cols])


def test_trends_are_the_same_after_a_rebuild(stored_home, tmp_path):
    src, _ = stored_home
    before = runner.invoke(app, ["trends", "--subject", "alpha01", "--home", str(src), "--json"])
    assert before.exit_code == 0, before.output
    home = _copy_home(src, tmp_path / "home")
    _damage(home / "catalog.sqlite", "truncated")
    assert runner.invoke(app, ["store", "rebuild", "--home", str(home)]).exit_code == 0
    after = runner.invoke(app, ["trends", "--subject", "alpha01", "--home", str(home), "--json"])
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout) == json.loads(before.stdout)


def test_rebuild_refuses_a_healthy_catalog_without_force(stored_home, tmp_path):
    src, snap = stored_home
    home = _copy_home(src, tmp_path / "home")
    before = _sha(home / "catalog.sqlite")
    res = runner.invoke(app, ["store", "rebuild", "--home", str(home)])
    assert res.exit_code == 2
    line = _one_line(res.stderr)
    assert "opens fine" in line and "1 event(s)" in line and "--force" in line
    assert _sha(home / "catalog.sqlite") == before
    res = runner.invoke(app, ["store", "rebuild", "--home", str(home), "--force"])
    assert res.exit_code == 0, res.output
    assert len(Catalog(home=home).sessions()) == len(snap["sessions"])
    assert [_sha(p) for p in home.glob("catalog.sqlite.damaged-*") if p.suffix != ".bak"
            and not p.name.endswith(("-wal", "-shm"))] == [before]


def test_a_fresh_home_still_gets_a_new_catalog(tmp_path):
    """The guard against re-creating a lost catalog does not stop a first import: a home with
    nothing stored gets an empty catalog as before."""
    cat = Catalog(home=tmp_path / "fresh")
    assert cat.sessions().empty and (tmp_path / "fresh" / "catalog.sqlite").exists()


def _drop_privileges() -> tuple[str, ...] | None:
    """A command prefix under which file modes bind: none for a normal user; for root,
    ``setpriv`` without the capabilities that let root ignore them (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH); ``None`` when neither is available."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        return None
    caps = "-dac_override,-dac_read_search"
    return ("setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}")


def test_read_only_catalog_is_read_and_writes_say_one_line(stored_home, tmp_path):
    """A 0444 catalog in a 0555 home (as a user without write permission meets it): the
    sessions are listed and the trends computed; adding an event is one line, exit 2."""
    prefix = _drop_privileges()
    if prefix is None:
        pytest.skip("running as root without setpriv: file modes cannot be made to bind")
    src, snap = stored_home
    home = _copy_home(src, tmp_path / "home")
    db = home / "catalog.sqlite"
    before = _sha(db)
    db.chmod(0o444)
    home.chmod(0o555)
    try:
        res = _cli("sessions", "--home", home, "--json", prefix=prefix)
        assert res.returncode == 0, res.stderr
        assert sorted(r["session_id"] for r in json.loads(res.stdout)) == sorted(
            snap["sessions"]["session_id"])
        res = _cli("trends", "--subject", "alpha01", "--home", home, "--json", prefix=prefix)
        assert res.returncode == 0, res.stderr
        res = _cli("event", "add", "--subject", "alpha01", "--date", "2026-02-01", "--kind",
                   "note", "--home", home, prefix=prefix)
        assert res.returncode == 2
        line = _one_line(res.stderr)
        assert str(db) in line and "read-only" in line
    finally:
        home.chmod(0o755)
        db.chmod(0o644)
    assert _sha(db) == before
    # nothing new (the events backup was copied with the home: the fixture added an event)
    assert sorted(p.name for p in home.iterdir()) == ["bids", "catalog.sqlite", "events-backup.json"]


def test_catalog_store_error_is_still_a_store_error():
    """Callers that catch StoreError (the batch flows) catch the damage too."""
    assert issubclass(CatalogDamagedError, StoreError)
