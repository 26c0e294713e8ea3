"""The commitments' commands: ``status``, ``history``, ``transition``, ``followup`` and ``overdue``."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.api import commands, queries
from engine.clock import Clock
from rules import hours as hours_rule
from rules import texts
from rules.lifecycle import PAGAENDE, PLANERAD, REVIDERAD, UPPFOLJD
from samverkan.cli import common


def _text(*values: str) -> list[str]:
    """Cells from the agreement or from what people wrote, shown as written: a title such as
    ``[link=http://…]klick[/link]`` must not become a terminal hyperlink or a style (rich markup)."""
    return [escape(v) for v in values]


def _console() -> Console:
    # A pipe or a file gets full lines rather than rich's 80-column fallback.
    return Console(width=None if sys.stdout.isatty() else 200)


def cmd_status(args: argparse.Namespace, clock: Clock) -> int:
    rows = queries.status(common.database(args), party=args.party, unit=args.unit, state=args.state)
    if args.json:
        json.dump([r.as_json() for r in rows], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not rows:
        print("Inga åtaganden matchar.")
        return 0
    table = Table(title="Åtaganden", show_lines=False)
    for col in ("Åtagande", "Område", "Insats", "Part", "Ansvarig", "Status", "Nästa uppföljning"):
        table.add_column(col, overflow="fold")
    colours: dict[str, str] = {PLANERAD: "blue", PAGAENDE: "yellow", UPPFOLJD: "green", REVIDERAD: "magenta"}
    for r in rows:
        colour = colours.get(r.state, "dim")
        due = f"{r.next_due.isoformat()} (för {r.due_period})" if r.next_due else "–"
        table.add_row(
            *_text(r.id, str(r.area_number), r.effort, r.party, r.responsible_name), f"[{colour}]{r.state}[/]", due
        )
    _console().print(table)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    print(f"{len(rows)} åtaganden: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return 0


def cmd_history(args: argparse.Namespace, clock: Clock) -> int:
    shown = queries.history(common.database(args), args.commitment)
    if args.json:
        out = [
            {
                "at": m.at.isoformat(timespec="seconds"),
                "trigger": m.trigger,
                "from": m.from_state,
                "to": m.to_state,
                "by": m.by,
                "why": m.why,
            }
            for m in shown.moves
        ]
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(f"{shown.commitment}: {shown.state}")
    if not shown.moves:
        print("  ingen övergång ännu")
    for m in shown.moves:
        print(f"  {m.at.isoformat(timespec='seconds')}  {m.from_state} → {m.to_state} ({m.trigger}) av {m.by}: {m.why}")
    return 0


def cmd_transition(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    database = common.database(args)
    now = when.resolve(database, clock, commitment=args.commitment)
    moved = commands.transition(database, args.commitment, args.trigger, by=args.by, why=args.why, now=now)
    print(f"{moved.commitment}: {moved.from_state} → {moved.to_state}")
    return 0


def cmd_followup(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    period = common.parse_int(args.period, "--period", low=1900, high=2200)
    hours = None if args.hours is None else hours_rule.parse(args.hours)
    database = common.database(args)
    done = commands.record_follow_up(
        database,
        args.commitment,
        period=period,
        values=common.parse_values(args.value),
        comment=args.comment,
        by=args.by,
        now=when.resolve(database, clock, commitment=args.commitment),
        hours=hours,
        replace=args.replace,
    )
    if done.version > 1:
        print(
            f"{done.commitment}: uppföljningen för {period} rättad (version {done.version}; tidigare versioner sparas)."
        )
    else:
        print(f"{done.commitment}: uppföljningen för {period} registrerad; pågående → uppföljd.")
    for measure in done.deviations:
        print(f"  avvikelse: {measure} under målet – processägaren meddelas")
    return 0


def cmd_extend(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    period = common.parse_int(args.period, "--period", low=1900, high=2200)
    due = common.parse_date(args.due, "--due")
    database = common.database(args)
    done = commands.grant_extension(
        database,
        args.commitment,
        period=period,
        due=due,
        reason=args.reason,
        by=args.by,
        now=when.resolve(database, clock, commitment=args.commitment),
    )
    moved = " (närmaste arbetsdag)" if done.moved_to_working_day else ""
    print(
        f"{done.commitment}: anstånd för {period}, sista dag {texts.datum(done.previous_due)} → "
        f"{texts.datum(done.due)}{moved}."
    )
    if done.withdrawn:
        print(f"  {done.withdrawn} köade meddelanden om den tidigare sista dagen är återkallade.")
    return 0


def cmd_overdue(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    database = common.database(args)
    now = when.resolve(database, clock)
    result = queries.overdue(database, now)
    if args.json:
        json.dump(result.as_json(), sys.stdout, ensure_ascii=False, indent=2, default=str)
        print()
        return 0
    console = _console()
    local = texts.local_minute(now, queries.zones(database).common)
    console.print(f"[bold]Genomgång {local}[/]")
    if result.empty:
        console.print("Inget är försenat, inga avvikelser, allt levererat.")
        return 0
    if result.follow_ups:
        t = Table(title="Försenade uppföljningar (per part och enhet, mest försenade först)")
        for col in (
            "Part",
            "Enhet",
            "Åtagande",
            "Period",
            "Sista dag",
            "Dagar sen",
            "Påminnelser",
            "Förseningsmeddelanden",
            "Eskalerad",
        ):
            t.add_column(col)
        for f in result.follow_ups:
            t.add_row(
                *_text(f.party_name, f.unit_name),
                f"{escape(f.effort)}\n[dim]{escape(f.commitment)}[/]",
                str(f.period),
                f.due,
                f"[red]{f.days_late}[/]",
                str(f.reminders_sent),
                str(f.overdue_sent),
                "ja" if f.escalated else "nej",
            )
        console.print(t)
    if result.revisions:
        t = Table(title="Försenad revidering")
        for col in ("Överenskommelse", "Revidering", "Sista dag", "Dagar sen", "Inledd", "Beslutade", "Utan beslut"):
            t.add_column(col)
        for r in result.revisions:
            t.add_row(
                escape(r.agreement),
                str(r.revision),
                r.due,
                f"[red]{r.days_late}[/]",
                "ja" if r.opened else "nej",
                str(r.decided),
                str(r.undecided),
            )
        console.print(t)
    if result.undeliverable:
        t = Table(title="Meddelanden som inte kunde levereras")
        for col in ("Typ", "Till", "Åtagande", "Försök", "Serverns svar"):
            t.add_column(col, overflow="fold")
        for u in result.undeliverable:
            t.add_row(
                texts.kind_name(u.kind),
                *_text(", ".join(u.recipients), u.commitment or u.agreement),
                str(u.attempts),
                escape(u.error),
            )
        console.print(t)
    if result.deviations:
        t = Table(title="Avvikelser från mål")
        for col in ("Part", "Enhet", "Insats", "Period", "Aktivitetsmått", "Värde", "Mål"):
            t.add_column(col, overflow="fold")
        for d in result.deviations:
            t.add_row(
                *_text(d.party_name, d.unit_name, d.effort, str(d.period), d.text),
                f"[red]{d.value:g}[/]",
                f"{d.target:g}",
            )
        console.print(t)
    if result.flagged:
        t = Table(title="Flaggade inför revideringen (ändrade förutsättningar)")
        for col in ("Åtagande", "Insats", "Part", "Anledning"):
            t.add_column(col, overflow="fold")
        for fl in result.flagged:
            t.add_row(*_text(fl.commitment, fl.effort, fl.party_name, fl.reason))
        console.print(t)
    return 0
