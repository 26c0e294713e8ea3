"""What the commands write to files: ``report`` (the yearly report) and ``calendar`` (.ics)."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from engine.api import queries
from engine.clock import Clock
from notifications import calendar_export
from notifications.links import base_url_for
from notifications.report import render_report
from notifications.settings import load_settings
from rules.errors import InvalidValue
from samverkan.cli import common


def _write(path: str, text: str) -> None:
    """``text`` at ``path`` whole or not at all: written beside it, then renamed over it.

    On any failure the half-way file goes too; left behind, it held the whole report
    under a name nobody asked for.
    """
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # newline="": the CSV writer's line endings stay as written on every platform.
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, target)
    except OSError as exc:
        raise InvalidValue("out", f"{path}: kan inte skrivas ({exc.strerror})") from None
    finally:
        with contextlib.suppress(OSError):
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink()


def cmd_report(args: argparse.Namespace, clock: Clock) -> int:
    period = common.parse_int(args.period, "--period", low=1900, high=2200)
    report = queries.report(common.database(args), period=period, agreement=args.agreement)
    _write(args.out, render_report(report, args.format))
    print(f"Årsrapporten för {period} skriven till {args.out} ({args.format}).")
    return 0


def cmd_calendar(args: argparse.Namespace, clock: Clock) -> int:
    when = common.when(args.now)
    database = common.database(args)
    now = when.resolve(database, clock)
    # The events link to the web's pages when its address is known (settings' base_url).
    base = base_url_for(load_settings(getattr(args, "settings", None)))
    data, count = calendar_export.calendar_file(database, now=now, unit=args.unit, party=args.party, base_url=base)
    try:
        Path(args.out).write_bytes(data)
    except OSError as exc:
        raise InvalidValue("out", f"{args.out}: kan inte skrivas ({exc.strerror})") from None
    print(f"{count} kommande sista dagar skrivna till {args.out}.")
    return 0
