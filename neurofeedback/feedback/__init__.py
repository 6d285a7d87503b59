"""Real-time neurofeedback: protocols and the loop as a pure step.

``protocol`` loads and validates the protocols of ``neurofeedback/configs/protocols/``; ``step`` is the loop
(``state, output = step(state, window)``), testable without a clock or a device. The runner
that feeds it live windows lives beside them.
"""

from __future__ import annotations

from .protocol import PROTOCOLS_DIR, Inhibit, Protocol, list_protocols, load_protocol
from .step import FeedbackOutput, FeedbackState, init_state, step, summarize

__all__ = [
    "PROTOCOLS_DIR",
    "FeedbackOutput",
    "FeedbackState",
    "Inhibit",
    "Protocol",
    "init_state",
    "list_protocols",
    "load_protocol",
    "step",
    "summarize",
]
