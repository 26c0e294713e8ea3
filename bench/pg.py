"""PostgreSQL schemas for the benches: one per round, created and dropped here.

``bench/instances.py`` and ``bench/tick.py --backend postgresql`` build their rows once in
a SQLite file (``bench/tick.py``'s builder); ``fill`` copies them into a fresh schema (the
Alembic migrations first, then ``COPY``), and ``clone`` copies a filled schema into another
one inside the server, which at 1,000,000 commitments is several times faster than a
second ``COPY`` through the client.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, text

from engine import db

DEFAULT_PG = os.environ.get("SAMVERKAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# The tables bench/tick.py's builder fills; the migrations write tick_lock's one row.
TABLES = ["agreements", "parties", "units", "areas", "efforts", "commitments"]


def schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def psycopg_url(url: str) -> str:
    """The libpq form of a SQLAlchemy ``postgresql+psycopg://`` URL (for a bare psycopg connection)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def new_schema(admin: Engine, prefix: str = "bench") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    return name


def drop_schema(admin: Engine, name: str) -> None:
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def fill(url: str, source: Path) -> float:
    """Migrate an empty schema and COPY the built rows into it; returns the seconds taken."""
    start = time.perf_counter()
    engine = db.connect(url)
    db.upgrade(engine)
    con = sqlite3.connect(source)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SET TIME ZONE 'UTC'")  # the SQLite rows hold naive UTC text
        for table in TABLES:
            columns = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            names = ", ".join(columns)
            with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in con.execute(f"SELECT {names} FROM {table}"):
                    copy.write_row(row)
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        con.close()
        engine.dispose()
    return time.perf_counter() - start


def clone(url: str, source_schema: str) -> float:
    """Migrate an empty schema and copy ``source_schema``'s built rows into it in the server; seconds."""
    start = time.perf_counter()
    engine = db.connect(url)
    db.upgrade(engine)
    try:
        with engine.begin() as conn:
            for table in TABLES:
                names = ", ".join(
                    f'"{c}"'
                    for c in conn.execute(
                        text(
                            "SELECT column_name FROM information_schema.columns"
                            " WHERE table_schema = :s AND table_name = :t ORDER BY ordinal_position"
                        ),
                        {"s": source_schema, "t": table},
                    ).scalars()
                )
                conn.execute(text(f'INSERT INTO {table} ({names}) SELECT {names} FROM "{source_schema}".{table}'))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # As a long-running database has it: statistics, hint bits and the visibility map set.
            # Named tables only: a bare VACUUM would visit every schema of the database.
            conn.execute(text(f"VACUUM ANALYZE {', '.join([*TABLES, 'tick_lock', 'outbox', 'transition_log'])}"))
    finally:
        engine.dispose()
    return time.perf_counter() - start
