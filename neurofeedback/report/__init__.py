"""Reports analysts read: one self-contained HTML file per session or subject.

- :func:`session_report` — one recording (by session ID or file): metadata, signal quality and
  the artifact timeline, PSD per channel with bands and IAF, band power over the session with
  the blocks, scalp maps (≥ 8 channels with positions), features with units and provenance.
- :func:`subject_report` — weeks of sessions: trend plots with 95% CI bands, the slope and
  baseline-change statements, data quality per week, context events, the session list.

Both return a :class:`Report`; ``report.write_html(path)`` writes the file (figures inline as
PNG, no scripts, no network needed) and ``report.export(folder)`` writes the figures as PNG/SVG
and the tables as CSV.
"""

from .document import Block, Report, Section, Table
from .session import build_session_report, session_report
from .subject import build_subject_report, subject_report

__all__ = ["Block", "Report", "Section", "Table", "build_session_report",
           "build_subject_report", "session_report", "subject_report"]
