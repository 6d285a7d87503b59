"""The report commands of the CLI: ``report session``, ``report subject``."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from ._shared import BlockOpt, HomeOpt, VerboseOpt, check_block, home_str, out, setup_logging, user_errors

#: ``neurofeedback report session|subject`` (registered as ``report`` by :mod:`neurofeedback.cli`).
report_app = typer.Typer(help="Self-contained HTML reports of a session or a subject's weeks.",
                         no_args_is_help=True)

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")]
ExportOpt = Annotated[Path | None, typer.Option(
    "--export", help="Also write every figure as PNG and SVG and every table as CSV into this folder.")]


def _check_out(path: Path) -> None:
    if path.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"Invalid value for the '--out' parameter. A report is an .html file, "
                          f"but got {str(path)!r} instead.")


@contextmanager
def _frozen_imports():
    """Leave the imported modules' objects out of the garbage collector's full passes.

    Building a report creates many short-lived matplotlib objects, which triggers full
    collections; each one walked every object of the imports (pandas, matplotlib, MNE…), about
    a tenth of a report's CPU time. :func:`gc.freeze` moves what exists now to a permanent
    generation (still freed by reference counting); objects made afterwards are collected as
    usual; :func:`gc.unfreeze` at the end gives them back (a command run inside another
    process, e.g. a test's, leaves its collector as it found it).
    """
    import gc

    from ..report import plots  # noqa: F401  (matplotlib, NumPy, pandas: imported once here)

    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _finish(report, out_path: Path, export: Path | None) -> None:
    path = report.write_html(out_path)
    size = path.stat().st_size
    out.print(f"wrote {path} ({size / 1e6:.1f} MB; sections: {', '.join(report.section_ids())})",
              markup=False, soft_wrap=True)
    if export is not None:
        files = report.export(export)
        out.print(f"exported {sum(f.suffix == '.png' for f in files)} figures (PNG, SVG) and "
                  f"{sum(f.suffix == '.csv' for f in files)} tables (CSV) to {export}",
                  markup=False, soft_wrap=True)


@report_app.command("session")
@user_errors
def report_session(
    source: Annotated[str, typer.Argument(help="A session ID (see 'neurofeedback sessions') or a recording file.")],
    out_path: OutOpt,
    export: ExportOpt = None,
    home: HomeOpt = None,
    verbose: VerboseOpt = False,
):
    """One session: quality, artifact timeline, PSD with IAF, band power over the blocks, features."""
    setup_logging(verbose)
    _check_out(out_path)
    from ..report import session_report

    with _frozen_imports():
        _finish(session_report(source, home=home_str(home)), out_path, export)


@report_app.command("subject")
@user_errors
def report_subject(
    subject: Annotated[str, typer.Argument(help="Subject ID.")],
    out_path: OutOpt,
    date_from: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD), inclusive.")] = None,
    export: ExportOpt = None,
    block: BlockOpt = None,
    home: HomeOpt = None,
    verbose: VerboseOpt = False,
):
    """A subject's weeks: trend plots with 95% CIs, statements, quality per week, events, sessions."""
    setup_logging(verbose)
    _check_out(out_path)
    from ..home import validate_label
    from ..report import subject_report

    validate_label(subject, kind="subject")
    check_block(block, subject, home_str(home))
    with _frozen_imports():
        _finish(subject_report(subject, home=home_str(home), date_from=date_from,
                               date_to=date_to, block=block), out_path, export)
