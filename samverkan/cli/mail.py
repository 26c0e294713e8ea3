"""The commands that make and send notices.

``tick``, ``run``, ``deliver`` and ``outbox``; and the parties' own notices, which are
sent at once: ``notify-change``, ``terminate``; and ``close``, which ends what would be sent.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta

from engine.api import commands, queries
from engine.clock import Clock, ShiftedClock
from engine.db import Database
from engine.tick import NoticeQueued, TransitionApplied, tick
from notifications.dispatcher import deliver
from notifications.links import inbox_link_maker_for, link_maker_for
from notifications.settings import Settings, load_settings
from rules import texts
from rules.model import OutboxState
from samverkan.cli import common
from samverkan.run import run_forever


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "settings", None))


def _deliver_now(database: Database, settings: Settings, now: datetime) -> str:
    r = deliver(
        database,
        now,
        settings,
        link=link_maker_for(database, settings),
        inbox=inbox_link_maker_for(database, settings),
    )
    where = f" till {settings.mail_dir}/" if settings.mailer == "file" else f" via {settings.mailer}"
    # Notices and mails differ: several notices to one address go as one mail.
    text = f"{r.sent} skickade{where}"
    if r.messages != r.sent:
        mails = "1 e-postmeddelande" if r.messages == 1 else f"{r.messages} e-postmeddelanden"
        text = f"{r.sent} skickade i {mails}{where}"
    if r.retried:
        text += f", {r.retried} skickas igen senare"
    if r.failed:
        text += f", {r.failed} misslyckades"
    return text


def cmd_tick(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    database = common.database(args)
    now = when.resolve(database, clock)
    report = tick(database, now)
    if args.json:
        moved = [e.commitment for e in report.events if isinstance(e, TransitionApplied)]
        zones = queries.zones(database, commitments=moved)
        for e in report.events:
            if isinstance(e, NoticeQueued):
                n = e.notice
                row = {
                    "at": n.send_at.astimezone(zones.of_agreement(n.agreement)).isoformat(),
                    "kind": n.kind,
                    "recipients": list(n.recipients),
                    "key": n.key,
                }
                row |= {"commitment": n.commitment} if n.commitment else {"agreement": n.agreement}
            else:
                row = {
                    "at": e.at.astimezone(zones.of_commitment(e.commitment)).isoformat(),
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
    local = now.astimezone(queries.zones(database).common).isoformat(timespec="minutes")
    print(
        f"Tick {local}: {report.examined} granskade, {report.transitions} övergångar, "
        f"{report.notices} nya notiser" + (f" ({report.duplicates} redan köade)" if report.duplicates else "")
    )
    for e in report.events:
        if isinstance(e, NoticeQueued):
            n = e.notice
            details = {"period": n.period, **n.data}
            print("  " + common.describe(n.kind, n.commitment or n.agreement, n.recipients, details))
        else:
            details = {"from": e.from_state, "to": e.to_state, "by": e.by, "why": e.why}
            print("  " + common.describe("transition", e.commitment, (), details))
    return 0


def cmd_run(args: argparse.Namespace, clock: Clock) -> int:
    retry = timedelta(seconds=common.parse_int(args.retry_seconds, "--retry-seconds", low=1, high=86400))
    settings = _settings(args)
    start = common.when(args.start, "--from") if args.start else None
    database = common.database(args)
    if start is not None:
        clock = ShiftedClock(start=start.resolve(database, clock), base=clock)
    return run_forever(database, clock, settings, retry=retry)


def cmd_outbox(args: argparse.Namespace, clock: Clock) -> int:
    notices = queries.outbox(common.database(args), state=args.state)
    if args.json:
        out = [
            {
                "key": n.key,
                "kind": n.kind,
                "state": n.state,
                "recipients": list(n.recipients),
                "send_at": n.send_at.isoformat(),
                "attempts": n.attempts,
                "sent_at": n.sent_at.isoformat() if n.sent_at else None,
                "message_id": n.message_id,
                "last_error": n.last_error,
                "commitment": n.commitment,
                "agreement": n.agreement,
            }
            for n in notices
        ]
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not notices:
        print("Utkorgen är tom.")
    for n in notices:
        note = f" – {n.last_error}" if n.last_error and n.state != OutboxState.SENT else ""
        print(
            f"{n.send_at:%Y-%m-%d %H:%M}  {texts.name(texts.OUTBOX_STATE_NAMES, n.state):<10} "
            f"{texts.kind_name(n.kind):<24} {n.commitment or n.agreement} → {', '.join(n.recipients)}{note}"
        )
    return 0


def cmd_deliver(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    settings = _settings(args)
    database = common.database(args)
    now = when.resolve(database, clock)
    local = now.astimezone(queries.zones(database).common).isoformat(timespec="minutes")
    print(f"Utskick {local}: {_deliver_now(database, settings, now)}.")
    return 0


def cmd_notify_change(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    settings = _settings(args)  # a bad settings file is refused before anything is recorded
    database = common.database(args)
    now = when.resolve(database, clock, agreement=args.agreement)
    recorded = commands.notify_change(
        database,
        party=args.party,
        text=args.text,
        by=args.by or args.party,
        now=now,
        commitments=args.commitment,
        agreement=args.agreement,
    )
    flagged = recorded.commitments
    print(
        f"Ändrade förutsättningar registrerade för {args.party}"
        + (f"; flaggade inför revideringen: {', '.join(flagged)}" if flagged else "")
        + "."
    )
    print(f"Meddelandet: {_deliver_now(database, settings, now)}.")
    return 0


def cmd_terminate(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    effective = common.parse_date(args.effective, "--effective")
    settings = _settings(args)  # a bad settings file is refused before anything is recorded
    database = common.database(args)
    now = when.resolve(database, clock, agreement=args.agreement)
    commands.terminate(
        database,
        party=args.party,
        effective=effective,
        reason=args.reason,
        by=args.by or args.party,
        now=now,
        agreement=args.agreement,
    )
    print(
        f"Uppsägning registrerad: alla åtaganden avslutas {texts.datum(effective)}; "
        "inga påminnelser går ut från den dagen."
    )
    print(f"Meddelandet: {_deliver_now(database, settings, now)}.")
    return 0


def cmd_close(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    database = common.database(args)
    now = when.resolve(database, clock, agreement=args.agreement)
    closed = commands.close(database, by=args.by, why=args.why, now=now, agreement=args.agreement)
    print(
        f"Överenskommelsen avslutad: {len(closed.ended)} åtaganden avslutade; "
        "inget mer efterfrågas eller skickas för den."
    )
    return 0
