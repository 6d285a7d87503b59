"""The session store: raw recordings in BIDS, derivatives beside them, and a catalog database.

- :class:`Catalog` (``catalog.py``): subjects, sessions, session-level and per-block features,
  the sessions' blocks and context events; SQLite in the data home by default, any SQLAlchemy
  URL (PostgreSQL) for teams. Its tables are in ``_schema.py``, its engines and SQLite retry in
  ``_engine.py``, its SQL in ``_queries.py``, the migration of older catalogs in
  ``_migrate.py``.
- ``bids.py``: the raw copy of each recording with mne-bids (BrainVision), the per-epoch
  features (Parquet, with provenance) and the summary under ``derivatives/neurofeedback``.
- :func:`ingest_file` (``ingest.py``): one file into the store, idempotent and safe under
  concurrency; :func:`ingest_processed` for a recording already processed.
- ``faults.py``: what a batch does with a file that fails (:func:`is_transient`: retry;
  :func:`failure_reason`: the one line of a skipped file).
"""

from ._schema import EVENT_KINDS, SCHEMA_VERSION, session_id_for
from .bids import bids_lock, bids_path_for, derivative_paths, task_label, write_raw_to_bids
from .catalog import FEATURE_COLUMNS, METRICS_COLUMNS, Catalog
from .faults import failure_reason, is_transient
from .ingest import (
    DEFAULT_FILENAME_PATTERN,
    INGEST_STATUSES,
    IngestResult,
    ingest_file,
    ingest_processed,
)

__all__ = [
    "DEFAULT_FILENAME_PATTERN", "EVENT_KINDS", "FEATURE_COLUMNS", "INGEST_STATUSES", "METRICS_COLUMNS",
    "SCHEMA_VERSION", "Catalog", "IngestResult", "bids_lock", "bids_path_for", "derivative_paths",
    "failure_reason", "ingest_file", "ingest_processed", "is_transient", "session_id_for", "task_label",
    "write_raw_to_bids",
]
