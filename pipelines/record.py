"""Record a live session, then process it into the session store: one task for the whole
recording, one to process and store it.

Run it as ``neurofeedback record ... --flow`` or ``python -m pipelines.record --board synthetic
--subject s01 --duration 20s`` (which calls :func:`pipelines.configure` first; from Python, call
it yourself before importing this module). The recording is a single task (a live stream is one unit of
work: never a task per chunk); what crosses between tasks is paths and small records.
"""

from __future__ import annotations

if __name__ == "__main__":  # run as a script: this project's Prefect settings before Prefect
    import argparse

    from pipelines import configure

    _pre = argparse.ArgumentParser(add_help=False)
    _pre.add_argument("--home")
    configure(_pre.parse_known_args()[0].home)

from prefect import flow, task
from prefect.states import Failed

from neurofeedback import errors
from neurofeedback.acquisition.record import connection_from_options
from neurofeedback.acquisition.recorder import parse_blocks
from neurofeedback.recording import process_and_store, record_and_store

from .reports import session_report_task


@task(name="record-session", retries=0)
def record_task(connection: dict, subject: str, duration_s: float, protocol=None, blocks=None,
                notes: str = "", home=None, force: bool = False, gate_s: float = 4.0,
                stall_timeout_s: float = 5.0) -> dict:
    """Record one session (quality gate included); return its paths and how it ended.

    A user error (no device, a missing connection option, a no-go quality check) is returned as
    ``{"error": {"type", "message"}}``, not raised: it is not a crash of the task, and raising
    would make Prefect log a traceback where the user needs one line.
    """
    try:
        conn = connection_from_options(**connection, home=home)
        res = record_and_store(conn, subject=subject, duration_s=duration_s, protocol=protocol,
                               blocks=parse_blocks(blocks), notes=notes, home=home, force=force,
                               gate_s=gate_s, stall_timeout_s=stall_timeout_s, process=False,
                               store=False)
    except errors.NeurofeedbackError as exc:
        return {"error": {"type": type(exc).__name__, "message": str(exc)}}
    rec = res.recording
    return {"folder": str(rec.paths.folder), "csv": str(rec.paths.csv),
            "fif": str(res.fif) if res.fif else None, "n_samples": rec.n_samples,
            "end_reason": rec.end_reason, "disconnects": list(rec.disconnects)}


@task(name="process-session")
def process_task(fif: str, subject: str, home=None) -> dict:
    """Process the recorded session into the session store; return its summary (with its
    ``session_id``)."""
    import json

    _, stored = process_and_store(fif, subject=subject, home=home)
    summary = json.loads(stored.summary_path.read_text())
    summary["session_id"] = stored.session_id
    return summary


@flow(name="record-session")
def record_flow(connection: dict, subject: str, duration_s: float, protocol=None,
                blocks=None, notes: str = "", home=None, force: bool = False,
                gate_s: float = 4.0, stall_timeout_s: float = 5.0,
                report: bool = True) -> dict | None:
    """The Prefect flow behind :func:`record_and_process` (same parameters).

    A user error in the recording ends the run in a ``Failed`` state whose message is the
    one-line error and whose data is the task's ``{"error": …}`` record (no traceback).
    """
    rec = record_task(connection, subject, duration_s, protocol, blocks, notes, home, force,
                      gate_s, stall_timeout_s)
    if "error" in rec:
        return Failed(message=rec["error"]["message"], data=rec)
    if not rec["fif"]:
        return None
    summary = process_task(rec["fif"], subject, home)
    summary["recording"] = rec
    if report:
        summary["report"] = session_report_task(summary["session_id"], None, home)
    return summary


def record_and_process(connection: dict, subject: str, duration_s: float, protocol=None,
                       blocks=None, notes: str = "", home=None, force: bool = False,
                       gate_s: float = 4.0, stall_timeout_s: float = 5.0,
                       report: bool = True) -> dict | None:
    """Record a session from ``connection`` (the ``record`` options) and process it (a flow run).

    With ``report`` the session's HTML report is written to ``<data home>/reports/`` (its path
    is the summary's ``report``) and linked from a markdown artifact.

    Returns
    -------
    summary : dict | None
        The session summary, or ``None`` when too few samples were recorded.

    Raises
    ------
    NeurofeedbackError
        The recording's own error (its class, e.g. ``BoardError``, and its one-line message)
        when the run failed on bad input; the flow run is ``Failed`` with that message.
    """
    state = record_flow(connection, subject, duration_s, protocol, blocks, notes, home, force,
                        gate_s, stall_timeout_s, report, return_state=True)
    if state.is_failed():
        record = state.result(raise_on_failure=False)
        if not isinstance(record, dict) or "error" not in record:
            return state.result()  # not a user error: raise what the run raised
        cls = getattr(errors, record["error"]["type"], errors.NeurofeedbackError)
        exc = cls.__new__(cls)
        Exception.__init__(exc, record["error"]["message"])  # the message as it was, one line
        raise exc
    return state.result()


def main(argv=None) -> int:
    """``python -m pipelines.record``: run the flow from the shell (``record --flow``'s options).

    Prints the session summary as one JSON object. The command line's own ``neurofeedback
    record --flow`` prints it as tables; this entry point does not import the command line
    (``pipelines/`` sits below it).
    """
    import argparse
    import json
    import sys
    import warnings

    from neurofeedback.acquisition.recorder import parse_duration
    from neurofeedback.errors import NeurofeedbackError
    from neurofeedback.home import validate_label

    p = argparse.ArgumentParser(prog="python -m pipelines.record",
                                description="Record a session and process it (Prefect flow).")
    p.add_argument("--board", required=True, help="BrainFlow board (see 'neurofeedback boards').")
    p.add_argument("--subject", required=True, help="Subject ID (letters and digits).")
    p.add_argument("--duration", default="10m", help="Session length: 20s, 10m, 1h30m.")
    p.add_argument("--protocol", help="Protocol name for the record.")
    p.add_argument("--blocks", help='Timed blocks, e.g. "eyes-open:60,eyes-closed:60".')
    p.add_argument("--notes", default="", help="Free-text notes stored with the session.")
    for opt in ("--serial-port", "--mac-address", "--serial-number", "--ip-address",
                "--master-board", "--other-info", "--channel-names", "--file"):
        p.add_argument(opt, help=f"As 'neurofeedback record {opt}'.")
    p.add_argument("--ip-port", type=int, help="IP port (WiFi boards).")
    p.add_argument("--speed", type=float, default=1.0, help="Playback speed (1 = real time).")
    p.add_argument("--loop", action="store_true", help="Loop the playback file.")
    p.add_argument("--force", action="store_true", help="Record even when the check says no-go.")
    p.add_argument("--check-seconds", type=float, default=4.0, help="Quality check length.")
    p.add_argument("--stall-timeout", type=float, default=5.0, help="Seconds before reconnecting.")
    p.add_argument("--home", help="Data home (default $NEUROFEEDBACK_HOME or ~/neurofeedback).")
    a = p.parse_args(argv)
    # BrainFlow imports pkg_resources, which setuptools >= 80.9 deprecates on stderr
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    connection = {k: getattr(a, k) for k in ("board", "serial_port", "mac_address",
                                             "serial_number", "ip_address", "ip_port",
                                             "master_board", "other_info", "file",
                                             "speed", "loop", "channel_names")}
    try:
        summary = record_and_process(
            connection=connection, subject=validate_label(a.subject, kind="subject"),
            duration_s=parse_duration(a.duration), protocol=a.protocol, blocks=a.blocks,
            notes=a.notes, home=a.home, force=a.force, gate_s=a.check_seconds,
            stall_timeout_s=a.stall_timeout)
    except NeurofeedbackError as exc:
        print(f"neurofeedback: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if summary is None:
        print("too few samples to process; the raw files are kept", file=sys.stderr)
        return 0
    print(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":  # python -m pipelines.record --board synthetic --subject s01 …
    raise SystemExit(main())
