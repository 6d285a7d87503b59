"""The data home: where recordings, the BIDS store, the catalog and Prefect state live.

Layout (``NEUROFEEDBACK_HOME``, ``--home``, default ``~/neurofeedback``)::

    <home>/
      recordings/sub-<id>/ses-<YYYYmmddTHHMMSS>/   live sessions as the recorder writes them:
          sub-<id>_ses-<stamp>_eeg.csv               BrainFlow CSV streamed to disk (µV)
          sub-<id>_ses-<stamp>_eeg.json              sidecar (written at start, completed at end)
          sub-<id>_ses-<stamp>_raw.fif               the canonical session (volts, annotations)
      bids/                                         raw recordings in BIDS (mne-bids)
        sub-<id>/ses-<stamp>/eeg/...
        derivatives/neurofeedback/sub-<id>/ses-<stamp>/eeg/..._features.parquet
      catalog.sqlite                                the catalog (or NEUROFEEDBACK_DB_URL)
      prefect/                                      PREFECT_HOME for local flow runs

Subject and session labels are BIDS labels: letters and digits only, so they are safe as path
components (no separators, no traversal).
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

from .errors import ConfigError

__all__ = [
    "bids_root", "catalog_url", "data_home", "derivatives_root", "prefect_home",
    "recordings_dir", "reports_dir", "session_label", "validate_label",
]

HOME_ENV = "NEUROFEEDBACK_HOME"
DB_ENV = "NEUROFEEDBACK_DB_URL"
#: A BIDS label, matched whole (``fullmatch``: ``$`` alone would accept a trailing newline).
_LABEL = re.compile(r"[A-Za-z0-9]{1,64}")


def data_home(home=None, *, create: bool = True) -> Path:
    """Return the data home: ``home``, else ``$NEUROFEEDBACK_HOME``, else ``~/neurofeedback``.

    Parameters
    ----------
    home : str | Path | None
        Explicit folder (the CLI's ``--home``).
    create : bool
        Create the folder when it does not exist.

    Returns
    -------
    path : Path
        Absolute, user-expanded.
    """
    if home is None or str(home) == "":
        home = os.environ.get(HOME_ENV) or Path.home() / "neurofeedback"
    path = Path(home).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: the data home exists but is not a folder")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def validate_label(value, *, kind: str = "subject") -> str:
    """Check a subject or session label (BIDS: letters and digits only) and return it.

    Raises
    ------
    ConfigError
        For empty labels, separators (``/``, ``\\``, ``-``, ``_``), ``..`` or other characters.
    """
    text = "" if value is None else str(value)
    if not _LABEL.fullmatch(text):
        raise ConfigError(
            f"Invalid value for the {kind!r} parameter. A {kind} ID must be 1-64 letters or digits "
            f"(a BIDS label: no spaces, '-', '_', '/', '\\' or '..'), but got {text!r} instead."
        )
    return text


def session_label(when: datetime) -> str:
    """Return the session label for a start time: ``YYYYmmddTHHMMSS`` in UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S")


def recordings_dir(home=None) -> Path:
    """``<home>/recordings``: where the recorder writes live sessions."""
    return data_home(home) / "recordings"


def bids_root(home=None) -> Path:
    """``<home>/bids``: the BIDS dataset of imported raw recordings."""
    return data_home(home) / "bids"


def derivatives_root(home=None) -> Path:
    """``<home>/bids/derivatives/neurofeedback``: per-epoch features and summaries."""
    return bids_root(home) / "derivatives" / "neurofeedback"


def reports_dir(home=None) -> Path:
    """``<home>/reports``: the HTML reports the flows write (``sub-<id>.html``, ``<session>.html``)."""
    return data_home(home) / "reports"


def catalog_url(home=None) -> str:
    """SQLAlchemy URL of the catalog: ``$NEUROFEEDBACK_DB_URL`` or SQLite in the data home."""
    url = os.environ.get(DB_ENV)
    if url:
        return url
    return f"sqlite:///{data_home(home) / 'catalog.sqlite'}"


def prefect_home(home=None) -> Path:
    """``<home>/prefect``: ``PREFECT_HOME`` for local flow runs."""
    return data_home(home) / "prefect"
