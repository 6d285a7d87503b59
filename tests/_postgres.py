"""A throwaway PostgreSQL cluster on 127.0.0.1, for the tests (tests/conftest.py) and the scale
benchmark (bench/bench_scale.py).

Debian's ``postgresql`` server binaries (``/usr/lib/postgresql/<version>/bin``, or ``initdb`` on
PATH): ``initdb`` into a temporary folder, ``pg_ctl start`` on a free port of 127.0.0.1 (its Unix
socket in the same folder, never the system's), ``pg_ctl stop`` and the folder removed at the end.
As root the server runs as the ``postgres`` user (``runuser``; PostgreSQL refuses root),
otherwise as the current user. The system's PostgreSQL service is not used.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why and what to install."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _initdb() -> Path | None:
    def version(p: Path) -> int:
        name = p.parent.parent.name
        return int(name) if name.isdigit() else 0
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version)
    found = bins[-1] if bins else shutil.which("initdb")
    return Path(found) if found else None


class PostgresCluster:
    """A throwaway PostgreSQL cluster; :meth:`stop` it (it removes its folder).

    Parameters
    ----------
    durable : bool
        ``False`` turns ``fsync``, ``full_page_writes`` and ``synchronous_commit`` off (tests:
        the cluster is thrown away, and they check behaviour, not durability); ``True`` keeps
        PostgreSQL's defaults (benchmarks).

    Raises
    ------
    PostgresUnavailable
        No psycopg, no server binaries, or the server did not start (the reason in one line).
    """

    def __init__(self, *, durable: bool = False):
        if importlib.util.find_spec("psycopg") is None:
            raise PostgresUnavailable("psycopg is not installed (pip install -e '.[postgres]')")
        initdb = _initdb()
        if initdb is None:
            raise PostgresUnavailable("no PostgreSQL server binaries (apt-get install -y postgresql;"
                                      " .ci/run installs it)")
        self.bindir = initdb.parent
        self._as: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root without runuser: cannot start "
                                          "PostgreSQL as the postgres user")
            self._as = ["runuser", "-u", "postgres", "--"]
        self.base = Path(tempfile.mkdtemp(prefix="nf-pg-"))  # pytest's tmp dirs are private to root
        self.base.chmod(0o755)
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"  # the server's Unix socket and its lock file
        for d in (self.data, self.sockets):
            d.mkdir()
            if self._as:
                shutil.chown(d, "postgres")
        self.port = free_port()
        self.user = "postgres" if self._as else os.environ.get("USER") or "postgres"
        r = self._pg("initdb", "-D", self.data, "-A", "trust", "-U", self.user, "-E", "UTF8")
        if r.returncode:
            self._remove()
            raise PostgresUnavailable(f"initdb failed: {' '.join(r.stderr.split())[-300:]}")
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not durable:
            options += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        r = self._pg("pg_ctl", "-D", self.data, "-o", options, "-l", self.data / "log", "start",
                     "-w", "-t", "120")
        if r.returncode:
            log = self.data / "log"
            detail = log.read_text(errors="replace") if log.exists() else r.stderr
            self._remove()
            raise PostgresUnavailable(f"PostgreSQL did not start: {' '.join(detail.split())[-300:]}")
        self._n = 0

    def _pg(self, tool: str, *args):
        return subprocess.run([*self._as, str(self.bindir / tool), *map(str, args)],
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

    def create_database(self, prefix: str = "nf_test") -> str:
        """A fresh empty database; its name."""
        self._n += 1
        name = f"{prefix}_{self._n}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE template0")
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name`` (closing this process's engines of it first; others are forced out)."""
        from neurofeedback.store._engine import forget_engine

        for driver in ("postgresql+psycopg", "postgresql"):
            forget_engine(self.url(name, driver))
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        self._pg("pg_ctl", "-D", self.data, "stop", "-m", "fast")
        self._remove()

    def _remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)
