"""Reports as Prefect tasks: write the HTML file, publish a markdown artifact linking to it.

``weekly_trends`` writes every subject's report with :func:`subject_report_task`; the record
flow writes the new session's report with :func:`session_report_task`. The files go to
``<data home>/reports/`` unless a path is given; the artifact summarises the report (its
sections, and for a subject the trend statements) and links to the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact

from neurofeedback.home import reports_dir


def _key(prefix: str, name: str) -> str:
    return prefix + "-" + re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")


def _md_escape(text: str) -> str:
    """Markdown-inert text: user words cannot become links, HTML or formatting."""
    return re.sub(r"([\\`*_{}\[\]()<>#+!|~])", r"\\\1", str(text))


@task(name="session-report")
def session_report_task(source: str, out: str | None = None, home: str | None = None) -> str:
    """Write the report of one session (ID or file) and publish a linked summary artifact."""
    from neurofeedback.report import session_report

    report = session_report(source, home=home)
    name = Path(source).stem if Path(source).is_file() else source
    path = Path(out) if out else reports_dir(home) / f"{name}.html"
    report.write_html(path)
    meta = dict(report.meta)
    lines = [f"# Session report: {_md_escape(meta.get('Subject', ''))}, "
             f"{_md_escape(meta.get('Session', ''))}", "",
             f"[Open the report]({path.resolve().as_uri()}) ({path.stat().st_size / 1e6:.1f} MB)", ""]
    lines += [f"- **{k}**: {_md_escape(v)}" for k, v in report.meta]
    create_markdown_artifact(key=_key("session-report", name), markdown="\n".join(lines),
                             description=f"Session report {name}")
    report.close()
    return str(path)


@task(name="subject-report")
def subject_report_task(subject: str, out: str | None = None, home: str | None = None,
                        block: str | None = None) -> str:
    """Write a subject's report (of one block, or the default) and publish a linked summary
    artifact with the statements."""
    from neurofeedback.report import subject_report

    report = subject_report(subject, home=home, block=block)
    path = Path(out) if out else reports_dir(home) / f"sub-{subject}.html"
    report.write_html(path)
    statements = next((b.text for s in report.sections if s.id == "summary"
                       for b in s.blocks if b.text), [])
    lines = [f"# Subject report: {_md_escape(subject)}", "",
             f"[Open the report]({path.resolve().as_uri()}) ({path.stat().st_size / 1e6:.1f} MB)", "",
             _md_escape(report.notice), ""]
    lines += [f"- {_md_escape(s)}" for s in statements]
    create_markdown_artifact(key=_key("subject-report", subject), markdown="\n".join(lines),
                             description=f"Subject report {subject}")
    report.close()
    return str(path)
