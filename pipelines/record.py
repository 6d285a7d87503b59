"""Record a live session, then process it into the session store: one task for the whole
recording, one to process and store it.

Run it as ``neurofeedback record ... --flow`` or ``python -m pipelines.record --board synthetic
--subject s01 --duration 20s``. The recording is a single task (a live stream is one unit of
work: never a task per chunk); what crosses between tasks is paths and small records.
"""

from __future__ import annotations

from . import _env  # noqa: F401  (Prefect settings before Prefect is imported)

from prefect import flow, task

from neurofeedback.acquisition.record import connection_from_options, record_session
from neurofeedback.acquisition.recorder import parse_blocks

from .reports import session_report_task


@task(name="record-session", retries=0)
def record_task(connection: dict, subject: str, duration_s: float, protocol=None, blocks=None,
                notes: str = "", home=None, force: bool = False, gate_s: float = 4.0,
                stall_timeout_s: float = 5.0) -> dict:
    """Record one session (quality gate included); return its paths and how it ended."""
    conn = connection_from_options(**connection, home=home)
    res = record_session(conn, subject=subject, duration_s=duration_s, protocol=protocol,
                         blocks=parse_blocks(blocks), notes=notes, home=home, force=force,
                         gate_s=gate_s, stall_timeout_s=stall_timeout_s, process=False,
                         store=False)
    rec = res.recording
    return {"folder": str(rec.paths.folder), "csv": str(rec.paths.csv),
            "fif": str(res.fif) if res.fif else None, "n_samples": rec.n_samples,
            "end_reason": rec.end_reason, "disconnects": list(rec.disconnects)}


@task(name="process-session")
def process_task(fif: str, subject: str, home=None) -> dict:
    """Process the recorded session into the session store; return its summary (with its
    ``session_id``)."""
    import json

    from neurofeedback.store import ingest_file

    res = ingest_file(fif, home=home, subject=subject)
    summary = json.loads(res.summary_path.read_text())
    summary["session_id"] = res.session_id
    return summary


@flow(name="record-session")
def record_and_process(connection: dict, subject: str, duration_s: float, protocol=None,
                       blocks=None, notes: str = "", home=None, force: bool = False,
                       gate_s: float = 4.0, stall_timeout_s: float = 5.0,
                       report: bool = True) -> dict | None:
    """Record a session from ``connection`` (the ``record`` options) and process it.

    With ``report`` the session's HTML report is written to ``<data home>/reports/`` (its path
    is the summary's ``report``) and linked from a markdown artifact. Returns the session
    summary, or ``None`` when too few samples were recorded.
    """
    rec = record_task(connection, subject, duration_s, protocol, blocks, notes, home, force,
                      gate_s, stall_timeout_s)
    if not rec["fif"]:
        return None
    summary = process_task(rec["fif"], subject, home)
    summary["recording"] = rec
    if report:
        summary["report"] = session_report_task(summary["session_id"], None, home)
    return summary


if __name__ == "__main__":  # python -m pipelines.record --board synthetic --subject s01 …
    import sys

    from neurofeedback.cli import app

    sys.exit(app(["record", "--flow", *sys.argv[1:]]))
