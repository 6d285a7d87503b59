"""Reports analysts read: one self-contained HTML file per session or subject.

- :func:`session_report` — one recording (by session ID or file): metadata, signal quality and
  the artifact timeline, PSD per channel with bands and IAF, band power over the session with
  the blocks, scalp maps (≥ 8 channels with positions), features with units and provenance.
  A stored session's report uses what the store kept (no reprocessing).
- :func:`subject_report` — weeks of sessions: trend plots with 95% CI bands, the slope and
  baseline-change statements, data quality per week, context events, the session list.

Both return a :class:`Report`; ``report.write_html(path)`` writes the file (figures inline as
PNG, no scripts, no network needed) and ``report.export(folder)`` writes the figures as PNG/SVG
and the tables as CSV.

Names load lazily (:mod:`lazy_loader`, as :mod:`neurofeedback` does): a session report does not
import the trends' statistics (statsmodels), nor a subject report the session's processing.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(__name__, submod_attrs={
    "document": ["Block", "Report", "Section", "Table"],
    "session": ["build_session_report", "session_report"],
    "subject": ["build_subject_report", "subject_report"],
})
