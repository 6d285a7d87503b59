"""The ``event`` commands: context events on a subject's timeline, the practice log, and the change
around an event.

``event add|list|edit|delete`` read and write the catalog's events (an event needs a subject the
catalog knows: a typo is an error, never a new subject); ``event practice-import`` reads a
practice log (CSV ``date,minutes``); ``event change`` runs
:func:`neurofeedback.event_change.subject_event_changes` and prints one sentence per series and
event (or JSON). Every user error is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ConfigError
from ._shared import BlockOpt, HomeOpt, JsonOpt, check_block, out, user_errors

#: ``neurofeedback event ...`` (registered as ``event`` by :mod:`neurofeedback.cli`).
event_app = typer.Typer(help="Context events on a subject's timeline (therapy, infusions, practice), "
                             "the practice log, and the change around an event.",
                        no_args_is_help=True)

_KIND_HELP = ("therapy, ketamine, medication, course-start, course-end, practice-change, practice, "
              "note or other.")


def _parse_when(text: str, option: str = "--date") -> datetime:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"Invalid value for the '{option}' parameter. Allowed values are ISO dates "
                          f"such as '2026-03-02' or '2026-03-02T10:30', but got {text!r} instead.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when


def _describe(e: dict) -> str:
    q = e.get("quantity")
    qty = "" if q is None or (isinstance(q, float) and math.isnan(q)) else \
        f" {q:g}{(' ' + e['unit']) if e.get('unit') else ''}"
    text = f": {e['text']}" if e.get("text") else ""
    return f"{e['subject']} {e['time']:%Y-%m-%d %H:%M} UTC {e['kind']}{qty}{text}"


@event_app.command("add")
@user_errors
def event_add(
    subject: Annotated[str, typer.Option("--subject", help="Subject ID (must be in the catalog).")],
    date: Annotated[str, typer.Option(
        "--date", help="When: 2026-03-02 or 2026-03-02T10:30 (UTC unless an offset is given).")],
    kind: Annotated[str, typer.Option("--kind", help=_KIND_HELP)],
    text: Annotated[str, typer.Option("--text", help="What happened (free text).")] = "",
    quantity: Annotated[float | None, typer.Option(
        "--quantity", help="An amount: a dose, minutes of practice per day.")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="The quantity's unit (mg/kg, min/day).")] = None,
    home: HomeOpt = None,
):
    """Add a context event (e.g. a ketamine infusion, a new practice) to a subject's timeline."""
    from ..home import validate_label
    from ..store import Catalog

    validate_label(subject, kind="subject")
    when = _parse_when(date)
    if unit is not None and quantity is None:
        raise ConfigError("Invalid value for the '--unit' parameter: a unit needs a --quantity.")
    cat = Catalog(home=home)
    event_id = cat.add_event(subject, when, kind, text, quantity=quantity, unit=unit)
    out.print(f"added event {event_id}: {_describe(cat.event(event_id))}", markup=False,
              soft_wrap=True)


@event_app.command("list")
@user_errors
def event_list(
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
):
    """List context events (times in UTC)."""
    from ..store import Catalog

    df = Catalog(home=home).events(subject=subject)
    if as_json:
        typer.echo(df.to_json(orient="records", date_format="iso"))
        return
    t = Table(title=f"{len(df)} events (times in UTC)", title_justify="left")
    for c in ("id", "subject", "time", "kind", "quantity", "unit", "text"):
        t.add_column(c)
    for r in df.itertuples(index=False):
        q = "" if r.quantity is None or math.isnan(r.quantity) else f"{r.quantity:g}"
        t.add_row(str(r.event_id), r.subject, f"{r.time:%Y-%m-%d %H:%M}", r.kind, q, r.unit or "",
                  r.text)
    out.print(t)


@event_app.command("edit")
@user_errors
def event_edit(
    event_id: Annotated[str, typer.Argument(help="The event's id (see 'event list').")],
    date: Annotated[str | None, typer.Option("--date", help="New time (ISO; UTC unless an offset).")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help=_KIND_HELP)] = None,
    text: Annotated[str | None, typer.Option("--text", help="New text.")] = None,
    quantity: Annotated[float | None, typer.Option("--quantity", help="New quantity.")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="New unit.")] = None,
    clear_quantity: Annotated[bool, typer.Option(
        "--clear-quantity", help="Remove the quantity and its unit.")] = False,
    home: HomeOpt = None,
):
    """Change an event's time, kind, text, quantity or unit."""
    from ..store import Catalog

    fields = {}
    if date is not None:
        fields["time"] = _parse_when(date)
    for name, value in (("kind", kind), ("text", text), ("quantity", quantity), ("unit", unit)):
        if value is not None:
            fields[name] = value
    if clear_quantity:
        if quantity is not None or unit is not None:
            raise ConfigError("Invalid options: --clear-quantity with --quantity or --unit.")
        fields.update(quantity=None, unit=None)
    if not fields:
        raise ConfigError("Nothing to change: give --date, --kind, --text, --quantity, --unit or "
                          "--clear-quantity.")
    e = Catalog(home=home).edit_event(event_id, **fields)
    out.print(f"event {event_id} is now: {_describe(e)}", markup=False, soft_wrap=True)


@event_app.command("delete")
@user_errors
def event_delete(
    event_id: Annotated[str, typer.Argument(help="The event's id (see 'event list').")],
    home: HomeOpt = None,
):
    """Delete one event (its sessions and every other event stay)."""
    from ..store import Catalog

    cat = Catalog(home=home)
    e = cat.event(event_id)
    cat.delete_event(event_id)
    out.print(f"deleted event {event_id}: {_describe(e)}", markup=False, soft_wrap=True)


@event_app.command("practice-import")
@user_errors
def event_practice_import(
    csv: Annotated[Path, typer.Argument(help="CSV with the columns date,minutes (one day per line).")],
    subject: Annotated[str, typer.Option("--subject", help="Subject ID (must be in the catalog).")],
    home: HomeOpt = None,
):
    """Import a practice log (minutes per day): the change around an event uses it as a covariate."""
    from ..store import Catalog

    cat = Catalog(home=home)
    n = cat.import_practice(subject, csv)
    log = cat.practice(subject)
    out.print(f"imported {n} day(s) of practice for {subject} from {csv}; the log now covers "
              f"{log['date'].min():%Y-%m-%d} to {log['date'].max():%Y-%m-%d} ({len(log)} days, "
              f"mean {log['minutes'].mean():.0f} min/day)", markup=False, soft_wrap=True)


@event_app.command("change")
@user_errors
def event_change(
    subject: Annotated[str, typer.Option("--subject", help="Subject ID.")],
    event: Annotated[str | None, typer.Option(
        "--event", help="Only the analysis of this event id (default every therapy, ketamine, "
                        "medication, course-start and practice-change event).")] = None,
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", help="Metric(s) to analyse (repeatable; default those of the subject report).")] = None,
    block: BlockOpt = None,
    window_weeks: Annotated[float, typer.Option(
        "--window-weeks", min=0.5, help="Weeks before and after the event for the window comparison.")] = 2.0,
    min_spacing_days: Annotated[float, typer.Option(
        "--min-spacing-days", min=0.0, help="Events closer than this to the previous one are merged into it.")] = 14.0,
    no_practice: Annotated[bool, typer.Option(
        "--no-practice", help="Do not use the practice log as a covariate.")] = False,
    quality_floor: Annotated[float, typer.Option(
        "--quality-floor", min=0.0, max=1.0, help="Sessions with a smaller clean fraction are left out.")] = 0.5,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
):
    """Level change, slope change and the before/after window difference around events (95% CIs).

    Each with the call of change (the primary metric at 5%, the others Holm-adjusted), in one
    sentence per series and event; docs/statistics.md, 'Change around an event'.
    """
    from ..event_change import event_statement, subject_event_changes
    from ..home import validate_label
    from ..store import Catalog
    from ..store.catalog import _event_id

    label = validate_label(subject, kind="subject")
    cat = Catalog(home=home)
    if label not in cat.subjects():
        raise ConfigError(f"Invalid value for the '--subject' parameter: no subject {label!r} in the "
                          f"catalog {cat.display_url}.")
    check_block(block, label, home)
    if metric:
        stored = sorted(set(cat.metrics_frame(subject=label)["metric"]))
        for m in metric:
            if m not in stored:
                raise ConfigError(f"Invalid value for the '--metric' parameter: unknown metric {m!r}; "
                                  f"{label}'s sessions have {', '.join(stored) or 'none'}.")
    results = subject_event_changes(label, home=home, metrics=metric or None, block=block,
                                    window_weeks=window_weeks, min_spacing_days=min_spacing_days,
                                    event_id=None if event is None else _event_id(event),
                                    use_practice=not no_practice,
                                    quality_floor=quality_floor)
    if as_json:
        typer.echo(json.dumps(results, default=str))
        return
    if not results or not any(r["events"] or r["left_out"] for r in results):
        out.print(f"{label}: no event to analyse (add one with 'neurofeedback event add --subject "
                  f"{label} --date D --kind therapy|ketamine|medication|course-start|practice-change')",
                  markup=False, soft_wrap=True)
        return
    said = set()
    for r in sorted(results, key=lambda r: r["family"] != "primary"):
        for k in range(len(r["events"])):
            out.print(event_statement(r, k), markup=False, soft_wrap=True)
        for e in r["left_out"]:
            if e["event_id"] not in said:
                said.add(e["event_id"])
                out.print(f"event {e['event_id']} ({e['kind']}, {e['time'][:10]}) not analysed: "
                          f"{e['reason']}", markup=False, soft_wrap=True)
