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
- ``PREFECT_API_URL`` of the server ``neurofeedback server start`` left running for the home
  (``<home>/prefect/server.json``, see :mod:`pipelines.server`), when it answers: then no command
  waits for Prefect's temporary server. Unset and no server running: Prefect's temporary one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from neurofeedback.errors import OrchestrationError
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
#: The ``PREFECT_HOME`` :func:`configure` set itself (a later call with another home moves it;
#: a ``PREFECT_HOME`` the user set is never overridden).
_home_set = None

#: The ``PREFECT_API_URL`` :func:`configure` set itself (a running server of the home), if any.
_api_set = None

#: The file in ``PREFECT_HOME`` naming the server ``neurofeedback server start`` left running
#: (written by :mod:`pipelines.server`).
STATE_FILE = "server.json"

#: Seconds :func:`check_api` waits for a server's ``/health`` before giving up.
API_TIMEOUT_S = 3.0


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

    When ``PREFECT_API_URL`` is unset and ``neurofeedback server start`` left a server running
    for this ``PREFECT_HOME`` (:func:`pipelines.server.running_api_url`), ``PREFECT_API_URL``
    is set to it (said once at info level, ``--verbose``).
    """
    global configured, _home_set, _api_set
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    current = os.environ.get("PREFECT_HOME")
    if current is None or (current == _home_set and home is not None):
        _home_set = str(prefect_home(home))
        os.environ["PREFECT_HOME"] = _home_set
    api = os.environ.get("PREFECT_API_URL")
    if api is None or api == _api_set:  # never one the user set; re-checked for another home
        url = running_api_url(home)
        if url is None:
            os.environ.pop("PREFECT_API_URL", None)
            _api_set = None
        else:
            if url != _api_set:
                logging.getLogger("neurofeedback").info(
                    "using the Prefect server at %s ('neurofeedback server status')", url)
            os.environ["PREFECT_API_URL"] = _api_set = url
    configured = True


def _state_path(home=None) -> Path:
    return settled_prefect_home(home) / STATE_FILE


def _read_state(home=None) -> dict | None:
    path = _state_path(home)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"pid": None, "damaged": str(path)}


def _healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, ValueError):
        return False


def running_api_url(home=None, *, timeout: float = 1.0) -> str | None:
    """The API URL of the server ``neurofeedback server start`` left running for ``home``
    (:mod:`pipelines.server`), when it answers ``/health``, else ``None``.

    Costs one file read when none was started, one local HTTP request when one was. A recorded
    server that does not answer is said once at warning level.

    Parameters
    ----------
    home : str | Path | None
        The data home (its ``PREFECT_HOME``, see :func:`settled_prefect_home`).
    timeout : float
        Seconds to wait for ``/health``.

    Returns
    -------
    url : str | None
    """
    state = _read_state(home)
    if not state or not state.get("url"):
        return None
    if _healthy(state["url"], timeout):
        return state["url"]
    logging.getLogger("neurofeedback").warning(
        "the Prefect server recorded in %s does not answer at %s; using a temporary one "
        "('neurofeedback server status' says more)", _state_path(home), state["url"])
    return None


def settled_prefect_home(home=None) -> Path:
    """The ``PREFECT_HOME`` :func:`configure` settles on for ``home``: one set in the
    environment by the user, else ``<home>/prefect`` (not created)."""
    current = os.environ.get("PREFECT_HOME")
    if current is not None and current != _home_set:
        return Path(current)
    return prefect_home(home)


def server_environment(prefect_dir, url: str) -> dict:
    """The environment of a ``prefect server start`` for ``PREFECT_HOME=prefect_dir``, serving
    ``url``: this process's, with the offline defaults, the server's log level WARNING (it
    logs to its own file, not to a user's terminal) unless set, and ``PREFECT_API_URL=url``.
    ``PREFECT_API_DATABASE_CONNECTION_URL`` (PostgreSQL) passes through unchanged."""
    env = dict(os.environ)
    for key, value in _DEFAULTS.items():
        env.setdefault(key, value)
    if os.environ.get("PREFECT_SERVER_LOGGING_LEVEL") in (None, _DEFAULTS["PREFECT_SERVER_LOGGING_LEVEL"]):
        env["PREFECT_SERVER_LOGGING_LEVEL"] = "WARNING"
    env["PREFECT_HOME"] = str(prefect_dir)
    env["PREFECT_API_URL"] = url
    return env


def check_api(*, timeout: float = API_TIMEOUT_S) -> str | None:
    """Check that the Prefect API of ``PREFECT_API_URL`` answers, before any flow runs.

    Without ``PREFECT_API_URL`` Prefect starts a temporary local server itself: nothing to
    check. It uses the standard library only, so a closed port costs milliseconds and no
    ``import prefect``.

    Parameters
    ----------
    timeout : float
        Seconds to wait for ``<PREFECT_API_URL>/health``.

    Returns
    -------
    url : str | None
        The API URL checked, or ``None`` when none is set.

    Raises
    ------
    OrchestrationError
        When the API does not answer with HTTP 200 within ``timeout`` (one line naming the URL
        and what to do).
    """
    url = os.environ.get("PREFECT_API_URL", "").strip()
    if not url:
        return None
    what = None
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as resp:
            if resp.status != 200:
                what = f"answered HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        what = f"answered HTTP {exc.code}"
    except urllib.error.URLError as exc:
        what = str(getattr(exc.reason, "strerror", None) or exc.reason)
    except (OSError, ValueError) as exc:  # timeouts, malformed URLs
        what = str(exc) or type(exc).__name__
    if what:
        raise OrchestrationError(
            f"the Prefect API at PREFECT_API_URL={url} cannot be reached ({what.lower()}); start "
            "it ('prefect server start') or unset PREFECT_API_URL to let Prefect run a "
            "temporary local server")
    return url


def flow_error(exc: BaseException) -> OrchestrationError | None:
    """Return an :class:`OrchestrationError` when ``exc`` means Prefect itself could not run
    (its API unreachable, its temporary server not started), else ``None`` (a bug keeps its
    traceback)."""
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    if "Failed to reach API" in text or name in ("ConnectError", "ConnectTimeout"):
        url = os.environ.get("PREFECT_API_URL") or "Prefect's temporary local server"
        return OrchestrationError(f"the Prefect API ({url}) stopped answering: {text[:200]}")
    if name == "ValidationError" and re.match(r"\d+ validation errors? for \w*Settings", text):
        return OrchestrationError(f"Prefect's settings are invalid (check the PREFECT_* "
                                  f"environment variables): {text[:300]}")
    if "ephemeral Prefect API server" in text or "temporary server" in text:
        return OrchestrationError(
            f"Prefect's temporary local server did not start ({text[:200]}); raise "
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS or run 'prefect server start' and "
            "set PREFECT_API_URL")
    return None
