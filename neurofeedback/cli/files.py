"""The file commands of the CLI: ``inspect`` and ``features`` (a recording in, numbers out)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ConfigError
from ._shared import ChannelNamesOpt, VerboseOpt, fmt, out, print_summary, setup_logging, user_errors

_FORMAT_HELP = ("auto, brainflow_csv, openbci_txt, muselsl_csv, mindmonitor_csv, edf, bdf, fif, "
                "brainvision, xdf")


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


def _settings(bands: Path | None):
    from ..config import load_settings

    return load_settings(bands_file=bands) if bands else load_settings()


PathArg = Annotated[Path, typer.Argument(help="Recording file (format detected from its content).")]
FormatOpt = Annotated[str, typer.Option("--format", help=f"Force a format: {_FORMAT_HELP}.")]
BoardOpt = Annotated[str | None, typer.Option(
    "--board", help="BrainFlow board of a BrainFlow CSV without its JSON sidecar (e.g. muse_2, cyton).")]
LineOpt = Annotated[str, typer.Option(
    "--line-freq", help="Mains frequency to notch: 50, 60, auto (detect from the spectrum of the channels "
                         "that are neither railed nor flat) or none.")]
BandsOpt = Annotated[Path | None, typer.Option(
    "--bands", help="A bands YAML file to use instead of the shipped bands.yaml "
                    "(neurofeedback/configs; $NEUROFEEDBACK_CONFIGS overrides the folder).")]


# issue 17 (XDF): which stream of an XDF file to read
XdfStreamOpt = Annotated[str | None, typer.Option(
    "--stream", help="XDF only: the name of the stream to read (default: the one stream of type EEG).")]


def _process(path, format_, board, line_freq, bands, channel_names=None, stream=None):
    """Processed recording, or the precomputed band powers of a Mind Monitor export."""
    from ..io._raw import check_channel_names
    from ..process import process_recording

    names = check_channel_names(channel_names, what="--channel-names")
    return process_recording(path, format=format_, board=board,
                             line_freq=_parse_line_freq(line_freq), settings=_settings(bands),
                             allow_precomputed=True, channel_names=names, stream=stream)


@user_errors
def inspect(
    path: PathArg,
    format: FormatOpt = "auto",
    board: BoardOpt = None,
    line_freq: LineOpt = "auto",
    bands: BandsOpt = None,
    channel_names: ChannelNamesOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    stream: XdfStreamOpt = None,
    verbose: VerboseOpt = False,
):
    """Summarise a recording: channels, duration, quality, band powers, IAF, FAA."""
    setup_logging(verbose)
    from ..io import PrecomputedBandPowers

    proc = _process(path, format, board, line_freq, bands, channel_names, stream)
    if isinstance(proc, PrecomputedBandPowers):
        return _inspect_precomputed(proc, as_json)
    summary = proc.summary()
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    print_summary(summary)


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
        "iaf_hz": none, "iaf_cog_hz": none, "faa": {}, "aperiodic": none, "periodic_alpha": none,
        "iaf_ambiguous": none, "blocks": {},
        "note": pre.note,
        "provenance": {"source": "Mind Monitor export (Muse SDK band powers); not computed by neurofeedback",
                       "input": {"path": str(pre.path), "sha256": _sha(pre.path), "format": pre.format},
                       "bands": pre.bands, "units": pre.units},
    }


def _sha(path):
    from ..provenance import file_sha256

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
        t.add_row(ch, *[f"{fmt(a[b], '.2f')} / {fmt(None if r[b] is None else 100 * r[b], '.0f')}%" for b in bands])
    out.print(t)


@user_errors
def features(
    path: PathArg,
    out_path: Annotated[Path, typer.Option("--out", help="Output table: FILE.parquet or FILE.csv.")],
    format: FormatOpt = "auto",
    board: BoardOpt = None,
    line_freq: LineOpt = "auto",
    bands: BandsOpt = None,
    channel_names: ChannelNamesOpt = None,
    stream: XdfStreamOpt = None,
    verbose: VerboseOpt = False,
):
    """Write the per-epoch long table (epoch × channel × band) with its provenance."""
    setup_logging(verbose)
    if out_path.suffix.lower() not in (".parquet", ".csv"):
        raise ConfigError(
            f"Invalid value for the '--out' parameter. Allowed suffixes are '.parquet' and '.csv', "
            f"but got {out_path.name!r} instead."
        )
    from ..io import PrecomputedBandPowers
    from ..process import write_table

    proc = _process(path, format, board, line_freq, bands, channel_names, stream)
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
    # from the table, not the summary: reading the summary would fit specparam for nothing
    out.print(f"wrote {written}: {len(t)} rows ({t['epoch'].nunique()} epochs × "
              f"{t['channel'].nunique()} channels × {t['band'].nunique()} bands; {n_clean} clean epochs)")
    bads = list(proc.raw.info["bads"])
    if bads:
        out.print(f"bad channels (rows kept with no values: NaN, clean=False): {', '.join(bads)}",
                  markup=False)
