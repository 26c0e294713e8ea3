"""The ``samverkan`` command line.

Every error a person can cause ends here as one line on stderr and exit code 2;
nothing is written when a command fails (each command is one transaction).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from engine import db, lifecycle, service
from engine.agreement import load_agreement
from engine.clock import Clock, SystemClock
from engine.errors import AgreementFileError, SamverkanError
from engine.plan import load_plan

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
    p.set_defaults(func=cmd_transition)
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
    agreement = load_agreement(args.config)  # validate before touching the database
    engine = _engine(args, prepare=True)
    with db.transaction(engine) as session:
        result = load_plan(session, agreement, now=clock.now())
    where = db.redact(str(engine.url))
    if result.created:
        print(f"Överenskommelsen '{result.agreement_id}' inläst i {where}: {agreement.summary()}.")
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
    engine = _engine(args)
    with db.transaction(engine) as session:
        record = service.transition(session, args.commitment, args.trigger, by=args.by, why=args.why, now=clock.now())
        cid = record.commitment_id
    print(f"{cid}: {record.from_state} → {record.to_state}")
    return 0


# -- entry point ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace, Clock], int] = args.func
    try:
        return func(args, clock or SystemClock())
    except AgreementFileError as exc:
        # Already in the FILE:LINE: message form that editors and CI understand.
        for line in exc.lines():
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except SamverkanError as exc:
        for line in exc.lines():
            print(f"samverkan: fel: {line}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def run() -> NoReturn:
    sys.exit(main())
