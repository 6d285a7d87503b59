"""Weekly trends: recompute the statistics of change for one or all subjects and publish them.

Schedulable weekly (``neurofeedback serve``); each run publishes, per subject, a table artifact
(one row per metric and channel) and a markdown artifact with the statements an analyst reads,
and writes the subject's HTML report to ``<data home>/reports/sub-<id>.html`` (with a markdown
artifact linking to it).
"""

from __future__ import annotations

import re

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from neurofeedback.statements import subject_trends, trend_rows, trend_statement

from .reports import subject_report_task


@task(name="subject-trends")
def trends_task(subject: str, home: str | None = None, block: str | None = None) -> list[dict]:
    """Compute and publish one subject's trends (of one block, or the trends' default)."""
    trends = subject_trends(subject, home=home, block=block)
    key = "trends-" + re.sub(r"[^a-z0-9-]", "-", subject.lower())
    if trends:
        create_table_artifact(key=key, table=trend_rows(trends),
                              description=f"Weekly trends of subject {subject}")
        lines = [f"# Weekly trends: subject {subject}", "",
                 "Associations over time, not causes; 95% confidence intervals.", ""]
        lines += [f"- {trend_statement(t)}" for t in trends]
        create_markdown_artifact(key=key + "-summary", markdown="\n".join(lines),
                                 description=f"Trend statements for {subject}")
    return trends


@flow(name="weekly-trends")
def weekly_trends(subject: str | None = None, home: str | None = None,
                  reports: bool = True, block: str | None = None) -> dict:
    """Recompute the trends of ``subject`` (or every subject in the catalog) and publish them.

    With ``reports`` (the default) each subject's HTML report is written too. ``block`` is the
    block whose metrics are analysed (``"session"``: the whole session; default: the trends'
    choice). Returns ``{"trends": {subject: [trend, …]}, "reports": {subject: report path}}``.
    """
    from neurofeedback.store import Catalog

    subjects = [subject] if subject else list(Catalog(home=home).subjects())
    futures = {s: trends_task.submit(s, home, block) for s in subjects}
    trends = {s: f.result() for s, f in futures.items()}
    paths = {}
    if reports:
        # after the trends, one report at a time: figures are large, memory stays flat
        paths = {s: subject_report_task(s, None, home, block) for s in subjects if trends[s]}
    return {"trends": trends, "reports": paths}
