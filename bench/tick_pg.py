"""``bench/tick.py --backend postgresql``: the same database, tick and floors on a PostgreSQL server.

The rows are ``bench/tick.py``'s (built once in a SQLite file), copied with ``COPY`` into a
source schema, and for every measurement cloned into a schema of its own inside the server
(``bench/pg.py``: the migrations, ``INSERT … SELECT`` per table, ``VACUUM ANALYZE``); every
schema is dropped at the end, also when a step fails.

* ``tick``: ``engine.tick.tick(engine, NOW, collect=False)`` through SQLAlchemy and psycopg,
  as ``samverkan run`` calls it; also the statements it sent (a ``before_cursor_execute``
  listener: one per ``execute``, one per page of an ``insertmanyvalues`` INSERT, one per
  ``executemany`` however many parameter sets it pipelines) and the parameter sets.
* ``floor``: one statement with plain psycopg, in one transaction: the tick's selection
  (commitments ⋈ efforts ⋈ units, ``next_check <= NOW``) as a CTE, one outbox row per
  selected commitment inserted from it (``INSERT … SELECT``, the columns engine.outbox
  writes) and their ``next_check`` moved (``UPDATE … FROM``). Nothing leaves the server:
  the fastest form of these writes, and the one the target is measured against.
* ``client floor``: the same rows brought to the client (one ``SELECT``), then written back
  with psycopg's ``executemany`` (pipelined): the least a design whose rules run in Python
  must do. Printed for comparison.
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import pstats
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event, text

from engine import db
from engine.tick import tick

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pg
import tick as tick_bench

SELECTION = """
SELECT c.id, c.agreement_id, c.state, c.period, e.starts, e.ends, u.email
FROM commitments AS c
JOIN efforts AS e ON e.agreement_id = c.agreement_id AND e.id = c.effort_id
JOIN units AS u ON u.agreement_id = c.agreement_id AND u.id = c.responsible
WHERE c.next_check <= %(now)s
"""
# The columns engine.outbox.row writes, plus the model default for attempts.
OUTBOX_COLUMNS = (
    "key, kind, agreement_id, commitment_id, period, recipients, send_at, created_at, data, state, attempts, group_key"
)
FLOOR = f"""
WITH due AS MATERIALIZED ({SELECTION}),
queued AS (
    INSERT INTO outbox ({OUTBOX_COLUMNS})
    SELECT 'reminder:' || id || ':' || period || ':0', 'reminder', agreement_id, id, period,
           json_build_array(email), %(now)s, %(now)s, json_build_object('period', period), 'pending', 0, email
    FROM due
)
UPDATE commitments AS c SET next_check = %(later)s FROM due WHERE c.id = due.id
"""
CLIENT_INSERT = f"INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES ({', '.join(['%s'] * 12)})"
CLIENT_UPDATE = "UPDATE commitments SET next_check = %s WHERE id = %s"


class Statements:
    """What a SQLAlchemy engine sent: statements (an executemany once, an insertmanyvalues page once each)."""

    def __init__(self, engine: Engine) -> None:
        self.statements = 0
        self.executemany = 0
        self.insertmanyvalues = 0
        self.parameter_sets = 0
        self.by_verb: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self._started = 0.0
        self._verb = ""
        event.listen(engine, "before_cursor_execute", self._seen)
        event.listen(engine, "after_cursor_execute", self._done)

    def _done(self, *_: Any) -> None:
        self.seconds[self._verb] = self.seconds.get(self._verb, 0.0) + time.perf_counter() - self._started

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        self.statements += 1
        verb = self._verb = statement.lstrip().split(None, 1)[0].upper()
        self.by_verb[verb] = self.by_verb.get(verb, 0) + 1
        if getattr(getattr(context, "execute_style", None), "name", "") == "INSERTMANYVALUES":
            self.insertmanyvalues += 1  # one page of up to 1,000 rows in one statement
        elif many:
            self.executemany += 1
            self.parameter_sets += len(parameters)
        else:
            self.parameter_sets += 1
        self._started = time.perf_counter()

    def as_dict(self) -> dict[str, Any]:
        return {
            "statements": self.statements,
            "executemany": self.executemany,
            "insertmanyvalues_pages": self.insertmanyvalues,
            "parameter_sets": self.parameter_sets,
            "by_verb": self.by_verb,
            "seconds_by_verb": self.seconds,
        }


def _counts(url: str, now: datetime) -> tuple[int, int]:
    with psycopg.connect(pg.psycopg_url(url)) as con:
        outbox = con.execute("SELECT count(*) FROM outbox").fetchone()
        left = con.execute("SELECT count(*) FROM commitments WHERE next_check <= %s", (now,)).fetchone()
    assert outbox is not None and left is not None
    return int(outbox[0]), int(left[0])


def child_tick(url: str, now: datetime) -> dict[str, Any]:
    engine = db.connect(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM tick_lock")).scalar()
    sent = Statements(engine)
    gc.collect()
    base = tick_bench.peak_rss_mb()
    start = time.perf_counter()
    report = tick(engine, now, collect=False)
    seconds = time.perf_counter() - start
    peak = tick_bench.peak_rss_mb()
    engine.dispose()
    outbox, left = _counts(url, now)
    return {
        "seconds": seconds,
        "examined": report.examined,
        "notices": report.notices,
        "duplicates": report.duplicates,
        "transitions": report.transitions,
        "outbox_rows": outbox,
        "still_due": left,
        "base_mb": base,
        "peak_mb": peak,
        "sent": sent.as_dict(),
    }


def child_floor(url: str, now: datetime) -> dict[str, Any]:
    con = psycopg.connect(pg.psycopg_url(url))
    con.execute("SELECT count(*) FROM tick_lock").fetchone()
    con.rollback()
    gc.collect()
    base = tick_bench.peak_rss_mb()
    start = time.perf_counter()
    cur = con.execute(FLOOR, {"now": now, "later": now + timedelta(days=7)})
    written = cur.rowcount
    con.commit()
    seconds = time.perf_counter() - start
    peak = tick_bench.peak_rss_mb()
    con.close()
    outbox, _ = _counts(url, now)
    return {
        "seconds": seconds,
        "selected": written,
        "outbox_rows": outbox,
        "base_mb": base,
        "peak_mb": peak,
    }


def child_client_floor(url: str, now: datetime) -> dict[str, Any]:
    con = psycopg.connect(pg.psycopg_url(url))
    con.execute("SELECT count(*) FROM tick_lock").fetchone()
    con.rollback()
    gc.collect()
    base = tick_bench.peak_rss_mb()
    later = now + timedelta(days=7)
    start = time.perf_counter()
    with con.cursor() as cur:
        rows = cur.execute(SELECTION, {"now": now}).fetchall()
        selected = time.perf_counter()
        cur.executemany(
            CLIENT_INSERT,
            [
                (
                    f"reminder:{cid}:{period}:0",
                    "reminder",
                    aid,
                    cid,
                    period,
                    json.dumps([email]),
                    now,
                    now,
                    json.dumps({"period": period}),
                    "pending",
                    0,
                    email,
                )
                for cid, aid, _state, period, _starts, _ends, email in rows
            ],
        )
        inserted = time.perf_counter()
        cur.executemany(CLIENT_UPDATE, [(later, r[0]) for r in rows])
    con.commit()
    seconds = time.perf_counter() - start
    peak = tick_bench.peak_rss_mb()
    con.close()
    outbox, _ = _counts(url, now)
    return {
        "seconds": seconds,
        "select_s": selected - start,
        "insert_s": inserted - selected,
        "update_commit_s": seconds - (inserted - start),
        "selected": len(rows),
        "outbox_rows": outbox,
        "base_mb": base,
        "peak_mb": peak,
    }


def child_profile(url: str, now: datetime) -> dict[str, Any]:
    engine = db.connect(url)
    with engine.connect() as conn:
        plan = conn.execute(
            text(
                "EXPLAIN SELECT c.id FROM commitments AS c"
                " JOIN efforts AS e ON e.agreement_id = c.agreement_id AND e.id = c.effort_id"
                " JOIN units AS u ON u.agreement_id = c.agreement_id AND u.id = c.responsible"
                " WHERE c.next_check <= :now ORDER BY c.next_check, c.id LIMIT 2000"
            ),
            {"now": now},
        ).scalars()
        lines = [str(p) for p in plan]
    sent = Statements(engine)
    profiler = cProfile.Profile()
    profiler.enable()
    tick(engine, now, collect=False)
    profiler.disable()
    engine.dispose()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(18)
    stats.sort_stats("cumulative").print_stats(30)
    return {"plan": lines, "profile": out.getvalue(), "sent": sent.as_dict()}


CHILDREN: dict[str, Callable[[str, datetime], dict[str, Any]]] = {
    "pg-tick": child_tick,
    "pg-floor": child_floor,
    "pg-client-floor": child_client_floor,
    "pg-profile": child_profile,
}


def measure(
    url: str, built: Path, repeat: int, profile: bool, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict[str, Any] | None, str]:
    """Fill a source schema from ``built``, then run each measurement on a clone of it; drops every schema."""
    admin = create_engine(url)
    with admin.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar_one())
    made: list[str] = []

    def schema() -> str:
        name = pg.new_schema(admin, "bench_tick")
        made.append(name)
        return name

    def on_clone(kind: str, label: str) -> dict[str, Any]:
        name = schema()
        target = pg.schema_url(url, name)
        pg.clone(target, source)
        print(f"  {label} …", file=sys.stderr, flush=True)
        try:
            return tick_bench.run_child(kind, target, now.isoformat())
        finally:
            pg.drop_schema(admin, name)
            made.remove(name)

    ticks: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    clients: list[dict[str, Any]] = []
    prof: dict[str, Any] | None = None
    try:
        source = schema()
        print("  filling the source schema (COPY) …", file=sys.stderr, flush=True)
        pg.fill(pg.schema_url(url, source), built)
        for i in range(repeat):
            ticks.append(on_clone("pg-tick", f"round {i + 1}: tick"))
            floors.append(on_clone("pg-floor", f"round {i + 1}: floor"))
            clients.append(on_clone("pg-client-floor", f"round {i + 1}: client floor"))
        if profile:
            prof = on_clone("pg-profile", "profile")
    finally:
        for name in list(made):
            pg.drop_schema(admin, name)
        admin.dispose()
    return ticks, floors, clients, prof, version
