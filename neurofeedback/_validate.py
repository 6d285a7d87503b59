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


#: The longest text each catalog column holds (``neurofeedback.store._schema`` sizes its
#: ``String(n)`` columns from this table). PostgreSQL enforces ``VARCHAR(n)``, SQLite does not:
#: every value is checked against these limits in code, so both back ends accept and refuse the
#: same input, before a recording starts or a file is imported.
TEXT_LIMITS = {
    "subject": 64,
    "session": 64,
    "protocol": 128,
    "device": 128,
    "format": 32,
    "block": 128,
    "channel": 64,
    "metric": 64,
    "unit": 32,
    "kind": 32,
}


def check_text_length(name: str, value, *, limit: int | None = None, what: str | None = None,
                      exc=ValueError):
    """Raise ``exc`` when ``value`` is longer than :data:`TEXT_LIMITS` allows; return it.

    Parameters
    ----------
    name : str
        Key of :data:`TEXT_LIMITS` (or any name, with ``limit``).
    value : str | None
        ``None`` passes.
    limit : int | None
        The limit (default ``TEXT_LIMITS[name]``).
    what : str | None
        How the message names the value (default ``the 'name' parameter``), e.g.
        ``"rec.json: the sidecar's 'protocol'"``.
    exc : type
        The exception to raise (called with the one-line message).
    """
    if value is None:
        return value
    limit = TEXT_LIMITS[name] if limit is None else limit
    text = str(value)
    if len(text) > limit:
        where = what or f"the {name!r} parameter"
        raise exc(f"Invalid value for {where}. It is at most {limit} characters long, but got "
                  f"{len(text)} ({text[:40]!r}...) instead.")
    return value
