"""What the commands write to files: ``report`` (the yearly report) and ``calendar`` (.ics)."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.api import queries
from engine.clock import Clock
from notifications import calendar_export
from notifications.links import base_url_for
from notifications.report_files import render_report_file
from notifications.settings import load_settings
from rules.errors import InvalidValue
from samverkan.cli import common


def cmd_report(args: argparse.Namespace, clock: Clock) -> int:
    period = common.parse_int(args.period, "--period", low=1900, high=2200)
    report = queries.report(common.database(args), period=period, agreement=args.agreement)
    common.write_bytes(args.out, render_report_file(report, args.format, csv_form=args.csv_format))
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
