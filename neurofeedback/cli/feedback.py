"""The feedback commands of the CLI: ``feedback`` (a real-time session) and ``protocols``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.live import Live

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
    out,
    print_report_hint,
    print_summary,
    quality_table,
    setup_logging,
    user_errors,
)


@user_errors
def feedback(
    board: Annotated[str | None, typer.Option(
        "--board", help="BrainFlow board (see 'neurofeedback boards'), or playback with --file; or "
                        "--source lsl.")] = None,
    protocol: Annotated[str, typer.Option(
        "--protocol", help="A protocol name (see 'neurofeedback protocols') or a protocol YAML file.")] = ...,
    subject: Annotated[str, typer.Option("--subject", help="Subject ID (letters and digits).")] = "anonymous",
    duration: Annotated[str, typer.Option(
        "--duration", help="Session length including the baseline: 60s, 10m.")] = "10m",
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="Calibration at the start (sets the threshold; no reward); default 60s, or a quarter of a "
                           "shorter session.")] = None,
    output: Annotated[str, typer.Option(
        "--output", help="Any of terminal, tone, lsl, osc (comma-separated).")] = "terminal",
    lsl_name: Annotated[str, typer.Option("--lsl-name", help="Name of the LSL outlet.")] = "neurofeedback",
    osc_host: Annotated[str, typer.Option("--osc-host", help="Where OSC messages go.")] = "127.0.0.1",
    osc_port: Annotated[int, typer.Option("--osc-port", help="UDP port of the OSC receiver.")] = 5005,
    artifact_uv: Annotated[float | None, typer.Option(
        "--artifact-uv", min=1.0, help="Peak-to-peak limit in µV above which a window is an artifact (no reward); "
                                       "default: the protocol's (150 µV). The synthetic board's test signals are "
                                       "~500 µV.")] = None,
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
    force: Annotated[bool, typer.Option("--force", help="Start even when the quality check says no-go.")] = False,
    check_s: CheckOpt = 4.0,
    home: HomeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the session and feedback summary as JSON.")] = False,
    verbose: VerboseOpt = False,
):
    """Real-time neurofeedback: baseline, adaptive threshold, reward; recorded like 'record'."""
    setup_logging(verbose)
    from ..acquisition.record import connection_from_options
    from ..acquisition.recorder import parse_duration
    from ..feedback.outputs import TerminalGauge, parse_outputs
    from ..feedback.protocol import load_protocol
    from ..home import validate_label
    from ..recording import feedback_and_store

    subject = validate_label(subject, kind="subject")
    duration_s = parse_duration(duration)
    baseline_s = parse_duration(baseline) if baseline else min(60.0, duration_s / 4)
    outputs = parse_outputs(output)
    proto = load_protocol(protocol)
    if artifact_uv is not None:
        proto = proto.replace(artifact_ptp_uv=float(artifact_uv))
    connection = connection_from_options(
        board=board, serial_port=serial_port, mac_address=mac_address,
        serial_number=serial_number, ip_address=ip_address, ip_port=ip_port,
        master_board=master_board, other_info=other_info,
        file=str(file) if file else None, speed=speed, loop=loop, channel_names=channel_names,
        home=home, source=source, stream=stream, stream_type=stream_type,
        marker_stream=marker_stream, lsl_timeout=lsl_timeout, lsl_scope=lsl_scope)

    def on_gate(check):
        if not as_json:
            out.print(quality_table(check))

    gauge = TerminalGauge() if "terminal" in outputs and not as_json else None
    live = Live(console=out, refresh_per_second=8, transient=False) if gauge else None

    def on_output(o):
        if live is not None:
            live.update(gauge.render(o, protocol_name=proto.name, elapsed_s=o.t,
                                     duration_s=duration_s))

    if live:
        live.start()
    try:
        res = feedback_and_store(connection, proto, subject=subject, duration_s=duration_s,
                                 baseline_s=baseline_s, outputs=outputs,
                                 sink_options={"lsl_name": lsl_name, "osc_host": osc_host,
                                               "osc_port": osc_port},
                                 home=home, notes=notes, gate_s=check_s, force=force,
                                 on_gate=on_gate, on_output=on_output)
    finally:
        if live:
            live.stop()
            out.print()
    summary = res.session.summary
    if as_json:
        typer.echo(json.dumps({"session": summary, "feedback": res.feedback}, default=str))
        return
    rec = res.session.recording
    out.print(f"session: {rec.paths.folder} ({rec.n_samples} samples, ended: {rec.end_reason})",
              markup=False)
    _print_feedback(res.feedback)
    if summary is not None:
        print_summary(summary)
    print_report_hint(res.session.session_id, home)


def _print_feedback(fb: dict) -> None:
    if not fb:
        out.print("no feedback updates (the session was too short for one window)")
        return

    def g(key, spec=".3g"):
        v = fb.get(key)
        return "–" if v is None else format(v, spec)

    out.print(f"feedback ({fb.get('protocol')}): reward rate {g('reward_rate', '.0%')} of "
              f"{fb.get('n_training', 0)} training updates; above threshold "
              f"{g('time_above_threshold_s', '.1f')} s; artifact windows {fb.get('n_artifact', 0)}, "
              f"inhibited {fb.get('n_inhibited', 0)}", markup=False, soft_wrap=True)
    change = fb.get("metric_change")
    if isinstance(change, dict):
        out.print("metric vs baseline: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                                      for k, v in change.items()),
                  markup=False, soft_wrap=True)
    elif change is not None:
        out.print(f"metric change from baseline: {change:+.3g}", markup=False)
    base = fb.get("baseline") or {}
    if not fb.get("n_training") and fb.get("n_updates"):
        limit = (fb.get("protocol_config") or {}).get("artifact_ptp_uv")
        out.print(f"no training: the baseline never had enough clean windows ({base.get('n_clean', 0)} "
                  f"clean of {base.get('n_windows', 0)}; {fb.get('n_artifact', 0)} artifact windows over "
                  f"{limit:g} µV peak-to-peak or flat). Check the headset's contact, or raise "
                  "--artifact-uv (the synthetic board's test signals are ~500 µV).",
                  markup=False, soft_wrap=True)
    d = fb.get("delay") or {}
    if d.get("n"):
        out.print(f"delay sample → feedback: median {d['median_ms']:.0f} ms, p99 {d['p99_ms']:.0f} ms "
                  f"({d['n']} updates)", markup=False)


@user_errors
def _band_words(band) -> str:
    """``alpha`` or ``12–15 Hz`` (a band name from bands.yaml, or explicit edges)."""
    if isinstance(band, str):
        return band
    lo, hi = band
    return f"{lo:g}–{hi:g} Hz"


def _metric_words(p) -> str:
    """The protocol's metric as a person reads it: ``relative_power of alpha``, ``band_ratio
    theta/alpha``, ``absolute_power of 12–15 Hz`` (never a Python tuple)."""
    bands = [_band_words(b) for b in p.bands]
    if p.metric == "band_ratio":
        return f"{p.metric} {'/'.join(bands)}"
    text = f"{p.metric} of {', '.join(bands)}"
    if getattr(p, "inhibits", None):
        text += "; inhibits " + ", ".join(f"{i.label} > {i.factor:g}× baseline" for i in p.inhibits)
    return text


def protocols(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
):
    """The neurofeedback protocols (neurofeedback/configs/protocols, or $NEUROFEEDBACK_CONFIGS/protocols)."""
    from rich.table import Table

    from ..feedback.protocol import list_protocols, load_protocol

    rows = [load_protocol(n) for n in list_protocols()]
    if as_json:
        typer.echo(json.dumps([{"name": p.name, "description": p.description, "metric": p.metric,
                                "bands": [list(b) if isinstance(b, tuple) else b for b in p.bands],
                                "channels": list(p.channels), "direction": p.direction,
                                "window_s": p.window_s, "update_hz": p.update_hz}
                               for p in rows]))
        return
    t = Table(title="Neurofeedback protocols (use the name with --protocol)", title_justify="left")
    for col in ("name", "trains", "metric", "channels", "window", "updates"):
        t.add_column(col)
    for p in rows:
        t.add_row(p.name, f"{p.direction}: {p.description}", _metric_words(p),
                  ", ".join(p.channels or [f"{a}/{b}" for a, b in p.pairs]),
                  f"{p.window_s:g} s", f"{p.update_hz:g} Hz")
    out.print(t)
