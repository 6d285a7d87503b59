"""The device commands of the CLI: ``boards``, ``sources``, ``record`` and ``recover``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ._shared import (
    ChannelNamesOpt,
    CheckOpt,
    FileOpt,
    HomeOpt,
    IpAddressOpt,
    IpPortOpt,
    LoopOpt,
    LslScopeOpt,
    LslTimeoutOpt,
    MacOpt,
    MarkerStreamOpt,
    MasterBoardOpt,
    OtherInfoOpt,
    SerialNumberOpt,
    SerialPortOpt,
    SourceOpt,
    SpeedOpt,
    StreamOpt,
    StreamTypeOpt,
    VerboseOpt,
    configure_flows,
    flow_errors,
    fmt,
    out,
    print_report_hint,
    print_summary,
    quality_table,
    setup_logging,
    user_errors,
)


@user_errors
def boards(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    all_boards: Annotated[bool, typer.Option("--all", help="Also list boards without EEG channels.")] = False,
):
    """List BrainFlow boards: friendly name, rate, EEG channels and what each needs to connect."""
    from ..boards import connection_kind, connection_params, friendly_name, list_boards

    infos = [b for b in list_boards() if all_boards or b.eeg_rows or b.board_id in (-3, -2)]
    rows = [{"name": friendly_name(b.board_id), "board": b.name, "board_id": b.board_id,
             "sfreq": b.sfreq, "eeg_channels": list(b.eeg_names),
             "connection": connection_params(b.board_id),
             "connects_via": connection_kind(b.board_id)} for b in infos]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    t = Table(title="BrainFlow boards (use the name with --board)", title_justify="left")
    for col in ("name", "id", "Hz", "EEG channels", "connect with", "how it connects"):
        t.add_column(col)
    for r in rows:
        conn = ", ".join(("--" if need == "required" else "[--") + k.replace("_", "-")
                         + ("" if need == "required" else "]") for k, need in r["connection"].items())
        t.add_row(r["name"], str(r["board_id"]), fmt(r["sfreq"], "g"),
                  ",".join(r["eeg_channels"]) or "—", conn or "nothing", r["connects_via"])
    out.print(t)
    out.print("Device guide (Bluetooth on Linux, serial ports, LSL): the 'Devices' section of the README. "
              "LSL streams (--source lsl): 'neurofeedback sources'.")


@user_errors
def sources(
    wait: Annotated[float, typer.Option("--wait", min=0.1, help="Seconds to listen for LSL streams.")] = 1.0,
    lsl_scope: LslScopeOpt = "machine",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
):
    """List the LSL streams visible now (for --source lsl) next to where BrainFlow boards are listed."""
    from ..acquisition.lsl import list_lsl_streams

    streams = list_lsl_streams(wait_s=wait, scope=lsl_scope)
    if as_json:
        typer.echo(json.dumps({"lsl": streams, "brainflow": "neurofeedback boards --json"}))
        return
    where = "this computer" if lsl_scope == "machine" else "the network"
    t = Table(title=f"LSL streams on {where} (record with --source lsl --stream NAME)",
              title_justify="left")
    for col in ("name", "type", "channels", "Hz", "format", "source_id", "host"):
        t.add_column(col)
    for r in streams:
        t.add_row(r["name"], r["type"], str(r["channel_count"]),
                  fmt(r["nominal_srate"], "g") if r["nominal_srate"] else "irregular",
                  r["channel_format"], r["source_id"] or "—", r["hostname"])
    if streams:
        out.print(t)
    else:
        out.print(f"no LSL stream on {where} within {wait:g} s"
                  + (" (--lsl-scope network looks further)" if lsl_scope == "machine" else ""),
                  markup=False)
    out.print("BrainFlow boards (--board NAME): 'neurofeedback boards'.", markup=False)


def _live_view(status, bands) -> Group:
    """The live display: progress, block, disconnects, per-channel quality and band powers."""
    frac = min(1.0, status.elapsed_s / status.duration_s) if status.duration_s else 0.0
    remain = max(0.0, status.duration_s - status.elapsed_s)
    head = Text(f"{_clock(status.elapsed_s)} elapsed, {_clock(remain)} left")
    if status.block:
        head.append(f"   block: {status.block}", style="bold")
    if status.disconnected:
        head.append("   DISCONNECTED: reconnecting…", style="bold red")
    elif status.disconnects:
        head.append(f"   {status.disconnects} disconnect(s)", style="yellow")
    t = Table(title="Last 4 s: quality and relative band power %", title_justify="left")
    t.add_column("channel")
    t.add_column("quality")
    for b in bands:
        t.add_column(b, justify="right")
    q = {}
    if status.quality is not None:
        q = {r.channel: ("ok" if r.ok else r.problem) for r in status.quality.table.itertuples()}
    for ch in status.channel_names:
        rel = status.relative_power.get(ch, {})
        qual = q.get(ch, "…")
        t.add_row(ch, qual, *[fmt(100 * rel[b], ".0f") if b in rel else "…" for b in bands],
                  style="" if qual in ("ok", "…") else "red")
    parts = [head, ProgressBar(total=1.0, completed=frac, width=60), t]
    if status.markers:
        parts.append(Text("markers: " + ", ".join(f"{lab} @ {_clock(s)}" for s, lab in status.markers)))
    parts.append(Text("Type a label and Enter to add a marker; Ctrl-C ends the session early "
                      "(it is kept).", style="dim"))
    return Group(*parts)


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m:d}:{s:02d}"


@user_errors
def record(
    board: Annotated[str | None, typer.Option("--board", help="BrainFlow board (see 'neurofeedback boards'): "
                                              "synthetic, playback, muse_2, muse_s, cyton, ganglion, "
                                              "crown…; or --source lsl.")] = None,
    subject: Annotated[str, typer.Option("--subject", help="Subject ID (letters and digits).")] = ...,
    duration: Annotated[str, typer.Option("--duration", help="Session length: 20s, 10m, 1h30m.")] = "10m",
    protocol: Annotated[str | None, typer.Option("--protocol", help="Protocol name for the record.")] = None,
    blocks: Annotated[str | None, typer.Option(
        "--blocks", help='Timed blocks from the start, e.g. "eyes-open:60,eyes-closed:60,meditation:600".')] = None,
    notes: Annotated[str, typer.Option("--notes", help="Free-text notes stored with the session.")] = "",
    serial_port: SerialPortOpt = None,
    mac_address: MacOpt = None,
    serial_number: SerialNumberOpt = None,
    ip_address: IpAddressOpt = None,
    ip_port: IpPortOpt = None,
    master_board: MasterBoardOpt = None,
    other_info: OtherInfoOpt = None,
    file: FileOpt = None,
    speed: SpeedOpt = 1.0,
    loop: LoopOpt = False,
    channel_names: ChannelNamesOpt = None,
    source: SourceOpt = "brainflow",
    stream: StreamOpt = None,
    stream_type: StreamTypeOpt = None,
    marker_stream: MarkerStreamOpt = None,
    lsl_timeout: LslTimeoutOpt = 5.0,
    lsl_scope: LslScopeOpt = "machine",
    force: Annotated[bool, typer.Option("--force", help="Record even when the quality check says no-go.")] = False,
    check_s: CheckOpt = 4.0,
    stall_timeout: Annotated[float, typer.Option(
        "--stall-timeout", min=0.5, help="Seconds without samples before reconnecting.")] = 5.0,
    flow: Annotated[bool, typer.Option("--flow", help="Run as a Prefect flow (record, then process).")] = False,
    no_display: Annotated[bool, typer.Option("--no-display", help="No live display (logs only).")] = False,
    home: HomeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the session summary as JSON.")] = False,
    verbose: VerboseOpt = False,
):
    """Record a session from a BrainFlow board or an LSL stream to the data home, then process it."""
    setup_logging(verbose)
    from ..acquisition.recorder import parse_blocks, parse_duration
    from ..config import load_settings
    from ..home import validate_label

    subject = validate_label(subject, kind="subject")
    from .._validate import check_text_length
    from ..errors import ConfigError

    check_text_length("protocol", protocol, what="the '--protocol' parameter", exc=ConfigError)
    duration_s = parse_duration(duration)
    block_list = parse_blocks(blocks)
    for name in (channel_names or "").split(","):  # the catalog's limit, before anything starts
        check_text_length("channel", name.strip(), what="the '--channel-names' parameter (a name)",
                          exc=ConfigError)
    settings = load_settings()
    options = dict(board=board, serial_port=serial_port, mac_address=mac_address,
                   serial_number=serial_number, ip_address=ip_address, ip_port=ip_port,
                   master_board=master_board, other_info=other_info,
                   file=str(file) if file else None, speed=speed, loop=loop,
                   channel_names=channel_names, source=source, stream=stream,
                   stream_type=stream_type, marker_stream=marker_stream,
                   lsl_timeout=lsl_timeout, lsl_scope=lsl_scope)
    if flow:
        configure_flows(home)
        from pipelines.record import record_and_process

        with flow_errors():
            summary = record_and_process(connection=options, subject=subject,
                                         duration_s=duration_s, protocol=protocol, blocks=blocks,
                                         notes=notes, home=str(home) if home else None,
                                         force=force, gate_s=check_s,
                                         stall_timeout_s=stall_timeout)
        _report(summary, as_json)
        return
    from ..acquisition.record import connection_from_options, gate_is_informational
    from ..recording import record_and_store

    connection = connection_from_options(**options, home=home)

    def on_gate(check):
        if as_json:
            return
        out.print(quality_table(check))
        if check.ok:
            out.print("[green]GO[/green]: every channel passes")
            return
        out.print("[red]NO-GO[/red]: " + "; ".join(check.problems()), markup=True)
        if gate_is_informational(connection):
            out.print("(the synthetic board is not EEG — sines at 5·i Hz, two on 50/60 Hz — so "
                      "this check is informational: recording)")
        elif force:
            out.print("--force: recording anyway")

    display = not (no_display or as_json) and out.is_terminal
    bands = [b[0] for b in settings.bands.bands]
    live = Live(console=out, refresh_per_second=4, transient=False) if display else None
    on_update = (lambda st: live.update(_live_view(st, bands))) if live else None
    if live:
        live.start()
    try:
        res = record_and_store(connection, subject=subject, duration_s=duration_s,
                               protocol=protocol, blocks=block_list, notes=notes, home=home,
                               settings=settings, gate_s=check_s, force=force,
                               stall_timeout_s=stall_timeout, on_gate=on_gate,
                               on_update=on_update, keyboard=display)
    finally:
        if live:
            live.stop()
    rec = res.recording
    if not as_json:
        out.print(f"session: {rec.paths.folder}")
        seconds = rec.n_samples / float(res.summary["sfreq"]) if res.summary else 0
        out.print(f"  {rec.n_samples} samples ({seconds:.1f} s), "
                  f"ended: {rec.end_reason}; {len(rec.disconnects)} disconnect(s); "
                  f"markers: {', '.join(f'{lab} @ {s:.1f} s' for s, lab in rec.markers) or 'none'}")
        out.print(f"  raw: {rec.paths.csv.name} + {rec.paths.sidecar.name}; canonical: "
                  f"{res.fif.name if res.fif else '—'}")
    _report(res.summary, as_json)
    if not as_json:
        print_report_hint(res.session_id, home)


def _report(summary, as_json):
    if summary is None:
        out.print("too few samples to process; the raw files are kept")
        return
    if as_json:
        typer.echo(json.dumps(summary, default=str))
    else:
        print_summary(summary)


@user_errors
def recover(
    path: Annotated[Path | None, typer.Argument(
        help="A crashed session: its folder, .csv or .json. Without it: every crashed session "
             "of the data home.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Also finalize a cleanly ended recording, and replace an existing "
                        "_raw.fif.")] = False,
    home: HomeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the session summary as JSON.")] = False,
    verbose: VerboseOpt = False,
):
    """Turn the partial files of a crashed recording into a normal, stored session.

    Refuses (one line, exit code 2, nothing changed) a recording that ended cleanly or is
    still being recorded, and an existing _raw.fif, unless --force. Without PATH, every
    crashed session under <home>/recordings is recovered; what cannot be is listed with why.
    """
    setup_logging(verbose)
    from ..recording import recover_all, recover_and_store

    t0 = time.perf_counter()
    if path is None:
        results = recover_all(home=home)
        if as_json:
            typer.echo(json.dumps([{"csv": str(r.csv), "fif": None if r.fif is None else str(r.fif),
                                    "status": r.status, "session_id": r.session_id,
                                    "stored": r.stored, "reason": r.reason} for r in results]))
            return
        if not results:
            out.print("no crashed session in the data home", markup=False)
            return
        t = Table(title="Crashed sessions", title_justify="left")
        for col in ("session", "status", "stored as / reason"):
            t.add_column(col)
        for r in results:
            t.add_row(r.csv.parent.name if r.csv.parent.name.startswith("ses-") else str(r.csv),
                      r.status if r.stored is None else f"{r.status} ({r.stored})",
                      r.session_id if r.status == "recovered" else (r.reason or ""),
                      style="" if r.status == "recovered" else "red")
        out.print(t)
        n_ok = sum(r.status == "recovered" for r in results)
        out.print(f"{n_ok} recovered, {len(results) - n_ok} skipped "
                  f"({time.perf_counter() - t0:.1f} s)", markup=False)
        return
    res = recover_and_store(path, home=home, force=force)
    summary = res.summary
    if not as_json:
        out.print(f"recovered {summary['duration_s']:.1f} s into {res.fif} "
                  f"({time.perf_counter() - t0:.1f} s)", markup=False, soft_wrap=True)
    _report(summary, as_json)
    if not as_json:
        print_report_hint(res.session_id, home)
