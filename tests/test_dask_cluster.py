"""``process --runner dask --dask-address`` against a real cluster: a ``dask scheduler`` and two
``dask worker`` processes started separately (as on other machines), with the project's Prefect
server (``neurofeedback server start``). The catalog must equal a thread-runner run's, and workers
that cannot see the recordings must skip each file with one line naming the worker and the path.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from _nfprocs import clean_env, end_groups, free_port, nf

pytestmark = pytest.mark.slow  # a Prefect server, a scheduler and workers: real processes

DASK = Path(sys.executable).with_name("dask")
#: Worker settings: offline Prefect, its state in a folder of the test (never ~/.prefect).
OFFLINE = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_LOGGING_LEVEL": "WARNING"}


def _spawn(cmd, log: Path, env, *, prefix=()) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([*prefix, *map(str, cmd)], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def _cluster(base: Path, n_workers: int, env, *, prefix=(), local_dir: Path | None = None):
    """A scheduler on a free port and ``n_workers`` workers, each its own process (group)."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_spawn([DASK, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
                    base / "scheduler.log", env)]
    for i in range(n_workers):
        where = (local_dir or base) / f"worker{i}"
        procs.append(_spawn([DASK, "worker", address, "--nworkers", 1, "--nthreads", 1,
                             "--no-dashboard", "--name", f"w{i}", "--local-directory", where],
                            base / f"worker{i}.log", env, prefix=prefix))
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(n_workers, timeout=120)
    except Exception:
        end_groups(*procs)
        raise
    return address, procs


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The project's Prefect server, a cohort of 3 short sessions + 1 corrupted file, and a
    scheduler with two workers (all separate processes)."""
    from neurofeedback.simulate import simulate_cohort

    if not DASK.exists():
        pytest.fail(f"{DASK} is missing: distributed (a dependency of prefect-dask) installs it")
    base = tmp_path_factory.mktemp("dask-cluster")
    env = clean_env(base / "user", PREFECT_HOME=base / "worker-prefect", **OFFLINE)
    r = nf("server", "start", "--home", base / "server", "--port", 0, "--json", env=env)
    assert r.returncode == 0, r.stderr
    url = json.loads(r.stdout)["url"]
    client_env = {**clean_env(base / "user"), "PREFECT_API_URL": url}
    folder = base / "cohort"
    simulate_cohort(folder, subjects=("alpha01",), weeks=1, sessions_per_week=3, duration_s=30.0)
    address, procs = _cluster(base, 2, env)
    yield SimpleNamespace(base=base, env=env, client_env=client_env, folder=folder, address=address,
                          url=url)
    end_groups(*procs)
    nf("server", "stop", "--home", base / "server", env=env)


def _metrics(home):
    from neurofeedback.store import Catalog

    cols = ["subject", "session_id", "block", "metric", "channel", "value"]
    return Catalog(home=home).metrics_frame()[cols].sort_values(cols[:5]).reset_index(drop=True)


def test_cluster_gives_the_thread_runners_catalog(setup, tmp_path):
    """Acceptance 3: separately started scheduler and workers; results identical to threads."""
    import pandas as pd
    from distributed import Client

    with Client(setup.address) as client:
        before = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
    a = nf("process", setup.folder, "--home", tmp_path / "threads", "--json", env=setup.client_env)
    b = nf("process", setup.folder, "--home", tmp_path / "dask", "--runner", "dask",
           "--dask-address", setup.address, "--json", env=setup.client_env)
    assert a.returncode == 0 and b.returncode == 0, a.stderr[-2000:] + b.stderr[-2000:]
    with Client(setup.address) as client:
        after = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
    assert after > before  # the tasks went through the separate scheduler
    ra, rb = json.loads(a.stdout)["records"], json.loads(b.stdout)["records"]
    assert [(r["path"], r["status"], r["session_id"]) for r in ra] == \
        [(r["path"], r["status"], r["session_id"]) for r in rb]
    assert [r["status"] for r in rb].count("imported") == 3
    assert [r["status"] for r in rb].count("skipped") == 1  # the corrupted file, on both
    ma, mb = _metrics(tmp_path / "threads"), _metrics(tmp_path / "dask")
    assert len(ma) > 100
    pd.testing.assert_frame_equal(ma, mb)  # identical values, not merely close


def _can_unshare() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs unshare --mount (root) to hide storage from a worker")
def test_workers_that_cannot_see_the_data_skip_each_file_in_one_line(setup, tmp_path, tmp_path_factory):
    """A worker on a machine without the shared storage: here a worker in a mount namespace of
    its own, where an empty tmpfs lies over the tests' folders (the recordings and the data home
    exist at those paths only for the client). Every file is skipped with one line naming the
    worker and the path, the batch finishes, and the worker writes nothing."""
    hidden = tmp_path_factory.getbasetemp()
    scratch = Path(tempfile.mkdtemp(prefix="nf-dask-elsewhere-"))  # the worker's own disk
    procs = []
    try:
        env = clean_env(scratch / "user", PREFECT_HOME=scratch / "prefect", **OFFLINE)
        address, procs = _cluster(tmp_path, 1, env, local_dir=scratch, prefix=(
            "unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs none "$0" && exec "$@"', hidden))
        r = nf("process", setup.folder, "--home", tmp_path / "home", "--runner", "dask",
               "--dask-address", address, "--json", env=setup.client_env)
        assert r.returncode == 0, r.stderr[-2000:]
        records = json.loads(r.stdout)["records"]
        assert len(records) == 4 and {x["status"] for x in records} == {"skipped"}
        for rec in records:
            reason = rec["reason"]
            assert "\n" not in reason and reason.startswith(rec["path"])
            assert "does not exist on Dask worker tcp://127.0.0.1:" in reason
            assert "shared" in reason
        from neurofeedback.store import Catalog

        assert Catalog(home=tmp_path / "home").sessions().empty
        assert not list(scratch.rglob("catalog.sqlite"))  # no data home of the worker's own
        # the human form: the skipped table, exit 0
        r = nf("process", setup.folder, "--home", tmp_path / "home", "--runner", "dask",
               "--dask-address", address, env=setup.client_env)
        assert r.returncode == 0 and "4 skipped" in r.stdout, r.stdout + r.stderr[-2000:]
    finally:
        end_groups(*procs)
        shutil.rmtree(scratch, ignore_errors=True)
