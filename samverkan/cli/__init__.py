"""The ``samverkan`` command line (``samverkan = samverkan.cli:run``).

Every error a person can cause ends here as one line on stderr and exit code 2;
nothing is written when a command fails (each command is one transaction).

``parser`` holds the arguments, ``common`` what every command shares (the database,
``--now``, the error lines), and one module per group of commands: ``plan``,
``commitments``, ``revision``, ``mail``, ``web``, ``reports`` and ``importing``. Each reads through
``engine.api.queries`` and changes through ``engine.api.commands``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from engine import db
from engine.clock import Clock, SystemClock
from rules.errors import AgreementFileError, SamverkanError
from samverkan.cli.common import EXIT_USAGE, error_lines, one_line
from samverkan.cli.parser import build_parser

__all__ = ["build_parser", "main", "run", "settle_memory"]


def command(name: str) -> Callable[[argparse.Namespace, Clock], int]:
    """The function behind a parser's ``func="group:cmd_x"``, its group's module imported now.

    Only the group a command needs is imported: the web server, the mail dispatcher and the
    report renderer each cost a tenth of a second at start-up that ``status`` should not pay
    (every module is still imported at the top of its own file; this is the composition
    root choosing which of its own modules to load).
    """
    group, _, function = name.partition(":")
    module = importlib.import_module(f"samverkan.cli.{group}")
    found: Callable[[argparse.Namespace, Clock], int] = getattr(module, function)
    return found


def main(argv: Sequence[str] | None = None, clock: Clock | None = None, *, settle: bool = False) -> int:
    """Run one command; ``settle`` (the installed script) freezes what start-up allocated first."""
    for arg in sys.argv[1:] if argv is None else argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            print(f"samverkan: fel: argumentet {arg!r} är inte giltig UTF-8", file=sys.stderr)
            return EXIT_USAGE
    parser = build_parser()
    args = parser.parse_args(argv)
    func = command(args.func)
    if settle:  # after the command's group is imported, so its modules are frozen too
        settle_memory()
    try:
        return func(args, clock or SystemClock())
    except AgreementFileError as exc:
        # Already in the FILE:LINE: message form that editors and CI understand.
        for line in exc.lines():
            print(one_line(line), file=sys.stderr)
        return EXIT_USAGE
    except SamverkanError as exc:
        for line in error_lines(exc):
            print(f"samverkan: fel: {one_line(line)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A database that refuses at the first write (read-only) fails deep in a command;
        # engine.db says which refusals are a person's to fix, and those are one line too.
        refused = db.refusal(exc, db.database_url(getattr(args, "db", None)))
        if refused is None:
            raise
        print(f"samverkan: fel: {one_line(str(refused))}", file=sys.stderr)
        return EXIT_USAGE


def settle_memory() -> None:
    """Move what start-up allocated out of the collector's way.

    Full collections otherwise walk every module, SQLAlchemy and Jinja object again and
    again: bench/mail.py measured a quarter of the dispatcher's time in them. Long
    servers (``run``, ``serve``) gain most; for a short command it is harmless.
    """
    gc.collect()
    gc.freeze()


def run() -> NoReturn:
    try:
        code = main(settle=True)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (head, less) went away: not an error of ours, and no traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)
