"""``neurofeedback server start|stop|status``: the Prefect server the project manages.

Prefect's own server (``prefect server start``) in the background, its state in
``<home>/prefect`` (:mod:`pipelines.server`; imported only inside the commands, and it imports
no Prefect itself). While it runs, every command that runs a flow uses it.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ._shared import HomeOpt, JsonOpt, out, user_errors

#: ``neurofeedback server start|stop|status`` (registered as ``server`` by :mod:`neurofeedback.cli`).
server_app = typer.Typer(
    help="Run Prefect's server in the background (state in <home>/prefect); while it runs, "
         "every command uses it instead of a temporary one.", no_args_is_help=True)


def _describe(s: dict) -> str:
    return (f"Prefect server at {s['url']} (pid {s['pid']}, since {s['started_at']}); "
            f"UI {s['ui']}; database {s['database']}; log {s['log']}")


@server_app.command("start")
@user_errors
def server_start(
    port: Annotated[int, typer.Option(
        "--port", min=0, max=65535, help="TCP port (0: a free one).")] = 4200,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on: 127.0.0.1 (this machine) or 0.0.0.0 (a team "
                       "server workers on other machines reach).")] = "127.0.0.1",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
):
    """Start Prefect's server in the background and wait until it answers (~10-30 s)."""
    from ..home import data_home

    data_home(home)
    from pipelines.server import start

    if not as_json:
        out.print("starting Prefect's server (10-30 s)...", markup=False)
    s = start(home, host=host, port=port)
    if as_json:
        typer.echo(json.dumps(s))
        return
    word = "already running" if s["already"] else f"started in {s['start_seconds']:.0f} s"
    out.print(f"{word}: {_describe(s)}", markup=False, soft_wrap=True)


@server_app.command("status")
@user_errors
def server_status(home: HomeOpt = None, as_json: JsonOpt = False):
    """Say whether the server of the home runs, and where (a stale record is removed)."""
    from ..home import data_home

    data_home(home)
    from pipelines.server import status

    s = status(home)
    if as_json:
        typer.echo(json.dumps(s))
    elif s["running"]:
        health = "" if s["healthy"] else " -- NOT ANSWERING (see its log)"
        out.print(f"running: {_describe(s)}{health}", markup=False, soft_wrap=True)
    elif s.get("stale"):
        out.print(f"not running: the server recorded in {s['prefect_home']} (pid {s['stale']}) "
                  "is gone; its record was removed", markup=False, soft_wrap=True)
    else:
        out.print(f"not running (no server started for {s['prefect_home']}); commands use a "
                  "temporary Prefect server", markup=False, soft_wrap=True)


@server_app.command("stop")
@user_errors
def server_stop(home: HomeOpt = None):
    """Stop the server of the home and wait until it is gone."""
    from ..home import data_home

    data_home(home)
    from pipelines.server import stop

    s = stop(home)
    if s["running"]:
        out.print(f"stopped the Prefect server at {s['url']} (pid {s['pid']})", markup=False)
    else:
        out.print(f"no server running for {s['prefect_home']}", markup=False)
