"""``samverkan import``: draft the agreement file from the signed document (Word or a text export)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from engine.clock import Clock
from engine.importer import DocumentError, draft_file
from engine.importer.document import DOCUMENT_MAX
from rules.errors import InvalidValue
from rules.texts import DEFAULT_ZONE
from samverkan.cli import common


def _read(path: str) -> bytes:
    file = Path(path)
    try:
        if not file.is_file():
            raise DocumentError(path, "finns inte" if not file.exists() else "är ingen vanlig fil")
        with file.open("rb") as f:
            data = f.read(DOCUMENT_MAX + 1)
    except OSError as exc:
        raise DocumentError(path, f"kan inte läsas ({exc.strerror})") from None
    return data


def cmd_import(args: argparse.Namespace, clock: Clock) -> int:
    if args.id is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,59}", args.id):
        raise InvalidValue("id", f"ogiltigt id '{args.id}' (gemener a–z, siffror och bindestreck, högst 60 tecken)")
    today = clock.now().astimezone(DEFAULT_ZONE).date()
    imported = draft_file(_read(args.file), args.file, agreement_id=args.id, today=today)
    summary = "\n".join(imported.summary())
    if args.out is None:
        sys.stdout.write(imported.text)
        print(summary, file=sys.stderr)
        return 0
    common.write_text(args.out, imported.text)
    print(summary)
    print(f"Utkastet är skrivet till {args.out}. Kontrollera det och kör sedan: samverkan validate {args.out}")
    return 0
