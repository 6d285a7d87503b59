"""Serve the flows on a schedule: the weekly import of new recordings and the weekly trends.

``neurofeedback serve`` calls :func:`serve_flows`. ``serve`` needs a Prefect API that outlives
one run: start ``prefect server start`` (SQLite, local; or a team's server) and set
``PREFECT_API_URL=http://127.0.0.1:4200/api`` for both processes; the UI at
http://127.0.0.1:4200 then shows the deployments, their schedule, runs and artifacts. Without
``PREFECT_API_URL`` Prefect starts a temporary local server for as long as ``serve`` runs.
"""

from __future__ import annotations

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


def serve_flows(paths: list[str], *, cron: str = "0 6 * * 1", home: str | None = None) -> None:
    """Serve :func:`deployments` until interrupted."""
    serve(*deployments(paths, cron=cron, home=home))
