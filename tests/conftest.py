"""Shared fixtures: the third-party recordings in ../shared/data and a fresh data home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("NEUROFEEDBACK_SHARED_DATA", ROOT.parent / "shared" / "data"))
#: Field cases: small real inputs the product once got wrong (``../shared/cases/README.md``).
SHARED_CASES = Path(os.environ.get("NEUROFEEDBACK_SHARED_CASES", ROOT.parent / "shared" / "cases"))

# The CLI's tables (rich) wrap at the terminal's width, which a test run inherits from wherever
# it was started (a terminal, CI, a pytest-xdist worker with no terminal: 80 columns). Tests read
# those tables, so they all see one width; subprocesses inherit it.
os.environ["COLUMNS"] = "160"


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


def _pg_unavailable(msg: str):
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the store tests on PostgreSQL: {msg}", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def postgres_cluster():
    """One throwaway PostgreSQL cluster for the whole test session (a
    :class:`_postgres.PostgresCluster`, ``fsync`` off: it is thrown away)."""
    from _postgres import PostgresCluster, PostgresUnavailable

    try:
        cluster = PostgresCluster(durable=False)
    except PostgresUnavailable as err:
        _pg_unavailable(str(err))
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


# --- Prefect's local API for the in-process flow tests ------------------------------------------


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    """Prefect's test harness (its temporary local API server, its own database) for one test
    module that calls flows in this process; ``PREFECT_HOME`` a fresh folder of the module and
    the project's offline defaults set before Prefect is imported."""
    import pipelines

    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    pipelines.configure()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
