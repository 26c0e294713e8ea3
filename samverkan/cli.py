"""The ``samverkan`` command line.

Every error a person can cause ends here as one line on stderr and exit code 2;
nothing is written when a command fails (each command is one transaction).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn
from zoneinfo import ZoneInfo

from engine import db, parties, service
from engine.agreement import FIRST_YEAR, LAST_YEAR, load_agreement
from engine.clock import Clock, ShiftedClock, SystemClock
from engine.plan import load_plan
from rules import lifecycle, texts
from rules.errors import AgreementFileError, InvalidValue, SamverkanError

if TYPE_CHECKING:
    from notifications.settings import Settings

EXIT_USAGE = 2
STOCKHOLM = ZoneInfo("Europe/Stockholm")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and still exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: fel: {message} (se '{self.prog} --help')\n")


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="databas-URL (annars SAMVERKAN_DB, annars sqlite:///samverkan.db)",
    )


def _settings_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--settings",
        default=argparse.SUPPRESS,
        metavar="FIL",
        help="inställningar för utskick (YAML; annars SAMVERKAN_SETTINGS, annars .eml-filer i ./outbox)",
    )


def _rehearsal_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--now",
        metavar="ISO",
        help="generalrepetition: registrera som vid denna tidpunkt, t.ex. 2027-03-01T08:00 (utan zon: svensk tid)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="samverkan", description="Håller en samverkansöverenskommelse levande år efter år.")
    _db_option(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="KOMMANDO", parser_class=_Parser)

    p = sub.add_parser("validate", help="kontrollera en överenskommelsefil")
    p.add_argument("file", metavar="FIL")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("init", help="skapa eller uppgradera databasen och läs in överenskommelsen")
    _db_option(p)
    p.add_argument("--config", required=True, metavar="FIL")
    _rehearsal_option(p)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("status", help="visa varje åtagandes tillstånd")
    _db_option(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--party", metavar="PART")
    p.add_argument("--unit", metavar="ENHET")
    p.add_argument("--state", metavar="TILLSTÅND")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("history", help="visa ett åtagandes historik")
    _db_option(p)
    p.add_argument("commitment", metavar="ÅTAGANDE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("transition", help="flytta ett åtagande för hand (processägaren)")
    _db_option(p)
    p.add_argument("commitment", metavar="ÅTAGANDE")
    p.add_argument("trigger", metavar="ÖVERGÅNG", help=", ".join(lifecycle.TRIGGERS))
    p.add_argument("--by", required=True, metavar="NAMN")
    p.add_argument("--why", required=True, metavar="TEXT")
    _rehearsal_option(p)
    p.set_defaults(func=cmd_transition)

    p = sub.add_parser("followup", help="registrera ett åtagandes uppföljning för en period")
    _db_option(p)
    p.add_argument("commitment", metavar="ÅTAGANDE")
    p.add_argument("--period", required=True, metavar="ÅR")
    p.add_argument("--value", action="append", default=[], metavar="MÅTT=VÄRDE")
    p.add_argument("--comment", required=True, metavar="TEXT")
    p.add_argument("--by", required=True, metavar="NAMN")
    p.add_argument("--hours", metavar="TIMMAR", help="nedlagd tid i timmar (frivilligt)")
    p.add_argument("--replace", action="store_true", help="rätta en registrerad uppföljning (den tidigare sparas)")
    p.add_argument("--now", metavar="ISO")
    p.set_defaults(func=cmd_followup)

    p = sub.add_parser("overdue", help="processägarens genomgång: försenat, avvikelser, olevererat")
    _db_option(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--now", metavar="ISO")
    p.set_defaults(func=cmd_overdue)

    p = sub.add_parser("revision", help="revisionen: start, decide, complete, status")
    rsub = p.add_subparsers(dest="revision_command", required=True, metavar="STEG", parser_class=_Parser)
    r = rsub.add_parser("start", help="inled revisionen (skickar revisionsstarten)")
    _db_option(r)
    r.add_argument("--by", default="processägaren", metavar="NAMN")
    r.add_argument("--agreement", metavar="ID")
    r.add_argument("--now", metavar="ISO")
    r.set_defaults(func=cmd_revision_start)
    r = rsub.add_parser("decide", help="beslut för ett åtagande: keep, change eller remove")
    _db_option(r)
    r.add_argument("commitment", metavar="ÅTAGANDE")
    r.add_argument("decision", metavar="BESLUT", help="keep | change | remove")
    r.add_argument("--text", required=True, metavar="TEXT")
    r.add_argument("--by", default="processägaren", metavar="NAMN")
    r.add_argument("--now", metavar="ISO")
    r.set_defaults(func=cmd_revision_decide)
    r = rsub.add_parser("complete", help="anta den reviderade planen (ny planversion)")
    _db_option(r)
    r.add_argument("--config", required=True, metavar="NY_FIL")
    r.add_argument("--by", default="processägaren", metavar="NAMN")
    r.add_argument("--now", metavar="ISO")
    r.set_defaults(func=cmd_revision_complete)
    r = rsub.add_parser("status", help="visa pågående revision och besluten")
    _db_option(r)
    r.add_argument("--agreement", metavar="ID")
    r.set_defaults(func=cmd_revision_status)

    p = sub.add_parser("plan", help="planversioner")
    psub = p.add_subparsers(dest="plan_command", required=True, metavar="STEG", parser_class=_Parser)
    r = psub.add_parser("diff", help="vad som ändrats mellan två planversioner")
    _db_option(r)
    r.add_argument("v1", metavar="V1")
    r.add_argument("v2", metavar="V2")
    r.add_argument("--agreement", metavar="ID")
    r.set_defaults(func=cmd_plan_diff)

    p = sub.add_parser("report", help="årsrapporten (html, md eller csv)")
    _db_option(p)
    p.add_argument("--period", required=True, metavar="ÅR")
    p.add_argument("--format", choices=("html", "md", "csv"), default="html")
    p.add_argument("--out", required=True, metavar="FIL")
    p.add_argument("--agreement", metavar="ID")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("calendar", help="kommande sista dagar som .ics (Outlook, Google Kalender)")
    _db_option(p)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--unit", metavar="ENHET")
    who.add_argument("--party", metavar="PART")
    p.add_argument("--out", required=True, metavar="FIL.ics")
    p.add_argument("--now", metavar="ISO")
    p.set_defaults(func=cmd_calendar)

    p = sub.add_parser("serve", help="webbgränssnittet: översikt, uppföljning via länk i e-post (docs/web.md)")
    _db_option(p)
    _settings_option(p)
    p.add_argument("--host", default="127.0.0.1", metavar="VÄRD", help="adress att lyssna på (standard 127.0.0.1)")
    p.add_argument("--port", default="8080", metavar="PORT", help="port (standard 8080)")
    p.add_argument(
        "--from",
        dest="start",
        metavar="ISO",
        help="generalrepetition som 'run --from': webbens klocka går från denna tidpunkt",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("user", help="användare som loggar in på webben")
    usub = p.add_subparsers(dest="user_command", required=True, metavar="STEG", parser_class=_Parser)
    r = usub.add_parser("add", help="skapa en användare (lösenord från SAMVERKAN_PASSWORD eller en fråga)")
    _db_option(r)
    r.add_argument("email", metavar="E-POST")
    r.add_argument("--role", required=True, metavar="ROLL", help="owner | party | unit")
    r.add_argument("--party", metavar="PART", help="parten, för --role party")
    r.add_argument("--unit", metavar="ENHET", help="enheten, för --role unit")
    r.add_argument("--name", metavar="NAMN", help="namnet som syns i historiken")
    r.set_defaults(func=cmd_user_add)

    p = sub.add_parser("tick", help="utvärdera alla regler en gång, nu eller vid --now")
    _db_option(p)
    p.add_argument("--now", metavar="ISO", help="tidpunkt, t.ex. 2027-03-01T08:00+01:00 (utan zon: svensk tid)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tick)

    p = sub.add_parser("run", help="kör schemaläggaren tills Ctrl-C/SIGTERM (regler och utskick)")
    _db_option(p)
    _settings_option(p)
    p.add_argument(
        "--from",
        dest="start",
        metavar="ISO",
        help="generalrepetition: klockan går från denna tidpunkt i stället för nu (t.ex. 2027-03-01T08:00)",
    )
    p.add_argument(
        "--retry-seconds",
        default="60",
        metavar="SEKUNDER",
        help="när ett uppvaknande misslyckas (t.ex. databasen startas om): försök igen efter så många sekunder, "
        "i verklig tid även med --from (1–86400; standard 60)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("outbox", help="visa notiser och deras status")
    _db_option(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--state", choices=("pending", "sending", "sent", "failed", "withdrawn"))
    p.set_defaults(func=cmd_outbox)

    p = sub.add_parser("deliver", help="skicka det som är dags att skicka, en gång")
    _db_option(p)
    _settings_option(p)
    p.add_argument("--now", metavar="ISO")
    p.set_defaults(func=cmd_deliver)

    p = sub.add_parser("notify-change", help="meddela ändrade förutsättningar till den andra parten")
    _db_option(p)
    _settings_option(p)
    p.add_argument("--party", required=True, metavar="PART")
    p.add_argument("--text", required=True, metavar="TEXT")
    p.add_argument("--commitment", action="append", default=[], metavar="ÅTAGANDE")
    p.add_argument("--by", default="", metavar="NAMN")
    p.add_argument("--agreement", metavar="ID")
    _rehearsal_option(p)
    p.set_defaults(func=cmd_notify_change)

    p = sub.add_parser("terminate", help="säg upp överenskommelsen")
    _db_option(p)
    _settings_option(p)
    p.add_argument("--party", required=True, metavar="PART")
    p.add_argument("--effective", required=True, metavar="DATUM")
    p.add_argument("--reason", required=True, metavar="TEXT")
    p.add_argument("--by", default="", metavar="NAMN")
    p.add_argument("--agreement", metavar="ID")
    _rehearsal_option(p)
    p.set_defaults(func=cmd_terminate)

    p = sub.add_parser("close", help="avsluta en tidsbegränsad överenskommelse vars giltighetstid är slut")
    _db_option(p)
    p.add_argument("--agreement", metavar="ID")
    p.add_argument("--by", required=True, metavar="NAMN")
    p.add_argument("--why", required=True, metavar="TEXT")
    p.add_argument("--now", metavar="ISO")
    p.set_defaults(func=cmd_close)

    p = sub.add_parser("simulate", help="kör motorn på en virtuell klocka i en minnesdatabas; skickar inget")
    p.add_argument("--config", required=True, metavar="FIL")
    p.add_argument("--from", dest="start", required=True, metavar="DATUM")
    p.add_argument("--to", dest="end", required=True, metavar="DATUM")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--follow-ups",
        choices=("on-time", "never"),
        default="on-time",
        help="simulerade uppföljningar: i tid på förfallodagen (standard) eller aldrig",
    )
    p.add_argument(
        "--revisions",
        choices=("completed", "never"),
        default="completed",
        help="simulerade revisioner: genomförs på förfallodagen (standard) eller aldrig",
    )
    p.set_defaults(func=cmd_simulate)
    return parser


# -- commands -------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace, clock: Clock) -> int:
    agreement = load_agreement(args.file)
    print(f"{args.file}: giltig – {agreement.summary()}")
    return 0


def _engine(args: argparse.Namespace, *, prepare: bool = False) -> Any:
    url = db.database_url(getattr(args, "db", None))
    engine = db.connect(url)
    if prepare:
        db.upgrade(engine)
    else:
        db.require_schema(engine)
    return engine


def cmd_init(args: argparse.Namespace, clock: Clock) -> int:
    now = _now(args, clock)
    agreement = load_agreement(args.config)  # validate before touching the database
    engine = _engine(args, prepare=True)
    with db.transaction(engine) as session:
        result = load_plan(session, agreement, now=now)
    where = db.redact(str(engine.url))
    if result.created:
        print(f"Överenskommelsen '{result.agreement_id}' inläst i {where}: {agreement.summary()}.")
        with db.transaction(engine) as session:
            first, due, revision = service.takeover(session, result.agreement_id)
        coming = f"nästa revision senast {revision}" if revision else "ingen revision återstår under giltighetstiden"
        since = "i dag" if args.now is None else now.astimezone(agreement.zone).date().isoformat()
        print(
            f"Motorn tar över från {since}: första uppföljning som bevakas gäller {first} (senast {due}); "
            f"{coming}. Tidigare perioder räknas som hanterade före inläsningen."
        )
    elif result.changes:
        print(f"Överenskommelsen '{result.agreement_id}' uppdaterad till planversion {result.plan_version}:")
        for line in result.changes:
            print(f"  - {line}")
    else:
        print(f"Överenskommelsen '{result.agreement_id}' är oförändrad (planversion {result.plan_version}).")
    return 0


def cmd_status(args: argparse.Namespace, clock: Clock) -> int:
    engine = _engine(args)
    with db.transaction(engine) as session:
        rows = service.status(session, party=args.party, unit=args.unit, state=args.state)
    if args.json:
        json.dump([r.as_json() for r in rows], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not rows:
        print("Inga åtaganden matchar.")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Åtaganden", show_lines=False)
    for col in ("Åtagande", "Område", "Insats", "Part", "Ansvarig", "Tillstånd", "Nästa uppföljning"):
        table.add_column(col, overflow="fold")
    colours = {"planerad": "blue", "pågående": "yellow", "uppföljd": "green", "reviderad": "magenta"}
    for r in rows:
        colour = colours.get(r.state, "dim")
        due = f"{r.next_due.isoformat()} (för {r.period})" if r.next_due else "–"
        table.add_row(r.id, str(r.area_number), r.effort, r.party, r.responsible_name, f"[{colour}]{r.state}[/]", due)
    # A pipe or a file gets full lines rather than rich's 80-column fallback.
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    print(f"{len(rows)} åtaganden: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return 0


def _local(at: datetime) -> str:
    return at.astimezone(STOCKHOLM).isoformat(timespec="seconds")


def cmd_history(args: argparse.Namespace, clock: Clock) -> int:
    engine = _engine(args)
    with db.transaction(engine) as session:
        c, rows = service.history(session, args.commitment)
    if args.json:
        out = [
            {"at": _local(r.at), "trigger": r.trigger, "from": r.from_state, "to": r.to_state, "by": r.by, "why": r.why}
            for r in rows
        ]
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(f"{c.id}: {c.state}")
    if not rows:
        print("  ingen övergång ännu")
    for r in rows:
        print(f"  {_local(r.at)}  {r.from_state} → {r.to_state} ({r.trigger}) av {r.by}: {r.why}")
    return 0


def cmd_transition(args: argparse.Namespace, clock: Clock) -> int:
    now = _now(args, clock)
    engine = _engine(args)
    with db.transaction(engine) as session:
        record = service.transition(session, args.commitment, args.trigger, by=args.by, why=args.why, now=now)
        cid = record.commitment_id
    print(f"{cid}: {record.from_state} → {record.to_state}")
    return 0


def _now(args: argparse.Namespace, clock: Clock) -> datetime:
    """``--now`` when given (a rehearsal), else the clock: the instant a command records."""
    return parse_instant(args.now) if args.now else clock.now()


def parse_instant(text: str, where: str = "--now") -> datetime:
    """An ISO 8601 instant; without an offset it is Swedish local time."""
    try:
        value = datetime.fromisoformat(text.strip())
        value = value.replace(tzinfo=STOCKHOLM) if value.tzinfo is None else value
        value.astimezone(UTC)  # near year 1 or 9999 this overflows
    except (ValueError, OverflowError):
        raise InvalidValue(where, f"ogiltig tidpunkt '{text}' (ISO 8601, t.ex. 2027-03-01T08:00+01:00)") from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise InvalidValue(where, f"{text}: året ligger utanför kalenderns år {FIRST_YEAR}–{LAST_YEAR}")
    return value


def parse_date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(where, f"ogiltigt datum '{text}' (ÅÅÅÅ-MM-DD)") from None


def describe(kind: str, subject: str | None, recipients: Sequence[str], details: dict[str, Any]) -> str:
    """One readable Swedish line for an event."""
    label = texts.kind_name(kind)
    if kind == "transition":
        return f"{label:<24} {subject}: {details['from']} → {details['to']} ({details['by']}: {details['why']})"
    parts = [f"{label:<24} {subject or ''}"]
    if "period" in details and kind in ("reminder", "overdue", "escalation"):
        parts.append(f"uppföljning {details['period']}, senast {details['due']}")
    if kind in ("revision_kickoff", "revision_overdue", "revision_completed"):
        parts.append(f"revision {details['revision']}" + (f", senast {details['due']}" if "due" in details else ""))
    if "days_late" in details and kind != "reminder":
        parts.append(f"{texts.days(details['days_late'])} sent")
    if kind == "deviation":
        parts.append(f"{details['text']}: {details['value']} (mål {details['target']})")
    if recipients:
        parts.append("till " + ", ".join(recipients))
    return " – ".join(p for p in parts if p)


def parse_int(text: str, where: str, *, low: int | None = None, high: int | None = None) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidValue(where, f"ska vara ett heltal, inte '{text}'") from None
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            raise InvalidValue(where, f"{value} är för litet (minst {low})")
        if low is None:
            raise InvalidValue(where, f"{value} är för stort (högst {high})")
        raise InvalidValue(where, f"{value} ligger utanför {low}–{high}")
    return value


def parse_values(items: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidValue("value", f"'{item}' ska skrivas MÅTT=VÄRDE, t.ex. utbildningar=2")
        if key.strip() in values:
            raise InvalidValue("value", f"'{key.strip()}' anges två gånger")
        values[key.strip()] = value
    return values


def cmd_followup(args: argparse.Namespace, clock: Clock) -> int:
    now = parse_instant(args.now) if args.now else clock.now()
    period = parse_int(args.period, "--period", low=1900, high=2200)
    hours = None
    if args.hours is not None:
        try:
            hours = float(args.hours.replace(",", "."))
        except ValueError:
            raise InvalidValue("hours", f"ska vara ett tal ≥ 0, inte '{args.hours}'") from None
    engine = _engine(args)
    with db.transaction(engine) as session:
        record = service.record_follow_up(
            session,
            args.commitment,
            period=period,
            values=parse_values(args.value),
            comment=args.comment,
            by=args.by,
            now=now,
            hours=hours,
            replace=args.replace,
        )
        cid, version = record.commitment_id, record.version
        from sqlalchemy import select

        from engine.models import OutboxRow

        deviations = list(
            session.scalars(
                select(OutboxRow.key).where(
                    OutboxRow.kind == "deviation", OutboxRow.commitment_id == cid, OutboxRow.period == period
                )
            )
        )
    if version > 1:
        print(f"{cid}: uppföljningen för {period} rättad (version {version}; tidigare versioner sparas).")
    else:
        print(f"{cid}: uppföljningen för {period} registrerad; pågående → uppföljd.")
    for key in deviations:
        print(f"  avvikelse: {key.rsplit(':', 1)[1]} under målet – processägaren meddelas")
    return 0


def cmd_overdue(args: argparse.Namespace, clock: Clock) -> int:
    from engine.review import review

    now = parse_instant(args.now) if args.now else clock.now()
    engine = _engine(args)
    with db.transaction(engine) as session:
        result = review(session, now)
    if args.json:
        json.dump(result.as_json(), sys.stdout, ensure_ascii=False, indent=2, default=str)
        print()
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(f"[bold]Genomgång {now.astimezone(STOCKHOLM).strftime('%Y-%m-%d %H:%M')}[/]")
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
            "Försenad-notiser",
            "Eskalerad",
        ):
            t.add_column(col)
        for f in result.follow_ups:
            t.add_row(
                f.party_name,
                f.unit_name,
                f"{f.effort}\n[dim]{f.commitment}[/]",
                str(f.period),
                f.due,
                f"[red]{f.days_late}[/]",
                str(f.reminders_sent),
                str(f.overdue_sent),
                "ja" if f.escalated else "nej",
            )
        console.print(t)
    if result.revisions:
        t = Table(title="Försenad revision")
        for col in ("Överenskommelse", "Revision", "Sista dag", "Dagar sen", "Inledd", "Beslutade", "Utan beslut"):
            t.add_column(col)
        for r in result.revisions:
            t.add_row(
                r.agreement,
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
        for col in ("Slag", "Till", "Åtagande", "Försök", "Serverns svar"):
            t.add_column(col, overflow="fold")
        for u in result.undeliverable:
            t.add_row(
                texts.kind_name(u.kind),
                ", ".join(u.recipients),
                u.commitment or u.agreement,
                str(u.attempts),
                u.error,
            )
        console.print(t)
    if result.deviations:
        t = Table(title="Avvikelser från mål")
        for col in ("Part", "Enhet", "Insats", "Period", "Aktivitetsmått", "Värde", "Mål"):
            t.add_column(col, overflow="fold")
        for d in result.deviations:
            t.add_row(d.party, d.unit_name, d.effort, str(d.period), d.text, f"[red]{d.value:g}[/]", f"{d.target:g}")
        console.print(t)
    if result.flagged:
        t = Table(title="Flaggade inför revisionen (ändrade förutsättningar)")
        for col in ("Åtagande", "Insats", "Part", "Anledning"):
            t.add_column(col, overflow="fold")
        for fl in result.flagged:
            t.add_row(fl.commitment, fl.effort, fl.party, fl.reason)
        console.print(t)
    return 0


def cmd_revision_start(args: argparse.Namespace, clock: Clock) -> int:
    from engine.revisions import open_revision

    now = parse_instant(args.now) if args.now else clock.now()
    engine = _engine(args)
    with db.transaction(engine) as session:
        rev = open_revision(session, by=args.by, now=now, agreement_id=args.agreement)
        number, due = rev.number, rev.due
    print(f"Revision {number} inledd (sista dag {due}); revisionsstarten skickas till parterna och processägaren.")
    return 0


def cmd_revision_decide(args: argparse.Namespace, clock: Clock) -> int:
    from engine.revisions import decide

    now = parse_instant(args.now) if args.now else clock.now()
    engine = _engine(args)
    with db.transaction(engine) as session:
        d = decide(session, args.commitment, args.decision.strip().lower(), text=args.text, by=args.by, now=now)
        cid, decision = d.commitment_id, d.decision
    print(f"{cid}: {texts.DECISION_NAMES[decision]} ({args.text.strip()})")
    return 0


def cmd_revision_complete(args: argparse.Namespace, clock: Clock) -> int:
    from engine.revisions import complete

    now = parse_instant(args.now) if args.now else clock.now()
    new = load_agreement(args.config)
    engine = _engine(args)
    with db.transaction(engine) as session:
        done = complete(session, new, by=args.by, now=now)
    print(f"Revision {done.revision} genomförd: planversion {done.plan_version} antagen.")
    print(f"  {len(done.reinstated)} åtaganden fortsätter, {len(done.ended)} avslutade, {len(done.added)} nya.")
    for line in done.changes:
        print(f"  - {line}")
    print(next_revision_line(done.next_due, new.agreement.valid_to))
    return 0


def next_revision_line(due: date | None, valid_to: date | None) -> str:
    if due is not None:
        return f"Nästa revision senast {due.isoformat()}."
    return f"Ingen revision återstår: överenskommelsen gäller till och med {valid_to}."


def cmd_revision_status(args: argparse.Namespace, clock: Clock) -> int:
    from sqlalchemy import select

    from engine.models import Commitment
    from engine.revisions import current_revision, decisions

    engine = _engine(args)
    with db.transaction(engine) as session:
        agreement = service.agreement_for(session, args.agreement)
        rev = current_revision(session, agreement.id)
        if rev is None:
            print("Ingen revision pågår. " + next_revision_line(agreement.revision_due, agreement.valid_to))
            return 0
        decided = decisions(session, rev)
        active = session.scalars(
            select(Commitment.id)
            .where(Commitment.agreement_id == agreement.id, Commitment.state != lifecycle.AVSLUTAD)
            .order_by(Commitment.id)
        ).all()
        print(
            f"Revision {rev.number} pågår (sista dag {rev.due}): {len(decided)} beslut, "
            f"{len([c for c in active if c not in decided])} utan beslut."
        )
        for cid in active:
            d = decided.get(cid)
            print(f"  {cid}: " + (f"{texts.DECISION_NAMES[d.decision]} – {d.text}" if d else "inget beslut"))
    return 0


def cmd_plan_diff(args: argparse.Namespace, clock: Clock) -> int:
    from engine.revisions import plan_diff

    v1, v2 = parse_int(args.v1, "V1", low=1), parse_int(args.v2, "V2", low=1)
    engine = _engine(args)
    with db.transaction(engine) as session:
        lines = plan_diff(session, v1, v2, agreement_id=args.agreement)
    print(f"Planversion {v1} → {v2}: " + ("inga ändringar" if not lines else f"{len(lines)} ändringar"))
    for line in lines:
        print(f"  - {line}")
    return 0


def _write(path: str, text: str) -> None:
    from pathlib import Path

    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        # newline="": the CSV writer's line endings stay as written on every platform.
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, target)
    except OSError as exc:
        raise InvalidValue("out", f"{path}: kan inte skrivas ({exc.strerror})") from None


def cmd_report(args: argparse.Namespace, clock: Clock) -> int:
    from engine.report import build_report
    from notifications.report import render_report

    period = parse_int(args.period, "--period", low=1900, high=2200)
    engine = _engine(args)
    with db.transaction(engine) as session:
        report = build_report(session, period=period, agreement_id=args.agreement)
    _write(args.out, render_report(report, args.format))
    print(f"Årsrapporten för {period} skriven till {args.out} ({args.format}).")
    return 0


def cmd_calendar(args: argparse.Namespace, clock: Clock) -> int:
    from notifications.calendar_export import export_ics

    now = parse_instant(args.now) if args.now else clock.now()
    engine = _engine(args)
    with db.transaction(engine) as session:
        data, count = export_ics(session, now=now, unit=args.unit, party=args.party)
    from pathlib import Path

    try:
        Path(args.out).write_bytes(data)
    except OSError as exc:
        raise InvalidValue("out", f"{args.out}: kan inte skrivas ({exc.strerror})") from None
    print(f"{count} kommande sista dagar skrivna till {args.out}.")
    return 0


def cmd_serve(args: argparse.Namespace, clock: Clock) -> int:
    from notifications.settings import load_settings
    from samverkan.serve import serve

    port = parse_int(args.port, "--port", low=0, high=65535)
    settings = load_settings(getattr(args, "settings", None))
    if args.start:
        clock = ShiftedClock(start=parse_instant(args.start, "--from"), base=clock)
    engine = _engine(args)
    return serve(engine, settings, host=args.host, port=port, clock=clock)


def cmd_user_add(args: argparse.Namespace, clock: Clock) -> int:
    from engine.users import add_user

    password = os.environ.get("SAMVERKAN_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise InvalidValue("password", "sätt SAMVERKAN_PASSWORD eller kör kommandot i en terminal")
        import getpass

        password = getpass.getpass(f"Lösenord för {args.email}: ")
        if getpass.getpass("Samma lösenord igen: ") != password:
            raise InvalidValue("password", "de två lösenorden är olika; inget sparat")
    engine = _engine(args)
    with db.transaction(engine) as session:
        user = add_user(
            session,
            args.email,
            role=args.role,
            password=password,
            now=clock.now(),
            party=args.party,
            unit=args.unit,
            name=args.name,
        )
        email, role = user.email, user.role
    scope = f" för {args.party or args.unit}" if args.party or args.unit else ""
    print(f"Användaren {email} skapad ({role}{scope}); logga in på webben med 'samverkan serve'.")
    return 0


def cmd_tick(args: argparse.Namespace, clock: Clock) -> int:
    from engine.tick import NoticeQueued, tick

    now = parse_instant(args.now) if args.now else clock.now()
    engine = _engine(args)
    report = tick(engine, now)
    if args.json:
        for e in report.events:
            if isinstance(e, NoticeQueued):
                n = e.notice
                row = {
                    "at": n.send_at.astimezone(STOCKHOLM).isoformat(),
                    "kind": n.kind,
                    "recipients": list(n.recipients),
                    "key": n.key,
                }
                row |= {"commitment": n.commitment} if n.commitment else {"agreement": n.agreement}
            else:
                row = {
                    "at": e.at.astimezone(STOCKHOLM).isoformat(),
                    "kind": "transition",
                    "commitment": e.commitment,
                    "from": e.from_state,
                    "to": e.to_state,
                    "trigger": e.trigger,
                    "by": e.by,
                    "why": e.why,
                }
            print(json.dumps(row, ensure_ascii=False))
        return 0
    local = now.astimezone(STOCKHOLM).isoformat(timespec="minutes")
    print(
        f"Tick {local}: {report.examined} granskade, {report.transitions} övergångar, "
        f"{report.notices} nya notiser" + (f" ({report.duplicates} redan köade)" if report.duplicates else "")
    )
    for e in report.events:
        if isinstance(e, NoticeQueued):
            n = e.notice
            print("  " + describe(n.kind, n.commitment or n.agreement, n.recipients, {"period": n.period, **n.data}))
        else:
            print(
                "  "
                + describe(
                    "transition", e.commitment, (), {"from": e.from_state, "to": e.to_state, "by": e.by, "why": e.why}
                )
            )
    return 0


def cmd_run(args: argparse.Namespace, clock: Clock) -> int:
    from notifications.settings import load_settings
    from samverkan.run import run_forever

    retry = timedelta(seconds=parse_int(args.retry_seconds, "--retry-seconds", low=1, high=86400))
    settings = load_settings(getattr(args, "settings", None))
    if args.start:
        clock = ShiftedClock(start=parse_instant(args.start, "--from"), base=clock)
    engine = _engine(args)
    return run_forever(engine, clock, settings, retry=retry)


def _settings(args: argparse.Namespace) -> Settings:
    from notifications.settings import load_settings

    return load_settings(getattr(args, "settings", None))


def _deliver_now(engine: Any, settings: Settings, now: datetime) -> str:
    from notifications.dispatcher import deliver
    from notifications.links import link_maker_for

    r = deliver(engine, now, settings, link=link_maker_for(engine, settings))
    where = f" till {settings.mail_dir}/" if settings.mailer == "file" else f" via {settings.mailer}"
    text = f"{r.sent} skickade{where}"
    if r.retried:
        text += f", {r.retried} försöks igen senare"
    if r.failed:
        text += f", {r.failed} misslyckades"
    return text


def cmd_outbox(args: argparse.Namespace, clock: Clock) -> int:
    from sqlalchemy import select

    from engine.models import OutboxRow

    engine = _engine(args)
    with db.transaction(engine) as session:
        stmt = select(OutboxRow).order_by(OutboxRow.send_at, OutboxRow.id)
        if args.state:
            stmt = stmt.where(OutboxRow.state == args.state)
        rows = list(session.scalars(stmt))
    if args.json:
        out = [
            {
                "key": r.key,
                "kind": r.kind,
                "state": r.state,
                "recipients": r.recipients,
                "send_at": r.send_at.astimezone(STOCKHOLM).isoformat(),
                "attempts": r.attempts,
                "sent_at": r.sent_at.astimezone(STOCKHOLM).isoformat() if r.sent_at else None,
                "message_id": r.message_id,
                "last_error": r.last_error,
                "commitment": r.commitment_id,
                "agreement": r.agreement_id,
            }
            for r in rows
        ]
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    states = texts.OUTBOX_STATE_NAMES
    if not rows:
        print("Utkorgen är tom.")
    for r in rows:
        when = r.send_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
        note = f" – {r.last_error}" if r.last_error and r.state != "sent" else ""
        print(
            f"{when}  {states.get(r.state, r.state):<10} {texts.kind_name(r.kind):<24} "
            f"{r.commitment_id or r.agreement_id} → {', '.join(r.recipients)}{note}"
        )
    return 0


def cmd_deliver(args: argparse.Namespace, clock: Clock) -> int:
    now = parse_instant(args.now) if args.now else clock.now()
    settings = _settings(args)
    engine = _engine(args)
    print(f"Utskick {now.astimezone(STOCKHOLM).isoformat(timespec='minutes')}: {_deliver_now(engine, settings, now)}.")
    return 0


def cmd_notify_change(args: argparse.Namespace, clock: Clock) -> int:
    now = _now(args, clock)
    settings = _settings(args)  # a bad settings file is refused before anything is recorded
    engine = _engine(args)
    with db.transaction(engine) as session:
        event = parties.notify_change(
            session,
            party=args.party,
            text=args.text,
            by=args.by or args.party,
            now=now,
            commitments=args.commitment,
            agreement_id=args.agreement,
        )
        flagged = list(event.commitments)
    print(
        f"Ändrade förutsättningar registrerade för {args.party}"
        + (f"; flaggade inför revisionen: {', '.join(flagged)}" if flagged else "")
        + "."
    )
    print(f"Meddelandet: {_deliver_now(engine, settings, now)}.")
    return 0


def cmd_terminate(args: argparse.Namespace, clock: Clock) -> int:
    now = _now(args, clock)
    effective = parse_date(args.effective, "--effective")
    settings = _settings(args)  # a bad settings file is refused before anything is recorded
    engine = _engine(args)
    with db.transaction(engine) as session:
        parties.terminate(
            session,
            party=args.party,
            effective=effective,
            reason=args.reason,
            by=args.by or args.party,
            now=now,
            agreement_id=args.agreement,
        )
    print(f"Uppsägning registrerad: alla åtaganden avslutas {effective}; inga påminnelser går ut från den dagen.")
    print(f"Meddelandet: {_deliver_now(engine, settings, now)}.")
    return 0


def cmd_close(args: argparse.Namespace, clock: Clock) -> int:
    now = _now(args, clock)
    engine = _engine(args)
    with db.transaction(engine) as session:
        ended = parties.close_agreement(session, by=args.by, why=args.why, now=now, agreement_id=args.agreement)
    print(f"Överenskommelsen avslutad: {len(ended)} åtaganden avslutade; inget mer efterfrågas eller skickas för den.")
    return 0


def cmd_simulate(args: argparse.Namespace, clock: Clock) -> int:
    from engine.simulate import simulate

    agreement = load_agreement(args.config)
    start, end = parse_date(args.start, "--from"), parse_date(args.end, "--to")
    if end < start:
        raise InvalidValue("to", f"{end} ligger före --from {start}")
    counts: dict[str, int] = {}
    for event in simulate([agreement], start, end, follow_ups=args.follow_ups, revisions=args.revisions):
        counts[event.kind] = counts.get(event.kind, 0) + 1
        if args.json:
            if event.kind in texts.KIND_NAMES and event.kind != "revision_completed":
                print(json.dumps(event.as_json(), ensure_ascii=False))
            continue
        when = event.at.strftime("%Y-%m-%d %H:%M")
        print(f"{when}  {describe(event.kind, event.commitment or event.agreement, event.recipients, event.details)}")
    if not args.json:
        summary = ", ".join(f"{n} {texts.kind_name(k)}" for k, n in sorted(counts.items()))
        print(f"Simulerat {start}–{end}: {summary or 'inga händelser'}. Inget skickades.")
    return 0


# -- entry point ------------------------------------------------------------------------


def _one_line(text: str) -> str:
    # What a person typed is quoted in errors; a line break in it must not split the line.
    return text.replace("\r", "\\r").replace("\n", "\\n")


# How the CLI names a value the engine's error is about: a positional argument by its
# metavar; any other lower-case field is the option of that name (``by`` → ``--by``).
SPELLING = {
    "commitment": "ÅTAGANDE",
    "trigger": "ÖVERGÅNG",
    "decision": "BESLUT",
    "version": "VERSION",
    "email": "E-POST",
    "password": "lösenordet",
    "revision": "revision",
}


def spell(field: str) -> str:
    """``field`` of an InvalidValue as this CLI's user typed it."""
    if field in SPELLING:
        return SPELLING[field]
    if field.replace("_", "").isascii() and field.replace("_", "").isalpha() and field.islower():
        return "--" + field.replace("_", "-")
    return field  # a setting (SAMVERKAN_LINK_DAYS, smtp.password_env), a file, an option already spelt


def _error_lines(exc: SamverkanError) -> list[str]:
    if isinstance(exc, InvalidValue):
        return [f"{spell(exc.field)}: {exc.message}"]
    return exc.lines()


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    for arg in sys.argv[1:] if argv is None else argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            print(f"samverkan: fel: argumentet {arg!r} är inte giltig UTF-8", file=sys.stderr)
            return EXIT_USAGE
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace, Clock], int] = args.func
    try:
        return func(args, clock or SystemClock())
    except AgreementFileError as exc:
        # Already in the FILE:LINE: message form that editors and CI understand.
        for line in exc.lines():
            print(_one_line(line), file=sys.stderr)
        return EXIT_USAGE
    except SamverkanError as exc:
        for line in _error_lines(exc):
            print(f"samverkan: fel: {_one_line(line)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def settle_memory() -> None:
    """Move what start-up allocated out of the collector's way.

    Full collections otherwise walk every module, SQLAlchemy and Jinja object again and
    again: bench/mail.py measured a quarter of the dispatcher's time in them. Long
    servers (``run``, ``serve``) gain most; for a short command it is harmless.
    """
    gc.collect()
    gc.freeze()


def run() -> NoReturn:
    settle_memory()
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (head, less) went away: not an error of ours, and no traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)
