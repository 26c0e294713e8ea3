"""The web's commands: ``serve`` and ``user add``, ``user invite``, ``user passwd``, ``user remove``, ``user list``."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.api import commands_users, pages
from engine.clock import Clock, ShiftedClock
from notifications.settings import load_settings
from rules import texts
from rules.errors import InvalidValue
from samverkan.cli import common
from samverkan.serve import serve


def cmd_serve(args: argparse.Namespace, clock: Clock) -> int:
    port = common.parse_int(args.port, "--port", low=0, high=65535)
    settings = load_settings(getattr(args, "settings", None))
    start = common.when(args.start, "--from") if args.start else None
    database = common.database(args)
    if start is not None:
        clock = ShiftedClock(start=start.resolve(database, clock), base=clock)
    return serve(database, settings, host=args.host, port=port, clock=clock)


def _password(email: str) -> str:
    """The password from SAMVERKAN_PASSWORD, else asked for twice in a terminal."""
    password = os.environ.get("SAMVERKAN_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise InvalidValue("password", "sätt SAMVERKAN_PASSWORD eller kör kommandot i en terminal")
        password = getpass.getpass(f"Lösenord för {email}: ")
        if getpass.getpass("Samma lösenord igen: ") != password:
            raise InvalidValue("password", "de två lösenorden är olika; inget sparat")
    return password


def cmd_user_add(args: argparse.Namespace, clock: Clock) -> int:
    password = _password(args.email)
    added = commands_users.add_user(
        common.database(args),
        args.email,
        role=args.role,
        password=password,
        now=clock.now(),
        party=args.party,
        unit=args.unit,
        name=args.name,
    )
    scope = f" för {args.party or args.unit}" if args.party or args.unit else ""
    print(f"Användaren {added.email} skapad ({added.role}{scope}); logga in på webben med 'samverkan serve'.")
    return 0


def cmd_user_invite(args: argparse.Namespace, clock: Clock) -> int:
    invited = commands_users.invite_user(
        common.database(args),
        args.email,
        role=args.role,
        by="samverkan user invite",
        now=clock.now(),
        party=args.party,
        unit=args.unit,
        name=args.name,
    )
    print(
        f"Användaren {invited.email} är inbjuden; inbjudan skickas med nästa utskick ('samverkan run') "
        f"och länken gäller till {texts.datumtid(invited.expires)}."
    )
    return 0


def cmd_user_passwd(args: argparse.Namespace, clock: Clock) -> int:
    database = common.database(args)
    password = _password(args.email)
    changed = commands_users.set_password(database, args.email, password)
    print(f"Lösenordet för {changed.email} är bytt; alla användarens inloggningar på webben är avslutade.")
    return 0


def cmd_user_remove(args: argparse.Namespace, clock: Clock) -> int:
    gone = commands_users.remove_user(common.database(args), args.email)
    print(f"Användaren {gone.email} är borttagen; alla användarens inloggningar på webben är avslutade.")
    return 0


def cmd_user_list(args: argparse.Namespace, clock: Clock) -> int:
    people = pages.user_list(common.database(args))
    if args.json:
        out = [
            {"email": p.email, "name": p.name, "role": p.role, "party": p.party, "unit": p.unit, "active": p.active}
            for p in people
        ]
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not people:
        print("Inga användare. Skapa en med 'samverkan user add'.")
        return 0
    table = Table(title="Användare")
    for col in ("E-post", "Namn", "Roll", "Part", "Enhet", "Status"):
        table.add_column(col, overflow="fold")
    for p in people:
        # Names and addresses are what people typed: shown as written, never as rich markup.
        table.add_row(*(escape(v or "–") for v in (p.email, p.name, p.role_sv, p.party, p.unit, p.status_sv)))
    # A pipe or a file gets full lines rather than rich's 80-column fallback.
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    print(f"{len(people)} användare.")
    return 0
