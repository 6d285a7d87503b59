"""neurofeedback: read consumer-headset EEG, compute validated band-power features, track change.

The functions an analyst uses, from a file to weekly trends (each documented where it lives):

========================  ==================================================================
:func:`read_recording`    any supported recording → ``mne.io.Raw`` (volts)
:func:`preprocess`        notch, band-pass, bad channels, ``BAD_*`` artifact annotations
:func:`compute_features`  per-epoch band powers, IAF, FAA, aperiodic exponent, provenance
:func:`process_recording` read + preprocess + features in one call (what the store ingests)
:func:`session_metrics`   a processed session's summary → long table of named metrics
:class:`Catalog`          the session store (SQLite by default, PostgreSQL for teams)
:func:`ingest_file`       one recording into the store (idempotent)
:func:`compute_trends`    weekly aggregates, slope with 95% CI, baseline change, MDC
:func:`event_changes`     level, slope and window change around events (therapy, infusion)
:func:`cohort_trends`     a group's change per week (mixed model), two groups compared
                          (:func:`store_cohort_trends`: the same on the session store)
:func:`simulate_eeg`      EEG with known truth (1/f background, alpha, blocks, artifacts)
:func:`load_settings`     bands and pipeline defaults (shipped ``configs/``, validated)
:func:`load_protocol`     a real-time neurofeedback protocol (validated)
========================  ==================================================================

Names load lazily (as in MNE-Python, with :mod:`lazy_loader`): ``import neurofeedback`` costs
almost nothing, and ``neurofeedback.read_recording`` imports MNE only when first used.

The library never imports Prefect; orchestration lives in the top-level ``pipelines`` package.
Units: inside, signals are in volts (as MNE); every table and summary reports µV / µV² and says so.
"""

from __future__ import annotations

import logging

import lazy_loader as _lazy

__version__ = "0.1.0"

logger = logging.getLogger("neurofeedback")
logger.addHandler(logging.NullHandler())

#: The public API: ``{module: [names]}``, loaded on first attribute access.
_PUBLIC = {
    "io": ["read_recording"],
    "preprocessing": ["preprocess"],
    "features": ["compute_features"],
    "process": ["process_recording"],
    "metrics": ["session_metrics"],
    "store": ["Catalog", "ingest_file"],
    "trends": ["compute_trends"],
    "event_change": ["event_changes"],
    "cohort": ["cohort_trends", "store_cohort_trends"],
    "simulate": ["simulate_eeg"],
    "config": ["load_settings"],
    "feedback.protocol": ["load_protocol"],
}

__getattr__, __dir__, _names = _lazy.attach(__name__, submod_attrs=_PUBLIC)
__all__ = sorted(_names) + ["__version__", "logger"]
