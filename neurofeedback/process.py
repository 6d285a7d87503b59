"""One recording from file to features: read → preprocess → epochs → PSD → features.

This is the composition the CLI (``inspect``, ``features``) and the Prefect flows call; each step
is a plain function of its own module.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import mne
import pandas as pd

from .config import Settings, load_settings
from .features import SessionFeatures, compute_features
from .preprocessing import check_sampling_rate, preprocess
from .provenance import build_provenance, file_sha256

logger = logging.getLogger("neurofeedback")

__all__ = ["ProcessedRecording", "process_recording", "process_raw", "write_table"]


@dataclass(frozen=True)
class ProcessedRecording:
    """A processed recording.

    Attributes
    ----------
    path : Path | None
    format : str | None
        The format it was read as.
    raw : mne.io.Raw
        The preprocessed recording (volts, with bads and ``BAD_*`` annotations).
    quality : pandas.DataFrame
        Per-channel quality (see :func:`neurofeedback.preprocessing.preprocess`).
    line_freq : float | None
        Notch frequency used.
    features : SessionFeatures
    timings : dict
        Seconds spent in each step.
    reference : dict | None
        What the EEG was recorded against and is referenced to now
        (:attr:`neurofeedback.preprocessing.PreprocessResult.reference`).
    """

    path: Path | None
    format: str | None
    raw: mne.io.BaseRaw
    quality: pd.DataFrame
    line_freq: float | None
    features: SessionFeatures
    timings: dict = field(default_factory=dict)
    reference: dict | None = None

    def summary(self) -> dict:
        """Return the JSON-serialisable session summary (the ``inspect --json`` object).

        The whole-session values (``band_power``, ``ratios``, ``iaf_hz``, ``iaf_cog_hz``,
        ``faa``, ``aperiodic``, ``periodic_alpha``, ``iaf_ambiguous``) come from each channel's
        clean segments; ``blocks`` holds the same values per block from the clean segments inside
        it, with its onset, duration, epoch counts and clean fractions (see
        :func:`neurofeedback.features.compute_features_array`). ``clean_fraction`` is the mean
        over the good channels of the fraction of the recording's time each channel's spectra
        use, ``channel_clean_fraction`` the per-channel ones (``None`` for bad channels), and
        ``n_clean_epochs`` counts the epochs clean on every good channel.
        """
        raw = self.raw
        meas = raw.info["meas_date"]
        s = self.features.summary
        return {
            "path": str(self.path) if self.path else None,
            "format": self.format,
            "sfreq": float(raw.info["sfreq"]),
            "duration_s": raw.n_times / raw.info["sfreq"],
            "meas_date": meas.isoformat() if meas is not None else None,
            "channels": list(self.quality["channel"]),
            "bad_channels": list(raw.info["bads"]),
            "line_freq": self.line_freq,
            "reference": self.reference,
            "epoch_s": s["epoch_s"],
            "step_s": s["step_s"],
            "n_epochs": s["n_epochs"],
            "n_clean_epochs": s["n_clean_epochs"],
            "segment_s": s["segment_s"],
            "clean_fraction": s["clean_fraction"],
            "channel_clean_fraction": s["channel_clean_fraction"],
            "bands": s["bands"],
            "units": {
                "absolute": "uV^2", "relative": "fraction of broadband power",
                "log10": "log10(uV^2)", "iaf": "Hz", "faa": "ln ratio (unitless), ln(alpha right) - ln(alpha left)",
                "aperiodic": "exponent unitless, offset log10(uV^2/Hz), r_squared and error "
                             "(mean absolute) of the specparam fit in log10 power",
                "periodic_alpha": "cf_hz Hz, pw_log10 log10 above the 1/f fit, bw_hz Hz, "
                                  "power_uv2 uV^2 above the 1/f fit, aperiodic_fraction fraction",
            },
            "band_power": s["band_power"],
            "ratios": s["ratios"],
            "iaf_hz": s["iaf_hz"],
            "iaf_cog_hz": s["iaf_cog_hz"],
            "faa": s["faa"],
            "aperiodic": s["aperiodic"],
            "periodic_alpha": s["periodic_alpha"],
            "iaf_ambiguous": s["iaf_ambiguous"],
            "blocks": s["blocks"],
            "quality": _quality_records(self.quality, s["channel_clean_fraction"]),
            "annotations": _annotation_counts(raw.annotations),
            "provenance": self.features.provenance,
        }


def _quality_records(q: pd.DataFrame, clean: dict | None = None) -> list[dict]:
    """The quality table as records, each with the channel's ``clean_fraction`` (of the
    recording's time used for its spectra; ``None`` for a bad channel)."""
    out = []
    for row in q.itertuples(index=False):
        rec = {}
        for k, v in row._asdict().items():
            if isinstance(v, float) and v != v:  # NaN
                v = None
            elif hasattr(v, "item"):
                v = v.item()
            rec[k] = v
        if clean is not None:
            rec["clean_fraction"] = clean.get(rec.get("channel"))
        out.append(rec)
    return out


def _annotation_counts(ann: mne.Annotations) -> dict:
    """Per description: ``count``, ``total_s`` (summed over the annotations, so a blink marked on
    AF7 and AF8 counts twice) and ``channels`` (the channels its channel-specific annotations
    name, sorted; empty when every annotation applies to all channels)."""
    counts: dict[str, dict] = {}
    for d, dur, chs in zip(ann.description, ann.duration, ann.ch_names):
        c = counts.setdefault(str(d), {"count": 0, "total_s": 0.0, "channels": set()})
        c["count"] += 1
        c["total_s"] += float(dur)
        c["channels"].update(str(ch) for ch in chs)
    for c in counts.values():
        c["channels"] = sorted(c["channels"])
    return counts


def process_raw(raw, settings: Settings | None = None, *, line_freq="config", path=None, fmt=None,
                input_sha256=None, channel_names=None) -> ProcessedRecording:
    """Preprocess a recording already in memory and compute its features.

    Parameters
    ----------
    raw : mne.io.Raw
        Recording in volts.
    settings : Settings | None
    line_freq : 50 | 60 | "auto" | None | "config"
        See :func:`neurofeedback.preprocessing.preprocess`.
    path, fmt, input_sha256
        Where it came from, for the provenance.
    channel_names : sequence of str | None
        The EEG names the recording was read with when they were given (not the file's own),
        for the provenance and its ``config_hash``; ``raw`` already carries them.

    Returns
    -------
    processed : ProcessedRecording
    """
    settings = settings or load_settings()
    check_sampling_rate(raw, settings, path=path)  # a one-line error before any filter design
    t0 = time.perf_counter()
    pre = preprocess(raw, settings, line_freq=line_freq)
    t1 = time.perf_counter()
    name = Path(path).name if path else "recording"
    notch = f"notch {pre.line_freq:g} Hz" if pre.line_freq else "no notch"
    logger.info("%s: preprocessed in %.2f s (%s; band-pass %g-%g Hz; bad channels: %s; %d artifact "
                "annotations)", name, t1 - t0, notch, settings.preprocessing.l_freq,
                settings.preprocessing.h_freq, ", ".join(pre.raw.info["bads"]) or "none",
                len(pre.artifacts))
    prov = build_provenance(
        settings, input_path=path, input_sha256=input_sha256, fmt=fmt,
        extra={"line_freq": pre.line_freq, "reference": pre.reference, "ocular": pre.ocular,
               "muscle": pre.muscle}, channel_names=channel_names,
    )
    feats = compute_features(pre.raw, settings, provenance=prov, data_uv=pre.data_uv)
    t2 = time.perf_counter()
    if logger.isEnabledFor(logging.INFO):  # the session values are computed on first use
        summ = feats.summary
        logger.info("%s: features in %.2f s (%.0f%% clean data; %d of %d %g-s epochs clean on "
                    "every channel)", name, time.perf_counter() - t1,
                    100 * summ.get("clean_fraction", 0.0), summ.get("n_clean_epochs", 0),
                    summ.get("n_epochs", 0), summ.get("epoch_s", 0))
    return ProcessedRecording(
        path=Path(path) if path else None, format=fmt, raw=pre.raw, quality=pre.quality,
        line_freq=pre.line_freq, features=feats,
        timings={"preprocess_s": t1 - t0, "features_s": t2 - t1}, reference=pre.reference,
    )


def process_recording(path, *, format="auto", board=None, line_freq="config",
                      settings: Settings | None = None, allow_precomputed=False, channel_names=None,
                      stream=None):
    """Read a recording and compute its features.

    Parameters
    ----------
    path : path-like
        Any recording :func:`neurofeedback.io.read_recording` reads.
    format : str
        Format name or ``"auto"``.
    board : str | int | None
        BrainFlow board for BrainFlow CSV files without a sidecar.
    line_freq : 50 | 60 | "auto" | None | "config"
    settings : Settings | None
    allow_precomputed : bool
        Return a Mind Monitor band-power export's
        :class:`~neurofeedback.io.PrecomputedBandPowers` as they are (there is no raw EEG to
        process) instead of raising; the file is read once either way. The command line does.
    channel_names : str | sequence of str | None
        EEG names in file order (see :func:`neurofeedback.io.read_recording`).
    stream : str | None
        XDF only: the name of the stream to read (see :func:`neurofeedback.io.read_recording`).

    Returns
    -------
    processed : ProcessedRecording | neurofeedback.io.PrecomputedBandPowers
        The latter only with ``allow_precomputed=True``.

    Raises
    ------
    RecordingFormatError
        When the file cannot be read (one line naming the file and the problem);
        :class:`~neurofeedback.errors.PrecomputedFeaturesError` for a Mind Monitor band-power
        export unless ``allow_precomputed``.
    """
    from .io import detect_format, read_recording
    from .io._raw import check_channel_names

    t0 = time.perf_counter()
    fmt = detect_format(path) if format == "auto" else format
    rec = read_recording(path, format=fmt, board=board, channel_names=channel_names,
                         allow_precomputed=allow_precomputed, stream=stream)
    t1 = time.perf_counter()
    if not isinstance(rec, mne.io.BaseRaw):
        logger.info("%s: read as %s in %.2f s (precomputed band powers, no raw EEG)",
                    Path(path).name, fmt, t1 - t0)
        return rec  # precomputed band powers
    logger.info("%s: read as %s in %.2f s (%d channels at %g Hz, %.1f s)", Path(path).name, fmt,
                t1 - t0, len(rec.ch_names), rec.info["sfreq"], rec.times[-1] if rec.n_times else 0.0)
    sha = file_sha256(path)
    names = check_channel_names(channel_names)
    out = process_raw(rec, settings, line_freq=line_freq, path=path, fmt=fmt, input_sha256=sha,
                      channel_names=names)
    out.timings.update(read_s=t1 - t0)
    return out


def write_table(table: pd.DataFrame, provenance: dict, out) -> Path:
    """Write a table to Parquet or CSV, with its provenance.

    Parquet files carry the provenance as JSON in the schema metadata (key ``neurofeedback``);
    CSV files get it in ``<out>.provenance.json`` beside them.

    Parameters
    ----------
    table : pandas.DataFrame
    provenance : dict
    out : path-like
        ``*.parquet`` or ``*.csv``.

    Returns
    -------
    path : Path
    """
    import json

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(
            f"Invalid value for the 'out' parameter. Allowed suffixes are '.parquet' and '.csv', "
            f"but got {out.suffix or out.name!r} instead."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    blob = json.dumps(provenance, default=str)
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        t = pa.Table.from_pandas(table, preserve_index=False)
        meta = dict(t.schema.metadata or {})
        meta[b"neurofeedback"] = blob.encode()
        pq.write_table(t.replace_schema_metadata(meta), out)
    else:
        from ._csv import write_csv

        write_csv(table, out)  # text cells spreadsheet-safe; Parquet above keeps them verbatim
        out.with_name(out.name + ".provenance.json").write_text(blob)
    return out
