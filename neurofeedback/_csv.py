"""Spreadsheet-safe CSV: every CSV the project writes goes through :func:`write_csv`.

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by spreadsheet programs (CSV or formula injection): an event text ``=HYPERLINK(...)``, a
block label or a channel name would run when an analyst opens the export. Following the OWASP
guidance ("CSV Injection"), such cells get a leading ``'``, which spreadsheets show as text and
which keeps the rest of the value verbatim. Only *text* is touched: numbers stay numbers (a
negative value such as ``-3.2`` in a numeric column is written as is), and Parquet files keep
every value verbatim (they are not opened as spreadsheets and carry types).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FORMULA_PREFIXES", "safe_cell", "spreadsheet_safe", "write_csv"]

#: What makes a spreadsheet read a text cell as a formula (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Return ``value`` with a leading ``'`` when it is text that starts like a formula.

    Anything that is not a ``str`` (numbers, None, NaN, timestamps) is returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def spreadsheet_safe(frame):
    """Return a copy of ``frame`` whose text cells and column names are spreadsheet-safe.

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    safe : pandas.DataFrame
        Numeric, boolean and datetime columns unchanged; every ``str`` cell through
        :func:`safe_cell`. The input is not modified.
    """
    import pandas as pd

    safe = frame.copy()
    for col in safe.columns:
        s = safe[col]
        if (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
                or pd.api.types.is_datetime64_any_dtype(s)):
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        safe[col] = s.map(safe_cell).astype(object)
    safe.columns = [safe_cell(c) for c in safe.columns]
    return safe


def write_csv(frame, path, **kwargs) -> Path:
    """Write ``frame`` as spreadsheet-safe CSV (no index, CRLF rows) and return the path.

    Parameters
    ----------
    frame : pandas.DataFrame
    path : path-like
    **kwargs
        Passed to :meth:`pandas.DataFrame.to_csv` (e.g. ``sep``).
    """
    path = Path(path)
    # CRLF rows (RFC 4180): pandas quotes a field holding a CR or LF only when it is part of the
    # line terminator, and a bare CR in an unquoted field splits the row for csv readers
    kwargs.setdefault("lineterminator", "\r\n")
    spreadsheet_safe(frame).to_csv(path, index=False, **kwargs)
    return path
