"""The revision's commands: ``revision start``, ``decide``, ``complete`` and ``status``."""

from __future__ import annotations

import argparse

from engine.agreement import load_agreement
from engine.api import commands, queries
from engine.clock import Clock
from rules import texts
from samverkan.cli import common


def cmd_start(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    database = common.database(args)
    now = when.resolve(database, clock, agreement=args.agreement)
    opened = commands.open_revision(database, by=args.by, now=now, agreement=args.agreement)
    print(
        f"Revidering {opened.number} inledd (sista dag {texts.datum(opened.due)}); "
        "revideringsstarten skickas till parterna och processägaren."
    )
    return 0


def cmd_decide(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    database = common.database(args)
    now = when.resolve(database, clock, commitment=args.commitment)
    decided = commands.decide(database, args.commitment, args.decision, text=args.text, by=args.by, now=now)
    print(f"{decided.commitment}: {texts.DECISION_NAMES[decided.decision]} ({args.text.strip()})")
    return 0


def cmd_complete(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    new = load_agreement(args.config)
    database = common.database(args)
    done = commands.complete_revision(database, new, by=args.by, now=when.at(new.zone, clock))
    print(f"Revidering {done.revision} genomförd: planversion {done.plan_version} antagen.")
    print(f"  {len(done.reinstated)} åtaganden fortsätter, {len(done.ended)} avslutade, {len(done.added)} nya.")
    for line in done.changes:
        print(f"  - {line}")
    print(common.next_revision_line(done.next_due, new.agreement.valid_to))
    return 0


def cmd_status(args: argparse.Namespace, clock: Clock) -> int:
    shown = queries.revision_status(common.database(args), agreement=args.agreement)
    rev = shown.revision
    if rev is None:
        print("Ingen revidering pågår. " + common.next_revision_line(shown.revision_due, shown.valid_to))
        return 0
    print(
        f"Revidering {rev.number} pågår (sista dag {texts.datum(rev.due)}): "
        f"{rev.decided} beslut, {rev.undecided} utan beslut."
    )
    for item in rev.commitments:
        decision = item.decision
        print(
            f"  {item.commitment}: "
            + (f"{texts.DECISION_NAMES[decision]} – {item.text}" if decision else "inget beslut")
        )
    return 0
