"""What the command groups share: the consoles, error handling, logging, common options and the
tables more than one command prints.

Any :class:`~neurofeedback.errors.NeurofeedbackError` (bad file, bad board, bad config) becomes
one line on stderr and exit code 2 (:func:`user_errors`); anything else is a bug and keeps its
traceback. No command group imports another: what two groups need lives here.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..errors import ConfigError, NeurofeedbackError
from ..reference import reference_line

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def fail(message: str) -> None:
    """Print ``message`` as one ``neurofeedback: error:`` line on stderr and exit with code 2."""
    err.print(f"neurofeedback: error: {' '.join(str(message).split())}", markup=False, soft_wrap=True)
    raise typer.Exit(2)


def user_errors(fn):
    """Turn the project's errors (and OS errors on user paths) into one line and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NeurofeedbackError as exc:
            fail(str(exc))
        except OSError as exc:
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            fail(f"{where}{exc.strerror or exc}")

    return wrapper


def check_block(block: str | None, subject: str, home=None) -> None:
    """Refuse a ``--block`` the subject's stored metrics do not have (one line, exit 2)."""
    if block is None:
        return
    from ..store import Catalog

    valid = Catalog(home=home).blocks(subject=subject)
    if block not in valid:
        raise ConfigError(
            f"Invalid value for the '--block' parameter. Allowed values are "
            f"{', '.join(valid) if valid else '(none: no sessions of subject ' + repr(subject) + ')'}"
            f", but got {block!r} instead.")


def setup_logging(verbose: bool) -> None:
    """Send the library logger to stderr (INFO with ``--verbose``, else WARNING); quiet MNE."""
    logger = logging.getLogger("neurofeedback")
    if not logger.handlers or all(isinstance(h, logging.NullHandler) for h in logger.handlers):
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("neurofeedback: %(levelname)s: %(message)s"))
        h._nf_cli = True
        logger.addHandler(h)
    for h in logger.handlers:  # the stderr of this command (a test runner swaps it per command)
        if getattr(h, "_nf_cli", False) and h.stream is not sys.stderr:
            h.stream = sys.stderr  # not setStream: it flushes the old, closed stream
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    import mne

    mne.set_log_level("ERROR")


def configure_flows(home) -> None:
    """Set this project's Prefect settings (offline, quiet, ``PREFECT_HOME`` in ``home``) and
    check that a Prefect API named by ``PREFECT_API_URL`` answers (one line, exit 2, if not).

    Call it before importing a flow module of ``pipelines``, and after every check of the
    user's input: Prefect reads its settings when it is first imported, and nothing should
    start Prefect for a command that is going to fail anyway. The command line is the only
    place of the library that imports ``pipelines``.
    """
    import pipelines
    from pipelines._env import check_api

    pipelines.configure(home)
    check_api()


@contextlib.contextmanager
def flow_errors():
    """Turn Prefect failing to run (API gone, temporary server not started) into one line."""
    try:
        yield
    except Exception as exc:  # classified below; anything else is re-raised
        from pipelines._env import flow_error

        mapped = flow_error(exc)
        if mapped is None:
            raise
        raise mapped from None


def home_str(home: Path | None) -> str | None:
    """The ``--home`` value as the plain string the flows take (``None`` stays ``None``)."""
    return None if home is None else str(home)


def fmt(v, spec=".3g") -> str:
    """``format(v, spec)``, or ``—`` for a missing or non-finite value."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return format(v, spec)


# --- options more than one command group takes ---------------------------------------------

HomeOpt = Annotated[Path | None, typer.Option(
    "--home", help="Data home (default $NEUROFEEDBACK_HOME or ~/neurofeedback).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")]
BlockOpt = Annotated[str | None, typer.Option(
    "--block", help="The metrics of one block: a block label such as meditation or eyes-closed, or "
                    "'session' for the whole-session values.")]

# how ``record`` and ``feedback`` reach a board
SerialPortOpt = Annotated[str | None, typer.Option("--serial-port", help="Serial port (Cyton, Ganglion dongle).")]
MacOpt = Annotated[str | None, typer.Option("--mac-address", help="Bluetooth MAC address.")]
SerialNumberOpt = Annotated[str | None, typer.Option("--serial-number", help="Device serial number/name.")]
IpAddressOpt = Annotated[str | None, typer.Option("--ip-address", help="IP address (WiFi boards).")]
IpPortOpt = Annotated[int | None, typer.Option("--ip-port", help="IP port (WiFi boards).")]
MasterBoardOpt = Annotated[str | None, typer.Option(
    "--master-board", help="Board whose data --board streaming receives (e.g. cyton); with --board "
                           "playback, the layout to replay the file as (default: from the file).")]
OtherInfoOpt = Annotated[str | None, typer.Option(
    "--other-info", help="BrainFlow's free-form connection parameter (e.g. Callibri).")]
FileOpt = Annotated[Path | None, typer.Option("--file", help="Recording to replay (--board playback).")]
SpeedOpt = Annotated[float, typer.Option("--speed", min=0.01, help="Playback speed (1 = real time).")]
LoopOpt = Annotated[bool, typer.Option("--loop", help="Loop the playback file.")]
CheckOpt = Annotated[float, typer.Option("--check-seconds", min=0, help="Quality check length; 0 skips it.")]
# how ``record`` and ``feedback`` reach an LSL stream (--source lsl)
SourceOpt = Annotated[str, typer.Option(
    "--source", help="Where the EEG comes from: brainflow (a --board) or lsl (an LSL stream: "
                     "muselsl, BlueMuse, Petal Metrics, OpenBCI GUI; see 'neurofeedback sources').")]
StreamOpt = Annotated[str | None, typer.Option(
    "--stream", help="--source lsl: the LSL stream's name (default: the one stream of --stream-type).")]
StreamTypeOpt = Annotated[str | None, typer.Option(
    "--stream-type", help="--source lsl: the LSL stream's type, any case (default: EEG when "
                          "--stream is not given).")]
MarkerStreamOpt = Annotated[str | None, typer.Option(
    "--marker-stream", help="--source lsl: the LSL marker stream to record as annotations; 'none' "
                            "for none (default: every Markers stream from the EEG stream's host).")]
LslTimeoutOpt = Annotated[float, typer.Option(
    "--lsl-timeout", min=0.1, help="--source lsl: seconds to look for the streams.")]
LslScopeOpt = Annotated[str, typer.Option(
    "--lsl-scope", help="--source lsl: look on this computer (machine) or the network (network).")]
ChannelNamesOpt = Annotated[str | None, typer.Option(
    "--channel-names", help="EEG electrode sites in stream order, comma-separated (a custom montage, "
                            "or a replayed file with generic names such as EEG 1..8).")]


# --- what more than one command prints ------------------------------------------------------

def print_summary(s: dict) -> None:
    """Print a processed recording's summary (the ``inspect --json`` object) as tables."""
    meas = s["meas_date"] or "unknown"
    out.print(f"[bold]{s['path']}[/bold]  ({s['format']})")
    out.print(
        f"{len(s['channels'])} channels at {s['sfreq']:g} Hz, {s['duration_s']:.1f} s, recorded {meas}; "
        f"notch {fmt(s['line_freq'], 'g') if s['line_freq'] else 'none'}; "
        f"clean data {100 * s['clean_fraction']:.0f}% (mean over good channels of the time their "
        f"spectra use; {s['n_clean_epochs']}/{s['n_epochs']} {s['epoch_s']:g}-s epochs clean on every channel)"
    )
    out.print(f"Reference: {reference_line(s.get('reference'))}", markup=False)
    q = Table(title="Signal quality", title_justify="left")
    for col in ("channel", "status", "std µV", "railed", "line peak / neighbours ×", "artifact time",
                "clean (used)"):
        q.add_column(col, justify="left" if col in ("channel", "status") else "right")
    for r in s["quality"]:
        style = "" if r["status"] == "good" else "red"
        cf = r.get("clean_fraction")
        q.add_row(r["channel"], r["status"], fmt(r["std_uv"], ".1f"), f"{100 * r['railed_fraction']:.0f}%",
                  fmt(r["line_peak_ratio"], ".1f"), f"{100 * r['artifact_fraction']:.0f}%",
                  "—" if cf is None else f"{100 * cf:.0f}%", style=style)
    out.print(q)
    if s["annotations"]:
        out.print("Annotations: " + ", ".join(
            f"{k} ×{v['count']} ({v['total_s']:.1f} s"
            + (f" on {', '.join(v['channels'])})" if v.get("channels") else ")")
            for k, v in sorted(s["annotations"].items())), markup=False)
    bands = list(s["bands"])
    rel_t = Table(title="Relative band power, % of 1–45 Hz (session, each channel's clean data)", title_justify="left")
    abs_t = Table(title="Absolute band power, µV²", title_justify="left")
    for t in (rel_t, abs_t):
        t.add_column("channel")
        for b in bands:
            lo, hi = s["bands"][b]
            t.add_column(f"{b} {lo:g}–{hi:g}", justify="right")
    rel_t.add_column("IAF Hz", justify="right")
    rel_t.add_column("CoG Hz", justify="right")
    rel_t.add_column("1/f exp", justify="right")
    for ch in s["channels"]:
        rel = s["band_power"]["relative"].get(ch)
        ab = s["band_power"]["absolute"].get(ch)
        if rel is None:
            rel_t.add_row(ch, *["—"] * (len(bands) + 3), style="dim")
            abs_t.add_row(ch, *["—"] * len(bands), style="dim")
            continue
        ap = s["aperiodic"][ch] or {}
        rel_t.add_row(ch, *[fmt(None if rel[b] is None else 100 * rel[b], ".1f") for b in bands],
                      iaf_cell(s["iaf_hz"][ch], (s.get("iaf_ambiguous") or {}).get(ch)),
                      fmt(s["iaf_cog_hz"][ch], ".2f"), exponent_cell(ap))
        abs_t.add_row(ch, *[fmt(ab[b]) for b in bands])
    out.print(rel_t)
    out.print(abs_t)
    if s.get("periodic_alpha") is not None:
        out.print(periodic_table(s))
    if s["faa"]:
        out.print("Frontal alpha asymmetry ln(α right) − ln(α left): " +
                  ", ".join(f"{k} {v:+.3f}" for k, v in s["faa"].items()))
    else:
        out.print("Frontal alpha asymmetry: no homologous frontal pair (F4/F3, AF8/AF7, F8/F7, Fp2/Fp1) "
                  "among the good channels")
    if s.get("blocks"):
        out.print(blocks_table(s))
        for label, b in s["blocks"].items():
            if b.get("reason"):
                out.print(f"{label}: no values, {b['reason']}", markup=False, style="dim")


#: How a specparam fit flag (:data:`neurofeedback.periodic.FLAGS`) reads next to the exponent.
FLAG_WORDS = {"ok": "", "noise_floor": "NOISE FLOOR", "poor_fit": "POOR FIT",
              "fit_failed": "FIT FAILED"}


def exponent_cell(ap: dict) -> str:
    """The 1/f exponent with its specparam flag beside it, in red when the fit is not ``ok``."""
    flag = ap.get("flag")
    words = FLAG_WORDS.get(flag, "") if flag else ""
    text = fmt(ap.get("exponent"), ".2f")
    return f"[red]{text} {words}[/red]" if words else text


def iaf_cell(iaf, ambiguous) -> str:
    """The IAF, marked ``split?`` in red when the alpha peak is split (ambiguous)."""
    return f"[red]{fmt(iaf, '.2f')} split?[/red]" if ambiguous else fmt(iaf, ".2f")


def periodic_table(s: dict) -> Table:
    """specparam's fit per channel: exponent, R², flag and the periodic (above-1/f) alpha."""
    t = Table(title="1/f fit and periodic alpha (specparam, 2–40 Hz; session)",
              title_justify="left")
    for col in ("channel", "1/f exp", "R²", "fit", "α peak Hz", "α height log10", "α width Hz",
                "α above 1/f µV²", "1/f share of α", "IAF split"):
        t.add_column(col, justify="left" if col in ("channel", "fit") else "right")
    for ch in s["channels"]:
        ap, pa = (s["aperiodic"].get(ch) or {}), s["periodic_alpha"].get(ch)
        flag = ap.get("flag")
        if flag is None:
            t.add_row(ch, *["—"] * 9, style="dim")
            continue
        pa = pa or {}
        share = pa.get("aperiodic_fraction")
        split = (s.get("iaf_ambiguous") or {}).get(ch)
        t.add_row(ch, fmt(ap.get("exponent"), ".2f"), fmt(ap.get("r_squared"), ".2f"),
                  "ok" if flag == "ok" else f"[red]{FLAG_WORDS.get(flag, flag)}[/red]",
                  fmt(pa.get("cf_hz"), ".2f"), fmt(pa.get("pw_log10"), ".2f"),
                  fmt(pa.get("bw_hz"), ".2f"), fmt(pa.get("power_uv2")),
                  fmt(None if share is None else 100 * share, ".0f") + ("%" if share is not None else ""),
                  "—" if split is None else ("[red]yes[/red]" if split else "no"))
    return t


def blocks_table(s: dict) -> Table:
    """The blocks of a summary: start of each stretch, total length, clean epochs, relative alpha
    (mean and posterior), IAF and alpha against the eyes-closed block (percentage points)."""
    from ..metrics import session_metrics

    v = {(r.block, r.metric, r.channel): r.value for r in session_metrics(s).itertuples()}
    t = Table(title="Blocks: epochs lying wholly inside each block (clean on every channel) and the "
                    "share of its time each channel's values use (mean); "
                    "α vs EC = relative alpha minus the eyes-closed block's (posterior channels, "
                    "percentage points)", title_justify="left")
    for col in ("block", "start s", "total s", "clean epochs (data)", "rel. α % mean",
                "rel. α % posterior", "IAF Hz", "α vs EC pp"):
        t.add_column(col, justify="left" if col == "block" else "right")
    for label, b in s["blocks"].items():
        cf = b["clean_fraction"]
        clean = f"{b['n_clean_epochs']}/{b['n_epochs']}" + ("" if cf is None else f" ({100 * cf:.0f}%)")
        start = ", ".join(fmt(o, ".0f") for o, _ in b.get("spans") or [[b["onset_s"], None]])
        if b.get("reason"):
            t.add_row(label, start, fmt(b["duration_s"], ".0f"), clean, *["—"] * 4, style="dim")
            continue

        def pct(key, spec=".1f"):
            x = v.get(key)
            return fmt(None if x is None else 100 * x, spec)

        t.add_row(label, start, fmt(b["duration_s"], ".0f"), clean,
                  pct((label, "relative_alpha", "mean")), pct((label, "relative_alpha", "posterior")),
                  fmt(v.get((label, "iaf", "mean")), ".2f"),
                  pct((label, "alpha_vs_eyes_closed", "posterior"), "+.1f"))
    return t


def quality_table(check, title="Signal quality check") -> Table:
    """A rich table of a ``QualityCheck``: one row per channel, problems in red."""
    t = Table(title=title, title_justify="left")
    for col in ("channel", "status", "railed", "line / 1–45 Hz power ×", "p-p µV", "std µV"):
        t.add_column(col, justify="left" if col in ("channel", "status") else "right")
    for r in check.table.itertuples(index=False):
        t.add_row(str(r.channel), "ok" if r.ok else str(r.problem).split(" (")[0],
                  f"{100 * r.railed_fraction:.0f}%", fmt(r.line_to_eeg_power, ".2f"),
                  fmt(r.ptp_uv, ".0f"), fmt(r.std_uv, ".1f"),
                  style="" if r.ok else "red")
    return t


def print_report_hint(session_id, home) -> None:
    """How to get the stored session's HTML report (the analyst's next step)."""
    if session_id:
        where = f" --home {home}" if home else ""
        out.print(f"stored as {session_id}; its report: neurofeedback report session {session_id} "
                  f"--out {session_id}.html{where}", markup=False, soft_wrap=True)
