#!/usr/bin/env python3
"""Set up and run samverkan with nothing but Python 3.11+.

    python3 tasks.py run    # .venv + install, load the Borås file (SQLite), then `samverkan run` until Ctrl-C
    python3 tasks.py run --from 2027-03-01T08:00   # the same, the runner and the web on a rehearsed clock
    python3 tasks.py test   # .venv + install with test tools, then ruff, mypy, lint-imports and pytest

Standard library only: this file runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
CONFIG = ROOT / "config" / "boras-2015.yaml"


def _sh(*cmd: str | Path, check: bool = True) -> int:
    print("$", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, check=check).returncode


def setup(extras: str) -> None:
    """Create .venv and install the project once per version of pyproject.toml."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before anything checks the version
        sys.exit(f"samverkan kräver Python 3.11 eller senare (detta är {sys.version.split()[0]})")
    if not PY.exists():
        print(f"Skapar {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f".[{extras}]" if extras else "."
    _sh(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", target)
    stamp.write_text(digest)


def rehearsal(args: list[str]) -> list[str]:
    """``--from ISO`` (or ``--from=ISO``) for both `samverkan run` and `serve`; [] on the real clock.

    Both get it so that a link in a mail written on the rehearsed date opens in the web that
    `run` starts: on the real clock it would not be valid yet. Anything else is refused here,
    before anything is installed.
    """
    if not args:
        return []
    if len(args) == 2 and args[0] == "--from":
        return ["--from", args[1]]
    if len(args) == 1 and args[0].startswith("--from="):
        return ["--from", args[0].split("=", 1)[1]]
    sys.exit("användning: python3 tasks.py run [--from ÅÅÅÅ-MM-DDTHH:MM]")


def run(args: list[str]) -> int:
    start = rehearsal(args)
    setup("")
    samverkan = BIN / "samverkan"
    _sh(samverkan, "validate", CONFIG)
    _sh(samverkan, "init", "--config", CONFIG)
    _sh(samverkan, "status")
    print(
        "samverkan run: vaknar när något är dags och skriver e-post som .eml-filer i ./outbox;\n"
        "samverkan serve: webben på http://127.0.0.1:8080 (skapa en inloggning med\n"
        "  .venv/bin/samverkan user add DIN@E-POST --role owner). Ctrl-C avslutar båda."
        + (f"\nGeneralrepetition: klockan går från {start[1]}." if start else "")
    )
    web = subprocess.Popen([str(samverkan), "serve", *start], cwd=ROOT)
    try:
        return _sh(samverkan, "run", *start, check=False)
    except KeyboardInterrupt:
        return 0
    finally:
        web.terminate()
        web.wait(timeout=30)


def test(args: list[str]) -> int:
    setup("dev")
    failed = 0
    failed |= _sh(BIN / "ruff", "check", ".", check=False)
    failed |= _sh(BIN / "mypy", check=False)
    # The layers and the one door (pyproject.toml's import-linter contracts; docs/architecture.md).
    failed |= _sh(BIN / "lint-imports", check=False)
    failed |= _sh(PY, "-m", "pytest", *args, check=False)
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test", "setup"):
        print(__doc__)
        return 2
    if argv[0] == "setup":
        setup("dev")
        return 0
    return run(argv[1:]) if argv[0] == "run" else test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
