"""Prefect 3 flows composing the neurofeedback library (thin wrappers; science stays in the library).

Prefect reads its settings when it is first imported, so set this project's (offline, quiet,
``PREFECT_HOME`` in the data home; see :func:`configure`) before importing a flow module::

    import pipelines

    pipelines.configure(home)             # before anything imports prefect
    from pipelines.process import run_process

Importing ``pipelines`` or a flow module writes nothing to the environment. The entry points are
also attributes of the package (``pipelines.run_process``, ``pipelines.record_and_process``,
``pipelines.weekly_trends``, ``pipelines.serve_flows``): the first access configures with the
default data home, unless :func:`configure` ran already, then imports the flow module.
"""

from __future__ import annotations

import importlib

from . import _env
from ._env import configure

__all__ = ["cohort_trends_flow", "configure", "process_recordings", "record_and_process", "run_process", "serve_flows",
           "weekly_trends"]

#: entry point -> its flow module (imported on first access, after :func:`configure`)
_LAZY = {
    "cohort_trends_flow": "cohort",
    "process_recordings": "process",
    "run_process": "process",
    "record_and_process": "record",
    "serve_flows": "serve",
    "weekly_trends": "trends",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _env.configured:
        configure()
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
