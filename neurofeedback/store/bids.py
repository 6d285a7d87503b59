"""The BIDS copy of each imported recording (mne-bids) and its derivatives.

Layout (see :mod:`neurofeedback.home`)::

    <home>/bids/
      dataset_description.json, participants.tsv, README        mne-bids (dataset level)
      sub-<id>/ses-<stamp>/sub-<id>_ses-<stamp>_scans.tsv        mne-bids
      sub-<id>/ses-<stamp>/eeg/sub-<id>_ses-<stamp>_task-<task>_eeg.vhdr (+ .vmrk, .eeg, .json,
          _channels.tsv, _events.tsv, electrodes)               the raw recording, BrainVision
      derivatives/neurofeedback/
        dataset_description.json
        sub-<id>/ses-<stamp>/eeg/sub-<id>_ses-<stamp>_task-<task>_features.parquet
                                                                 per-epoch features + provenance
        sub-<id>/ses-<stamp>/eeg/sub-<id>_ses-<stamp>_task-<task>_summary.json
                                                                 the session summary
        sub-<id>/ses-<stamp>/eeg/sub-<id>_ses-<stamp>_task-<task>_recording.json
                                                                 the source's sidecar, if any
        sub-<id>/ses-<stamp>/eeg/sub-<id>_ses-<stamp>_task-<task>_psd.npz
                                                                 mean PSD per channel and block,
                                                                 artifact timeline (store.spectra)
      .neurofeedback.lock                                        the write lock

The raw data are written as read (volts → float32 µV in BrainVision: a relative error below
2⁻²⁴ of each value), with the processing's notch frequency as ``PowerLineFrequency``, and
referenced as recorded: the ``_eeg.json`` says to what (``EEGReference``, e.g. ``Fpz`` for a
Muse; "n/a" when nothing says), and the BrainVision reader reads it back.

Concurrency: mne-bids rewrites dataset-level files (``participants.tsv``, ``scans.tsv``) on every
write, so every writer takes an exclusive OS lock on ``.neurofeedback.lock`` first
(:func:`bids_lock`; re-entrant within a thread). Derivatives are written to hidden temporary
files beside their destination and renamed into place (atomic on POSIX). A raw copy interrupted
half-way has no catalog row, so the next import of the file writes it again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
import warnings
from contextlib import contextmanager
from pathlib import Path

from ..home import bids_root, derivatives_root, validate_label

logger = logging.getLogger("neurofeedback")

__all__ = ["bids_lock", "bids_path_for", "derivative_paths", "task_label", "write_raw_to_bids"]

LOCK_NAME = ".neurofeedback.lock"
DEFAULT_TASK = "rest"

_held = threading.local()


@contextmanager
def bids_lock(home=None):
    """Hold the exclusive write lock of the BIDS dataset of ``home`` (blocks until free).

    An OS file lock (``fcntl.flock``; ``msvcrt.locking`` on Windows): processes and threads
    queue on it, and it is released when its holder exits, even after a crash. Re-entrant
    within a thread.
    """
    root = bids_root(home)
    root.mkdir(parents=True, exist_ok=True)
    key = str(root)
    held = getattr(_held, "roots", None)
    if held is None:
        held = _held.roots = set()
    if key in held:
        yield root
        return
    fh = open(root / LOCK_NAME, "a+b")
    try:
        _lock_fd(fh)
        held.add(key)
        try:
            yield root
        finally:
            held.discard(key)
            _unlock_fd(fh)
    finally:
        fh.close()


def _lock_fd(fh) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt
        import time

        while True:
            try:
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
                return
            except OSError:
                time.sleep(0.05)
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)


def _unlock_fd(fh) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def task_label(protocol) -> str:
    """Return the BIDS task label of a protocol: its letters and digits (``alpha-uptraining``
    → ``alphauptraining``), or ``"rest"`` when there is none."""
    text = re.sub(r"[^A-Za-z0-9]", "", str(protocol or ""))[:64]
    return text or DEFAULT_TASK


def bids_path_for(subject: str, session: str, task: str = DEFAULT_TASK, *, home=None):
    """Return the :class:`mne_bids.BIDSPath` of a session's raw EEG (labels validated).

    Returns
    -------
    bids_path : mne_bids.BIDSPath
        ``datatype="eeg"``, ``suffix="eeg"``, ``extension=".vhdr"``, rooted at
        :func:`neurofeedback.home.bids_root`.
    """
    from mne_bids import BIDSPath

    return BIDSPath(subject=validate_label(subject), session=validate_label(session, kind="session"),
                    task=validate_label(task, kind="task"), datatype="eeg", suffix="eeg",
                    extension=".vhdr", root=bids_root(home))


def derivative_paths(subject: str, session: str, task: str = DEFAULT_TASK, *, home=None) -> dict[str, Path]:
    """Return where a session's derivatives go.

    Returns
    -------
    paths : dict
        ``features`` (``…_features.parquet``), ``summary`` (``…_summary.json``),
        ``recording`` (``…_recording.json``, the source's sidecar) and ``psd`` (``…_psd.npz``,
        the stored spectra: :mod:`neurofeedback.store.spectra`).
    """
    subject = validate_label(subject)
    session = validate_label(session, kind="session")
    task = validate_label(task, kind="task")
    folder = derivatives_root(home) / f"sub-{subject}" / f"ses-{session}" / "eeg"
    stem = f"sub-{subject}_ses-{session}_task-{task}"
    return {"features": folder / f"{stem}_features.parquet",
            "summary": folder / f"{stem}_summary.json",
            "recording": folder / f"{stem}_recording.json",
            "psd": folder / f"{stem}_psd.npz"}


def write_raw_to_bids(raw, subject: str, session: str, *, task: str = DEFAULT_TASK,
                      line_freq=None, home=None) -> Path:
    """Write a raw recording into the BIDS dataset of the data home (BrainVision, mne-bids).

    Parameters
    ----------
    raw : mne.io.Raw
        The recording as read (volts; preloaded objects are fine). Not modified.
    subject, session, task : str
        BIDS labels (validated).
    line_freq : float | None
        Power-line frequency for the sidecar (``None``: "n/a").
    home : path-like | None
        Data home.

    Returns
    -------
    path : Path
        The ``.vhdr`` file written (an existing one is replaced).
    """
    from mne_bids import write_raw_bids

    bp = bids_path_for(subject, session, task, home=home)
    raw = raw.copy()
    raw.info["line_freq"] = None if line_freq is None else float(line_freq)
    with bids_lock(home):
        with warnings.catch_warnings():
            # mne-bids warns that it converts to BrainVision and about absent optional fields
            warnings.filterwarnings("ignore", module="mne_bids")
            warnings.filterwarnings("ignore", message=".*(BrainVision|line_freq|PowerLine).*")
            # non-EEG (misc) channels have no voltage unit: pybv writes them unscaled, as it says
            warnings.filterwarnings("ignore", message="Encountered unsupported non-voltage units",
                                    module="pybv")
            out = write_raw_bids(raw, bp, allow_preload=True, format="BrainVision",
                                 overwrite=True, verbose=False)
        _write_eeg_reference(Path(out.fpath), raw)
    return Path(out.fpath)


def _write_eeg_reference(vhdr: Path, raw) -> None:
    """Put the recording's reference (:func:`neurofeedback.io._reference.recording_reference`)
    into the ``EEGReference`` of its ``_eeg.json`` (mne-bids writes "n/a"); the BrainVision
    reader reads it back from there. ``unknown`` stays "n/a", as BIDS says for unknown values."""
    from ..io._reference import UNKNOWN, recording_reference

    ref = recording_reference(raw)
    side = vhdr.with_suffix(".json")
    if ref == UNKNOWN or not side.is_file():
        return
    doc = json.loads(side.read_text(encoding="utf-8"))
    doc["EEGReference"] = ref
    tmp = side.with_name("." + side.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(side)


def _stage_file(final: Path, write) -> Path:
    """Write ``final`` to a hidden temporary file beside it with ``write(tmp)``; return tmp."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.tmp{final.suffix}")
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _stage_json(final: Path, doc) -> Path:
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, default=str, allow_nan=False)
            fh.flush()
            os.fsync(fh.fileno())
    return _stage_file(final, write)


def _commit(staged: list[tuple[Path, Path]]) -> None:
    for tmp, final in staged:
        os.replace(tmp, final)


def _discard(staged: list[tuple[Path, Path]]) -> None:
    for tmp, _ in staged:
        tmp.unlink(missing_ok=True)


def _ensure_derivatives_description(home=None) -> None:
    """Write ``derivatives/neurofeedback/dataset_description.json`` once (call under the lock)."""
    from ..io.sidecar import software_versions

    root = derivatives_root(home)
    path = root / "dataset_description.json"
    if path.is_file():
        return
    versions = software_versions()
    doc = {
        "Name": "neurofeedback features",
        "BIDSVersion": "1.9.0",
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "neurofeedback", "Version": versions.get("neurofeedback", "unknown"),
                         "Description": "Per-epoch band powers and session summaries"}],
    }
    _commit([(_stage_json(path, doc), path)])

