"""A practice log (minutes of practice per day) read from a CSV file.

The file is the user's: a header naming ``date`` and ``minutes`` (other columns ignored, any
order), then one day per line. Every line is checked before anything is stored, and the first
bad one is reported as ``<file>:<line>: <what is wrong>``; a day given twice is an error (which
of the two would be meant?).
"""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

from ..errors import ConfigError

__all__ = ["PRACTICE_CSV_COLUMNS", "read_practice_csv"]

#: The columns a practice CSV must have.
PRACTICE_CSV_COLUMNS = ("date", "minutes")
#: More minutes than a day has is a typo, not practice.
_MAX_MINUTES = 24 * 60


def read_practice_csv(path) -> list[dict]:
    """Read a practice log.

    Parameters
    ----------
    path : path-like
        CSV (UTF-8, comma-separated) with a header containing ``date`` and ``minutes``.

    Returns
    -------
    rows : list of dict
        ``{"day": datetime.date, "minutes": float}`` per line, in file order.

    Raises
    ------
    ConfigError
        The file cannot be read, lacks a column, or a line has a bad date, bad minutes
        (not a number, negative, more than 1440) or repeats a day: one line naming the file and
        the line number.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such practice log file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the practice log ({exc.__class__.__name__})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise ConfigError(f"{p}: the practice log is empty; it needs a header 'date,minutes'")
    names = [h.strip().lower() for h in header]
    missing = [c for c in PRACTICE_CSV_COLUMNS if c not in names]
    if missing:
        raise ConfigError(f"{p}:1: the practice log needs the columns date,minutes, but "
                          f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing")
    i_date, i_min = names.index("date"), names.index("minutes")
    rows, seen = [], {}
    for lineno, cells in enumerate(reader, start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        where = f"{p}:{lineno}"
        if len(cells) <= max(i_date, i_min):
            raise ConfigError(f"{where}: expected a date and minutes, got {','.join(cells)[:60]!r}")
        raw_day, raw_min = cells[i_date].strip(), cells[i_min].strip()
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            raise ConfigError(f"{where}: bad date {raw_day[:40]!r}; use an ISO date such as "
                              "2026-03-02") from None
        try:
            minutes = float(raw_min)
        except ValueError:
            minutes = float("nan")
        if not math.isfinite(minutes) or minutes < 0 or minutes > _MAX_MINUTES:
            raise ConfigError(f"{where}: bad minutes {raw_min[:40]!r}; a number from 0 to "
                              f"{_MAX_MINUTES}")
        if day in seen:
            raise ConfigError(f"{where}: {day} is already on line {seen[day]}")
        seen[day] = lineno
        rows.append({"day": day, "minutes": minutes})
    if not rows:
        raise ConfigError(f"{p}: the practice log has a header but no days")
    return rows
