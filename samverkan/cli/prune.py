"""``gallra``: old notices out of the outbox, into an archive file the municipality keeps.

What may go, the archive's form and what a crash leaves are engine.prune's; this module
checks the values, calls ``engine.api.commands_outbox`` and says what happened, in Swedish.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.api import commands_outbox
from engine.clock import Clock
from rules import texts
from samverkan.cli import common


def _number(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def _notices(n: int) -> str:
    return f"{_number(n)} notis" if n == 1 else f"{_number(n)} notiser"


def report_lines(done: commands_outbox.Pruned) -> list[str]:
    """What a gallring did (or, dry, would do), in Swedish; ``run``'s log says the first line."""
    before = texts.datum(done.before)
    if done.resumed:
        verb = "skulle tas bort" if done.dry_run else "togs bort"
        head = f"Arkivet {done.archive} fanns redan ({_notices(done.archived)}); det skrivs aldrig om. " + (
            f"{_notices(done.total)} ur det fanns kvar i utkorgen och {verb} nu."
            if done.total
            else "Inget av det finns kvar i utkorgen; inget ändrat. En ny gallring behöver ett nytt filnamn."
        )
    elif done.dry_run:
        head = (
            f"Provkörning, inget ändras: {_notices(done.total)} från före {before} skulle flyttas till {done.archive}."
            if done.total
            else f"Provkörning: inget att gallra från före {before}."
        )
    elif done.wrote:
        head = (
            f"Gallrat: {_notices(done.removed)} från före {before} flyttade till {done.archive} "
            "och borttagna ur utkorgen."
        )
    else:
        head = f"Inget att gallra från före {before}; ingen arkivfil skrevs."
    lines = [head]
    for g in sorted(done.gone, key=lambda g: (texts.kind_name(g.kind), g.state)):
        state = texts.name(texts.OUTBOX_STATE_NAMES, g.state)
        span = (
            texts.datum(g.first)
            if g.first.date() == g.last.date()
            else f"{texts.datum(g.first)} – {texts.datum(g.last)}"
        )
        lines.append(f"  {texts.kind_name(g.kind):<24} {state:<11} {_number(g.count):>9}  {span}")
    if done.gone:
        first = min(g.first for g in done.gone)
        last = max(g.last for g in done.gone)
        lines.append(
            f"  totalt {_notices(done.total)}, skickade eller planerade {texts.datum(first)} – {texts.datum(last)}"
        )
    return lines


def cmd_gallra(args: argparse.Namespace, clock: Clock) -> int:
    before = common.parse_date(args.before, "--before")
    when = common.when(args.now)
    archive = Path(args.archive)
    database = common.database(args)
    done = commands_outbox.prune_outbox(
        database, before=before, archive=archive, now=when.resolve(database, clock), dry_run=args.dry_run
    )
    for text in report_lines(done):
        print(text)
    return 0
