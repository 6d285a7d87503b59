"""Argument checks with MNE-style messages (private)."""

from __future__ import annotations

from collections.abc import Iterable


def _fmt_allowed(allowed: Iterable) -> str:
    items = [repr(a) for a in allowed]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def check_option(name: str, value, allowed: Iterable, *, exc=ValueError):
    """Raise ``exc`` unless ``value`` is one of ``allowed``; return ``value``.

    The message follows MNE: "Invalid value for the 'method' parameter. Allowed values are
    'welch' and 'multitaper', but got 'fft' instead."
    """
    allowed = tuple(allowed)
    if value not in allowed:
        raise exc(
            f"Invalid value for the {name!r} parameter. Allowed values are "
            f"{_fmt_allowed(allowed)}, but got {value!r} instead."
        )
    return value


def check_positive(name: str, value, *, exc=ValueError, allow_zero: bool = False) -> float:
    """Raise ``exc`` unless ``value`` is a finite positive number; return it as float."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise exc(
            f"Invalid value for the {name!r} parameter. It must be a number, "
            f"but got {value!r} instead."
        ) from None
    import math

    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise exc(
            f"Invalid value for the {name!r} parameter. It must be a finite {kind} number, "
            f"but got {value!r} instead."
        )
    return v
