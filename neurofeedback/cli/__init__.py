"""The ``neurofeedback`` command line: parse, call the library, print.

This module builds the typer app from the command groups, each a module of this package that
only defines its commands (plain functions) and imports nothing but :mod:`._shared` and the
library:

- :mod:`.files`: ``inspect``, ``features``;
- :mod:`.acquire`: ``boards``, ``sources``, ``record``, ``recover``;
- :mod:`.demo`: ``demo``, ``sample-data``;
- :mod:`.feedback`: ``feedback``, ``protocols``;
- :mod:`.store`: ``process``, ``sessions``, ``trends``, ``serve``, ``store``;
- :mod:`.events`: ``event add|list|edit|delete|change|practice-import``;
- :mod:`.reports`: ``report``;
- :mod:`.cohort`: ``cohort``, ``subject``;
- :mod:`.server`: ``server start|stop|status``.

Any :class:`~neurofeedback.errors.NeurofeedbackError` (bad file, bad board, bad config) becomes
one line on stderr and exit code 2; anything else is a bug and keeps its traceback. The CLI is
the only place of the library that runs the Prefect flows of ``pipelines/``.
"""

from __future__ import annotations

import warnings

import typer

from . import acquire, cohort, demo, events, feedback, files, reports, server, store

__all__ = ["app", "main"]

app = typer.Typer(
    name="neurofeedback",
    help="Read EEG recordings from consumer headsets and compute validated band-power features.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# in the order ``neurofeedback --help`` lists them
for _command in (files.inspect, files.features, acquire.boards, acquire.sources, demo.demo,
                 acquire.record,
                 acquire.recover, feedback.feedback, feedback.protocols, store.process,
                 store.sessions, store.trends, store.serve):
    app.command()(_command)
app.add_typer(demo.sample_app, name="sample-data")
app.add_typer(events.event_app, name="event")
app.add_typer(reports.report_app, name="report")
app.add_typer(store.store_app, name="store")
app.add_typer(cohort.cohort_app, name="cohort")
app.add_typer(cohort.subject_app, name="subject")
app.add_typer(server.server_app, name="server")
del _command


def main() -> None:
    """Console-script entry point."""
    # BrainFlow 5.23 finds its shared library through pkg_resources on Python < 3.12, which
    # setuptools >= 67 flags as deprecated on every start: not the user's concern (an app, unlike
    # the library, may set warning filters).
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    app()
