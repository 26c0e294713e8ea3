"""The plan's commands: ``validate``, ``init``, ``plan diff``, ``plan export`` and ``simulate``."""

from __future__ import annotations

import argparse
import json
import sys

from engine import db
from engine.agreement import load_agreement
from engine.api import commands, queries
from engine.clock import Clock
from engine.simulate import simulate
from rules import texts
from rules.errors import InvalidValue
from samverkan.cli import common


def cmd_validate(args: argparse.Namespace, clock: Clock) -> int:
    agreement = load_agreement(args.file)
    print(f"{args.file}: giltig – {agreement.summary()}")
    return 0


def cmd_init(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    agreement = load_agreement(args.config)  # validate before touching the database
    # A wall-clock --now means the time where the agreement being loaded is kept.
    now = when.at(agreement.zone, clock)
    database = common.database(args, prepare=True)
    result = commands.load_plan(database, agreement, now=now)
    where = db.redact(str(database.url))
    if result.created:
        print(f"Överenskommelsen '{result.agreement}' inläst i {where}: {agreement.summary()}.")
        revision = result.revision_due
        coming = (
            f"nästa revidering senast {texts.datum(revision)}"
            if revision
            else "ingen revidering återstår under giltighetstiden"
        )
        since = "i dag" if args.now is None else texts.datum(now, agreement.zone)
        print(
            f"Motorn tar över från {since}: första uppföljning som bevakas gäller {result.first_period} "
            f"(senast {texts.datum(result.first_due) if result.first_due else '–'}); {coming}. "
            "Tidigare perioder räknas som hanterade före inläsningen."
        )
    elif result.changes:
        print(f"Överenskommelsen '{result.agreement}' uppdaterad till planversion {result.plan_version}:")
        for line in result.changes:
            print(f"  - {line}")
    else:
        print(f"Överenskommelsen '{result.agreement}' är oförändrad (planversion {result.plan_version}).")
    return 0


def cmd_plan_diff(args: argparse.Namespace, clock: Clock) -> int:
    v1, v2 = common.parse_int(args.v1, "V1", low=1), common.parse_int(args.v2, "V2", low=1)
    lines = queries.plan_diff(common.database(args), v1, v2, agreement=args.agreement)
    print(f"Planversion {v1} → {v2}: " + ("inga ändringar" if not lines else f"{len(lines)} ändringar"))
    for line in lines:
        print(f"  - {line}")
    return 0


def cmd_plan_export(args: argparse.Namespace, clock: Clock) -> int:
    plan = queries.plan_file(common.database(args), agreement=args.agreement)
    if args.out is None:
        sys.stdout.write(plan.text)
        return 0
    common.write_text(args.out, plan.text)
    print(f"Planversion {plan.version} av överenskommelsen '{plan.agreement}' skriven till {args.out}.")
    return 0


def cmd_simulate(args: argparse.Namespace, clock: Clock) -> int:
    agreement = load_agreement(args.config)
    start, end = common.parse_date(args.start, "--from"), common.parse_date(args.end, "--to")
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
        subject = event.commitment or event.agreement
        print(f"{when}  {common.describe(event.kind, subject, event.recipients, event.details)}")
    if not args.json:
        summary = ", ".join(f"{n} {texts.kind_name(k)}" for k, n in sorted(counts.items()))
        print(f"Simulerat {start}–{end}: {summary or 'inga händelser'}. Inget skickades.")
    return 0
