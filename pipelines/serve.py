"""Serve the flows on a schedule: the weekly import of new recordings and the weekly trends.

``neurofeedback serve`` calls :func:`serve_flows`. Serving needs a Prefect API that outlives one
run. With ``PREFECT_API_URL`` set (by :func:`pipelines._env.configure` for the server
``neurofeedback server start`` left running for the home, or by you for a team's server) it
uses that one, checked first (``pipelines._env.check_api``); the server's UI then shows the
deployments, their schedule, runs and artifacts. Without it, :func:`serve_flows` starts
Prefect's local API server itself (a subprocess on a free port
of 127.0.0.1, its database in ``PREFECT_HOME``) for as long as it serves, and stops it on exit.
(Prefect's own fallback, a temporary server per client, goes away after the deployments are
registered and leaves the runner polling a closed port.)
"""

from __future__ import annotations

import contextlib
import os

from prefect import serve

from .process import process_recordings
from .trends import weekly_trends


def deployments(paths: list[str], *, cron: str = "0 6 * * 1", home: str | None = None) -> list:
    """The two deployments: import ``paths`` then recompute trends, both on ``cron``."""
    return [
        process_recordings.to_deployment(name="weekly-import", cron=cron,
                                         parameters={"paths": list(paths), "home": home}),
        weekly_trends.to_deployment(name="weekly-trends", cron=cron, parameters={"home": home}),
    ]


@contextlib.contextmanager
def local_api():
    """Use ``PREFECT_API_URL`` when set, else start Prefect's local API server for the block.

    Yields
    ------
    url : str
        The API URL the block talks to.

    Raises
    ------
    OrchestrationError
        When the local server does not start (one line saying what to do).
    """
    url = os.environ.get("PREFECT_API_URL")
    if url:
        yield url
        return
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from neurofeedback.errors import OrchestrationError

    server = SubprocessASGIServer()
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 -- any start-up failure is the same one line
        server.stop()
        raise OrchestrationError(
            f"Prefect's local API server did not start ({' '.join(str(exc).split())[:200]}); "
            "start one with 'prefect server start' and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api") from None
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            os.environ["PREFECT_API_URL"] = server.api_url  # the runs' subprocesses too
            yield server.api_url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()


def serve_flows(paths: list[str], *, cron: str = "0 6 * * 1", home: str | None = None,
                on_ready=None) -> None:
    """Serve :func:`deployments` until interrupted (Ctrl-C or SIGTERM), on :func:`local_api`.

    ``on_ready(url)`` is called with the API URL once the server answers (the CLI prints it).
    """
    import signal
    import threading

    def _stop(signum, frame):  # SIGTERM stops like Ctrl-C: the local server goes with it
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop) if main else None
    try:
        with local_api() as url:
            if on_ready is not None:
                on_ready(url)
            serve(*deployments(paths, cron=cron, home=home))
    except KeyboardInterrupt:
        pass
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
