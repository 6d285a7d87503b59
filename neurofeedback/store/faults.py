"""What a batch does with a file that fails: retry it, or skip it with one line.

A batch (the ``process-recordings`` flow, ``neurofeedback process``) imports each file on its
own; a failure of one file never stops the others. Two questions decide what happens to it:

- :func:`is_transient`: may the error pass if the same call runs again a second later? Only then
  is it retried. The set is explicit (:data:`TRANSIENT_ERRNOS`, :data:`TRANSIENT_SQLSTATES`, a
  locked SQLite database, a dropped database connection); everything else, a bad recording, a
  full disk, a bug, would fail the same way again.
- :func:`failure_reason`: the one line a person reads in the skipped list: the file, and the
  error's type and message (the type only for errors that are not the project's own, whose
  messages already say what is wrong). The traceback goes to the log at debug level.
"""

from __future__ import annotations

import errno

__all__ = ["TRANSIENT_ERRNOS", "TRANSIENT_SQLSTATES", "failure_reason", "is_transient"]

#: OS errors that may pass: a resource briefly busy or unavailable, an interrupted call, a
#: network file system's timeout. Not ENOSPC/EFBIG (a full disk stays full for a retry a second
#: later), not EACCES/ENOENT/EISDIR (the file is what it is).
TRANSIENT_ERRNOS = frozenset({errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.ETIMEDOUT,
                              errno.ETXTBSY, errno.ESTALE})
#: PostgreSQL SQLSTATEs that may pass: serialization failure, deadlock, lock not available,
#: and the connection exception class (``08…``, matched by prefix), admin shutdown and
#: "cannot connect now" (a server starting up).
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "08", "57P01", "57P03"})
_LOCKED = ("database is locked", "database is busy", "database table is locked")


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) may pass on a retry.

    Parameters
    ----------
    exc : BaseException
        The exception a file's import raised.

    Returns
    -------
    transient : bool
        True for an SQLite "database is locked" (also when the catalog gave up waiting and said
        so in a :class:`~neurofeedback.errors.StoreError` with ``transient = True``), a
        PostgreSQL serialization, deadlock or connection error (:data:`TRANSIENT_SQLSTATES`),
        a dropped database connection, and an :class:`OSError` whose errno is in
        :data:`TRANSIENT_ERRNOS`; False for everything else.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if getattr(exc, "transient", False) is True:
            return True
        if _db_transient(exc):
            return True
        if isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _db_transient(exc: BaseException) -> bool:
    if getattr(exc, "connection_invalidated", False):  # SQLAlchemy: the connection dropped
        return True
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code and (str(code) in TRANSIENT_SQLSTATES or str(code).startswith("08")):
        return True
    name = type(orig).__name__
    text = str(orig).lower()
    return name in ("OperationalError", "DatabaseError") and any(t in text for t in _LOCKED)


def failure_reason(path, exc: BaseException) -> str:
    """One line naming ``path`` and what went wrong (at most 400 characters).

    The project's own errors (:class:`~neurofeedback.errors.NeurofeedbackError`) already name
    the file and the problem; any other exception is shown as ``<path>: <Type>: <message>``.
    """
    from ..errors import NeurofeedbackError

    text = " ".join(str(exc).split())
    if not isinstance(exc, NeurofeedbackError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    path = str(path)
    if not text.startswith(path):
        text = f"{path}: {text}"
    return text if len(text) <= 400 else text[:399] + "…"
