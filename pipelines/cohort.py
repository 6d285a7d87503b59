"""Cohort trends: a group's change over weeks (against another group), as a report and artifacts.

``cohort-trends`` computes :func:`neurofeedback.cohort.store_cohort_trends`, writes the cohort
HTML report to ``<data home>/reports/cohort-<group>[-vs-<group>].html`` and publishes a markdown
artifact with the statements and a link to the file. The science is in the library; each task
is one call.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from neurofeedback.home import reports_dir

from .reports import _key, _md_escape


@task(name="cohort-model")
def cohort_task(group: str, vs: str | None, home: str | None, block: str | None,
                event_kind: str | None) -> dict:
    """Fit the cohort model on the store (one call into the library)."""
    from neurofeedback.cohort import store_cohort_trends

    return store_cohort_trends(group, vs=vs, home=home, block=block, event_kind=event_kind)


@task(name="cohort-report")
def cohort_report_task(cohort: dict, out: str | None = None, home: str | None = None,
                       simulated: bool = False) -> str:
    """Write the cohort report and publish a markdown artifact with its statements."""
    from neurofeedback.cohort import cohort_statement
    from neurofeedback.report.cohort import build_cohort_report

    name = cohort["group"] + (f"-vs-{cohort['vs']}" if cohort.get("vs") else "")
    path = Path(out) if out else reports_dir(home) / f"cohort-{name}.html"
    build_cohort_report(cohort, simulated=simulated).write_html(path)
    lines = [f"# Cohort trends: {_md_escape(name)}", "",
             "Associations over time, not causes; 95% confidence intervals.", ""]
    lines += [f"- {_md_escape(cohort_statement(r))}" for r in cohort["results"]]
    lines += ["", f"Report: [{_md_escape(path.name)}]({path.resolve().as_uri()})"]
    create_markdown_artifact(key=_key("cohort", name), markdown="\n".join(lines),
                             description=f"Cohort trends of {name}")
    return str(path)


@flow(name="cohort-trends")
def cohort_trends_flow(group: str, vs: str | None = None, home: str | None = None,
                       block: str | None = None, event_kind: str | None = None,
                       out: str | None = None, simulated: bool = False) -> dict:
    """Fit the cohort model of ``group`` (against ``vs``), write its report and artifact.

    ``simulated`` marks the report as simulated data (the demo). Returns ``{"cohort":
    <store_cohort_trends dict>, "report": path}``.
    """
    cohort = cohort_task(group, vs, home, block, event_kind)
    return {"cohort": cohort, "report": cohort_report_task(cohort, out, home, simulated)}
