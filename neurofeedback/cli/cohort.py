"""The cohort commands of the CLI: ``cohort trends``, ``cohort import`` and ``subject set-group``.

``cohort trends`` fits the group model of :mod:`neurofeedback.cohort` on the session store and
prints a table (or ``--json``), optionally writing the cohort HTML report; ``cohort import``
reads a ``subject,group`` CSV into the catalog; ``subject set-group`` sets one subject's group.
Every bad input (unknown group, a group without subjects, a metric or block not stored, an
unknown subject) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ConfigError
from ._shared import HomeOpt, JsonOpt, VerboseOpt, err, home_str, out, setup_logging, user_errors

#: ``neurofeedback cohort trends|import`` (registered as ``cohort`` by :mod:`neurofeedback.cli`).
cohort_app = typer.Typer(help="Group analyses: a group's change over weeks, two groups compared.",
                         no_args_is_help=True)
#: ``neurofeedback subject set-group`` (registered as ``subject``).
subject_app = typer.Typer(help="Subjects in the catalog: their cohort group.", no_args_is_help=True)


def _cell(x, unit: str) -> str:
    from ..cohort import format_value

    return format_value(x, unit, with_unit=False)


def _print_table(cohort: dict) -> None:
    order = [cohort["group"]] + ([cohort["vs"]] if cohort.get("vs") else [])
    t = Table(title=f"Cohort trends, block {cohort['block']} (per week, 95% CI; t with "
                    "subjects - groups df)", title_justify="left")
    t.add_column("metric (channel)")
    for g in order:
        t.add_column(f"{g}: slope, change")
    if len(order) == 2:
        t.add_column(f"{order[0]} - {order[1]}, change")
    t.add_column("slope SD")
    t.add_column("subjects")
    for r in cohort["results"]:
        u = r["change_unit"]
        row = [f"{r['metric']} ({r['channel']})"]
        keys = [f"slope:{g}" for g in order] + (["difference"] if len(order) == 2 else [])
        for k in keys:
            x = r["tests"].get(k)
            if x is None or x["per_week"] is None:
                row.append("not enough data")
                continue
            row.append(f"{_cell(x['per_week'], u)} ({_cell(x['ci'][0], u)} to "
                       f"{_cell(x['ci'][1], u)}) {x['change']}"
                       + (" (primary)" if x.get("family") == "primary" else ""))
        row.append(_cell(r["slope_sd"], u).lstrip("+") if r["slope_sd"] is not None else "—")
        row.append(", ".join(f"{g} {r['n_subjects'].get(g, 0)}" for g in order))
        t.add_row(*row)
    out.print(t)
    for r in cohort["results"]:
        if r.get("fallback") or r["status"] != "ok":
            out.print(f"{r['metric']} ({r['channel']}): {r.get('fallback') or r.get('reason')}",
                      markup=False, soft_wrap=True)
    for g, e in (cohort.get("events") or {}).items():
        if e.get("status") != "ok":
            out.print(f"{g}: event-anchored: not enough data ({e.get('reason')})", markup=False,
                      soft_wrap=True)
            continue
        u = e["change_unit"]
        out.print(f"{g}: around each subject's first {e['kind']!r} event ({e['n_subjects']} "
                  f"subjects): level change {_cell(e['level_change']['estimate'], u)} "
                  f"({_cell(e['level_change']['ci'][0], u)} to {_cell(e['level_change']['ci'][1], u)}; "
                  f"{e['level_change']['change']}), slope change "
                  f"{_cell(e['slope_change']['estimate'], u)}/week "
                  f"({_cell(e['slope_change']['ci'][0], u)} to {_cell(e['slope_change']['ci'][1], u)}; "
                  f"{e['slope_change']['change']})", markup=False, soft_wrap=True)


@cohort_app.command("trends")
@user_errors
def cohort_trends_cmd(
    group: Annotated[str, typer.Option("--group", help="The group analysed (see 'subject set-group').")],
    vs: Annotated[str | None, typer.Option(
        "--vs", help="A second group: both in one model, and the difference.")] = None,
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", help="Metric(s) (repeat the option); one metric named is the primary. Default: "
                         "relative_alpha (primary), absolute_alpha, relative_theta, ratio_alpha_theta, "
                         "iaf, aperiodic_exponent, faa.")] = None,
    channel: Annotated[str | None, typer.Option(
        "--channel", help="Channel of every series (default posterior, else mean).")] = None,
    block: Annotated[str | None, typer.Option(
        "--block", help="Block analysed (default: the main block, e.g. meditation, else session).")] = None,
    event_kind: Annotated[str | None, typer.Option(
        "--event-kind", help="Also analyse around each subject's first event of this kind.")] = None,
    quality_floor: Annotated[float, typer.Option(
        "--quality-floor", min=0, max=1, help="Leave out sessions with a lower clean fraction.")] = 0.5,
    adjustment: Annotated[str, typer.Option(
        "--adjustment", help="Adjustment of the non-primary series: holm, fdr_bh, bonferroni, none.")] = "holm",
    report: Annotated[Path | None, typer.Option("--report", help="Also write the cohort HTML report here.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
):
    """A group's change per week (mixed model), the spread of individual slopes, and the
    difference from another group, with 95% CIs and the call of change."""
    setup_logging(verbose)
    from ..cohort import store_cohort_trends

    if report is not None and report.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"Invalid value for the '--report' parameter. A report is an .html "
                          f"file, but got {str(report)!r} instead.")
    if block is not None:
        from ..store import Catalog

        blocks = Catalog(home=home_str(home)).blocks()
        if block not in blocks:
            raise ConfigError(f"Invalid value for the '--block' parameter. Allowed values are "
                              f"{', '.join(blocks) or '(none: the store is empty)'}, but got "
                              f"{block!r} instead.")
    cohort = store_cohort_trends(group, vs=vs, home=home_str(home), metrics=metric,
                                 channel=channel, block=block, quality_floor=quality_floor,
                                 adjustment=adjustment, event_kind=event_kind)
    if as_json:
        out.print_json(json.dumps(cohort, default=str))
    else:
        _print_table(cohort)
    if report is not None:
        from ..report.cohort import build_cohort_report

        path = build_cohort_report(cohort).write_html(report)
        (err if as_json else out).print(f"wrote {path}", markup=False, soft_wrap=True)


@cohort_app.command("import")
@user_errors
def cohort_import(
    csv: Annotated[Path, typer.Argument(help="CSV with the columns subject and group.")],
    home: HomeOpt = None,
):
    """Set the groups of many subjects from a CSV (subject,group). Every subject must be in the
    catalog already; nothing is changed when one is not."""
    from ..cohort import load_cohort_csv
    from ..store import Catalog

    groups = load_cohort_csv(csv)
    cat = Catalog(home=home_str(home))
    known = set(cat.subjects())
    unknown = sorted(set(groups) - known)
    if unknown:
        raise ConfigError(f"{csv}: subject(s) not in the catalog: {', '.join(unknown)} (nothing "
                          "was changed; subjects come from their sessions)")
    for s, g in groups.items():
        cat.set_group(s, g)
    counts: dict[str, int] = {}
    for g in groups.values():
        counts[g] = counts.get(g, 0) + 1
    out.print(f"set the group of {len(groups)} subjects: "
              + ", ".join(f"{g} {n}" for g, n in sorted(counts.items())), markup=False)


@subject_app.command("set-group")
@user_errors
def subject_set_group(
    subject: Annotated[str, typer.Argument(help="Subject ID (already in the catalog).")],
    group: Annotated[str | None, typer.Argument(help="Group label (letters and digits).")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Take the subject out of any group.")] = False,
    home: HomeOpt = None,
):
    """Put a subject in a cohort group (e.g. course, waitlist), or out of any with --clear."""
    if (group is None) == (not clear):
        raise ConfigError("Invalid value for the 'group' parameter. Give a GROUP or --clear, "
                          "not both and not neither.")
    from ..store import Catalog

    Catalog(home=home_str(home)).set_group(subject, None if clear else group)
    out.print(f"{subject}: " + ("no group" if clear else f"group {group}"), markup=False)
