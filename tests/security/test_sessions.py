"""Sessions end when they should, and the secret that signs them is not readable by others (issue 14).

A session cookie saved before signing out, before a password change or before the user
was removed opened the dashboard and passed CSRF. Each user now has a session version
in the database that the signed cookie carries; sign-out, a password change (web or
CLI) and removal raise or remove it, so every saved cookie of that user stops working.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from notifications.mailers.file import FileMailer
from notifications.message import Built
from tests.security.conftest import Cli

BORAS = Path(__file__).resolve().parents[2] / "config" / "boras-2015.yaml"


# -- the secret on disk ----------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (022), under which files were created world-readable."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.mark.usefixtures("open_umask")
def test_a_new_sqlite_database_and_its_journal_are_readable_by_the_owner_only(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "ny.db"
    code, _out, err = cli("init", "--db", f"sqlite:///{path}", "--config", str(BORAS))
    assert (code, err) == (0, "")
    assert mode(path) == 0o600
    # The rollback journal SQLite writes during a transaction holds the same pages.
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE web_secrets SET value = value")
        conn.execute("CREATE TABLE t (x)")
        journal = tmp_path / "ny.db-journal"
        assert journal.exists()
        assert mode(journal) == 0o600
        conn.execute("ROLLBACK")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE u (x)")
        assert mode(tmp_path / "ny.db-wal") == 0o600
    finally:
        conn.close()


@pytest.mark.usefixtures("open_umask")
def test_the_eml_folder_and_its_mails_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    mail = Built(
        raw=b"Subject: x\r\n\r\nx\r\n",
        sender="a@x.example",
        recipients=("b@x.example",),
        message_id="<1@x>",
        kind="reminder",
    )
    results = asyncio.run(FileMailer(folder).send_all([mail]))
    assert [r.status for r in results] == ["sent"]
    assert mode(folder) == 0o700
    (written,) = folder.iterdir()
    assert mode(written) == 0o600
