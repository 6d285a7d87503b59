"""Fault corpus of issue 16, items 5-6: Prefect as a part (an unreachable API, a missing path,
``serve`` without a server, ``--home`` moving Prefect's state) and identity/export hygiene
(labels matched whole, spreadsheet-safe CSV, text lengths, a missing database driver).

Every case ends with ONE line and exit code 2 (CLI) or a skipped entry with its reason (batch),
and nothing already stored is lost: the commands run as real subprocesses, against real SQLite
catalogs, with a real Prefect where a flow runs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
CYTON = ROOT / "sample_data" / "cyton_meditation.csv"
FORMULAS = ("=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR")


def _env(tmp_path: Path, **extra) -> dict:
    """A clean environment: no Prefect settings, no data home, HOME in ``tmp_path/user``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PREFECT_") and k not in ("DO_NOT_TRACK", "NEUROFEEDBACK_HOME",
                                                         "NEUROFEEDBACK_DB_URL")}
    user = tmp_path / "user"
    user.mkdir(exist_ok=True)
    env.update(HOME=str(user), PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def _cli(args, tmp_path: Path, *, timeout=300, pre: str = "", **extra):
    """Run ``python -m neurofeedback ARGS`` (after ``pre``, Python run first) as a subprocess."""
    code = (pre + "\nimport runpy, sys\nsys.argv = ['neurofeedback'] + " + repr([str(a) for a in args])
            + "\nrunpy.run_module('neurofeedback', run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(tmp_path, **extra),
                          capture_output=True, text=True, timeout=timeout)


def _one_line_error(proc, *words):
    """Exit code 2 and stderr exactly one ``neurofeedback: error:`` line, no traceback."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("neurofeedback: error: ") and "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


#: Prints at exit whether Prefect was imported (stdout's last line).
_REPORT_PREFECT = ("import atexit, sys\n"
                   "atexit.register(lambda: print('PREFECT', 'prefect' in sys.modules))")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the block ends: nothing listens there


def _n_sessions(home: Path) -> int:
    if not (home / "catalog.sqlite").exists():
        return 0
    from neurofeedback.store import Catalog

    return len(Catalog(home=home).sessions())


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _seed_home(tmp_path: Path) -> Path:
    """A data home holding one imported session (to prove nothing stored is lost)."""
    from neurofeedback.store import ingest_file

    home = tmp_path / "home"
    ingest_file(CYTON, home=home)
    assert _n_sessions(home) == 1
    return home


@pytest.fixture(scope="module")
def stored_home(tmp_path_factory) -> Path:
    return _seed_home(tmp_path_factory.mktemp("seeded"))


# --- Prefect ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["process", str(CYTON)],
    ["serve"],
    ["record", "--flow", "--board", "synthetic", "--subject", "s1", "--duration", "10s"],
])
def test_closed_prefect_port_is_one_line_and_imports_nothing(command, tmp_path, stored_home):
    home = tmp_path / "home"
    shutil.copytree(stored_home, home)
    before, cat_hash = _n_sessions(home), _sha(home / "catalog.sqlite")
    url = f"http://127.0.0.1:{_closed_port()}/api"
    t0 = time.perf_counter()
    proc = _cli([*command, "--home", home], tmp_path,
                pre=_REPORT_PREFECT, PREFECT_API_URL=url)
    took = time.perf_counter() - t0
    line = _one_line_error(proc, url, "cannot be reached", "PREFECT_API_URL")
    assert "connection refused" in line
    # checked before Prefect is even imported, so it is quick and nothing else ran
    assert proc.stdout.strip().splitlines()[-1] == "PREFECT False"
    assert took < 30
    assert _n_sessions(home) == before == 1 and _sha(home / "catalog.sqlite") == cat_hash
    assert not (home / "recordings").exists() or command[0] == "serve"


def test_process_of_a_missing_path_is_exactly_one_line(tmp_path):
    home = tmp_path / "home"
    proc = _cli(["process", tmp_path / "nonexistent", CYTON, "--home", home], tmp_path,
                pre=_REPORT_PREFECT)
    line = _one_line_error(proc, "nonexistent", "does not exist")
    assert line == f"neurofeedback: error: {tmp_path / 'nonexistent'}: does not exist"
    assert proc.stdout.strip() == "PREFECT False"  # refused before Prefect started
    assert _n_sessions(home) == 0  # the good file beside it was not half-imported either


def test_prefect_server_that_does_not_start_is_one_line(tmp_path, stored_home):
    """Prefect's temporary server not up within its start-up timeout: one line saying what to
    do, exit 2, the store unchanged."""
    home = tmp_path / "home"
    shutil.copytree(stored_home, home)
    other = _copy_with_sidecar(tmp_path / "in", "other", subject="other01")
    proc = _cli(["process", other, "--home", home], tmp_path,
                PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1")
    _one_line_error(proc, "temporary local server did not start",
                    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")
    assert _n_sessions(home) == 1


def test_serve_of_a_missing_folder_is_one_line(tmp_path):
    proc = _cli(["serve", tmp_path / "nope", "--home", tmp_path / "home"], tmp_path)
    _one_line_error(proc, "nope", "does not exist")


def test_configure_moves_prefect_home_with_each_home(tmp_path):
    """Two commands in one process (typer's CliRunner, a notebook) with different ``--home``:
    the second moves PREFECT_HOME; a PREFECT_HOME the user set is never overridden."""
    code = f"""
import os, json, pipelines
pipelines.configure({str(tmp_path / 'a')!r}); a = os.environ["PREFECT_HOME"]
pipelines.configure({str(tmp_path / 'b')!r}); b = os.environ["PREFECT_HOME"]
pipelines.configure(None); c = os.environ["PREFECT_HOME"]
print(json.dumps([a, b, c]))
"""
    proc = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    a, b, c = json.loads(proc.stdout)
    assert (a, b, c) == (str(tmp_path / "a" / "prefect"), str(tmp_path / "b" / "prefect"),
                         str(tmp_path / "b" / "prefect"))
    own = tmp_path / "own"
    proc = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path, PREFECT_HOME=str(own)),
                          capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout) == [str(own)] * 3


@pytest.mark.slow
def test_home_puts_prefect_state_in_home_prefect(tmp_path):
    """``process --home X`` with HOME elsewhere and no NEUROFEEDBACK_HOME: Prefect's database is
    in ``X/prefect`` and nothing appears under ``~/neurofeedback`` or ``~/.prefect``."""
    home = tmp_path / "X"
    proc = _cli(["process", CYTON, "--home", home, "--json"], tmp_path, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (home / "prefect" / "prefect.db").is_file()
    user = tmp_path / "user"
    assert not (user / "neurofeedback").exists() and not (user / ".prefect").exists()
    assert _n_sessions(home) == 1


@pytest.mark.slow
def test_serve_without_a_server_starts_its_own_and_stops_it(tmp_path):
    """No PREFECT_API_URL: ``serve`` starts Prefect's local API itself, registers both
    deployments there, and SIGTERM stops it and the server, without a traceback."""
    home = tmp_path / "home"
    env = _env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "neurofeedback", "serve", "--home", str(home)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    url = None
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            if "against the Prefect API at" in line:
                url = line.split("against the Prefect API at ")[1].split(";")[0].strip()
        assert url, "serve never said it was serving"
        names, deadline = [], time.monotonic() + 120
        while time.monotonic() < deadline and len(names) < 2:  # registered after the line
            time.sleep(1)
            req = urllib.request.Request(url + "/deployments/filter", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                names = sorted(d["name"] for d in json.load(resp))
        assert names == ["weekly-import", "weekly-trends"]
        assert proc.poll() is None  # still serving, no traceback loop
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    with pytest.raises(OSError):  # the local server went with it
        urllib.request.urlopen(url + "/health", timeout=5)
    assert (home / "prefect" / "prefect.db").is_file()
    assert not (tmp_path / "user" / "neurofeedback").exists()


# --- labels -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["nl01\n", "nl01\r\n", "\nnl01", "nl01 "])
def test_label_with_a_newline_is_refused(bad):
    from neurofeedback.errors import ConfigError
    from neurofeedback.home import validate_label

    with pytest.raises(ConfigError, match="letters or digits"):
        validate_label(bad)


def test_cli_subject_with_a_trailing_newline_is_one_line(tmp_path):
    home = tmp_path / "home"
    for cmd in (["record", "--board", "synthetic", "--subject", "nl01\n", "--duration", "10s"],
                ["trends", "--subject", "nl01\n"],
                ["process", CYTON, "--subject", "nl01\n"]):
        proc = _cli([*cmd, "--home", home], tmp_path)
        _one_line_error(proc, "'nl01\\n'")
    assert not (home / "recordings").exists() and _n_sessions(home) == 0


def _copy_with_sidecar(folder: Path, name: str, **changes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / f"{name}.csv"
    lines = CYTON.read_text().splitlines(keepends=True)
    dst.write_text("".join(lines[:-1]))  # one sample shorter: another file, not a copy
    doc = json.loads(CYTON.with_suffix(".json").read_text())
    doc.update(changes)
    dst.with_suffix(".json").write_text(json.dumps(doc))
    return dst


def test_sidecar_subject_with_a_newline_is_skipped_with_a_reason(tmp_path, stored_home):
    """The batch's task (the real one, called without a flow) skips it with the reason; the
    store keeps its session and gets no ``sub-nl01\\n`` folder or participants row."""
    import pipelines

    pipelines.configure(tmp_path / "prefect-home")
    from pipelines.process import import_recording

    home = tmp_path / "home"
    shutil.copytree(stored_home, home)
    participants = home / "bids" / "participants.tsv"
    before = _sha(participants)
    bad = _copy_with_sidecar(tmp_path / "in", "newline", subject="nl01\n")
    rec = import_recording.fn(str(bad), home=str(home))
    assert rec["status"] == "skipped"
    assert "nl01\\n" in rec["reason"] and "\n" not in rec["reason"]
    assert _n_sessions(home) == 1 and _sha(participants) == before
    assert sorted(p.name for p in (home / "bids").glob("sub-*")) == ["sub-sim01"]


# --- spreadsheet-safe CSV -----------------------------------------------------------------


def _read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_write_csv_quotes_formula_text_and_keeps_numbers(tmp_path):
    from neurofeedback._csv import write_csv

    frame = pd.DataFrame({"text": list(FORMULAS), "value": [-3.2, -1.0, 0.5, -0.0, 2.0, -7.25],
                          "n": [-1, 2, -3, 4, -5, 6], "plain": ["ok", "a-b", "x=1", "", "1", "o@k"]})
    frame.columns = ["text", "value", "n", "=plain"]
    path = write_csv(frame, tmp_path / "t.csv")
    rows = _read_csv(path)
    assert rows[0] == ["text", "value", "n", "'=plain"]
    assert [r[0] for r in rows[1:]] == ["'" + f for f in FORMULAS]
    assert [r[1] for r in rows[1:]] == ["-3.2", "-1.0", "0.5", "-0.0", "2.0", "-7.25"]
    assert [r[2] for r in rows[1:]] == ["-1", "2", "-3", "4", "-5", "6"]
    assert [r[3] for r in rows[1:]] == ["ok", "a-b", "x=1", "", "1", "o@k"]
    assert frame["text"].tolist() == list(FORMULAS)  # the caller's frame is untouched


def test_features_csv_and_parquet_with_formula_channel_names(tmp_path):
    """``features --out x.csv`` through the CLI: channel names beginning with a formula
    character get the quote in CSV; numbers (negative z-scores, log powers) do not; the
    Parquet file keeps the names verbatim."""
    names = ["=cmd", "+A1", "-B2", "@C3", "Fp2", "C3", "C4", "O1"]
    out_csv, out_pq = tmp_path / "f.csv", tmp_path / "f.parquet"
    for out in (out_csv, out_pq):
        proc = _cli(["features", CYTON, "--out", out, "--channel-names", ",".join(names)], tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _read_csv(out_csv)
    header, body = rows[0], rows[1:]
    chans = {r[header.index("channel")] for r in body}
    assert chans == {"'=cmd", "'+A1", "'-B2", "'@C3", "Fp2", "C3", "C4", "O1"}
    numeric = [c for c in header if c in ("absolute", "relative", "log_absolute", "value", "power")]
    negatives = [r[header.index(c)] for c in numeric for r in body
                 if r[header.index(c)].startswith("-")]
    assert all(not v.startswith("'") for r in body for v in r if v[:1] == "'" and v[1:2].isdigit())
    assert any(numeric) and all(float(v) < 0 for v in negatives)
    back = pd.read_parquet(out_pq)
    assert set(back["channel"]) == set(names)


def test_report_export_quotes_event_text_and_block_labels(tmp_path):
    from neurofeedback.report.document import Block, Report, Section, Table

    frame = pd.DataFrame({"event": ["=HYPERLINK(\"http://evil\",\"x\")", "calm"],
                          "block": ["-eyes-closed", "@meditation"], "channel": ["+Cz", "Cz"],
                          "change": [-3.2, 1.5]})
    rep = Report(kind="subject", title="t", sections=[
        Section(id="s", title="s", blocks=[Block(table=Table(name="events", frame=frame))])])
    files = rep.export(tmp_path / "exp")
    rows = _read_csv(next(f for f in files if f.suffix == ".csv"))
    assert rows == [["event", "block", "channel", "change"],
                    ["'=HYPERLINK(\"http://evil\",\"x\")", "'-eyes-closed", "'+Cz", "-3.2"],
                    ["calm", "'@meditation", "Cz", "1.5"]]


# --- text lengths (SQLite; the same limits as PostgreSQL's VARCHAR) -------------------------


@pytest.mark.parametrize("option", [
    ["--protocol", "p" * 200],
    ["--blocks", "b" * 200 + ":10"],
    ["--channel-names", ",".join(["c" * 70] + [f"X{i}" for i in range(15)])],
])
def test_record_refuses_text_the_catalog_cannot_hold_before_it_starts(option, tmp_path):
    home = tmp_path / "home"
    proc = _cli(["record", "--board", "synthetic", "--subject", "s1", "--duration", "10s",
                 "--no-display", "--check-seconds", "0", *option, "--home", home], tmp_path)
    _one_line_error(proc, "at most", "characters")
    assert not (home / "recordings").exists()  # nothing started: no session folder


def test_feedback_refuses_a_long_protocol_name_before_it_starts(tmp_path):
    proto = tmp_path / "long.yaml"
    src = ROOT / "neurofeedback" / "configs" / "protocols"
    text = sorted(src.glob("*.yaml"))[0].read_text()
    import yaml

    doc = yaml.safe_load(text)
    doc["name"] = "n" * 200
    proto.write_text(yaml.safe_dump(doc))
    home = tmp_path / "home"
    proc = _cli(["feedback", "--board", "synthetic", "--subject", "s1", "--protocol", proto,
                 "--duration", "20s", "--home", home], tmp_path)
    _one_line_error(proc, "protocol", "at most 128")
    assert not (home / "recordings").exists()


def test_long_sidecar_protocol_is_skipped_before_anything_is_written(tmp_path, stored_home):
    from neurofeedback.errors import StoreError
    from neurofeedback.store import ingest_file

    home = tmp_path / "home"
    shutil.copytree(stored_home, home)
    files_before = sorted(p.relative_to(home) for p in home.rglob("*") if "prefect" not in p.parts)
    bad = _copy_with_sidecar(tmp_path / "in", "long", subject="long01", protocol="x" * 200)
    with pytest.raises(StoreError, match="'protocol'.*at most 128 characters.*200") as info:
        ingest_file(bad, home=home)
    assert "\n" not in str(info.value) and str(bad) in str(info.value)
    assert _n_sessions(home) == 1
    files_after = sorted(p.relative_to(home) for p in home.rglob("*") if "prefect" not in p.parts)
    assert [f for f in files_after if f not in files_before
            and not f.name.startswith(("catalog.sqlite-", ".lock"))] == []


def test_catalog_enforces_column_lengths_on_sqlite(tmp_path, stored_home):
    """SQLite keeps any VARCHAR length; the catalog refuses what PostgreSQL would."""
    from neurofeedback.errors import StoreError
    from neurofeedback.store import Catalog

    home = tmp_path / "home"
    shutil.copytree(stored_home, home)
    cat = Catalog(home=home)
    row = cat.sessions().iloc[0]
    fields = {"start_time": row["start_time"].to_pydatetime(), "device": "d" * 129,
              "input_sha256": "0" * 64, "config_hash": "c"}
    metrics = pd.DataFrame({"metric": ["relative_alpha"], "channel": ["Cz"], "value": [0.1],
                            "unit": [None]})
    with pytest.raises(StoreError, match="'device'.*at most 128"):
        cat.record_session("other01", "20260101T000000", fields, metrics)
    fields["device"] = "ok"
    with pytest.raises(StoreError, match="'channel'.*at most 64"):
        cat.record_session("other01", "20260101T000000", fields, metrics.assign(channel="c" * 65))
    assert len(cat.sessions()) == 1 and "other01" not in cat.subjects()


# --- database driver ----------------------------------------------------------------------


def test_plain_postgresql_url_without_any_driver_is_one_line(tmp_path):
    proc = _cli(["sessions"], tmp_path,
                pre="import sys\nsys.modules['psycopg'] = None\nsys.modules['psycopg2'] = None",
                NEUROFEEDBACK_DB_URL="postgresql://nf:secret@127.0.0.1:1/nf")
    line = _one_line_error(proc, "pip install 'psycopg[binary]'", "neurofeedback[postgres]")
    assert "secret" not in line  # the password is not printed


def test_plain_postgresql_url_uses_psycopg3_when_psycopg2_is_absent():
    pytest.importorskip("psycopg")
    import sqlalchemy as sa

    from neurofeedback.store import _engine

    if _engine._importable("psycopg2"):
        pytest.skip("psycopg2 is installed: SQLAlchemy's default driver is used")
    url = _engine._with_driver(sa.engine.make_url("postgresql://u@h/db"), "")
    assert url.drivername == "postgresql+psycopg"


# --- the same limits on a real PostgreSQL (the cluster of tests/conftest.py) ---------------


@pytest.mark.slow
def test_postgres_refuses_a_long_protocol_like_sqlite(tmp_path, postgres_url, monkeypatch):
    """On PostgreSQL a 200-character protocol is the same one-line skip as on SQLite (not a
    ``StringDataRightTruncation`` after the work), and the plain URL works through psycopg 3."""
    from neurofeedback.errors import StoreError
    from neurofeedback.store import Catalog, ingest_file

    # the plain URL of the docs (postgres_url, tests/conftest.py, names the driver)
    monkeypatch.setenv("NEUROFEEDBACK_DB_URL", postgres_url.replace("postgresql+psycopg://", "postgresql://"))
    home = tmp_path / "home"
    assert ingest_file(CYTON, home=home).status == "imported"
    bad = _copy_with_sidecar(tmp_path / "in", "long", subject="long01", protocol="x" * 200)
    with pytest.raises(StoreError, match="'protocol'.*at most 128 characters.*200"):
        ingest_file(bad, home=home)
    assert len(Catalog(home=home).sessions()) == 1
