"""``neurofeedback demo`` (the whole product on embedded defaults, with no device) and
``neurofeedback sample-data``.

The demo:

1. the simulated inputs, generated into ``<home>/inputs`` when missing: the multi-week cohort
   (``inputs/cohort``, :func:`neurofeedback.simulate.make_cohort`) and the sample recordings
   (``inputs/cyton_meditation.csv`` & co., :func:`neurofeedback.simulate.make_sample_data`);
2. the cohort batch-processed into the session store by the ``process-recordings`` flow;
3. a short session recorded through BrainFlow's playback board from the Cyton sample
   recording, by the record flow (quality gate, crash-safe recording, FIF, store, session
   report);
4. the event-anchored part (:func:`_event_anchored_demo`): a simulated subject, ``ket01``, whose
   relative alpha steps up after a ketamine infusion (session metrics with a known change, no
   EEG), stored with its event; the change around the event is printed (level, slope, window,
   each with its 95% CI) and is in its subject report;
5. the ``weekly-trends`` flow: trends per subject and the subject reports;
6. the ``cohort-trends`` flow on a simulated study at the level of session metrics (course vs
   waitlist, 12 subjects each, known slopes; its own catalog in ``<home>/cohort-study``), and
   the cohort report (:func:`_demo_cohort`);
7. the paths of the reports, and the commands to look further.

Everything goes into a separate data home (default ``./neurofeedback-demo``) so simulated
subjects never mix with real ones; nothing is read from or written to the source tree, so the
demo runs the same from an installed wheel. Running it again reuses the inputs and the store
(the batch finds every file in the catalog) and records one more session.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated

import typer

from ._shared import VerboseOpt, configure_flows, flow_errors, out, setup_logging, user_errors

#: ``neurofeedback sample-data cohort|recordings`` (registered as ``sample-data`` by
#: :mod:`neurofeedback.cli`).
sample_app = typer.Typer(help="Generate the project's simulated sample data (deterministic).",
                         no_args_is_help=True)

def _cohort_complete(folder: Path) -> bool:
    truth = folder / "truth.json"
    if not truth.is_file():
        return False
    try:
        files = json.loads(truth.read_text()).get("files") or {}
    except (OSError, ValueError):
        return False
    return bool(files) and all((folder / f).is_file() for f in files)


def _step(n: int, text: str) -> float:
    out.print(f"[bold]{n}.[/bold] {text}")
    return time.perf_counter()


def _took(t0: float) -> str:
    return f"{time.perf_counter() - t0:.0f} s"


@user_errors
def demo(
    home: Annotated[Path, typer.Option(
        "--home", help="Data home of the demo (kept apart from real data).")] = Path("neurofeedback-demo"),
    record_seconds: Annotated[float, typer.Option(
        "--record-seconds", min=10.0, help="Length of the recorded session (s of the sample recording).")] = 180.0,
    # 20x: the 180-s session streams in ~9 s (5x took ~36 s); the stored session is identical at
    # 5x, 20x and 50x (same samples, same metrics: measured 2026-12-01), nothing is shown live
    speed: Annotated[float, typer.Option("--speed", min=1.0, help="Playback speed of the recording.")] = 20.0,
    verbose: VerboseOpt = False,
):
    """Run the whole pipeline on simulated data with no device, and print where the reports are."""
    setup_logging(verbose)
    t_start = time.perf_counter()
    home = home.expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    # the flows (and Prefect's own state) use this home; set before a flow module imports Prefect
    os.environ["NEUROFEEDBACK_HOME"] = str(home)
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    configure_flows(home)
    from ..home import data_home

    data_home(home)
    inputs = home / "inputs"  # generated here, never read from the source tree
    cohort = inputs / "cohort"
    out.print(f"neurofeedback demo — data home {home}")

    t0 = _step(1, "Sample data")
    recording = inputs / "cyton_meditation.csv"
    if recording.is_file() and recording.with_suffix(".json").is_file():
        out.print(f"   using the sample recordings in {inputs}")
    else:
        from ..simulate import make_sample_data

        make_sample_data(inputs)
        out.print(f"   generated the sample recordings in {inputs}")
    if _cohort_complete(cohort):
        out.print(f"   using the simulated cohort in {cohort}")
    else:
        from ..simulate import make_cohort

        truth = make_cohort(cohort)
        n = sum(len(s.sessions) for s in truth.subjects)
        out.print(f"   generated the simulated cohort: {n} sessions of 3 subjects over 8 weeks + 1 "
                  f"corrupted file in {cohort} ({_took(t0)})")

    t0 = _step(2, "Batch-process the cohort into the session store (Prefect flow "
                  "'process-recordings', one task per file; starting Prefect's local API "
                  "takes ~20 s)")
    import pipelines.process as pp

    with flow_errors():  # Prefect not starting (a very busy machine): one line, not a traceback
        records = pp.run_process([cohort], home=home)
    counts = {s: sum(r["status"] == s for r in records)
              for s in ("imported", "reprocessed", "unchanged", "skipped")}
    out.print("   " + ", ".join(f"{v} {k}" for k, v in counts.items() if v) + f" ({_took(t0)})")
    for r in records:
        if r["status"] == "skipped":
            reason = str(r["reason"]).removeprefix(f"{r['path']}: ")  # the path is said once
            out.print(f"   skipped {Path(r['path']).name}: {reason}", markup=False)

    t0 = _step(3, f"Record a session by playing {recording.name} back through BrainFlow's playback "
                  f"board at {speed:g}×")
    from pipelines.record import record_and_process

    with flow_errors():
        summary = record_and_process(
            connection=dict(board="playback", file=str(recording), speed=speed, loop=False),
            subject="demo01", duration_s=record_seconds, protocol="meditation",
            blocks="eyes-open:60,eyes-closed:60,meditation:60" if record_seconds >= 180 else None,
            notes="recorded by 'neurofeedback demo' from the simulated sample recording",
            home=str(home), gate_s=4.0)
    if summary is None:
        out.print("   the recording was too short to process")
        session_report = None
    else:
        session_report = summary.get("report")
        out.print(f"   {summary['session_id']}: {summary['duration_s']:.0f} s, "
                  f"{100 * summary['clean_fraction']:.0f}% clean data ({_took(t0)})")

    _event_anchored_demo(home)  # issue 18: change around an event (its report is made in the next step)

    t0 = _step(5, "Weekly trends and subject reports (Prefect flow 'weekly-trends')")
    from pipelines.trends import weekly_trends

    with flow_errors():
        result = weekly_trends(home=str(home))
    from ..statements import trend_statement

    # per subject, the statement of its primary metric (the one tested at 5%, in the sessions'
    # main block); every other metric is in the reports and 'neurofeedback trends'
    for subject, trends in result["trends"].items():
        for t in trends:
            if t.get("family") == "primary":
                out.print(f"   {subject}: {trend_statement(t)}", markup=False, soft_wrap=True)
    out.print(f"   ({_took(t0)})")

    cohort_report = _demo_cohort(home)

    out.print(f"\n[bold]Reports[/bold] (open in a browser; no network needed), all in "
              f"{home / 'reports'}:")
    if session_report:
        out.print(f"  session  {session_report}", markup=False, soft_wrap=True)
    for _subject, path in sorted(result["reports"].items()):
        out.print(f"  subject  {path}", markup=False, soft_wrap=True)
    out.print(f"  cohort   {cohort_report}  (simulated metric series)", markup=False,
              soft_wrap=True)
    out.print(f"\nDone in {time.perf_counter() - t_start:.0f} s. Look further with:\n"
              f"  neurofeedback sessions --home {home}\n"
              f"  neurofeedback trends --subject alpha01 --home {home}\n"
              f"  neurofeedback report subject alpha01 --home {home} --out alpha01.html\n"
              f"  neurofeedback event change --subject ket01 --home {home}\n"
              f"  neurofeedback cohort trends --group course --vs waitlist --home {home / COHORT_HOME}",
              markup=False, soft_wrap=True)


def _event_anchored_demo(home: Path) -> None:
    """The demo's event-anchored analysis (issue 18), on its own: store the simulated subject
    ``ket01`` (session metrics with a known step after a ketamine infusion, no EEG) and its
    event, then print the change around the event of its primary series and the truth.

    Idempotent: a second run finds the sessions unchanged and the event already there.
    """
    import pandas as pd

    from ..event_change import event_statement, subject_event_changes
    from ..simulate import simulate_event_subject
    from ..store import Catalog

    t0 = _step(4, "Change around an event: simulated subject ket01, a ketamine infusion after 5 "
                  "weeks of sessions (session metrics with a known change, no EEG)")
    sim = simulate_event_subject()
    subject, ev = sim["subject"], sim["event"]
    cat = Catalog(home=home)
    statuses = [cat.record_session(subject, s["session"], s["fields"], s["metrics"])[0]
                for s in sim["sessions"]]
    have = cat.events(subject)
    if not ((have["kind"] == ev["kind"]) & (have["time"] == pd.Timestamp(ev["time"]))).any():
        cat.add_event(subject, ev["time"], ev["kind"], ev["text"], quantity=ev["quantity"],
                      unit=ev["unit"])
    n_new = sum(s == "imported" for s in statuses)
    out.print(f"   {len(statuses)} sessions of {subject} in the store ({n_new} new); event: "
              f"{ev['kind']} {ev['quantity']:g} {ev['unit']} on {ev['time']:%Y-%m-%d %H:%M} UTC",
              markup=False, soft_wrap=True)
    for r in subject_event_changes(subject, home=home):
        if r["family"] == "primary":
            for k in range(len(r["events"])):
                out.print(f"   {subject}: {event_statement(r, k)}", markup=False, soft_wrap=True)
    level = sim["truth"]["relative_alpha:posterior"]["level"]
    out.print(f"   (simulated truth: relative alpha (posterior) +{100 * level:.0f} percentage points "
              f"at the infusion, no slope change; relative theta and IAF unchanged; {_took(t0)})",
              markup=False, soft_wrap=True)


# ---------------------------------------------------------------------------------------------
# the cohort part: a simulated study at the level of session metrics (no EEG)

#: Sub-home of the demo's simulated study (its own catalog: its 24 subjects never mix with the
#: EEG cohort's subjects, their trends or reports).
COHORT_HOME = "cohort-study"
#: The study: 2 groups x 12 subjects x 8 weeks, 2-3 sessions a week; relative alpha (posterior)
#: 0.30 + 0.03 (one session-noise SD) x the simulated series; the course rises 0.3 SD/week.
DEMO_STUDY = dict(groups=(("course", 12, 0.3), ("waitlist", 12, 0.0)), weeks=8, per_week=(2, 3),
                  nuisance="ou", slope_sd=0.1, base=0.30, unit=0.03, metric="relative_alpha",
                  channel="posterior", prefix="demo")


def _store_study(home: Path) -> tuple[int, dict]:
    """Simulate the study and store it through the Catalog API (once; reused afterwards)."""
    from ..simulate import simulate_cohort_series
    from ..store import Catalog

    cat = Catalog(home=home)
    groups = cat.groups()
    if groups and all(groups.values()):
        return len(groups), {}
    frame, subject_groups, _events, truth = simulate_cohort_series(20261201, **DEMO_STUDY)
    import pandas as pd

    for sid, d in frame.groupby("session_id", sort=False):
        subject, session = sid.removeprefix("sub-").split("_ses-")
        metrics = pd.DataFrame({"metric": d["metric"], "channel": d["channel"],
                                "value": d["value"], "unit": "fraction", "block": "session"})
        fields = {"start_time": d["start_time"].iloc[0].to_pydatetime(),
                  "input_sha256": f"simulated-metric-series-{sid}", "config_hash": "simulated",
                  "clean_fraction": 1.0, "notes": "simulated metric series (neurofeedback demo)",
                  "device": "simulated (metric series, no EEG)"}
        cat.record_session(subject, "s" + session, fields, metrics)
    for s, g in subject_groups.items():
        cat.set_group(s, g)
    return len(subject_groups), truth.group_slopes


def _demo_cohort(home: Path) -> str:
    """Step 6: the cohort flow on a simulated study; prints its statements; the report path."""
    t0 = _step(6, "Cohort trends of a SIMULATED study (metric series with known truth, no EEG: "
                  "course vs waitlist, 12 subjects each, 8 weeks; Prefect flow 'cohort-trends')")
    study = home / COHORT_HOME
    n, slopes = _store_study(study)
    out.print(f"   {n} simulated subjects in {study}; true slopes of relative alpha: course "
              f"+0.9 pp/week, waitlist 0 (the OU day-to-day state of the validation)",
              markup=False, soft_wrap=True)
    from pipelines.cohort import cohort_trends_flow

    from ..cohort import cohort_statement

    with flow_errors():
        res = cohort_trends_flow(group="course", vs="waitlist", home=str(study),
                                 out=str(home / "reports" / "cohort-course-vs-waitlist.html"),
                                 simulated=True)
    for r in res["cohort"]["results"]:
        out.print(f"   {cohort_statement(r)}", markup=False, soft_wrap=True)
    out.print(f"   ({_took(t0)})")
    return res["report"]


@sample_app.command("cohort")
@user_errors
def sample_cohort(
    folder: Annotated[Path, typer.Argument(help="Where to write it.")] = Path("sample_data/cohort"),
):
    """The multi-week cohort (3 subjects × 8 weeks × 3 sessions, one corrupted file), with its truth."""
    from ..simulate import make_cohort

    t0 = time.perf_counter()
    truth = make_cohort(folder)
    n = sum(len(s.sessions) for s in truth.subjects)
    out.print(f"wrote {n} sessions + 1 corrupted file to {folder} ({truth.size_bytes / 1e6:.0f} MB, "
              f"{time.perf_counter() - t0:.0f} s); ground truth in {Path(folder) / 'README.md'}")


@sample_app.command("recordings")
@user_errors
def sample_recordings(
    folder: Annotated[Path, typer.Argument(help="Where to write them.")] = Path("sample_data"),
):
    """The short single recordings (Muse eyes open/closed, Cyton meditation) with their truth."""
    from ..simulate import make_sample_data

    paths = make_sample_data(folder)
    out.print(f"wrote {len(paths)} files to {folder}")
