"""Shared fixtures: the third-party recordings in ../shared/data and a fresh data home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("NEUROFEEDBACK_SHARED_DATA", ROOT.parent / "shared" / "data"))
#: Field cases: small real inputs the product once got wrong (``../shared/cases/README.md``).
SHARED_CASES = Path(os.environ.get("NEUROFEEDBACK_SHARED_CASES", ROOT.parent / "shared" / "cases"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real third-party recordings; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"third-party recordings not found at {SHARED_DATA} (clone with ../shared beside it)")
    return SHARED_DATA


def shared_file(shared_data: Path, rel: str) -> Path:
    """Return one recording under ``shared_data`` or skip naming the missing file."""
    p = shared_data / rel
    if not p.is_file():
        pytest.skip(f"{p} is absent")
    return p


def shared_case(rel: str) -> Path:
    """Return one field-case file under ``../shared/cases`` or skip saying what is missing."""
    if not SHARED_CASES.is_dir():
        pytest.skip(f"field cases not found at {SHARED_CASES} (clone with ../shared beside it)")
    p = SHARED_CASES / rel
    if not p.is_file():
        pytest.skip(f"{p} is absent")
    return p


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own data home, so nothing touches the user's real one."""
    monkeypatch.setenv("NEUROFEEDBACK_HOME", str(tmp_path_factory.mktemp("nf-home")))


# --- real headless Chromium for the HTML-report tests (Playwright, tests/_playwright.py) ---


def _require_chromium() -> str:
    """The Chromium to drive; skips when it or Playwright is missing (in CI, with ``CI`` set, fails)."""
    import importlib.util

    from _playwright import find_chromium

    exe = find_chromium()
    missing = [msg for ok, msg in (
        (exe, "chromium is not installed (apt-get install -y chromium; .ci/run installs it)"),
        (importlib.util.find_spec("playwright"), "playwright is not installed (pip install -e '.[test]')"),
    ) if not ok]
    if missing:
        msg = "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {msg}", pytrace=False)
        pytest.skip(msg)
    return exe


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the whole session (a :class:`_playwright.Chromium`)."""
    from _playwright import Chromium

    browser = Chromium(_require_chromium())
    yield browser
    browser.close()


@pytest.fixture
def open_page(chromium):
    """``open_page(path, offline=False, width=1280, height=900)`` opens a file in its own
    browser context and returns the :class:`_playwright.Page`; pages close after the test."""
    pages = []

    def _open(path, **kw):
        pages.append(chromium.open(path, **kw))
        return pages[-1]

    yield _open
    for page in pages:
        page.close()


# --- data for the report tests --------------------------------------------------------------

#: Text that would run if a report interpreted user input as HTML.
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def xss_recording(tmp_path_factory) -> Path:
    """The Cyton sample recording under a hostile file name, with hostile notes and protocol."""
    import json
    import shutil

    folder = tmp_path_factory.mktemp("xss-rec")
    src = ROOT / "sample_data" / "cyton_meditation.csv"
    dst = folder / "take<img src=x onerror=alert(3)>.csv"  # a file name cannot hold a "/"
    shutil.copyfile(src, dst)
    doc = json.loads(src.with_suffix(".json").read_text())
    doc.update(subject=XSS, notes=f"felt calm {XSS}", protocol='<img src=x onerror="alert(2)">')
    dst.with_suffix(".json").write_text(json.dumps(doc))
    return dst


@pytest.fixture(scope="session")
def report_store(tmp_path_factory):
    """A data home holding a 10-week subject (3 sessions a week) and hostile context events.

    Returns ``(home, subject)``.
    """
    from neurofeedback.errors import RecordingFormatError
    from neurofeedback.simulate import simulate_cohort
    from neurofeedback.store import Catalog, ingest_file

    base = tmp_path_factory.mktemp("report-store")
    home = base / "home"
    truth = simulate_cohort(base / "cohort", subjects=("alpha01",), weeks=10, sessions_per_week=3,
                            duration_s=60.0)
    for p in sorted((base / "cohort").rglob("*.csv")):
        try:
            ingest_file(p, home=home)
        except RecordingFormatError:
            pass  # the cohort's corrupted file
    from datetime import timedelta

    cat = Catalog(home=home)
    start = truth.subjects[0].sessions[0].start_time
    cat.add_event("alpha01", start + timedelta(days=20), "ketamine", f"infusion 0.5 mg/kg {XSS}")
    cat.add_event("alpha01", start + timedelta(days=3), "practice", "switched to 20-minute sits")
    return home, "alpha01"


# --- the catalog on SQLite and on a real PostgreSQL (issue 19, item 1) ----------------------
#
# One throwaway PostgreSQL cluster per test session (Debian's postgresql: initdb + pg_ctl on a
# free port of 127.0.0.1, data in a temporary folder, stopped and removed at the end), and a fresh
# database per test (CREATE DATABASE, dropped after the test). Without the server binaries or
# psycopg the PostgreSQL cases skip with the reason; in CI (``CI`` set) they fail instead.

#: The catalog backends every store test runs on.
CATALOG_BACKENDS = ("sqlite", "postgresql")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_unavailable(msg: str):
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the store tests on PostgreSQL: {msg}", pytrace=False)
    pytest.skip(msg)


class PostgresCluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (``initdb``/``pg_ctl`` in a temporary folder).

    As root the server runs as the ``postgres`` user (``runuser``); otherwise as the current user.
    ``fsync`` is off: the cluster is thrown away, and the tests check behaviour, not durability.
    """

    def __init__(self):
        import shutil
        import subprocess
        import tempfile

        if importlib_find("psycopg") is None:
            _pg_unavailable("psycopg is not installed (pip install -e '.[postgres]')")
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
        initdb = bins[-1] if bins else shutil.which("initdb")
        if initdb is None:
            _pg_unavailable("no PostgreSQL server binaries (apt-get install -y postgresql; .ci/run "
                            "installs it)")
        self.bindir = Path(initdb).parent
        self._as = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                _pg_unavailable("running as root without runuser: cannot start PostgreSQL as postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run = subprocess.run
        self.base = Path(tempfile.mkdtemp(prefix="nf-pg-"))  # pytest's tmp dirs are private to root
        self.base.chmod(0o755)
        self.data = self.base / "data"
        self.data.mkdir()
        self.sockets = self.base / "sockets"  # the server's Unix socket and its lock file
        self.sockets.mkdir()
        if self._as:
            for d in (self.data, self.sockets):
                shutil.chown(d, "postgres")
        self.port = _free_port()
        self.user = "postgres" if self._as else os.environ.get("USER") or "postgres"
        r = self._pg("initdb", "-D", self.data, "-A", "trust", "-U", self.user, "-E", "UTF8")
        if r.returncode:
            self._remove()
            _pg_unavailable(f"initdb failed: {r.stderr.strip()[-300:]}")
        r = self._pg("pg_ctl", "-D", self.data, "-o",
                     f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                     "-c full_page_writes=off -c synchronous_commit=off -c max_connections=200",
                     "-l", self.data / "log", "start", "-w", "-t", "120")
        if r.returncode:
            log = self.data / "log"
            detail = log.read_text(errors="replace") if log.exists() else r.stderr
            self._remove()
            _pg_unavailable(f"PostgreSQL did not start: {' '.join(detail.split())[-300:]}")
        self._n = 0

    def _pg(self, tool, *args):
        return self._run([*self._as, str(self.bindir / tool), *map(str, args)],
                         capture_output=True, text=True, timeout=180)

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        """The SQLAlchemy URL of ``database`` on this cluster."""
        return f"{driver}://{self.user}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement (``CREATE DATABASE`` …) outside a transaction."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """A fresh empty database; its name."""
        self._n += 1
        name = f"nf_test_{self._n}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE template0")
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name`` (closing this process's engine of it first; others are forced out)."""
        from neurofeedback.store._engine import forget_engine

        for driver in ("postgresql+psycopg", "postgresql"):
            forget_engine(self.url(name, driver))
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", self.data, "stop", "-m", "fast")
        self._remove()

    def _remove(self) -> None:
        import shutil

        shutil.rmtree(self.base, ignore_errors=True)


def importlib_find(name: str):
    import importlib.util

    return importlib.util.find_spec(name)


@pytest.fixture(scope="session")
def postgres_cluster():
    """One throwaway PostgreSQL cluster for the whole test session (a :class:`PostgresCluster`)."""
    cluster = PostgresCluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster):
    """The URL of a fresh, empty PostgreSQL database (dropped after the test)."""
    name = postgres_cluster.create_database()
    yield postgres_cluster.url(name)
    postgres_cluster.drop_database(name)


@pytest.fixture(params=CATALOG_BACKENDS)
def catalog_url(request, monkeypatch, tmp_path):
    """The catalog of this test, once on SQLite and once on PostgreSQL.

    Sets (PostgreSQL) or clears (SQLite) ``NEUROFEEDBACK_DB_URL``, so ``Catalog(home=...)``,
    ``ingest_file`` and the CLI, in this process and in subprocesses given ``os.environ``, all
    use it. Returns the URL (SQLite: the default ``<tmp_path>/catalog.sqlite``).
    """
    if request.param == "sqlite":
        monkeypatch.delenv("NEUROFEEDBACK_DB_URL", raising=False)
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("NEUROFEEDBACK_DB_URL", url)
    return url


def copy_catalog(src_url: str, dst_url: str) -> None:
    """Copy every row of the catalog at ``src_url`` into a new catalog at ``dst_url`` (created
    by :class:`~neurofeedback.store.Catalog`; same schema version), so a test can read one set of
    imported sessions on another backend without importing them again."""
    import sqlalchemy as sa

    from neurofeedback.store import Catalog
    from neurofeedback.store._schema import metadata

    Catalog(src_url)
    Catalog(dst_url)
    src, dst = sa.create_engine(src_url), sa.create_engine(dst_url)
    try:
        with src.connect() as a, dst.begin() as b:
            for table in metadata.sorted_tables:
                rows = [dict(r) for r in a.execute(sa.select(table)).mappings()]
                if table.name == "meta":
                    b.execute(table.delete())
                if rows:
                    b.execute(table.insert(), rows)
            if dst.dialect.name == "postgresql":  # explicit ids: move the sequences past them
                for table in metadata.sorted_tables:
                    for col in table.primary_key.columns:
                        if col.autoincrement is True:
                            b.execute(sa.text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{col.name}'),"
                                f" coalesce((SELECT max({col.name}) FROM {table.name}), 0) + 1, false)"))
    finally:
        src.dispose()
        dst.dispose()
    from neurofeedback.store._engine import forget_engine

    forget_engine(dst_url)  # the Catalog's cached engine read the instance id before the copy
