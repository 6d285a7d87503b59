"""neurofeedback: read consumer-headset EEG, compute validated band-power features, track change.

The library never imports Prefect; orchestration lives in the top-level ``pipelines`` package.
Units: inside, signals are in volts (as MNE); every table and summary reports µV / µV² and says so.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logger = logging.getLogger("neurofeedback")
logger.addHandler(logging.NullHandler())
