"""The ``neurofeedback`` command line: parse, call the library, print.

Any :class:`~neurofeedback.errors.NeurofeedbackError` (bad file, bad board, bad config) becomes
one line on stderr and exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import ConfigError, NeurofeedbackError

app = typer.Typer(
    name="neurofeedback",
    help="Read EEG recordings from consumer headsets and compute validated band-power features.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

_FORMAT_HELP = ("auto, brainflow_csv, openbci_txt, muselsl_csv, mindmonitor_csv, edf, bdf, fif, "
                "brainvision")


def _fail(message: str) -> None:
    err.print(f"neurofeedback: error: {' '.join(str(message).split())}", markup=False, soft_wrap=True)
    raise typer.Exit(2)


def _user_errors(fn):
    """Turn the project's errors (and OS errors on user paths) into one line and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NeurofeedbackError as exc:
            _fail(str(exc))
        except OSError as exc:
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            _fail(f"{where}{exc.strerror or exc}")

    return wrapper


def _parse_line_freq(value: str):
    v = value.strip().lower()
    if v in ("auto",):
        return "auto"
    if v in ("none", "off", "0"):
        return None
    if v in ("50", "60"):
        return float(v)
    raise ConfigError(
        f"Invalid value for the '--line-freq' parameter. Allowed values are '50', '60', 'auto' and "
        f"'none', but got {value!r} instead."
    )


def _settings(bands: Optional[Path]):
    from .config import load_settings

    return load_settings(bands_file=bands) if bands else load_settings()


def _setup_logging(verbose: bool):
    logger = logging.getLogger("neurofeedback")
    if not logger.handlers or all(isinstance(h, logging.NullHandler) for h in logger.handlers):
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("neurofeedback: %(levelname)s: %(message)s"))
        logger.addHandler(h)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    import mne

    mne.set_log_level("ERROR")


PathArg = Annotated[Path, typer.Argument(help="Recording file (format detected from its content).")]
FormatOpt = Annotated[str, typer.Option("--format", help=f"Force a format: {_FORMAT_HELP}.")]
BoardOpt = Annotated[Optional[str], typer.Option(
    "--board", help="BrainFlow board of a BrainFlow CSV without its JSON sidecar (e.g. muse_2, cyton).")]
LineOpt = Annotated[str, typer.Option(
    "--line-freq", help="Mains frequency to notch: 50, 60, auto (detect from the spectrum) or none.")]
BandsOpt = Annotated[Optional[Path], typer.Option(
    "--bands", help="A bands YAML file to use instead of configs/bands.yaml.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")]


def _process(path, fmt, board, line_freq, bands):
    """Processed recording, or the precomputed band powers of a Mind Monitor export."""
    from .process import process_any

    return process_any(path, format=fmt, board=board, line_freq=_parse_line_freq(line_freq),
                       settings=_settings(bands))


def _fmt(v, spec=".3g"):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return format(v, spec)


@app.command()
@_user_errors
def inspect(
    path: PathArg,
    format: FormatOpt = "auto",
    board: BoardOpt = None,
    line_freq: LineOpt = "auto",
    bands: BandsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    verbose: VerboseOpt = False,
):
    """Summarise a recording: channels, duration, quality, band powers, IAF, FAA."""
    _setup_logging(verbose)
    from .io import PrecomputedBandPowers

    proc = _process(path, format, board, line_freq, bands)
    if isinstance(proc, PrecomputedBandPowers):
        return _inspect_precomputed(proc, as_json)
    summary = proc.summary()
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    _print_summary(summary)


def _print_summary(s: dict) -> None:
    meas = s["meas_date"] or "unknown"
    out.print(f"[bold]{s['path']}[/bold]  ({s['format']})")
    out.print(
        f"{len(s['channels'])} channels at {s['sfreq']:g} Hz, {s['duration_s']:.1f} s, recorded {meas}; "
        f"notch {_fmt(s['line_freq'], 'g') if s['line_freq'] else 'none'}; "
        f"{s['n_clean_epochs']}/{s['n_epochs']} clean {s['epoch_s']:g}-s epochs "
        f"({100 * s['clean_fraction']:.0f}%)"
    )
    q = Table(title="Signal quality", title_justify="left")
    for col in ("channel", "status", "std µV", "railed", "line-noise ×", "artifact time"):
        q.add_column(col, justify="left" if col in ("channel", "status") else "right")
    for r in s["quality"]:
        style = "" if r["status"] == "good" else "red"
        q.add_row(r["channel"], r["status"], _fmt(r["std_uv"], ".1f"), f"{100 * r['railed_fraction']:.0f}%",
                  _fmt(r["line_noise_ratio"], ".1f"), f"{100 * r['artifact_fraction']:.0f}%", style=style)
    out.print(q)
    if s["annotations"]:
        out.print("Annotations: " + ", ".join(
            f"{k} ×{v['count']} ({v['total_s']:.1f} s)" for k, v in sorted(s["annotations"].items())))
    bands = list(s["bands"])
    rel_t = Table(title="Relative band power, % of 1–45 Hz (session, clean epochs)", title_justify="left")
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
        rel_t.add_row(ch, *[_fmt(None if rel[b] is None else 100 * rel[b], ".1f") for b in bands],
                      _fmt(s["iaf_hz"][ch], ".2f"), _fmt(s["iaf_cog_hz"][ch], ".2f"),
                      _fmt(ap.get("exponent"), ".2f"))
        abs_t.add_row(ch, *[_fmt(ab[b]) for b in bands])
    out.print(rel_t)
    out.print(abs_t)
    if s["faa"]:
        out.print("Frontal alpha asymmetry ln(α right) − ln(α left): " +
                  ", ".join(f"{k} {v:+.3f}" for k, v in s["faa"].items()))
    else:
        out.print("Frontal alpha asymmetry: no homologous frontal pair (F4/F3, AF8/AF7, F8/F7, Fp2/Fp1) among the good channels")


def _precomputed_summary(pre) -> dict:
    """The ``inspect --json`` object of a Mind Monitor export: its own band powers, labelled."""
    means = pre.session_means()
    absolute = {ch: {} for ch in pre.channels}
    relative = {ch: {} for ch in pre.channels}
    for r in means.itertuples(index=False):
        a, rel = r.precomputed_absolute_bels_mean, r.precomputed_relative_mean
        absolute[r.channel][r.band] = None if a != a else float(a)
        relative[r.channel][r.band] = None if rel != rel else float(rel)
    n_rows = int(pre.table["onset_s"].nunique())
    n_clean = int(pre.table.loc[pre.table["clean"], "onset_s"].nunique())
    none = {ch: None for ch in pre.channels}
    return {
        "path": str(pre.path), "format": pre.format, "kind": "precomputed_band_powers",
        "sfreq": None, "duration_s": pre.duration_s,
        "meas_date": pre.meas_date.isoformat() if pre.meas_date else None,
        "channels": list(pre.channels), "bad_channels": [], "epoch_s": None,
        "n_epochs": n_rows, "n_clean_epochs": n_clean, "bands": pre.bands,
        "units": {"absolute": "Bels (log10 of Muse absolute band power), precomputed by the Muse SDK",
                  "relative": "10**b / sum over bands of 10**b (the Muse formula), mean over clean rows"},
        "band_power": {"absolute": absolute, "relative": relative},
        "iaf_hz": none, "iaf_cog_hz": none, "faa": {}, "aperiodic": none,
        "note": pre.note,
        "provenance": {"source": "Mind Monitor export (Muse SDK band powers); not computed by neurofeedback",
                       "input": {"path": str(pre.path), "sha256": _sha(pre.path), "format": pre.format},
                       "bands": pre.bands, "units": pre.units},
    }


def _sha(path):
    from .provenance import file_sha256

    return file_sha256(path)


def _inspect_precomputed(pre, as_json):
    path = pre.path
    summary = _precomputed_summary(pre)
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    out.print(f"[bold]{path}[/bold]  ({summary['format']}: precomputed band powers, not raw EEG)")
    out.print(summary["note"], markup=False)
    out.print(f"{summary['n_clean_epochs']}/{summary['n_epochs']} rows with a good fit, "
              f"{summary['duration_s']:.0f} s; no spectrum, so no IAF, FAA or 1/f fit")
    t = Table(title="Session means: Bels (Muse SDK) / relative %", title_justify="left")
    t.add_column("channel")
    bands = list(summary["bands"])
    for b in bands:
        lo, hi = summary["bands"][b]
        t.add_column(f"{b}\n{lo:g}–{hi:g} Hz", justify="right")
    for ch in summary["channels"]:
        a, r = summary["band_power"]["absolute"][ch], summary["band_power"]["relative"][ch]
        t.add_row(ch, *[f"{_fmt(a[b], '.2f')} / {_fmt(None if r[b] is None else 100 * r[b], '.0f')}%" for b in bands])
    out.print(t)


@app.command()
@_user_errors
def features(
    path: PathArg,
    out_path: Annotated[Path, typer.Option("--out", help="Output table: FILE.parquet or FILE.csv.")],
    format: FormatOpt = "auto",
    board: BoardOpt = None,
    line_freq: LineOpt = "auto",
    bands: BandsOpt = None,
    verbose: VerboseOpt = False,
):
    """Write the per-epoch long table (epoch × channel × band) with its provenance."""
    _setup_logging(verbose)
    if out_path.suffix.lower() not in (".parquet", ".csv"):
        raise ConfigError(
            f"Invalid value for the '--out' parameter. Allowed suffixes are '.parquet' and '.csv', "
            f"but got {out_path.name!r} instead."
        )
    from .io import PrecomputedBandPowers
    from .process import write_table

    proc = _process(path, format, board, line_freq, bands)
    if isinstance(proc, PrecomputedBandPowers):
        pre = proc
        table = pre.table.rename(columns={"absolute_bels": "precomputed_absolute_bels"})
        write_table(table, {"source": pre.note, "units": pre.units, "bands": pre.bands,
                            "input": {"path": str(path), "sha256": _sha(path)}}, out_path)
        out.print(f"wrote {out_path}: {len(table)} rows of precomputed Mind Monitor band powers "
                  f"(Bels, Muse SDK; not raw EEG)")
        return
    written = write_table(proc.features.epochs, proc.features.provenance, out_path)
    t = proc.features.epochs
    n_clean = int(t.loc[t["clean"], "epoch"].nunique())
    out.print(f"wrote {written}: {len(t)} rows ({proc.features.summary['n_epochs']} epochs × "
              f"{t['channel'].nunique()} channels × {t['band'].nunique()} bands; {n_clean} clean epochs)")


@app.command()
@_user_errors
def boards(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    all_boards: Annotated[bool, typer.Option("--all", help="Also list boards without EEG channels.")] = False,
):
    """List BrainFlow boards: friendly name, rate, EEG channels and what each needs to connect."""
    from .boards import connection_params, friendly_name, list_boards

    infos = [b for b in list_boards() if all_boards or b.eeg_rows or b.board_id in (-3, -2)]
    rows = [{"name": friendly_name(b.board_id), "board": b.name, "board_id": b.board_id,
             "sfreq": b.sfreq, "eeg_channels": list(b.eeg_names),
             "connection": connection_params(b.board_id)} for b in infos]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    t = Table(title="BrainFlow boards (use the name with --board)", title_justify="left")
    for col in ("name", "id", "Hz", "EEG channels", "connect with"):
        t.add_column(col)
    for r in rows:
        conn = ", ".join(("--" if need == "required" else "[--") + k.replace("_", "-")
                         + ("" if need == "required" else "]") for k, need in r["connection"].items())
        t.add_row(r["name"], str(r["board_id"]), _fmt(r["sfreq"], "g"),
                  ",".join(r["eeg_channels"]) or "—", conn or "nothing", )
    out.print(t)


from . import cli_demo, cli_feedback, cli_record, cli_report, cli_store  # noqa: E402,F401  (register the commands)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    # run the package's module (commands registered by cli_record live on its ``app``)
    from neurofeedback.cli import main as _main

    _main()
