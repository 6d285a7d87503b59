"""The project's error hierarchy.

Every error a user can cause by what they pass in (a file, a board name, a config value) is a
:class:`NeurofeedbackError`. The CLI turns any of them into one line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class NeurofeedbackError(Exception):
    """Base class of every user-facing error of the project."""


class RecordingFormatError(NeurofeedbackError, ValueError):
    """A recording cannot be read: missing, empty, truncated, unknown format, bad values.

    The message always names the file and the problem, on one line.
    """

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class PrecomputedFeaturesError(RecordingFormatError):
    """The file holds precomputed features (e.g. a Mind Monitor ~1 row/s export), not raw EEG."""


class BoardError(NeurofeedbackError):
    """A BrainFlow board name is unknown, or the device cannot be reached."""


class ConfigError(NeurofeedbackError, ValueError):
    """A configuration file or value is invalid."""


class StoreError(NeurofeedbackError):
    """The session store cannot be read or written."""


class QualityGateError(BoardError):
    """The pre-recording quality check said no-go (and ``force`` was not given)."""

    def __init__(self, message: str, check=None):
        self.check = check
        super().__init__(message)


# --- issue 16: safe recovery and a catalog that explains its damage ------------------------

class RecoveryRefusedError(NeurofeedbackError):
    """``recover`` will not touch a session: it ended cleanly, is still being recorded, or a
    file it would write exists (``force`` overrides the first and the last).

    The message names the file and the reason, on one line.
    """

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class CatalogDamagedError(StoreError):
    """The catalog file is not a readable catalog (truncated, overwritten, a broken header), or
    it is empty or missing while the data home's store still holds sessions.

    The message names the file and what to do (restore a backup, or ``neurofeedback store
    rebuild``), on one line.
    """


class OrchestrationError(NeurofeedbackError):
    """Prefect cannot run the flows: its API is unreachable or its local server did not start."""
