"""Who is still writing a recording: an OS lock on the recorder's CSV while it records.

The recorder holds an exclusive ``fcntl.flock`` on its open CSV for as long as it appends to
it (:func:`hold`); the kernel drops the lock when the process ends, even by SIGKILL. So a
session whose sidecar says ``ended_cleanly: false`` is *crashed* when nobody holds the lock
and *still being recorded* when somebody does (:func:`is_being_recorded`): ``recover`` must
never finalize a recording another process is still writing. Where ``fcntl`` is missing
(Windows) or the file system refuses locks, nothing is locked and every unfinished session
looks crashed (the behaviour before this lock existed).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["hold", "is_being_recorded"]


def hold(fh) -> bool:
    """Take the exclusive lock on the open recording ``fh``; return whether it was taken.

    Released when ``fh`` is closed or the process ends.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here
        return False
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def is_being_recorded(csv) -> bool:
    """Whether another process holds the recording lock of ``csv`` (see :func:`hold`)."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fh = open(Path(csv), "rb")
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False
    finally:
        fh.close()
