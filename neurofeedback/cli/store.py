"""The store commands of the CLI: ``process``, ``sessions``, ``trends``, ``serve``, ``store``.

``process`` and ``serve`` run Prefect flows (imported from ``pipelines`` only inside those
commands: the library itself never imports Prefect); ``sessions`` and ``trends`` read the
catalog directly. The ``event`` commands are in :mod:`.events`.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import ConfigError
from ._shared import (
    BlockOpt,
    ChannelNamesOpt,
    HomeOpt,
    JsonOpt,
    VerboseOpt,
    check_block,
    configure_flows,
    flow_errors,
    fmt,
    home_str,
    out,
    setup_logging,
    user_errors,
)


@user_errors
def process(
    paths: Annotated[list[Path], typer.Argument(help="Recording files or folders (searched recursively).")],
    subject: Annotated[str | None, typer.Option(
        "--subject", help="Subject of every file (else the sidecar or the file name).")] = None,
    runner: Annotated[str, typer.Option("--runner", help="Task runner: threads, processes or dask.")] = "threads",
    dask_address: Annotated[str | None, typer.Option(
        "--dask-address", help="Dask scheduler address (with --runner dask); default a LocalCluster.")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Parallel workers (default: the runner's).")] = None,
    filename_pattern: Annotated[str | None, typer.Option(
        "--filename-pattern", help="Regex with named groups subject and session for files without a sidecar (default "
                                   "sub-<id>_ses-<label>).")] = None,
    channel_names: ChannelNamesOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
):
    """Import recordings into the session store (one Prefect task per file, cached).

    A file that cannot be imported, for any reason, is skipped and listed with the reason;
    the others are imported, and the command exits 0 once the batch ran.
    """
    setup_logging(verbose)
    if subject is not None:
        from ..home import validate_label

        validate_label(subject, kind="subject")
    if runner not in ("threads", "processes", "dask"):
        raise ConfigError(f"Invalid value for the '--runner' parameter. Allowed values are 'threads', "
                          f"'processes' and 'dask', but got {runner!r} instead.")
    from ..home import data_home
    from ..io._raw import check_channel_names
    from ..store.ingest import compile_filename_pattern

    if filename_pattern is not None:
        compile_filename_pattern(filename_pattern)  # a bad regex fails here, not once per file
    names = check_channel_names(channel_names, what="--channel-names")  # empty/repeated: exit 2 here
    if names:
        channel_names = ",".join(names)
    for p in paths:  # a missing path is one line before Prefect starts, not a failed flow run
        if not (p.exists() or p.is_symlink()):
            raise ConfigError(f"{p}: does not exist")
    data_home(home)  # create it (and validate it) before Prefect starts
    configure_flows(home)  # no import of Prefect yet; an API that does not answer is one line now
    t0 = time.perf_counter()
    # files the catalog holds already need no flow: found before Prefect is imported (issue 19)
    from pipelines._batch import discover, split_unchanged

    files = [str(f) for f in discover(paths)]
    known, rest = split_unchanged(files, home=home, subject=subject, channel_names=channel_names)
    records = [known[f] for f in files if f in known]
    if rest:
        records = _run_flow(rest, home=home, subject=subject, runner=runner, dask_address=dask_address,
                            workers=workers, filename_pattern=filename_pattern,
                            channel_names=channel_names, as_json=as_json)
        by_path = {r["path"]: r for r in records}
        records = [known.get(f) or by_path[f] for f in files]
    elapsed = time.perf_counter() - t0
    if as_json:
        typer.echo(json.dumps({"seconds": elapsed, "records": records}, default=str))
        return
    counts = {s: sum(r["status"] == s for r in records)
              for s in ("imported", "reprocessed", "unchanged", "skipped")}
    cached = sum(bool(r.get("cached")) for r in records)
    out.print(f"{len(records)} files in {elapsed:.1f} s: " + ", ".join(f"{v} {k}" for k, v in counts.items())
              + f"; {cached} already in the store (hashed only, no work)")
    skipped = [r for r in records if r["status"] == "skipped"]
    if skipped:
        out.print(_skipped_table(skipped))


def _run_flow(files, *, home, subject, runner, dask_address, workers, filename_pattern,
              channel_names, as_json) -> list[dict]:
    """Run the ``process-recordings`` flow on ``files`` (with a progress bar unless JSON)."""
    with flow_errors():  # Prefect reads (and validates) its settings at import
        import pipelines.process as pp

    progress = None
    if not as_json:
        progress = Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.description}"), TimeElapsedColumn(), console=out,
                            transient=True)
        progress.start()
        bar = progress.add_task("", total=None)

        def hook(done, total, rec):
            progress.update(bar, completed=done, total=total, description=Path(rec["path"]).name)

        pp.PROGRESS_HOOK = hook
    try:
        with flow_errors():
            return pp.run_process(files, home=home_str(home), subject=subject, runner=runner,
                                  dask_address=dask_address, max_workers=workers,
                                  filename_pattern=filename_pattern, channel_names=channel_names)
    finally:
        pp.PROGRESS_HOOK = None
        if progress is not None:
            progress.stop()


def _skipped_table(skipped: list[dict]) -> Table:
    """Skipped files by name (never cut: it is what a person looks for next) and why.

    The reason repeats the file's path at its start; it is shown once, as the folder in the title
    (relative names when the files sit in several folders).
    """
    paths = [Path(str(r["path"])) for r in skipped]
    folder = Path(os.path.commonpath([str(p.parent) for p in paths]))
    t = Table(title=f"Skipped (fix or remove these files; the others were imported), in {folder}",
              title_justify="left")
    names = [str(p.relative_to(folder)) for p in paths]
    t.add_column("file", no_wrap=True, min_width=max(len(n) for n in names))
    t.add_column("why")
    for r, p, name in zip(skipped, paths, names):
        reason = str(r["reason"])
        for prefix in (f"{p}: ", f"{p.name}: "):
            if reason.startswith(prefix):
                reason = reason[len(prefix):]
                break
        t.add_row(name, reason, style="red")
    return t


@user_errors
def sessions(
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
):
    """List the sessions in the store."""
    from ..store import Catalog

    df = Catalog(home=home).sessions(subject=subject)
    if as_json:
        typer.echo(df.to_json(orient="records", date_format="iso"))
        return
    if df.empty:
        out.print("no sessions" + (f" for subject {subject}" if subject else "")
                  + "; import some with 'neurofeedback process PATH'")
        return
    n = len(df)
    t = Table(title=f"{n} {'session' if n == 1 else 'sessions'} (times in UTC; use the session_id "
                    "with 'neurofeedback report session')", title_justify="left")
    cols = [c for c in ("session_id", "start_time", "device", "protocol", "duration_s",
                        "clean_fraction") if c in df.columns]
    headers = {"start_time": "start (UTC)", "duration_s": "s", "clean_fraction": "clean"}
    for c in cols:
        if c == "session_id":  # what 'report session' takes: shown whole at any width
            t.add_column(c, no_wrap=True, min_width=int(df[c].astype(str).str.len().max()))
        elif c == "start_time":
            t.add_column(headers[c], no_wrap=True, min_width=16)
        else:
            t.add_column(headers.get(c, c), justify="right" if c in headers else "left")
    for r in df.to_dict("records"):
        cells = []
        for c in cols:
            v = r.get(c)
            if c == "duration_s":
                v = fmt(v, ".0f")
            elif c == "clean_fraction":
                v = fmt(None if v is None else 100 * v, ".0f") + "%"
            elif isinstance(v, datetime):
                v = v.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
            cells.append("—" if v is None else str(v))
        t.add_row(*cells)
    out.print(t)


@user_errors
def trends(
    subject: Annotated[str, typer.Option("--subject", help="Subject ID.")],
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", help="Metric(s), e.g. relative_alpha, ratio_alpha_theta, faa, iaf, aperiodic_exponent (repeat "
                         "the option).")] = None,
    channels: Annotated[str | None, typer.Option(
        "--channels", help="Comma-separated channels; 'mean' = averaged over channels, 'posterior' = "
                           "over the posterior ones. Default: mean, plus the primary metric's "
                           "channel.")] = None,
    quality_floor: Annotated[float, typer.Option(
        "--quality-floor", min=0, max=1, help="Exclude sessions with a lower clean fraction.")] = 0.5,
    baseline_weeks: Annotated[int, typer.Option("--baseline-weeks", min=1, help="Weeks that form the baseline.")] = 1,
    latest_weeks: Annotated[int, typer.Option(
        "--latest-weeks", min=1, help="Latest weeks compared with the baseline.")] = 1,
    tz: Annotated[str, typer.Option(
        "--tz", help="Time zone of the calendar weeks, e.g. Europe/Berlin (a session at 00:30 on "
                     "Monday there is on Sunday in UTC).")] = "UTC",
    block: BlockOpt = None,
    primary: Annotated[str | None, typer.Option(
        "--primary", help="The primary metric, tested at 5% (the others are adjusted as one "
                          "family): METRIC or METRIC:CHANNEL. Default relative_alpha on the "
                          "posterior channels, else the channel mean.")] = None,
    adjustment: Annotated[str, typer.Option(
        "--adjustment", help="How the other metrics' p-values are adjusted: holm (family-wise "
                             "error), fdr_bh (false discovery rate), bonferroni or none.")] = "holm",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
):
    """Weekly trends of a subject: the call of change (rose, fell, no clear change), slope per
    week, baseline change against its MDC, with 95% CIs."""
    from ..home import validate_label

    validate_label(subject, kind="subject")
    import pandas as pd

    from ..statements import DEFAULT_METRICS, subject_trends, trend_rows, trend_statement
    from ..store import Catalog
    from ..trends import DEFAULT_PRIMARY, _resolve_primary, default_block

    cat = Catalog(home=home)
    names = cat.metric_names(subject)  # one DISTINCT; the frame below reads only what is used
    if not names:
        raise ConfigError(f"no sessions for subject {subject!r} in the store; import recordings "
                          "with 'neurofeedback process PATH'")
    check_block(block, subject, home)
    metrics = list(metric) if metric else list(DEFAULT_METRICS)
    have = set(names if block is None else cat.metric_names(subject, block))
    unknown = sorted(set(metrics) - have)
    if unknown:
        raise ConfigError(f"Invalid value for the '--metric' parameter. Allowed values are "
                          f"{', '.join(sorted(have))}, but got {', '.join(unknown)} instead.")
    if primary is not None:
        p_metric, _, p_channel = primary.partition(":")
        if p_metric not in have:
            raise ConfigError(f"Invalid value for the '--primary' parameter. Allowed metrics are "
                              f"{', '.join(sorted(have))}, but got {p_metric!r} "
                              "instead.")
    else:
        p_metric, p_channel = _resolve_primary(DEFAULT_PRIMARY)[0], ""
    frame = cat.metrics_frame(subject=subject, metrics=set(metrics) | {p_metric})
    if primary is not None:
        in_block = frame if block is None else frame[frame["block"] == block]
        p_chans = set(in_block.loc[in_block["metric"] == p_metric, "channel"])
        if p_channel and p_channel not in p_chans:
            raise ConfigError(f"Invalid value for the '--primary' parameter. {p_metric} has the "
                              f"channels {', '.join(sorted(p_chans))}, but got {p_channel!r} "
                              "instead.")
        if metric and p_metric not in metrics:
            metrics.append(p_metric)  # the primary is analysed, whatever else is asked for
    # no --channels: the channel mean, FAA's pairs and the primary series (subject_trends)
    chans = [c.strip() for c in channels.split(",") if c.strip()] if channels else None
    result = subject_trends(subject, metrics=metrics, channels=chans, quality_floor=quality_floor,
                            baseline_weeks=baseline_weeks, latest_weeks=latest_weeks, frame=frame,
                            tz=tz,
                            # the subject's main block among all its blocks (the frame holds
                            # only the metrics analysed)
                            block=block if block is not None else default_block(
                                pd.DataFrame({"block": cat.blocks(subject)})),
                            primary="default" if primary is None else primary,
                            adjustment=adjustment)
    if as_json:
        typer.echo(json.dumps(result, allow_nan=False))
        return
    block_name = result[0]["block"] if result else "session"
    about = "whole sessions" if block_name == "session" else f"the {block_name} block"
    t = Table(title=f"Weekly trends of {subject}, {about} (95% CIs; sessions below "
                    f"{quality_floor:g} clean excluded; powers in % per week)",
              title_justify="left")
    for c in ("metric (channel)", "n (weeks)", "excl.", "change", "slope / week [95% CI]",
              "p (adj.)", "first → latest [MDC95]", "Hedges' g [95% CI]"):
        t.add_column(c, justify="left" if c.startswith(("metric", "change")) else "right")
    for r in trend_rows(result):
        pct = "%" if r["change_unit"] == "%" else ""
        name = f"{r['metric']} ({r['channel']})" + (" *" if r["family"] == "primary" else "")
        t.add_row(name, f"{r['n_sessions']} ({r['n_weeks']})", str(r["excluded"]),
                  r["change"] or "—",
                  _with_ci(r["slope_per_week"], r["slope_ci_low"], r["slope_ci_high"]) + pct,
                  _p(r["slope_p"], r["slope_p_adjusted"]),
                  _with_mdc(r["difference"], r["mdc_difference"], pct),
                  _with_ci(r["effect_size"], r["effect_ci_low"], r["effect_ci_high"], ".2f"))
    out.print(t)
    for tr in result:
        out.print("• " + trend_statement(tr), markup=False)
    out.print("* the primary metric, tested at 5%; the other rows form one family, their p "
              "adjusted by Holm in brackets. 'change' says rose or fell only when that p is "
              "below 0.05. These are associations over time in one person's recordings, not "
              "evidence of cause; '—' means not enough data.", style="dim")


def _p(p, p_adj):
    if p is None:
        return "—"
    if p_adj is None or p_adj == p:
        return f"{p:.2g}"
    return f"{p:.2g} ({p_adj:.2g})"


def _with_mdc(diff, mdc, suffix=""):
    if diff is None:
        return "—"
    text = f"{diff:+.3g}{suffix}"
    return f"{text} [{mdc:.3g}{suffix}]" if mdc is not None else text


def _with_ci(v, lo, hi, spec=".3g"):
    if v is None:
        return "not enough data"
    return f"{v:+{spec}} [{lo:+{spec}}, {hi:+{spec}}]"


@user_errors
def serve(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Folders the weekly import watches (default: <home>/recordings).")] = None,
    cron: Annotated[str, typer.Option("--cron", help="When to run (cron, in UTC).")] = "0 6 * * 1",
    home: HomeOpt = None,
):
    """Serve the flows on a weekly schedule: import new recordings, then recompute trends.

    It uses the server of 'neurofeedback server start' when one runs for the home (its UI shows
    the deployments and runs), or PREFECT_API_URL when set (checked first); without either it
    starts Prefect's local API server itself (~10-30 s, its state in <home>/prefect) and stops
    it on exit.
    """
    from ..home import data_home, recordings_dir

    data_home(home)
    if paths:
        for p in paths:  # checked now, not at the first scheduled run a week later
            if not p.is_dir():
                raise ConfigError(f"{p}: {'is not a folder' if p.exists() else 'does not exist'}")
        watch = [str(p.resolve()) for p in paths]
    else:
        default = recordings_dir(home)
        default.mkdir(parents=True, exist_ok=True)
        watch = [str(default)]
    configure_flows(home)
    from pipelines.serve import serve_flows

    if not os.environ.get("PREFECT_API_URL"):
        out.print("starting Prefect's local API server (10-30 s)...", markup=False)

    def ready(url):
        out.print(f"serving process-recordings ({', '.join(watch)}) and weekly-trends on "
                  f"'{cron}' against the Prefect API at {url}; Ctrl-C stops", markup=False,
                  soft_wrap=True)

    with flow_errors():
        serve_flows(watch, cron=cron, home=home_str(home), on_ready=ready)


# --- store maintenance (issue 16: a catalog that explains itself) ---------------------------

#: ``neurofeedback store rebuild`` (registered as ``store`` by :mod:`neurofeedback.cli`).
store_app = typer.Typer(help="Maintenance of the session store (rebuild a damaged catalog).",
                        no_args_is_help=True)


@store_app.command("rebuild")
@user_errors
def store_rebuild(
    force: Annotated[bool, typer.Option(
        "--force", help="Rebuild even a catalog that opens fine (it is kept aside; events come "
                        "back from events-backup.json).")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
):
    """Rebuild the catalog from the data home's BIDS copies and derivatives.

    The old catalog file is renamed catalog.sqlite.damaged-<time>, never deleted. Context
    events and the practice log come back from events-backup.json (kept beside the catalog);
    the rows' created/updated times exist only in the catalog and are not restored.
    """
    setup_logging(verbose)
    from ..store.rebuild import rebuild_catalog

    res = rebuild_catalog(home, force=force)
    if as_json:
        typer.echo(json.dumps({"catalog": str(res.catalog), "sessions": res.sessions,
                               "skipped": [{"path": str(p), "reason": r} for p, r in res.skipped],
                               "moved_aside": [str(p) for p in res.moved_aside],
                               "events_restored": res.events,
                               "practice_days_restored": res.practice_days,
                               "not_restored": res.lost}))
        return
    out.print(f"{res.catalog}: rebuilt with {len(res.sessions)} session(s)", markup=False,
              soft_wrap=True)
    for p in res.moved_aside:
        out.print(f"  the old file is kept as {p}", markup=False, soft_wrap=True)
    for p, reason in res.skipped:
        out.print(f"  skipped {p}: {reason}", markup=False, soft_wrap=True, style="red")
    out.print(f"  restored from events-backup.json: {res.events} event(s), {res.practice_days} "
              "practice day(s)", markup=False, soft_wrap=True)
    out.print(f"  not restored: {res.lost}", markup=False, soft_wrap=True)
