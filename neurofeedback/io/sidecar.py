"""The JSON sidecar written beside every BrainFlow CSV recording (the recorder's contract).

A BrainFlow CSV file (``DataFilter.write_file`` layout: tab-separated, no header, one row per
sample, one column per row of the board's data array) cannot be interpreted without knowing the
board. The sidecar says which board it was and everything else a later reader needs.

Schema (version 1); ``board_id`` is the only required key for reading:

.. code-block:: json

    {
      "schema_version": 1,
      "board_id": 38,                      # BrainFlow BoardIds value
      "board_name": "MUSE_2_BOARD",
      "board_descr": {...},                # BoardShim.get_board_descr(board_id), as recorded
      "sfreq": 256.0,                      # nominal rate, Hz
      "units": {"eeg": "uV", "timestamp": "s since Unix epoch"},
      "channel_names": ["TP9", "AF7", "AF8", "TP10"],   # EEG rows, optional override
      "subject": "s01", "session": null, "protocol": "meditation",
      "blocks": [{"label": "eyes-open", "duration_s": 60, "marker": 1}, ...],
      "markers": {"1": "eyes-open", "2": "eyes-closed"},  # marker value -> annotation label
      "notes": "free text",
      "start_time": "2026-11-23T09:44:00+00:00",           # ISO 8601, UTC
      "end_time": null,
      "ended_cleanly": false,              # true only once the recorder finished normally
      "n_samples": null,
      "end_reason": null,                  # "completed", "stopped", "disconnected", "recovered"
      "disconnects": [],                   # [{"start": unix s, "duration_s": s, "reconnected": bool}]
      "source": null,                      # e.g. {"kind": "playback", "file": ..., "speed": 1.0}
      "time_scale": 1.0,                   # recording seconds per timestamp second (playback speed)
      "duration_planned_s": 600.0,
      "feedback": null,                    # feedback sessions: {"protocol": ..., "reward_rate": ...,
                                           #  ...} (neurofeedback.feedback.summarize), else null
      "software": {"neurofeedback": "...", "brainflow": "...", "mne": "...", "python": "..."}
    }

The sidecar lives at ``<recording stem>.json`` in the same folder (``rec.csv`` → ``rec.json``);
``<recording name>.json`` (``rec.csv.json``) is also accepted when reading.
"""

from __future__ import annotations

import functools
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from ..errors import RecordingFormatError

SIDECAR_SCHEMA_VERSION = 1


def sidecar_path(recording) -> Path:
    """Return where the sidecar of ``recording`` is written (``rec.csv`` → ``rec.json``)."""
    return Path(recording).with_suffix(".json")


def find_sidecar(recording) -> Path | None:
    """Return the existing sidecar of ``recording``, or ``None``.

    The sidecar is ``<recording>.json`` with or without the recording's suffix; the recorder's
    canonical ``<stem>_raw.fif`` shares the sidecar of its CSV, ``<stem>_eeg.json``.
    """
    p = Path(recording)
    cands = [p.with_suffix(".json"), p.with_name(p.name + ".json")]
    if p.name.endswith("_raw.fif"):
        cands.append(p.with_name(p.name.removesuffix("_raw.fif") + "_eeg.json"))
    for cand in cands:
        if cand.is_file() and cand != p:
            return cand
    return None


def software_versions() -> dict[str, str]:
    """Return the versions of the software that shapes the numbers (a fresh dict each call)."""
    return dict(_software_versions())


@functools.lru_cache(maxsize=1)
def _software_versions() -> dict[str, str]:
    # reading package metadata costs ~10 ms a call; versions do not change within a process
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("neurofeedback", "mne", "numpy", "scipy", "brainflow", "specparam"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def make_sidecar(board_id: int, **fields) -> dict:
    """Build a schema-1 sidecar dict for ``board_id``; ``fields`` override any key.

    Parameters
    ----------
    board_id : int
        BrainFlow board id.
    **fields
        Any schema key (``subject``, ``protocol``, ``blocks``, ``markers``, ``notes``, …).

    Returns
    -------
    sidecar : dict
    """
    from ..boards import board_info

    info = board_info(board_id)
    doc = {
        "schema_version": SIDECAR_SCHEMA_VERSION,
        "board_id": info.board_id,
        "board_name": info.name,
        "board_descr": info.descr,
        "sfreq": info.sfreq,
        "units": {"eeg": "uV", "timestamp": "s since Unix epoch"},
        "channel_names": list(info.eeg_names),
        "subject": None,
        "session": None,
        "protocol": None,
        "blocks": [],
        "markers": {},
        "notes": "",
        "start_time": datetime.now(timezone.utc).isoformat(),
        "end_time": None,
        "ended_cleanly": False,
        "n_samples": None,
        "end_reason": None,
        "disconnects": [],
        "source": None,
        "time_scale": 1.0,
        "duration_planned_s": None,
        "feedback": None,  # real-time feedback sessions: protocol, threshold, reward summary
        "software": software_versions(),
    }
    unknown = set(fields) - set(doc)
    if unknown:
        raise ValueError(
            f"Invalid sidecar key(s) {sorted(unknown)}. Allowed keys are {sorted(doc)}."
        )
    doc.update(fields)
    return doc


def write_sidecar(recording, doc: dict) -> Path:
    """Write ``doc`` atomically (temp file + rename) beside ``recording``; return its path."""
    path = sidecar_path(recording)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def read_sidecar(path) -> dict:
    """Read and check a sidecar file.

    Raises
    ------
    RecordingFormatError
        When it is not JSON, not a mapping, has no integer ``board_id``, a newer schema, or a
        field the product reads with the wrong JSON type (:data:`_FIELD_TYPES`).
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as err:
        raise RecordingFormatError(path, f"sidecar is not valid JSON ({err.msg} at line {err.lineno})") from None
    except OSError as err:
        raise RecordingFormatError(path, f"cannot read sidecar ({err.strerror})") from None
    if not isinstance(doc, dict):
        raise RecordingFormatError(path, "sidecar must be a JSON object")
    version = doc.get("schema_version", 1)
    if not isinstance(version, int) or version > SIDECAR_SCHEMA_VERSION:
        raise RecordingFormatError(
            path, f"sidecar schema_version {version!r} is newer than this reader ({SIDECAR_SCHEMA_VERSION})"
        )
    if not isinstance(doc.get("board_id"), int) or isinstance(doc.get("board_id"), bool):
        raise RecordingFormatError(path, "sidecar has no integer 'board_id'")
    for key, kinds, what in _FIELD_TYPES:
        value = doc.get(key)
        if value is not None and (not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds):
            raise RecordingFormatError(
                path, f"sidecar field {key!r} must be {what} or null, but is {type(value).__name__} "
                      f"{_short(value)}")
    return doc


#: The sidecar fields the product reads, with the JSON types they may have (besides null): a
#: sidecar edited by hand or written by another tool is checked once, where it is read, so that
#: a wrong type is one line naming the field instead of a failure deep in the store or the
#: metrics (e.g. ``feedback: "not a table"``, ``notes: {...}``).
_FIELD_TYPES = (
    ("board_name", (str,), "text"),
    ("subject", (str,), "text"),
    ("session", (str,), "text"),
    ("protocol", (str,), "text"),
    ("notes", (str,), "text"),
    ("start_time", (str,), "text (an ISO 8601 time)"),
    ("end_time", (str,), "text (an ISO 8601 time)"),
    ("end_reason", (str,), "text"),
    ("device", (str,), "text"),
    ("sfreq", (int, float), "a number"),
    ("n_samples", (int,), "an integer"),
    ("time_scale", (int, float), "a number"),
    ("duration_planned_s", (int, float), "a number"),
    ("ended_cleanly", (bool,), "true or false"),
    ("blocks", (list,), "a list"),
    ("disconnects", (list,), "a list"),
    ("channel_names", (list,), "a list"),
    ("markers", (dict,), "an object"),
    ("units", (dict,), "an object"),
    ("board_descr", (dict,), "an object"),
    ("feedback", (dict,), "an object"),
)


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
