"""Undo a session's file writes when importing it fails half-way.

Importing one recording writes in several places of the BIDS dataset (the session's raw copy
under ``sub-<id>/ses-<label>/``, the dataset-level ``participants.tsv`` and
``dataset_description.json`` that mne-bids rewrites, the derivatives of the session) before the
catalog transaction records it. :func:`undo_on_failure` takes a snapshot of exactly those places
before the writes and, if anything in the block raises (a full disk, a bug, an interrupted
write), puts them back as they were, so a failed import leaves no orphan folder and does not
damage the session it was replacing. On success the snapshot is dropped.

The snapshot of an existing session folder is a copy (kept in a hidden ``.undo-<id>`` folder in
the BIDS root and renamed back on failure: a rename needs no free space), so a process killed
mid-write (no Python code runs after ``kill -9``) still leaves the catalog's files complete or
as the interrupted write left them, as before: the next import of the file writes them again.
Dataset-level files are small and kept in memory. Call it under
:func:`~neurofeedback.store.bids.bids_lock`: nothing else writes meanwhile, so snapshots and
staged temporary files found on entry were left by a killed writer and are removed.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

from ..home import bids_root, derivatives_root

logger = logging.getLogger("neurofeedback")

__all__ = ["undo_on_failure"]


@contextmanager
def undo_on_failure(subject: str, session: str, *, home=None):
    """Restore the session's folders and the dataset-level files if the block raises.

    Parameters
    ----------
    subject, session : str
        Validated labels of the session being written.
    home : path-like | None
        Data home.
    """
    root = bids_root(home)
    deriv = derivatives_root(home)
    folders = [root / f"sub-{subject}" / f"ses-{session}", deriv / f"sub-{subject}" / f"ses-{session}"]
    _remove_stale(root, folders)
    subject_dirs = [root / f"sub-{subject}", deriv / f"sub-{subject}"]
    new_dirs = [d for d in (*subject_dirs, deriv, root / "derivatives") if not d.exists()]
    files = {p: (p.read_bytes() if p.is_file() else None)
             for p in (*(f for f in root.iterdir() if f.is_file() and f.name != ".neurofeedback.lock"),
                       root / "participants.tsv", root / "participants.json",
                       root / "dataset_description.json", root / "README",
                       deriv / "dataset_description.json")}
    undo = root / f".undo-{uuid.uuid4().hex[:12]}"
    saved: list[tuple[Path, Path | None]] = []
    try:
        for k, folder in enumerate(folders):
            backup = None
            if folder.is_dir():
                backup = undo / str(k)
                shutil.copytree(folder, backup, symlinks=True)
            saved.append((folder, backup))
    except BaseException:
        shutil.rmtree(undo, ignore_errors=True)
        raise
    try:
        yield
    except BaseException:
        _restore(saved, files, new_dirs)
        raise
    finally:
        shutil.rmtree(undo, ignore_errors=True)


def _remove_stale(root: Path, folders) -> None:
    """Remove what a killed writer left: snapshots (``.undo-*``) and staged temporary files.

    Only the holder of the write lock stages files and takes snapshots, and we hold it: any
    found now belongs to a process that died (``kill -9``, power loss) before cleaning up.
    """
    for d in root.glob(".undo-*"):
        logger.debug("%s: removing a snapshot left by an interrupted import", d)
        shutil.rmtree(d, ignore_errors=True)
    for f in root.glob(".*.undo"):
        f.unlink(missing_ok=True)
    for folder in folders:
        if folder.is_dir():
            for f in (*folder.rglob(".*.tmp*"), *folder.rglob(".*.undo")):
                logger.debug("%s: removing a temporary file left by an interrupted import", f)
                f.unlink(missing_ok=True)


def _restore(saved, files, new_dirs) -> None:
    """Put the snapshot back (best effort: log what cannot be restored, never raise)."""
    for folder, backup in saved:
        try:
            shutil.rmtree(folder, ignore_errors=True)
            if backup is not None:
                backup.replace(folder)
        except OSError as err:
            logger.warning("%s: could not restore the session folder after a failed import (%s)",
                           folder, err)
    for path, content in files.items():
        try:
            if content is None:
                path.unlink(missing_ok=True)
            elif not path.is_file() or path.read_bytes() != content:
                tmp = path.with_name(f".{path.name}.undo")
                tmp.write_bytes(content)
                tmp.replace(path)
        except OSError as err:
            logger.warning("%s: could not restore it after a failed import (%s)", path, err)
    for d in new_dirs:  # folders this import created (deepest first), if nothing else is there
        for sub in sorted((p for p in d.rglob("*") if p.is_dir()), reverse=True) if d.is_dir() else ():
            _rmdir_empty(sub)
        _rmdir_empty(d)


def _rmdir_empty(d: Path) -> None:
    try:
        d.rmdir()
    except OSError:
        pass  # not empty (someone else's data) or gone
