"""Stored spectra: what a session report needs beyond the summary, kept so it is never recomputed.

When the store imports a session (:func:`neurofeedback.store.ingest_file`) it writes, beside the
per-epoch features and the summary, ``…_psd.npz`` in the session's derivatives folder:

==========================  ====================================================================
``freqs_hz``                (n_freqs,) Hz, the Welch grid (0.5 Hz with the default 2-s segments)
``channels``                (n_channels,) EEG channel names, the order of every array below
``psd_uv2_per_hz``          (n_channels, n_freqs) µV²/Hz: each channel's mean PSD over its clean
                            Welch segments — exactly ``SessionFeatures.psd``, from which the
                            session's band powers, IAF and 1/f fit were computed (NaN rows: bad
                            channels, or no clean segment)
``n_segments``              (n_channels,) the segments averaged (0 for bad channels)
``block_labels``            (n_blocks,) the blocks with values (blocks without values are absent)
``block_psd_uv2_per_hz``    (n_blocks, n_channels, n_freqs) µV²/Hz, each block's mean PSD
``block_n_segments``        (n_blocks, n_channels)
``ptp_uv``                  (n_channels, n_seconds) µV, peak-to-peak of the preprocessed signal in
                            consecutive 1-s windows (the artifact timeline's background)
``ch_pos_m``                (n_channels, 3) m, head-frame electrode positions (NaN: none)
``annot_*``                 the preprocessed recording's annotations (``BAD_*`` artifacts and the
                            blocks/markers): ``onset_s`` from the first sample, ``duration_s``,
                            ``description``, ``ch_names`` (JSON list of lists)
``meta``                    JSON: ``kind``, ``version`` of this layout, ``units``,
                            ``pipeline_version`` (neurofeedback), ``method_version``,
                            ``config_hash``, ``sfreq``, ``segment_s``, ``window``, ``created``
==========================  ====================================================================

Why NPZ and not Parquet: the file holds arrays of different shapes (one spectrum per channel, one
per block and channel, one peak-to-peak per channel and second), which NPZ keeps as they are, in
one file, bit-exact (float64), and reads back with NumPy alone in milliseconds; Parquet would need
a long table per shape (three files, or one table with a pivot on every read). The file is read
with ``allow_pickle=False`` (text as fixed-width unicode arrays, no pickled objects), so reading a
stored file runs no code. The per-epoch features stay in Parquet, the format other tools read.

Sessions stored by an older version have no ``…_psd.npz``: :func:`read_spectra` raises
:class:`FileNotFoundError` and the session report falls back to processing the recording (and
says so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

__all__ = ["LAYOUT_VERSION", "StoredSpectra", "annotations_dict", "channel_positions", "ptp_per_second",
           "read_spectra", "spectra_path", "write_spectra"]

#: The version of the ``…_psd.npz`` layout (raised when its keys change meaning).
LAYOUT_VERSION = 1
_KIND = "neurofeedback-session-spectra"
UNITS = {"freqs_hz": "Hz", "psd_uv2_per_hz": "uV^2/Hz", "block_psd_uv2_per_hz": "uV^2/Hz",
         "ptp_uv": "uV (peak-to-peak in consecutive 1-s windows)", "ch_pos_m": "m (head frame)",
         "annot_onset_s": "s from the first sample", "annot_duration_s": "s"}


@dataclass(frozen=True)
class StoredSpectra:
    """A session's stored spectra (see the module docstring for each field's shape and unit).

    Attributes
    ----------
    path : Path
    freqs : ndarray, shape (n_freqs,), Hz
    channels : list of str
    psd : ndarray, shape (n_channels, n_freqs), µV²/Hz
    n_segments : ndarray of int, shape (n_channels,)
    block_psd : dict
        ``{label: (psd, n_segments)}`` with ``psd`` of shape (n_channels, n_freqs), µV²/Hz.
    ptp_uv : ndarray, shape (n_channels, n_seconds), µV
    ch_pos : ndarray, shape (n_channels, 3), m (NaN rows: no position)
    annotations : dict
        ``onset`` (s from the first sample), ``duration`` (s), ``description``, ``ch_names``.
    meta : dict
        ``pipeline_version``, ``method_version``, ``config_hash``, ``sfreq``, ``units``, …
    """

    path: Path
    freqs: np.ndarray
    channels: list
    psd: np.ndarray
    n_segments: np.ndarray
    block_psd: dict
    ptp_uv: np.ndarray
    ch_pos: np.ndarray
    annotations: dict
    meta: dict

    @property
    def pipeline_version(self) -> str:
        """The neurofeedback version (and method generation) that computed the spectra."""
        return (f"neurofeedback {self.meta.get('pipeline_version', 'unknown')} "
                f"(method version {self.meta.get('method_version', '?')}, "
                f"config {self.meta.get('config_hash', '?')})")


def spectra_path(features_path) -> Path:
    """Return the ``…_psd.npz`` beside a session's ``…_features.parquet``."""
    p = Path(features_path)
    return p.with_name(p.name.replace("_features.parquet", "_psd.npz"))


def annotations_dict(raw) -> dict:
    """A recording's annotations as plain arrays, onsets in seconds from its first sample.

    Returns
    -------
    annotations : dict
        ``onset`` (ndarray, s), ``duration`` (ndarray, s), ``description`` (list of str) and
        ``ch_names`` (list of tuples of str: the channels an annotation applies to, empty = all).
    """
    ann = raw.annotations
    onset = np.asarray(ann.onset, float) - raw.first_time if len(ann) else np.empty(0)
    if ann.orig_time is None and len(ann):
        onset = np.asarray(ann.onset, float)
    return {"onset": onset, "duration": np.asarray(ann.duration, float),
            "description": [str(d) for d in ann.description],
            "ch_names": [tuple(c) for c in ann.ch_names]}


def ptp_per_second(raw, ch_names) -> np.ndarray:
    """Peak-to-peak amplitude of each channel in consecutive 1-s windows.

    Parameters
    ----------
    raw : mne.io.Raw
        Volts.
    ch_names : list of str

    Returns
    -------
    ptp : ndarray, shape (n_channels, n_seconds), µV
        ``n_seconds`` whole windows (a last partial second is left out).
    """
    sf = int(round(raw.info["sfreq"]))
    data = raw.get_data(picks=list(ch_names)) * 1e6
    n_win = data.shape[1] // sf
    if n_win == 0:
        return np.empty((len(ch_names), 0))
    win = data[:, : n_win * sf].reshape(len(ch_names), n_win, sf)
    return win.max(axis=2) - win.min(axis=2)


def channel_positions(raw, ch_names) -> np.ndarray:
    """Electrode positions of ``ch_names``, shape (n_channels, 3), m, head frame; NaN rows for
    channels without a (finite, non-zero) position."""
    pos = np.full((len(ch_names), 3), np.nan)
    by_name = {ch["ch_name"]: ch for ch in raw.info["chs"]}
    for i, c in enumerate(ch_names):
        loc = np.asarray(by_name[c]["loc"][:3], float)
        if np.isfinite(loc).all() and np.linalg.norm(loc) > 0:
            pos[i] = loc
    return pos


def _text(values) -> np.ndarray:
    """Strings as a fixed-width unicode array (loads without pickle)."""
    values = [str(v) for v in values]
    return np.array(values, dtype=f"<U{max([1, *map(len, values)])}")


def write_spectra(processed, path) -> Path:
    """Write a processed recording's spectra (and the report's artifact timeline data) as NPZ.

    Parameters
    ----------
    processed : neurofeedback.process.ProcessedRecording
    path : path-like
        Destination; ``.npz`` is used as given (a temporary name ending in ``.npz`` works).

    Returns
    -------
    path : Path
    """
    from ..io.sidecar import software_versions

    feats = processed.features
    ch_names = list(processed.quality["channel"])
    n_ch, n_f = len(ch_names), feats.freqs.size
    labels = list(feats.block_psd)
    block_psd = (np.stack([feats.block_psd[b][0] for b in labels]) if labels
                 else np.empty((0, n_ch, n_f)))
    block_n = (np.stack([feats.block_psd[b][1] for b in labels]) if labels
               else np.empty((0, n_ch), np.int64))
    ann = annotations_dict(processed.raw)
    prov = feats.provenance or {}
    spectral = prov.get("spectral") or {}
    meta = {
        "kind": _KIND, "version": LAYOUT_VERSION, "units": UNITS,
        "pipeline_version": (prov.get("software") or {}).get("neurofeedback")
        or software_versions().get("neurofeedback", "unknown"),
        "method_version": prov.get("method_version"), "config_hash": prov.get("config_hash"),
        "sfreq": float(processed.raw.info["sfreq"]), "segment_s": spectral.get("segment_s"),
        "overlap": spectral.get("overlap"), "window": spectral.get("window"),
        "input_sha256": (prov.get("input") or {}).get("sha256"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    n_seg = feats.n_segments if feats.n_segments is not None else np.zeros(n_ch, np.int64)
    path = Path(path)
    with open(path, "wb") as fh:  # a file object: np.savez adds no second suffix to a temp name
        np.savez_compressed(
            fh, freqs_hz=np.asarray(feats.freqs, np.float64), channels=_text(ch_names),
            psd_uv2_per_hz=np.asarray(feats.psd, np.float64), n_segments=np.asarray(n_seg, np.int64),
            block_labels=_text(labels), block_psd_uv2_per_hz=block_psd.astype(np.float64),
            block_n_segments=block_n.astype(np.int64),
            ptp_uv=ptp_per_second(processed.raw, ch_names).astype(np.float64),
            ch_pos_m=channel_positions(processed.raw, ch_names),
            annot_onset_s=np.asarray(ann["onset"], np.float64),
            annot_duration_s=np.asarray(ann["duration"], np.float64),
            annot_description=_text(ann["description"]),
            annot_ch_names=np.array(json.dumps([list(c) for c in ann["ch_names"]])),
            meta=np.array(json.dumps(meta, default=str)),
        )
    return path


def read_spectra(path) -> StoredSpectra:
    """Read a session's ``…_psd.npz`` (see the module docstring).

    Parameters
    ----------
    path : path-like
        The ``…_psd.npz`` file (:func:`spectra_path` of the session's features file).

    Returns
    -------
    spectra : StoredSpectra

    Raises
    ------
    FileNotFoundError
        There is no such file (a session stored before spectra were kept).
    ValueError
        The file is not a stored-spectra file of a layout this version reads.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("kind") != _KIND or meta.get("version") != LAYOUT_VERSION:
                raise ValueError(f"{path}: not a stored-spectra file of layout {LAYOUT_VERSION} "
                                 f"(kind {meta.get('kind')!r}, version {meta.get('version')!r})")
            labels = [str(b) for b in z["block_labels"]]
            block_psd, block_n = z["block_psd_uv2_per_hz"], z["block_n_segments"]
            return StoredSpectra(
                path=path, freqs=z["freqs_hz"], channels=[str(c) for c in z["channels"]],
                psd=z["psd_uv2_per_hz"], n_segments=z["n_segments"],
                block_psd={b: (block_psd[i], block_n[i]) for i, b in enumerate(labels)},
                ptp_uv=z["ptp_uv"], ch_pos=z["ch_pos_m"],
                annotations={"onset": z["annot_onset_s"], "duration": z["annot_duration_s"],
                             "description": [str(d) for d in z["annot_description"]],
                             "ch_names": [tuple(c) for c in json.loads(str(z["annot_ch_names"]))]},
                meta=meta)
    except (KeyError, OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        if isinstance(exc, FileNotFoundError) or str(exc).startswith(f"{path}: "):
            raise
        raise ValueError(f"{path}: not a readable stored-spectra file ({exc})") from None
