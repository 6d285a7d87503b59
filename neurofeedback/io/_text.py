"""Reading the text formats: file checks, complete lines, numeric tables (private).

Values stay in the units of the file (µV for the text formats); :func:`~._raw.build_raw`
converts to volts. A file cut by a crash ends in a partial line: :func:`complete_size` finds
where the complete lines end and :func:`read_numeric_columns` reads only those.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import numpy as np

from ..errors import RecordingFormatError


def one_line(text) -> str:
    """Collapse ``text`` to one line (error messages must be single lines)."""
    return " ".join(str(text).split())


def check_file(path) -> Path:
    """Return ``path`` as a Path after checking it is an existing, non-empty regular file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise RecordingFormatError(p, "no such file")
    if p.is_dir():
        raise RecordingFormatError(p, "is a directory, not a recording file")
    try:
        size = p.stat().st_size
    except OSError as err:
        raise RecordingFormatError(p, f"cannot be read ({err.strerror})") from None
    if size == 0:
        raise RecordingFormatError(p, "is empty (0 bytes)")
    if not os.access(p, os.R_OK):
        raise RecordingFormatError(p, "cannot be read (permission denied)")
    return p


def read_head(path: Path, n: int = 65536) -> bytes:
    """Return the first ``n`` bytes of ``path``."""
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError as err:
        raise RecordingFormatError(path, f"cannot be read ({err.strerror})") from None


def complete_size(path: Path) -> tuple[int, str | None]:
    """Return (bytes up to and including the last newline, the unterminated tail or None).

    A file written line by line and cut by a crash ends in a partial line without ``\\n``.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 1))
        if fh.read(1) == b"\n":
            return size, None
        # walk back to the last newline
        block = 65536
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            k = chunk.rfind(b"\n")
            if k >= 0:
                cut = start + k + 1
                fh.seek(cut)
                tail = fh.read(size - cut).decode("utf-8", errors="replace")
                return cut, tail
            pos = start
        fh.seek(0)
        return 0, fh.read().decode("utf-8", errors="replace")


class _Head(io.RawIOBase):
    """A read-only file object that ends after the first ``limit`` bytes of a file."""

    def __init__(self, path: Path, limit: int):
        self._fh = open(path, "rb")
        self._left = limit

    def readable(self):
        return True

    def readinto(self, b):
        if self._left <= 0:
            return 0
        n = min(len(b), self._left)
        data = self._fh.read(n)
        b[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self):
        self._fh.close()
        super().close()


@contextlib.contextmanager
def open_limited(path: Path, limit: int):
    """Open ``path`` for pandas, ending after ``limit`` bytes (to leave out a partial line).

    Yields the path itself when ``limit`` covers the whole file: pandas reads a path about twice
    as fast as a Python file object.
    """
    if limit >= path.stat().st_size:
        yield path
        return
    raw = _Head(path, limit)
    buf = io.BufferedReader(raw, buffer_size=1 << 20)
    try:
        yield buf
    finally:
        buf.close()


def is_number(text: str) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def read_numeric_columns(path: Path, *, sep: str, skiprows: int, usecols, ncols: int,
                         limit: int, first_data_line: int, names_for_errors=None,
                         strict: bool = False):
    """Read ``usecols`` of a delimited numeric table fast (pandas' C parser), as float64.

    Parameters
    ----------
    path : Path
    sep : str
        ``"\\t"`` or ``","`` (whitespace after commas is skipped).
    skiprows : int
        Lines before the first data row.
    usecols : list of int
        0-based columns to return, in this order.
    ncols : int
        Fields per row (for messages).
    limit : int
        Bytes of the file to read (see :func:`complete_size`).
    first_data_line : int
        1-based line number of the first data row (for messages).
    names_for_errors : dict | None
        ``{column: name}`` used in messages.
    strict : bool
        Parse every column, so that a row with more fields than the first is an error (with
        ``usecols`` pandas silently ignores extra fields). Needs every column to be numeric.

    Returns
    -------
    data : ndarray, shape (n_rows, len(usecols)), float64

    Raises
    ------
    RecordingFormatError
        On rows with too many fields and on non-numeric cells (naming line and column).
    """
    import pandas as pd

    usecols = list(usecols)
    names_for_errors = names_for_errors or {}
    kw = dict(sep=sep, header=None, skiprows=skiprows, usecols=None if strict else usecols, engine="c",
              skipinitialspace=(sep == ","), skip_blank_lines=True, comment=None,
              na_filter=True)
    try:
        with open_limited(path, limit) as fh:
            df = pd.read_csv(fh, dtype=np.float64, **kw)
    except pd.errors.EmptyDataError:
        return np.empty((0, len(usecols)))
    except pd.errors.ParserError as err:
        msg = one_line(err)
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
        if m:
            line = int(m.group(2)) + skiprows
            raise RecordingFormatError(
                path, f"line {line} has {m.group(3)} fields but the rows before it have {ncols}"
            ) from None
        raise RecordingFormatError(path, f"cannot be parsed as a table ({msg[:120]})") from None
    except (ValueError, TypeError):
        # a non-numeric cell: find it (slow path, error only)
        with open_limited(path, limit) as fh:
            df = pd.read_csv(fh, dtype=str, keep_default_na=False, **kw)
        for col in usecols:
            values = df[col].str.strip()
            bad = ~values.map(is_number) & (values != "")
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                name = names_for_errors.get(col, f"column {col + 1}")
                raise RecordingFormatError(
                    path,
                    f"non-numeric value {values.iloc[i][:20]!r} in {name} at line "
                    f"{first_data_line + i}",
                ) from None
        raise RecordingFormatError(path, "holds values that are not numbers") from None
    # pandas returns usecols in file order; select in the requested order
    return df[usecols].to_numpy(dtype=np.float64)


def check_finite(path: Path, eeg: np.ndarray, names, *, first_data_line: int, what="EEG"):
    """Raise naming the first NaN/inf cell of ``eeg`` (shape (n_rows, n_channels))."""
    bad = ~np.isfinite(eeg)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        kind = "empty or NaN" if np.isnan(eeg[i, j]) else "infinite"
        raise RecordingFormatError(
            path,
            f"{kind} value in {what} channel {names[j]!r} at line {first_data_line + int(i)} "
            f"({int(bad.sum())} such cells in all)",
        )


def long_rows(path: Path, *, sep: str, skiprows: int, ncols: int, limit: int) -> dict[int, list[str]]:
    """The fields beyond ``ncols`` of every data row that has more (rows longer than the header).

    pandas reads only the columns it is asked for and silently ignores extra fields; muselsl files
    written by EEG-ExPy carry the stimulus marker as a seventh field on some rows while the header
    names six. This finds such rows so the reader can use (or name) what they hold instead of
    dropping it.

    Parameters
    ----------
    path : Path
    sep : str
        The field separator (one character).
    skiprows : int
        Lines before the first data row.
    ncols : int
        Fields the header (or the first data row) declares.
    limit : int
        Bytes of the file to read (see :func:`complete_size`).

    Returns
    -------
    extra : dict
        ``{row: [field, ...]}``: ``row`` counts the non-blank data rows from 0 (the row index of
        the table :func:`read_numeric_columns` returns); fields stripped, empty ones kept as ``""``.
    """
    try:
        with open(path, "rb") as fh:
            buf = fh.read(limit)
    except OSError as err:
        raise RecordingFormatError(path, f"cannot be read ({err.strerror})") from None
    a = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(a == 10)
    starts = np.r_[0, nl + 1]
    ends = np.r_[nl, a.size]
    keep = starts < a.size
    starts, ends = starts[keep], ends[keep]
    starts, ends = starts[skiprows:], ends[skiprows:]
    if not starts.size:
        return {}
    seps = np.flatnonzero(a == ord(sep))
    n_fields = np.searchsorted(seps, ends) - np.searchsorted(seps, starts) + 1
    # pandas skips blank lines: count only non-blank ones as rows
    blank = (ends - starts) <= 1
    if blank.any():
        for k in np.flatnonzero(blank & (ends > starts)):
            blank[k] = not buf[starts[k]:ends[k]].strip()
    row_of = np.cumsum(~blank) - 1
    out = {}
    for k in np.flatnonzero((n_fields > ncols) & ~blank):
        line = buf[starts[k]:ends[k]].decode("utf-8", errors="replace").rstrip("\r")
        out[int(row_of[k])] = [f.strip() for f in line.split(sep)[ncols:]]
    return out


#: A first line longer than this without a line break is not a recording's header (bytes).
MAX_LINE_BYTES = 1 << 28


def first_lines(path: Path, n: int = 5, *, max_bytes: int = MAX_LINE_BYTES) -> list[str]:
    """The first ``n`` non-blank lines of a text file, each read whole (any length).

    A fixed-size head (64 KiB) cuts a long first line: a CSV with 100 000 columns has a header
    of ~1 MB. Lines are read to their end; a BOM and the line break are removed.

    Parameters
    ----------
    path : Path
    n : int
        Non-blank lines wanted.
    max_bytes : int
        Bytes read at most in all; a longer run without enough lines is an error.

    Returns
    -------
    lines : list of str
        Up to ``n`` lines (fewer when the file has fewer), decoded as UTF-8 (errors replaced).

    Raises
    ------
    RecordingFormatError
        When ``max_bytes`` are read without finding the lines (not a text recording).
    """
    out, total = [], 0
    try:
        with open(path, "rb") as fh:
            while len(out) < n:
                line = fh.readline(max_bytes - total + 1)
                if not line:
                    break
                total += len(line)
                if total > max_bytes:
                    raise RecordingFormatError(
                        path, f"has no line break in its first {max_bytes >> 20} MiB; not a text recording"
                    )
                text = line.decode("utf-8", errors="replace")
                if not out:
                    text = text.lstrip("\ufeff")
                text = text.rstrip("\r\n")
                if text.strip():
                    out.append(text)
    except OSError as err:
        raise RecordingFormatError(path, f"cannot be read ({err.strerror})") from None
    return out
