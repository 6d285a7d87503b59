"""What a batch import decides before any flow runs (no Prefect here, so no ``import prefect``).

- :func:`discover`: the recording files under the paths given;
- :func:`split_unchanged`: the files already in the catalog with this processing (found by their
  SHA-256 and config hash, the same test :func:`neurofeedback.store.ingest_file` makes first),
  and the rest. A file found there needs no task, no flow and no Prefect at all: ``process`` over
  a folder it imported already answers from the catalog alone (1,000 unchanged files in about
  a second plus hashing, where one Prefect task per file cost ~20 ms against a running server and
  the flow itself a temporary server of 10-30 s). The catalog is read once for the batch and the
  files are hashed by a few threads.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from neurofeedback.errors import ConfigError

#: The extensions :func:`discover` picks in folders.
EXTENSIONS = (".csv", ".txt", ".fif", ".edf", ".bdf", ".vhdr")


def discover(paths, *, pattern_exts=None) -> list[Path]:
    """Return the recording files under ``paths`` (files as given; folders searched recursively).

    Sidecars (``.json``), the store's own outputs and hidden files are skipped; the readers
    decide later what each file is. An entry with a recording's extension that is not a
    readable regular file (a broken link, a FIFO or socket) is returned too, so that the batch
    lists it as skipped with the reason instead of passing over it in silence.

    Parameters
    ----------
    paths : iterable of path-like
        Files and folders.
    pattern_exts : tuple of str | None
        Extensions to pick in folders (default :data:`EXTENSIONS`).

    Returns
    -------
    files : list of Path
        Absolute, without duplicates, in the order found.
    """
    exts = pattern_exts or EXTENSIONS
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir() and (p.exists() or p.is_symlink()):
            out.append(p.resolve() if p.exists() else p.absolute())
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                if (not f.is_dir() and f.suffix.lower() in exts and not f.name.startswith(".")
                        and not any(part.startswith(".") for part in f.relative_to(p).parts)):
                    out.append(f.resolve() if f.exists() else f.absolute())
        else:
            raise ConfigError(f"{p}: does not exist")
    return list(dict.fromkeys(out))


def split_unchanged(files, *, home=None, subject=None, channel_names=None):
    """Split ``files`` into those the catalog holds with this processing and the rest.

    A file counts as unchanged when a session was imported from a file with its SHA-256 and
    the same processing key (:func:`neurofeedback.provenance.processing_hash`), and an explicit
    ``subject`` (if any) is that session's: what :func:`~neurofeedback.store.ingest_file` would
    answer ``unchanged`` without reading the file. Anything else (new, changed, unreadable, a
    conflict of labels) goes to the flow, which imports it or says why not.

    Parameters
    ----------
    files : list of path-like
        From :func:`discover`.
    home : str | Path | None
        The data home whose catalog is asked.
    subject : str | None
        The ``--subject`` given for every file.
    channel_names : str | None
        Comma-separated EEG names (part of the processing key).

    Returns
    -------
    records : dict
        ``{path string: record}`` of the unchanged files, each record as the flow's
        (``status="unchanged"``, ``cached=True``).
    rest : list of str
        The other files, in order.
    """
    from neurofeedback.config import load_settings
    from neurofeedback.io._raw import check_channel_names
    from neurofeedback.provenance import file_sha256, processing_hash
    from neurofeedback.store import Catalog

    files = [str(f) for f in files]
    known = Catalog(home=home).sessions()  # one query for the whole batch, not one per file
    if known.empty:  # a first import: nothing to find, nothing to hash twice
        return {}, files
    by_sha = {r.input_sha256: r for r in known.itertuples(index=False)}
    cfg = processing_hash(load_settings(), check_channel_names(channel_names))

    def sha(f):
        t0 = time.perf_counter()
        try:
            return file_sha256(f), time.perf_counter() - t0
        except OSError:  # unreadable here: the task says why, in one line
            return None, 0.0

    # hashing reads files and releases the GIL: a few threads keep the disk and the cores busy
    with ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 1) + 1)) as pool:
        digests = list(pool.map(sha, files))
    records, rest = {}, []
    for f, (digest, seconds) in zip(files, digests):
        row = by_sha.get(digest)
        if row is None or row.config_hash != cfg or (subject is not None and subject != row.subject):
            rest.append(f)
            continue
        records[f] = {"path": f, "status": "unchanged", "reason": "", "session_id": row.session_id,
                      "subject": row.subject, "seconds": seconds, "cached": True}
    return records, rest
