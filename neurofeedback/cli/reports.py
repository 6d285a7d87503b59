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
def _no_cyclic_gc():
    """Run a report without the garbage collector's cycle passes (reference counting still
    frees nearly everything), and put the collector back as it was.

    Building a report creates many matplotlib objects that live until the report is written;
    they trigger full collections, each walking every object of the imports (pandas,
    matplotlib, MNE, SciPy…) and finding next to nothing. Measured on the bench home
    (bench/bench_reports.py, one process, load average ~20): the stored 1-h session's
    topomaps 1.0 → 0.4 s CPU (0.5 s of the whole report) with the same peak memory (305 vs 310
    MB); the subject report's peak memory is unchanged (307 MB). The same trade Mercurial makes
    around its bulk object building (``util.nogc``). A command run inside another process
    (a test's) leaves its collector as it found it.
    """
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


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

    with _no_cyclic_gc():
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
    with _no_cyclic_gc():
        _finish(subject_report(subject, home=home_str(home), date_from=date_from,
                               date_to=date_to, block=block), out_path, export)
