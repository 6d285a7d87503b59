"""The session report: one recording, plots first and the numbers beside them.

Sections (their HTML anchors): ``recording`` (metadata), ``feedback`` (only for a neurofeedback
session: the metric against its threshold, the rewards and the reward rate, from the session's
feedback log and sidecar), ``quality`` (per-channel signal quality
and the artifact timeline), ``spectrum`` (PSD per channel, bands shaded, IAF marked),
``bands`` (band power over the session with the blocks shaded), ``topography`` (scalp maps, only
with ≥ 8 good channels that have positions), ``features`` (the session's features with units)
and ``provenance``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import RecordingFormatError, StoreError
from ..reference import reference_line
from . import plots
from .document import Block, Report, Section, Table

__all__ = ["build_session_report", "session_report"]

logger = logging.getLogger("neurofeedback")

#: Fewest good channels with positions for a scalp map.
MIN_TOPO_CHANNELS = 8


def session_report(source, *, home=None) -> Report:
    """Build the report of a stored session (by its ID or its file) or of a recording file.

    A stored session's report is built from what the store kept when it imported the session
    (summary, per-epoch features, and the spectra and artifact timeline of ``…_psd.npz``:
    :mod:`neurofeedback.store.spectra`), so nothing is read or processed again; the report names
    the pipeline version that computed the spectra. A recording file that the catalog holds
    (same SHA-256) and processed with today's default settings counts as its stored session.
    A session stored by an older version (no ``…_psd.npz``) or a file not in the store is
    processed now, and the report says so.

    Parameters
    ----------
    source : str | path-like
        A session ID from ``neurofeedback sessions`` (e.g. ``sub-alpha01_ses-20260105T073000``)
        or the path of a recording any reader understands.
    home : path-like | None
        Data home holding the catalog (for a session ID).

    Returns
    -------
    report : Report

    Raises
    ------
    StoreError
        ``source`` is neither an existing file nor a session in the catalog.
    RecordingFormatError
        The recording cannot be read.
    """
    path = Path(str(source))
    row = None
    if not path.is_file():
        if path.exists():
            raise StoreError(f"{path}: is a folder; give a recording file or a session ID")
        from ..store import Catalog

        try:
            row = Catalog(home=home).session(str(source))
        except StoreError:
            raise StoreError(f"{source}: no such file, and no session with this ID in the "
                             "catalog (list them with 'neurofeedback sessions')") from None
    else:
        row = _stored_row_of_file(path, home)
    if row is not None:
        data, why = _stored_data(row)
        if data is not None:
            return _build(data, row, _stored_sidecar(row, data.path))
        logger.warning("%s: %s; processing the recording again", row["session_id"], why)
        path = _session_file(row)
    else:
        why = None
    from ..process import process_recording

    processed = process_recording(path)
    data = _data_from_processed(processed, note=why)
    return _build(data, row, _find_sidecar(data.path))


def _stored_row_of_file(path: Path, home) -> dict | None:
    """The catalog row of a recording file when the store holds it, processed with today's
    default settings (else ``None``: the file is processed as it is). Opens no catalog that
    does not exist yet."""
    from ..home import catalog_url
    from ..store._engine import sqlite_file

    db = sqlite_file(catalog_url(home))
    if db is not None and not db.is_file():
        return None
    from ..config import load_settings
    from ..provenance import file_sha256, processing_hash
    from ..store import Catalog

    try:
        row = Catalog(home=home).find_by_sha(file_sha256(path))
    except StoreError as exc:  # an unreadable catalog: report the file as it is
        logger.info("catalog not used for %s: %s", path, exc)
        return None
    if row is None or row.get("config_hash") != processing_hash(load_settings()):
        return None
    return row


def _session_file(row: dict) -> Path:
    """The stored session's recording: the original when it is still there, else the BIDS copy."""
    for key in ("source_path", "bids_path"):
        p = row.get(key)
        if p and Path(p).is_file():
            return Path(p)
    raise StoreError(f"{row['session_id']}: neither the original recording "
                     f"({row.get('source_path')}) nor its BIDS copy ({row.get('bids_path')}) "
                     "exists any more")


@dataclass(frozen=True)
class _SessionData:
    """What the report shows, from a processing now or from the store (same fields either way).

    ``psd`` (n_channels, n_freqs) µV²/Hz over ``freqs`` Hz; ``ptp_uv`` (n_channels, n_seconds)
    µV; ``ch_pos`` (n_channels, 3) m, NaN rows without a position; ``spectra`` says where the
    spectra come from and which pipeline version computed them.
    """

    summary: dict
    quality: pd.DataFrame
    epochs: pd.DataFrame
    freqs: np.ndarray
    psd: np.ndarray
    ann: dict
    ptp_uv: np.ndarray
    ch_pos: np.ndarray
    path: Path | None
    spectra: str


def _data_from_processed(processed, *, note: str | None = None) -> _SessionData:
    from ..provenance import METHOD_VERSION
    from ..store.spectra import annotations_dict, channel_positions, ptp_per_second

    summary = processed.summary()
    chans = summary["channels"]
    version = ((summary.get("provenance") or {}).get("software") or {}).get("neurofeedback", "unknown")
    spectra = (f"computed now from the recording by neurofeedback {version} (method version "
               f"{METHOD_VERSION})")
    if note:
        spectra += f"; {note}"
    return _SessionData(summary=summary, quality=processed.quality, epochs=processed.features.epochs,
                        freqs=processed.features.freqs, psd=processed.features.psd,
                        ann=annotations_dict(processed.raw),
                        ptp_uv=ptp_per_second(processed.raw, chans),
                        ch_pos=channel_positions(processed.raw, chans), path=processed.path,
                        spectra=spectra)


def _stored_data(row: dict) -> tuple[_SessionData | None, str | None]:
    """The stored session's report data, or ``(None, why)`` when its derivatives are missing
    (a session stored before spectra were kept, or files removed by hand)."""
    import json

    from ..store.spectra import read_spectra, spectra_path

    feats_path, summary_path = row.get("features_path"), row.get("summary_path")
    if not feats_path or not summary_path:
        return None, "the catalog names no derivatives for it"
    psd_path = spectra_path(feats_path)
    if not psd_path.is_file():
        return None, (f"no stored spectra ({psd_path.name}: the session was stored by an older "
                      "version)")
    if not Path(feats_path).is_file() or not Path(summary_path).is_file():
        return None, "its stored features or summary are missing"
    try:
        spectra = read_spectra(psd_path)
        summary = json.loads(Path(summary_path).read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        return None, f"its stored spectra cannot be read ({exc})"
    epochs = pd.read_parquet(feats_path)
    if spectra.channels != list(summary["channels"]):
        return None, f"{psd_path.name} does not match the stored summary's channels"
    src = row.get("source_path") or summary.get("path")
    return _SessionData(summary=summary, quality=pd.DataFrame(summary["quality"]), epochs=epochs,
                        freqs=spectra.freqs, psd=spectra.psd, ann=spectra.annotations,
                        ptp_uv=spectra.ptp_uv, ch_pos=spectra.ch_pos,
                        path=Path(src) if src else None,
                        spectra=f"stored at import ({spectra.path.name}), computed by "
                                f"{spectra.pipeline_version}"), None


def _stored_sidecar(row: dict, path: Path | None) -> dict | None:
    """The stored copy of the session's sidecar (``…_recording.json``), else the one beside the
    original recording when it is still there."""
    import json

    feats = row.get("features_path")
    if feats:
        rec = Path(feats).with_name(Path(feats).name.replace("_features.parquet", "_recording.json"))
        if rec.is_file():
            try:
                return json.loads(rec.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
    return _find_sidecar(path) if path is not None and path.is_file() else None


def _fmt_duration(seconds: float) -> str:
    seconds = float(seconds)
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min {s:02d} s" if h else (f"{m} min {s:02d} s" if m else f"{seconds:.1f} s")


def build_session_report(processed, *, catalog_row: dict | None = None,
                         sidecar: dict | None = None) -> Report:
    """Build the session report of a processed recording.

    Parameters
    ----------
    processed : ProcessedRecording
        From :func:`neurofeedback.process.process_recording`.
    catalog_row : dict | None
        The session's catalog row (subject, session, notes, …) when it is stored.
    sidecar : dict | None
        The recording's sidecar (found next to the file when not given).

    Returns
    -------
    report : Report
    """
    data = _data_from_processed(processed)
    if sidecar is None:
        sidecar = _find_sidecar(data.path)
    return _build(data, catalog_row, sidecar)


def _build(data: _SessionData, catalog_row: dict | None, sidecar: dict | None) -> Report:
    summary = data.summary
    sidecar = sidecar or {}
    report = _session_head(data, summary, catalog_row or {}, sidecar)
    ann = data.ann
    # in this order: each section adds its figures to the report as it is built
    sections = [
        _recording_section(ann),
        _feedback_section(report, data, sidecar.get("feedback"), ann),
        _quality_section(report, data, summary, ann),
        _spectrum_section(report, data, summary),
        _bands_section(report, data, summary, ann),
        _topography_section(report, data, summary),
        _features_section(summary),
        _provenance_section(summary, data.spectra),
    ]
    report.sections.extend(sec for sec in sections if sec is not None)
    return report


def _find_sidecar(path) -> dict | None:
    """The sidecar beside the recording, or None (also when it is damaged)."""
    from ..io.sidecar import find_sidecar, read_sidecar

    if path is None or not Path(path).is_file():
        return None
    sc = find_sidecar(path)
    if sc is None:
        return None
    try:
        return read_sidecar(sc)
    except RecordingFormatError:  # a damaged sidecar: the report shows the recording without it
        return None


def _session_head(data: _SessionData, summary: dict, row: dict, sidecar: dict) -> Report:
    """The report with its title and metadata (who, what, when, how much was clean)."""
    subject = row.get("subject") or sidecar.get("subject") or "–"
    session = row.get("session") or sidecar.get("session") or "–"
    name = data.path.name if data.path is not None else "(in memory)"
    n_ep, n_clean = summary["n_epochs"], summary["n_clean_epochs"]
    device = row.get("device") or sidecar.get("board_name")
    meta = [
        ("Subject", subject), ("Session", session), ("File", name),
        ("Format", summary["format"] or "–"), ("Device", device or "–"),
        ("Recorded", summary["meas_date"] or "unknown"),
        ("Duration", _fmt_duration(summary["duration_s"])),
        ("Sampling rate", f"{summary['sfreq']:g} Hz"),
        ("Channels", f"{len(summary['channels'])} EEG"
                     + (f"; bad: {', '.join(summary['bad_channels'])}" if summary["bad_channels"] else "")),
        ("Clean data", f"{100 * summary['clean_fraction']:.0f}% of the time, mean over the good "
                       f"channels (each channel's spectra use its own clean segments); "
                       f"{n_clean}/{n_ep} {summary['epoch_s']:g}-s epochs clean on every channel"),
        ("Mains notch", f"{summary['line_freq']:g} Hz" if summary["line_freq"] else "none"),
        ("Reference", reference_line(summary.get("reference"))),
        ("Protocol", row.get("protocol") or sidecar.get("protocol") or "–"),
        ("Notes", row.get("notes") or sidecar.get("notes") or "–"),
        ("Spectra", data.spectra),
    ]
    return Report(kind="session", title=f"EEG session report: {subject}, {session}",
                  subtitle=f"{name} — {summary['meas_date'] or 'date unknown'}", meta=meta)


def _marker_blocks(ann: dict) -> list[tuple]:
    """The annotations that are not artifacts: ``(onset_s, duration_s, description)``."""
    return [(o, d, desc) for o, d, desc in zip(ann["onset"], ann["duration"], ann["description"])
            if not desc.upper().startswith("BAD")]


def _recording_section(ann: dict) -> Section:
    """The blocks and markers of the recording."""
    blocks = _marker_blocks(ann)
    rec_rows = pd.DataFrame({
        "annotation": [d for _, _, d in blocks],
        "onset_s": [float(o) for o, _, _ in blocks],
        "duration_s": [float(d) for _, d, _ in blocks],
    })
    sec = Section("recording", "Recording")
    sec.blocks.append(Block(table=Table("blocks", rec_rows, caption="Blocks and markers",
                                        units={"onset_s": "s", "duration_s": "s"}),
                            text=[] if len(rec_rows) else ["No blocks or markers in this recording."]))
    return sec


def _quality_section(report: Report, data: _SessionData, summary: dict, ann: dict) -> Section:
    """Per-channel quality and the artifact timeline (adds the ``artifact_timeline`` figure)."""
    ch_names, bads = summary["channels"], summary["bad_channels"]
    q = data.quality.copy()
    qt = pd.DataFrame({"channel": q["channel"], "status": q["status"]})
    for col, new, scale in (("std_uv", "std", 1.0), ("railed_fraction", "railed", 100.0),
                            ("line_peak_ratio", "line peak / neighbours", 1.0),
                            ("artifact_fraction", "artifact time", 100.0)):
        if col in q:
            qt[new] = q[col].astype(float) * scale
    cf = summary.get("channel_clean_fraction") or {}
    qt["clean data used"] = [100.0 * cf[c] if cf.get(c) is not None else np.nan for c in q["channel"]]
    report.figures["artifact_timeline"] = plots.plot_artifact_timeline(
        ann, ch_names, summary["duration_s"], bad_channels=bads, epochs=data.epochs,
        ptp_uv=data.ptp_uv, window_s=1.0)
    art = {k: v for k, v in summary["annotations"].items() if k.upper().startswith("BAD")}
    words = ([f"{k}: {v['count']}× ({v['total_s']:.1f} s)" for k, v in sorted(art.items())]
             or ["No stretches were marked as artifacts."])
    sec = Section("quality", "Signal quality", intro=[
        "Channels are bad when railed, flat or noisy; stretches are marked BAD_* by the artifact "
        "rules on the channel they are found on (peak-to-peak amplitude without the alpha band, "
        "step/box deviations, blinks on frontal channels, muscle) or on every channel (movement "
        "seen on most channels at once, disconnects). Each channel's spectra use the 2-s Welch "
        "segments that are clean on that channel ('clean data used'), so a blink costs a frontal "
        "channel a second and the other channels nothing. "
        "Line peak / neighbours: the spectrum at the mains frequency over its median 2–6 Hz away "
        "(about 1–2 without mains; empty without a notch)."])
    sec.blocks.append(Block(figure="artifact_timeline", alt="Artifact timeline", text=words,
                            table=Table("quality", qt, caption="Per-channel quality",
                                        units={"std": "µV", "railed": "%", "line peak / neighbours": "×",
                                               "artifact time": "%", "clean data used": "%"})))
    return sec


def _spectrum_section(report: Report, data: _SessionData, summary: dict) -> Section:
    """The PSD per channel with the bands and the IAF (adds the ``psd`` figure)."""
    bands, ch_names = summary["bands"], summary["channels"]
    report.figures["psd"] = plots.plot_psd(
        data.freqs, data.psd, ch_names, bands=bands, iaf=summary["iaf_hz"],
        bad_channels=summary["bad_channels"], fmax=max(hi for _, hi in bands.values()) + 5,
        line_freq=summary["line_freq"])
    iaf = pd.DataFrame({
        "channel": ch_names,
        "IAF peak": [summary["iaf_hz"].get(c) for c in ch_names],
        "IAF centre of gravity": [summary["iaf_cog_hz"].get(c) for c in ch_names],
        "1/f exponent": [(summary["aperiodic"].get(c) or {}).get("exponent") for c in ch_names],
        **_periodic_columns(summary, ch_names),
    })
    sec = Section("spectrum", "Power spectrum", intro=[
        "Welch PSD averaged over the clean epochs; the bands are shaded and the individual alpha "
        "frequency (IAF, the alpha peak) is marked with a dashed line. The 1/f (aperiodic) fit "
        "and the periodic alpha come from specparam over 2–40 Hz; its R² says how well the "
        "model fits, and a flag marks fits to trust less.", f"Spectra: {data.spectra}."])
    sec.blocks.append(Block(figure="psd", alt="PSD per channel", text=_periodic_warnings(summary),
                            table=Table("iaf", iaf, caption="Alpha peak and aperiodic exponent",
                                        units={"IAF peak": "Hz", "IAF centre of gravity": "Hz",
                                               "periodic alpha": "µV²",
                                               "1/f share of alpha": "fraction"})))
    return sec


#: The words of a specparam fit flag in the report (:data:`neurofeedback.periodic.FLAGS`).
_FLAG_WORDS = {"ok": "ok", "noise_floor": "NOISE FLOOR", "poor_fit": "POOR FIT",
               "fit_failed": "FIT FAILED"}


def _periodic_columns(summary: dict, ch_names) -> dict:
    """The specparam columns of the ``iaf`` table (R², flag, split IAF, periodic alpha)."""
    ap = {c: summary["aperiodic"].get(c) or {} for c in ch_names}
    pa = {c: (summary.get("periodic_alpha") or {}).get(c) or {} for c in ch_names}
    amb = summary.get("iaf_ambiguous") or {}
    return {
        "1/f R²": [ap[c].get("r_squared") for c in ch_names],
        "1/f fit": [_FLAG_WORDS.get(ap[c].get("flag")) for c in ch_names],
        "IAF split": [None if amb.get(c) is None else ("yes" if amb[c] else "no") for c in ch_names],
        "periodic alpha": [pa[c].get("power_uv2") for c in ch_names],
        "1/f share of alpha": [pa[c].get("aperiodic_fraction") for c in ch_names],
    }


def _periodic_warnings(summary: dict) -> list[str]:
    """One sentence per kind of specparam flag and for split alpha peaks, naming the channels."""
    ap = summary.get("aperiodic") or {}
    out = []
    for flag, why in (("noise_floor", "the 1/f exponent is below the noise-floor threshold, so "
                                      "the background is the amplifier's, not the brain's"),
                      ("poor_fit", "the specparam model explains the spectrum poorly (low R²)"),
                      ("fit_failed", "specparam could not fit the spectrum")):
        chans = [c for c, v in ap.items() if (v or {}).get("flag") == flag]
        if chans:
            out.append(f"{_FLAG_WORDS[flag]} on {', '.join(chans)}: {why}.")
    split = [c for c, v in (summary.get("iaf_ambiguous") or {}).items() if v]
    if split:
        out.append(f"IAF SPLIT on {', '.join(split)}: two alpha peaks of comparable height, so "
                   "the IAF is ambiguous.")
    return out


def _bands_section(report: Report, data: _SessionData, summary: dict, ann: dict) -> Section:
    """Band power over the session and per block (adds the ``band_timecourse`` figure)."""
    band_names = list(summary["bands"])
    ep = data.epochs[~data.epochs["channel"].isin(summary["bad_channels"])]
    report.figures["band_timecourse"] = plots.plot_band_timecourse(ep, bands=band_names,
                                                                   annotations=ann)
    sec = Section("bands", "Band power over the session", intro=[
        "Relative band power per epoch, averaged over the good channels; the blocks of the "
        "protocol are shaded. Faint dots are epochs rejected for artifacts."])
    block_table = _block_band_table(summary, band_names)
    sec.blocks.append(Block(figure="band_timecourse", alt="Band power over the session",
                            table=block_table))
    return sec


def _topography_section(report: Report, data: _SessionData, summary: dict) -> Section | None:
    """Scalp maps of relative band power (adds the ``topomap`` figure); None with too few
    positioned good channels."""
    topo = _topography(data.ch_pos, summary, list(summary["bands"]))
    if topo is None:
        return None
    values, info = topo
    report.figures["topomap"] = plots.plot_topomaps(values, info)
    sec = Section("topography", "Topography", intro=[
        f"Relative band power at the {len(info['ch_names'])} good channels with electrode "
        "positions, interpolated over the scalp."])
    sec.blocks.append(Block(figure="topomap", alt="Topographic maps of relative band power"))
    return sec


def _features_section(summary: dict) -> Section:
    """The session's features per channel, with units, and the frontal alpha asymmetry."""
    sec = Section("features", "Features", intro=[
        "Session values over the clean epochs. Absolute power in µV², relative power as a "
        "fraction of the 1–45 Hz power, ratios of absolute powers; FAA = ln(alpha right) − "
        "ln(alpha left), a log ratio without a unit."])
    sec.blocks.append(Block(table=_features_table(summary, summary["channels"])))
    faa = summary.get("faa") or {}
    if faa:
        faa_t = pd.DataFrame({"pair": list(faa), "FAA": [_faa_value(v) for v in faa.values()]})
        sec.blocks.append(Block(table=Table("faa", faa_t, caption="Frontal alpha asymmetry",
                                            units={"FAA": "ln ratio"})))
    return sec


def _provenance_section(summary: dict, spectra: str) -> Section:
    """How the numbers were made: input, settings, software, where the spectra come from."""
    prov = summary.get("provenance") or {}
    table = _provenance_table(prov, summary)
    table = pd.concat([table, pd.DataFrame([("spectra shown", spectra)], columns=table.columns)],
                      ignore_index=True)
    return Section("provenance", "Provenance", blocks=[
        Block(table=Table("provenance", table,
                          caption="How these numbers were made"))])


_METRIC_LABELS = {
    "relative_power": "relative {bands} power (fraction of broadband)",
    "absolute_power": "absolute {bands} power (µV²)",
    "band_ratio": "{bands} power ratio",
    "faa": "FAA, ln ratio ({bands})",
}


def _feedback_section(report: Report, data: _SessionData, summary: dict | None, ann) -> Section | None:
    """The feedback of a neurofeedback session: a plot from its log, the summary as a table."""
    from ..acquisition.session import find_feedback_log, read_feedback_log

    log = None
    log_path = find_feedback_log(data.path) if data.path is not None else None
    if log_path is not None:
        try:
            log = read_feedback_log(log_path)
        except RecordingFormatError as exc:
            logger.warning("%s; the report shows no feedback plot", exc)
    if not isinstance(summary, dict):
        summary = None
    if summary is None and (log is None or log.empty):
        return None
    summary = summary or {}
    config = summary.get("protocol_config") or {}
    target = config.get("target_reward_rate")
    bands = " / ".join(summary.get("bands") or []) or "band"
    metric = summary.get("metric")
    label = _METRIC_LABELS.get(metric, "{bands} metric").format(bands=bands)
    sec = Section("feedback", "Neurofeedback", intro=[
        "The live feedback of this session, as the person received it: each update computes the "
        "protocol's metric on the last window of EEG; during the baseline there is no reward "
        "and the threshold is set from the baseline's distribution; in training the update is "
        "rewarded when the metric passes the threshold, which then adapts to keep the reward "
        "rate near its target. Artifact and inhibited windows are never rewarded."])
    text = []
    if summary:
        rate, n_train = summary.get("reward_rate"), summary.get("n_training") or 0
        if rate is not None:
            text.append(f"Rewarded {100 * rate:.0f}% of {n_train} training updates"
                        + (f" (target {100 * target:.0f}%)" if target is not None else "") + ".")
        change, pct = summary.get("metric_change"), summary.get("metric_change_pct")
        if change is not None:
            text.append(f"Training median of the metric vs. the baseline median: {change:+.4g}"
                        + (f" ({pct:+.1f}%)" if pct is not None else "") + ".")
    if log is not None and not log.empty:
        report.figures["feedback"] = plots.plot_feedback(log, metric_label=label,
                                                         target_rate=target, annotations=ann)
        if not summary:
            train = log[log["phase"] == "training"]
            if len(train):
                text.append(f"Rewarded {100 * train['reward'].mean():.0f}% of {len(train)} "
                            "training updates (from the feedback log; the session has no "
                            "feedback summary, e.g. after a recovered crash).")
    elif log_path is not None:
        text.append(f"The feedback log {log_path.name} holds no update (or could not be read), "
                    "so there is no plot; the numbers come from the session's sidecar.")
    else:
        text.append("The feedback log (<session>_feedback.tsv) is not beside this recording, so "
                    "there is no plot; the numbers come from the session's sidecar.")
    table = Table("feedback_summary", _feedback_table(summary), caption="Feedback summary") \
        if summary else None
    sec.blocks.append(Block(figure="feedback" if "feedback" in report.figures else None,
                            alt="Feedback metric, threshold and rewards over the session",
                            text=text, table=table))
    return sec


def _feedback_table(summary: dict) -> pd.DataFrame:
    base = summary.get("baseline") or {}
    delay = summary.get("delay") or {}
    comp = summary.get("compute") or {}
    config = summary.get("protocol_config") or {}

    def num(v, fmt="{:.4g}", unit=""):
        return "–" if v is None else fmt.format(v) + unit

    def pct(v):
        return "–" if v is None else f"{100 * v:.1f}%"

    edges = summary.get("band_edges_hz") or []
    items = [
        ("protocol", summary.get("protocol")),
        ("metric", f"{summary.get('metric')} ({summary.get('direction')})"),
        ("bands", ", ".join(f"{b} {lo:g}–{hi:g} Hz" for b, (lo, hi)
                            in zip(summary.get("bands") or [], edges))),
        ("channels", ", ".join(map(str, summary.get("used_channels") or [])) or None),
        ("window / update rate", f"{config.get('window_s', '–')} s / {config.get('update_hz', '–')} Hz"),
        ("baseline", f"{num(base.get('duration_s'), '{:g}', ' s')}, {base.get('n_clean', '–')} clean "
                     f"of {base.get('n_windows', '–')} windows"),
        ("baseline median (IQR)", f"{num(base.get('median'))} ({num(base.get('iqr'))})"),
        ("threshold from the baseline",
         f"{num(base.get('threshold'))} (percentile {num(base.get('percentile'), '{:g}')})"),
        ("final threshold", num(summary.get("final_threshold"))),
        ("training updates", summary.get("n_training")),
        ("rewarded", summary.get("n_rewarded")),
        ("reward rate (target)", f"{pct(summary.get('reward_rate'))} "
                                 f"({pct(config.get('target_reward_rate'))})"),
        ("reward rate of clean windows", pct(summary.get("clean_reward_rate"))),
        ("time above threshold", num(summary.get("time_above_threshold_s"), "{:.1f}", " s")),
        ("artifact windows (no reward)", summary.get("n_artifact")),
        ("inhibited windows (no reward)", summary.get("n_inhibited")),
        ("metric change from baseline", f"{num(summary.get('metric_change'), '{:+.4g}')} "
                                        f"({num(summary.get('metric_change_pct'), '{:+.1f}', '%')})"),
        ("delay median / p99", "not measured (the board's clock is not wall time, e.g. playback)"
         if not delay.get("n") else f"{num(delay.get('median_ms'), '{:.1f}')} / "
                                    f"{num(delay.get('p99_ms'), '{:.1f}')} ms"),
        ("compute median / p99", f"{num(comp.get('median_ms'), '{:.2f}')} / "
                                 f"{num(comp.get('p99_ms'), '{:.2f}')} ms"),
        ("window restarts after disconnects", summary.get("window_restarts")),
    ]
    return pd.DataFrame([(k, "–" if v is None else str(v)) for k, v in items],
                        columns=["item", "value"])


def _faa_value(v):
    if isinstance(v, dict):
        for key in ("faa", "value", "ln_ratio"):
            if key in v:
                return v[key]
        return None
    return v


def _block_band_table(summary: dict, band_names) -> Table | None:
    """Relative band power per block: the block values of the summary (the clean epochs lying
    wholly inside the block, as the per-block metrics and trends use them), mean of the good
    channels; a block without values says why."""
    blocks = summary.get("blocks") or {}
    if not blocks:
        return None
    bads = set(summary.get("bad_channels") or ())
    rows = []
    for label, b in sorted(blocks.items(), key=lambda kv: kv[1].get("onset_s") or 0.0):
        rel = ((b.get("band_power") or {}).get("relative") or {})
        good = [v for ch, v in rel.items() if v and ch not in bads]
        row = {"block": label, "clean epochs": b.get("n_clean_epochs")}
        for band in band_names:
            vals = [v[band] for v in good if v.get(band) is not None]
            row[band] = float(np.mean(vals)) if vals else None
        row["note"] = b.get("reason") or ""
        rows.append(row)
    return Table("block_band_power", pd.DataFrame(rows),
                 caption="Relative band power per block (mean of good channels)",
                 units={b: "fraction" for b in band_names})


def _features_table(summary: dict, ch_names) -> Table:
    rel = summary["band_power"]["relative"]
    ab = summary["band_power"]["absolute"]
    bands = list(summary["bands"])
    rows = []
    for c in ch_names:
        row = {"channel": c}
        for b in bands:
            row[f"{b} abs"] = (ab.get(c) or {}).get(b)
        for b in bands:
            row[f"{b} rel"] = (rel.get(c) or {}).get(b)
        for name, v in ((summary.get("ratios") or {}).get(c) or {}).items():
            row[name] = v
        rows.append(row)
    frame = pd.DataFrame(rows)
    units = {f"{b} abs": "µV²" for b in bands}
    units.update({f"{b} rel": "fraction" for b in bands})
    return Table("features", frame, caption="Band powers and ratios per channel", units=units)


def _provenance_table(prov: dict, summary: dict) -> pd.DataFrame:
    inp = prov.get("input") or {}
    spectral = prov.get("spectral") or {}
    items = [
        ("input file", inp.get("path")),
        ("input SHA-256", inp.get("sha256")),
        ("input format", inp.get("format") or summary.get("format")),
        ("config hash", prov.get("config_hash")),
        ("processed", prov.get("created")),
        ("units", ", ".join(f"{k}: {v}" for k, v in (prov.get("units") or {}).items())),
        ("bands (Hz)", ", ".join(f"{k} {lo:g}–{hi:g}" for k, (lo, hi) in summary["bands"].items())),
        ("epochs", f"{summary['epoch_s']:g} s, step {summary['step_s']:g} s"),
        ("notch", f"{summary['line_freq']:g} Hz" if summary["line_freq"] else "none"),
        ("reference", reference_line(summary.get("reference"))),
        ("spectral", ", ".join(f"{k}={v}" for k, v in spectral.items())),
    ]
    for k, v in (prov.get("software") or {}).items():
        items.append((k, v))
    return pd.DataFrame([(k, "–" if v is None else str(v)) for k, v in items],
                        columns=["item", "value"])


def _topography(ch_pos, summary: dict, band_names):
    """Good EEG channels with finite, distinct positions: their relative powers and an info
    holding those channels at their positions (head frame, m)."""
    good = [c for c in summary["channels"] if c not in summary["bad_channels"]
            and all((summary["band_power"]["relative"].get(c) or {}).get(b) is not None
                    for b in band_names)]
    if len(good) < MIN_TOPO_CHANNELS:
        return None
    index = {c: i for i, c in enumerate(summary["channels"])}
    pos = np.array([ch_pos[index[c]] for c in good], float).reshape(len(good), 3)
    ok = np.isfinite(pos).all(axis=1) & (np.linalg.norm(np.nan_to_num(pos), axis=1) > 0)
    if ok.sum() < MIN_TOPO_CHANNELS:
        return None
    keep = [c for c, k in zip(good, ok) if k]
    if len({tuple(np.round(p, 6)) for p in pos[ok]}) < len(keep):
        return None
    import mne

    info = mne.create_info(keep, float(summary["sfreq"]), "eeg")
    info.set_montage(mne.channels.make_dig_montage(ch_pos=dict(zip(keep, pos[ok])), coord_frame="head"),
                     verbose="error")
    values = {b: {c: summary["band_power"]["relative"][c][b] for c in keep} for b in band_names}
    return values, info
