"""Prefect settings for running here without a server and without the internet.

:func:`configure` sets them; call it before Prefect is imported (Prefect reads its settings when
it is first imported), as the command line does before it imports a flow module. Importing this
module, the ``pipelines`` package or a flow module writes nothing to the environment.

It sets defaults only (anything already in the environment wins), so a team points the project
at a shared server with ``PREFECT_API_URL=http://host:4200/api`` and nothing here overrides it.

- No telemetry (it would try the internet): ``PREFECT_SERVER_ANALYTICS_ENABLED=false``,
  ``DO_NOT_TRACK=1``.
- Quiet logs: ``PREFECT_LOGGING_LEVEL=WARNING``; ``PREFECT_SERVER_LOGGING_LEVEL=CRITICAL``
  because the temporary in-process server logs its shutdown (a cancelled event flush) as
  tracebacks that would reach the user of a CLI command.
- Prefect's temporary local server takes 10–30 s to start on 2 cores:
  ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=120``.
- ``PREFECT_HOME`` in the data home (``<home>/prefect``), so runs of this project do not share
  state with other Prefect work by accident.
"""

from __future__ import annotations

import os

from neurofeedback.home import prefect_home

_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # the temporary in-process server logs a cancelled event flush at exit as an ERROR with a
    # traceback (nothing of the run is lost); a shared server runs and logs on its own
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}

#: Whether :func:`configure` ran in this process.
configured = False


def configure(home=None) -> None:
    """Set the offline defaults (and ``PREFECT_HOME``) unless the environment already has them.

    Parameters
    ----------
    home : str | Path | None
        The data home whose ``prefect/`` folder becomes ``PREFECT_HOME`` (default
        ``$NEUROFEEDBACK_HOME`` or ``~/neurofeedback``; created when missing).

    Notes
    -----
    Call it before ``import prefect``: settings set later do not reach a Prefect that is
    already imported.
    """
    global configured
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("PREFECT_HOME", str(prefect_home(home)))
    configured = True
