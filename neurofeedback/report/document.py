"""A report as data (sections of figures, tables and words) and its one-file HTML rendering.

The HTML is self-contained: styles inline, figures as base64 PNG ``data:`` URIs, no scripts and
no external resource, so it opens without a network and can be mailed as one file. All text
goes through Jinja2 with autoescaping: notes, subject IDs, event text and file names are shown
as text, never interpreted as HTML.

:meth:`Report.export` writes the same figures as PNG and SVG and the tables as CSV for people
who build their own.
"""

from __future__ import annotations

import base64
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .._csv import write_csv
from ..errors import ConfigError

__all__ = ["Block", "Report", "Section", "Table"]

_FIG_DPI = 100


@dataclass
class Table:
    """A table with a name (its CSV file name) and per-column units for the header."""

    name: str
    frame: pd.DataFrame
    caption: str = ""
    units: dict = field(default_factory=dict)


@dataclass
class Block:
    """One item of a section: a figure (``figure`` name) and/or a table, with words."""

    figure: str | None = None
    table: Table | None = None
    text: list[str] = field(default_factory=list)
    alt: str = ""


@dataclass
class Section:
    """A titled part of the report (``id`` is its HTML anchor and test hook)."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    intro: list[str] = field(default_factory=list)


@dataclass
class Report:
    """A report: a title, metadata pairs, sections, and the figures they refer to by name.

    Attributes
    ----------
    kind : str
        ``"session"`` or ``"subject"``.
    title : str
    subtitle : str
    meta : list of (str, str)
        Key facts shown at the top (all text is escaped).
    sections : list of Section
    figures : dict
        ``{name: matplotlib.figure.Figure}``.
    notice : str
        The caution shown under the title.
    """

    kind: str
    title: str
    subtitle: str = ""
    meta: list = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    notice: str = ("This report describes measurements from consumer EEG. It is not a diagnosis "
                   "and does not say what caused any change.")
    _png: dict = field(default_factory=dict, repr=False)

    def png(self, name: str) -> bytes:
        """The PNG of figure ``name`` (rendered once, then reused by the HTML and the export)."""
        if name not in self._png:
            fig = self.figures[name]
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=_FIG_DPI)
            # the layout is settled now: later renders (SVG export) need not solve it again
            fig.set_layout_engine("none")
            self._png[name] = buf.getvalue()
        return self._png[name]

    def tables(self) -> list[Table]:
        """Every table of the report, in order."""
        return [b.table for s in self.sections for b in s.blocks if b.table is not None]

    def section_ids(self) -> list[str]:
        """The sections' anchors, in order."""
        return [s.id for s in self.sections]

    # -- rendering -------------------------------------------------------------------------

    def to_html(self) -> str:
        """Render the report as one self-contained HTML document (a string)."""
        images = {name: "data:image/png;base64," + base64.b64encode(self.png(name)).decode("ascii")
                  for name in self.figures}
        template = _environment().from_string(_TEMPLATE)
        return template.render(
            report=self, images=images, css=_CSS,
            generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            fmt=_format_cell, numeric=pd.api.types.is_numeric_dtype,
        )

    def write_html(self, out) -> Path:
        """Write the HTML file atomically (temp file + rename) and return its path."""
        out = Path(out)
        if out.suffix.lower() not in (".html", ".htm"):
            raise ConfigError(f"Invalid value for the out parameter: a report is written as "
                              f".html, but got {out.name!r}")
        html = self.to_html()
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=out.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(html)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # a normal file, readable as the umask allows
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return out

    def export(self, folder) -> list[Path]:
        """Write every figure as PNG and SVG and every table as CSV into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, fig in self.figures.items():
            p = folder / f"{_safe_name(name)}.png"
            p.write_bytes(self.png(name))
            written.append(p)
            p = p.with_suffix(".svg")
            fig.savefig(p, format="svg")
            written.append(p)
        for t in self.tables():
            p = folder / f"{_safe_name(t.name)}.csv"
            write_csv(t.frame, p)  # spreadsheet-safe text cells (neurofeedback._csv)
            written.append(p)
        return written

    def close(self) -> None:
        """Release the figures' memory."""
        self.figures.clear()
        self._png.clear()


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "item"


def _format_cell(v) -> str:
    """Numbers to at most 4 significant digits; missing values as an en dash."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != v:
            return "–"
        if v == 0:
            return "0"
        if abs(v) >= 1e5 or abs(v) < 1e-3:
            return f"{v:.3g}"
        return f"{v:.4g}"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M")
    return str(v)


def _environment():
    from jinja2 import Environment, StrictUndefined

    return Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                       lstrip_blocks=True)


_CSS = """
:root { --fg:#1d2330; --muted:#5b6472; --line:#d9dde3; --accent:#4c72b0; --bg:#fbfbfc; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; color: var(--fg); background: var(--bg); margin: 0; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 18px 32px 10px; }
h1 { font-size: 22px; margin: 0 0 2px; }
.subtitle { color: var(--muted); margin: 0 0 8px; }
.notice { background: #fff7e6; border-left: 4px solid #e8a33d; padding: 6px 12px; margin: 8px 0;
          font-size: 14px; }
nav { font-size: 14px; margin-top: 6px; }
nav a { color: var(--accent); margin-right: 14px; text-decoration: none; }
main { padding: 8px 32px 40px; max-width: 1500px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 18px 0;
          padding: 6px 20px 14px; }
h2 { font-size: 18px; margin: 10px 0 6px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 18px;
          margin: 8px 0; font-size: 14px; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.block { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; margin: 10px 0; }
.block figure { margin: 0; flex: 1 1 720px; max-width: 1000px; }
.block figure img { width: 100%; height: auto; border: 1px solid #eee; }
.block .side { flex: 1 1 320px; min-width: 280px; overflow-x: auto; }
.block .side.wide { flex-basis: 100%; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0 8px; }
caption { text-align: left; color: var(--muted); font-size: 13px; padding-bottom: 3px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: right;
         vertical-align: top; }
th { background: #f3f5f8; font-weight: 600; }
td.num, td.short { white-space: nowrap; }
td.text, th.text { text-align: left; overflow-wrap: break-word; word-break: normal;
                   max-width: 420px; }
.unit { color: var(--muted); font-weight: normal; font-size: 12px; }
p.statement { margin: 4px 0; }
footer { color: var(--muted); font-size: 12px; padding: 0 32px 24px; }
@media print { section { break-inside: avoid; } nav { display: none; } }
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{{ report.title }}</title>
<style>{{ css | safe }}</style>
</head>
<body>
<header>
<h1>{{ report.title }}</h1>
{% if report.subtitle %}<p class="subtitle">{{ report.subtitle }}</p>{% endif %}
<p class="notice">{{ report.notice }}</p>
{% if report.meta %}
<dl class="meta" id="meta">
{% for k, v in report.meta %}<dt>{{ k }}</dt><dd>{{ v }}</dd>
{% endfor %}
</dl>
{% endif %}
<nav>{% for s in report.sections %}<a href="#{{ s.id }}">{{ s.title }}</a>{% endfor %}</nav>
</header>
<main>
{% for s in report.sections %}
<section id="{{ s.id }}">
<h2>{{ s.title }}</h2>
{% for p in s.intro %}<p>{{ p }}</p>
{% endfor %}
{% for b in s.blocks %}
<div class="block">
{% if b.figure %}
<figure><img src="{{ images[b.figure] }}" alt="{{ b.alt or b.figure }}" data-figure="{{ b.figure }}"></figure>
{% endif %}
{% if b.table is not none or b.text %}
<div class="side{% if not b.figure %} wide{% endif %}">
{% for p in b.text %}<p class="statement">{{ p }}</p>
{% endfor %}
{% if b.table is not none %}
<table data-table="{{ b.table.name }}">
{% if b.table.caption %}<caption>{{ b.table.caption }}</caption>{% endif %}
<thead><tr>{% for c in b.table.frame.columns %}<th class="{{ 'num' if numeric(b.table.frame[c]) else 'text' }}">{{ c }}{% if b.table.units.get(c) %} <span class="unit">{{ b.table.units[c] }}</span>{% endif %}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in b.table.frame.itertuples(index=False) %}
<tr>{% for v in row %}{% set cell = fmt(v) %}<td class="{{ 'num' if v is number else ('text short' if cell | length < 24 else 'text') }}">{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
{% endif %}
</div>
{% endif %}
</div>
{% endfor %}
</section>
{% endfor %}
</main>
<footer>Generated {{ generated }} by neurofeedback. Figures are PNG images; the same figures
(PNG, SVG) and tables (CSV) are written by <code>--export DIR</code>.</footer>
</body>
</html>
"""
