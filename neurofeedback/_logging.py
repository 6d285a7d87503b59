"""The library's ``verbose`` argument: the ``neurofeedback`` logger's level for one call.

Functions that take ``verbose`` (as MNE's do) wrap their body in :func:`use_verbose`, which sets
the level of the ``neurofeedback`` logger and restores it afterwards, so no call changes the
global level for good.
"""

from __future__ import annotations

import contextlib
import logging

logger = logging.getLogger("neurofeedback")


@contextlib.contextmanager
def use_verbose(verbose):
    """Set the ``neurofeedback`` logger level for the duration of a call, then restore it.

    ``None`` leaves the level alone; ``True`` → INFO, ``False`` → WARNING; a level name or
    number is used as is.
    """
    if verbose is None:
        yield
        return
    if isinstance(verbose, bool):
        level = logging.INFO if verbose else logging.WARNING
    elif isinstance(verbose, str):
        level = logging.getLevelName(verbose.upper())
        if not isinstance(level, int):
            raise ValueError(
                "Invalid value for the 'verbose' parameter. Allowed values are None, True, False "
                f"or a logging level name, but got {verbose!r} instead."
            )
    elif isinstance(verbose, int):
        level = verbose
    else:
        raise TypeError(f"verbose must be None, bool, str or int, got {type(verbose).__name__} instead.")
    old = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(old)
