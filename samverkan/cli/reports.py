"""What the commands write to files: ``report`` (the yearly report) and ``calendar`` (.ics)."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.api import commands, queries
from engine.clock import Clock
from notifications import calendar_export
from notifications.links import base_url_for, statement_url
from notifications.report_files import render_report_file
from notifications.settings import load_settings
from rules import analysis
from rules.errors import InvalidValue, SamverkanError
from rules.texts import datum
from samverkan.cli import common

# Far more than rules.analysis.MAX_CHARS in any encoding of it: a bigger file is not an analysis.
ANALYSIS_FILE_MAX = 4 * analysis.MAX_CHARS + 1024


def read_analysis(path: str) -> str:
    """The analysis file ``path`` (UTF-8 text or Markdown) as its text, or one ``FILE[:LINE]: …`` error."""
    try:
        with open(path, "rb") as f:
            data = f.read(ANALYSIS_FILE_MAX + 1)
    except FileNotFoundError:
        raise SamverkanError(f"{path}: filen finns inte") from None
    except IsADirectoryError:
        raise SamverkanError(f"{path}: är en mapp, inte en fil") from None
    except OSError as exc:
        raise SamverkanError(f"{path}: kan inte läsas ({exc.strerror})") from None
    if len(data) > ANALYSIS_FILE_MAX:
        raise SamverkanError(f"{path}: filen är för stor för en analys (högst {analysis.MAX_CHARS} tecken)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SamverkanError(f"{path}:{line}: är inte UTF-8-text (spara filen som UTF-8)") from None
    found = analysis.problem(text)
    if found is not None:
        at, message = found
        raise SamverkanError(f"{path}{f':{at}' if at else ''}: {message}")
    return text


def cmd_report(args: argparse.Namespace, clock: Clock) -> int:
    period = common.parse_int(args.period, "--period", low=1900, high=2200)
    # Everything given is checked before anything is saved.
    text = read_analysis(args.analysis) if args.analysis is not None else None
    if text is not None and args.by is None:
        raise InvalidValue("by", 'ange vem som skrev analysen, t.ex. --by "BråB"')
    settings = load_settings(getattr(args, "settings", None))
    database = common.database(args)
    if text is not None:
        now = common.when(args.now).resolve(database, clock)
        try:
            saved = commands.save_analysis(
                database, period=period, text=text, by=args.by, now=now, agreement=args.agreement
            )
        except InvalidValue as exc:
            if exc.field == "text":  # the file's words, not an option's
                raise SamverkanError(f"{args.analysis}: {exc.message}") from None
            raise
        a = saved.analysis
        if saved.changed:
            print(f"Analysen för {period} sparad från {args.analysis} (version {a.version}, {datum(a.written)}).")
        else:
            print(f"Analysen för {period} är oförändrad (version {a.version}); inget nytt sparades.")
    report = queries.report(database, period=period, agreement=args.agreement)
    # Only an address set in the settings: a report handed on must not point at this machine.
    data = render_report_file(
        report, args.format, csv_form=args.csv_format, statement_url=statement_url(settings.base_url)
    )
    common.write_bytes(args.out, data)
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
