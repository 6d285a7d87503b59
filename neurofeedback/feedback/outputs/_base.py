"""What every feedback output shares: the output names, the update's six numbers, the sink base.

The update's attributes and the outputs are described in :mod:`neurofeedback.feedback.outputs`.
"""

from __future__ import annotations

import math

import numpy as np

from ..._validate import _fmt_allowed
from ...errors import ConfigError

#: The names ``--output`` accepts.
OUTPUTS = ("terminal", "tone", "lsl", "osc")

#: The channels of the LSL stream, in order (and the ``…/update`` OSC message's arguments).
LSL_CHANNELS = ("metric", "threshold", "reward", "level", "artifact", "reward_rate")

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def parse_outputs(text: str) -> tuple[str, ...]:
    """Parse the ``--output`` option into a tuple of output names.

    Parameters
    ----------
    text : str
        Comma-separated names from :data:`OUTPUTS`, e.g. ``"terminal,lsl,osc"``; case and
        spaces around the names do not matter, repeats are dropped.

    Returns
    -------
    outputs : tuple of str
        The names in the order given.

    Raises
    ------
    ConfigError
        For an unknown or empty name, MNE style: "Invalid value for the --output parameter.
        Allowed values are 'terminal', 'tone', 'lsl' and 'osc', but got 'x' instead."
    """
    if not isinstance(text, str):
        raise ConfigError(
            f"Invalid value for the --output parameter. It must be a comma-separated string of "
            f"{_fmt_allowed(OUTPUTS)}, but got {text!r} instead."
        )
    names = [part.strip().lower() for part in text.split(",")]
    result: list[str] = []
    for name, raw in zip(names, text.split(",")):
        if name not in OUTPUTS:
            raise ConfigError(
                f"Invalid value for the --output parameter. Allowed values are "
                f"{_fmt_allowed(OUTPUTS)}, but got {raw.strip()!r} instead."
            )
        if name not in result:
            result.append(name)
    return tuple(result)


def _num(value) -> float:
    """``value`` as a Python float that fits float32 (NaN stays NaN, overflow becomes ±inf)."""
    v = float(value)
    if math.isfinite(v) and abs(v) > _FLOAT32_MAX:
        return math.copysign(math.inf, v)
    return v


def _values(out) -> tuple[float, ...]:
    """The update as the six numbers of :data:`LSL_CHANNELS` (booleans as 0.0/1.0)."""
    return (_num(out.metric), _num(out.threshold), 1.0 if out.reward else 0.0, _num(out.level),
            1.0 if out.artifact else 0.0, _num(out.reward_rate))


class FeedbackSink:
    """Base class of the feedback outputs: ``send`` every update, ``close`` at the end.

    A sink may be used as a context manager (``close`` on exit). ``send`` must be fast (it is
    called from the loop, ``update_hz`` times a second) and ``close`` idempotent.
    """

    #: The output's name in :data:`OUTPUTS`.
    name = "sink"

    def send(self, out) -> None:
        """Deliver one feedback update (attributes: :mod:`neurofeedback.feedback.outputs`)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the output's resources; further ``send`` calls do nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
