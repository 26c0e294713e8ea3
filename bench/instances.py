"""Several instances on PostgreSQL: tick and delivery with 1, 2 and 3 instances; database growth over ten years.

Usage::

    .venv/bin/python bench/instances.py [--db URL] [--size 100000] [--instances 1 2 3]
                                        [--connections 4] [--sample 1000] [--copies 10]

``--db`` is a PostgreSQL URL (default ``SAMVERKAN_TEST_PG_URL``, else
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); every round works in a schema of its
own, created and dropped here.

The database
------------
``bench/tick.py``'s builder (imported: the rows ``load_plan`` writes for
config/boras-2015.yaml, copied as agreements ``boras-000001`` …, due dates spread over the
year, every commitment ``pågående`` with ``next_check`` as the rules give it at
T0 = NOW − 12 days) writes ``--size`` commitments to a SQLite file once; each round copies
those rows into a fresh PostgreSQL schema (created by the Alembic migrations) with ``COPY``.
At NOW = 2026-11-24 08:00 Europe/Stockholm about 1/11 of the commitments have a reminder due.

One round per instance count k (fresh schema each time)
-------------------------------------------------------
k child processes (this script with ``--child``) each connect, warm up (imports, the holiday
calendar, a first query), say ready, and wait; the parent releases them together. Each then
does what one wake-up of ``samverkan run`` does: ``engine.tick.tick(engine, NOW)`` and
``notifications.dispatcher.deliver(engine, NOW, settings)`` (SMTP, ``--connections``
connections, batches of 200, the default lease) to an aiosmtpd server on 127.0.0.1 in the
parent process that keeps every Message-ID.

* *tick*: from the release until the first tick commits (the tick lock row makes the other
  instances' ticks wait, then find nothing due);
* *delivery*: from that commit until the last instance has marked its last batch;
  notices per second over that span;
* checked: the outbox holds the due set once (``examined`` summed over the instances equals
  it), every row is ``sent``, and the server received exactly the Message-IDs the outbox
  stored for them, each once (an address's notices go as one mail since issue 13, so there
  are fewer mails than notices: *mails* in the table).

Ten years of growth (an estimate, printed as one)
-------------------------------------------------
* bytes per row: after the k = 1 round, ``pg_total_relation_size`` (table, indexes, TOAST) of
  ``outbox`` over its rows (sent notices), as written and after ``VACUUM FULL outbox`` (each
  sent row was updated twice; autovacuum lets later rows reuse the dead versions' space, so
  the compacted figure is the one that accumulates); then ``--sample`` follow-ups recorded through
  ``engine.service.record_follow_up`` (one transaction each) for commitments whose period
  can be followed up at NOW, and ``follow_ups`` and ``transition_log`` measured the same way;
* rows per commitment over ten years: ``engine.simulate.simulate`` of ``--copies`` copies of
  the Borås file, 2016-01-01 – 2025-12-31, once with follow-ups on time and once with none
  (the worst case: overdue notices and escalations); outbox rows are the notice events,
  ``transition_log`` rows the transitions, ``follow_ups`` rows the transitions to ``uppföljd``;
* estimate = the size of the freshly built schema (the plan) + Σ rows × bytes per row, scaled
  to 100,000 commitments. Index bloat, VACUUM and the web's tables are not in it.
* with gallra (``--keep-days``, default 365): the same simulations' notices are written, as
  sent rows, to the outbox of a scratch SQLite database holding the same plans (each
  commitment in the period it has reached at the end, each agreement at its last
  revision), and the real ``engine.api.commands_outbox.prune_outbox`` runs once, on
  2025-12-31, before that date minus the kept days. The rows it leaves are the outbox
  rows of the estimate, the rest computed exactly as above; the archive's gzip bytes are
  printed beside it (they live outside the database). A nightly gallring keeps the
  outbox at about this size from then on; after the first run PostgreSQL reuses the freed
  space (autovacuum) rather than returning it to the disk.
* gallra on PostgreSQL: after the k = 1 round, ``prune_outbox`` of its sent rows (60 days
  later, when their reminders' windows have closed), timed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select as selectmod
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Engine, create_engine, select, text

from engine import db
from engine.models import Commitment, EffortRow
from engine.service import record_follow_up

sys.path.insert(0, str(Path(__file__).resolve().parent))
import growth as growth_gallra
import tick as tick_bench
from pg import DEFAULT_PG, drop_schema, fill, new_schema, schema_url

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "boras-2015.yaml"
NOW = tick_bench.NOW
T0 = NOW - timedelta(days=12)
SENDER = "samverkan@boras.example"
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


# --------------------------------------------------------------------------- the server


class Counting:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: Counter[bytes] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        match = MESSAGE_ID.search(envelope.content)
        with self.lock:
            self.ids[match.group(1) if match else b""] += 1
        return "250 Message accepted for delivery"

    def take(self) -> Counter[bytes]:
        with self.lock:
            ids, self.ids = self.ids, Counter()
        return ids


# --------------------------------------------------------------------------- schemas


def sizes(engine: Engine, schema: str) -> dict[str, int]:
    sql = text(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = :s AND c.relkind = 'r'"
    )
    with engine.connect() as conn:
        return {name: int(size) for name, size in conn.execute(sql, {"s": schema})}


def sent_message_ids(engine: Engine) -> set[bytes]:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT DISTINCT message_id FROM outbox WHERE state = 'sent'")).scalars()
        return {str(m).encode() for m in found}


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


# --------------------------------------------------------------------------- one instance


def child(url: str, port: int, connections: int) -> None:
    from engine.tick import tick
    from notifications.dispatcher import deliver
    from notifications.settings import Settings, SmtpSettings
    from rules.calendar import SwedishCalendar

    engine = db.connect(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM tick_lock")).scalar()
    cal = SwedishCalendar()
    cal.is_working_day(NOW.date())  # loads the holiday tables, as a running instance has
    settings = Settings(
        mailer="smtp", sender=SENDER, smtp=SmtpSettings(port=port, connections=connections, timeout_seconds=30)
    )
    print("ready", flush=True)
    sys.stdin.readline()
    began = time.time()
    report = tick(engine, NOW, calendar=cal, collect=False)
    ticked = time.time()
    sent = deliver(engine, NOW, settings)
    ended = time.time()
    engine.dispose()
    print(
        json.dumps(
            {
                "began": began,
                "ticked": ticked,
                "ended": ended,
                "examined": report.examined,
                "notices": report.notices,
                "claimed": sent.claimed,
                "sent": sent.sent,
                "retried": sent.retried,
                "failed": sent.failed,
            }
        ),
        flush=True,
    )


def round_of(k: int, url: str, port: int, connections: int) -> list[dict[str, Any]]:
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", url, str(port), str(connections)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(k)
    ]
    for p in procs:
        assert p.stdout is not None
        ready, _, _ = selectmod.select([p.stdout], [], [], 120)
        if not ready or p.stdout.readline().strip() != "ready":
            raise RuntimeError("an instance did not start")
    for p in procs:  # released together
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=3600)
        if p.returncode != 0:
            raise RuntimeError(f"an instance failed (exit {p.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


# --------------------------------------------------------------------------- growth


def follow_up_sample(url: str, n: int) -> int:
    """Record ``n`` follow-ups the way a person does (one transaction each); returns how many."""
    engine = db.connect(url)
    done = 0
    try:
        with engine.connect() as conn:
            ids = (
                conn.execute(
                    select(Commitment.id)
                    .where(Commitment.state == "pågående", Commitment.period < NOW.year)
                    .order_by(Commitment.id)
                    .limit(n)
                )
                .scalars()
                .all()
            )
        for cid in ids:
            with db.transaction(engine) as s:
                c = s.get(Commitment, cid)
                assert c is not None
                effort = s.get(EffortRow, (c.agreement_id, c.effort_id))
                assert effort is not None
                measures = [m for m in effort.measures if not m.get("parties") or c.party in m["parties"]]
                values = {
                    m["id"]: int(m.get("target") or 1) if m.get("kind", "count") == "count" else "Genomfört enligt plan"
                    for m in measures
                }
                record_follow_up(
                    s,
                    cid,
                    period=c.period,
                    values=values,
                    comment="Insatsen genomfördes som planerat under året; se bifogad sammanställning.",
                    by="Fritids- och folkhälsoförvaltningen",
                    now=NOW,
                )
            done += 1
    finally:
        engine.dispose()
    return done


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", default=DEFAULT_PG, help="PostgreSQL URL (a schema per round is created here)")
    parser.add_argument("--size", type=int, default=100_000, help="commitments (30 per agreement, rounded up)")
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections per instance")
    parser.add_argument("--sample", type=int, default=1000, help="follow-ups recorded to measure their bytes per row")
    parser.add_argument("--copies", type=int, default=10, help="Borås copies in the ten-year simulation")
    parser.add_argument("--keep-days", type=int, default=365, help="gallra's outbox_keep_days in the estimate")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return

    admin = create_engine(args.db)
    with admin.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
    print(f"Python {sys.version.split()[0]}, PostgreSQL {version}, {os.cpu_count()} CPUs; NOW {NOW.isoformat()}")
    handler = Counting()
    server = Controller(handler, hostname="127.0.0.1", port=tick_bench_free_port())
    server.start()
    rows: list[dict[str, Any]] = []
    growth: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="samverkan-instances-") as tmp:
        source = Path(tmp) / "built.db"
        start = time.perf_counter()
        n_agreements, n_commitments, due = tick_bench.build(source, args.size, T0, NOW)
        built = time.perf_counter() - start
        print(f"built {n_agreements:,} agreements, {n_commitments:,} commitments in {built:.1f} s")
        print(f"due at NOW: {due:,} reminders")
        for k in args.instances:
            schema = new_schema(admin)
            url = schema_url(args.db, schema)
            try:
                copied = fill(url, source)
                engine = db.connect(url)
                plan_bytes = sum(sizes(engine, schema).values())
                handler.take()
                print(f"  {k} instance(s): schema filled in {copied:.1f} s; running …", file=sys.stderr, flush=True)
                results = round_of(k, url, server.port, args.connections)
                received = handler.take()
                began = min(r["began"] for r in results)
                ticked = min(r["ticked"] for r in results if r["notices"]) if due else began
                ended = max(r["ended"] for r in results)
                sent_rows = count(engine, "outbox WHERE state = 'sent'")
                all_rows = count(engine, "outbox")
                mails = sent_message_ids(engine)
                checks = {
                    "notices queued = due = rows = sent": sum(r["notices"] for r in results)
                    == due
                    == all_rows
                    == sent_rows,
                    "examined = due": sum(r["examined"] for r in results) == due,
                    # Notices to one address go as one mail (issue 13): one Message-ID per mail, each once.
                    "Message-IDs received = the outbox's": set(received) == mails,
                    "each received once": set(received.values()) <= {1},
                }
                ok = all(checks.values())
                if not ok:
                    print(
                        f"  {k} instance(s) MISMATCH: failed {[c for c, held in checks.items() if not held]};"
                        f" notices {[r['notices'] for r in results]},"
                        f" examined {[r['examined'] for r in results]}, due {due}, outbox rows {all_rows}, sent"
                        f" {sent_rows}, Message-IDs received {len(received)} of {len(mails)} in the outbox, most times"
                        f" one was received {max(received.values(), default=0)}; claimed/sent/retried/failed"
                        f" {[(r['claimed'], r['sent'], r['retried'], r['failed']) for r in results]}",
                        file=sys.stderr,
                        flush=True,
                    )
                rows.append(
                    {
                        "k": k,
                        "tick_s": ticked - began,
                        "deliver_s": ended - ticked,
                        "due": due,
                        "per_instance": [r["sent"] for r in results],
                        "received": sum(received.values()),
                        "mails": len(mails),
                        "ok": ok,
                    }
                )
                if k == args.instances[0]:
                    after = sizes(engine, schema)
                    growth["plan_bytes"] = plan_bytes
                    growth["outbox_bytes_per_row_as_written"] = after["outbox"] / all_rows
                    # Each sent row was updated twice (sending, sent): the dead versions are reused once
                    # autovacuum has run, so the compacted size is the one that accumulates.
                    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                        conn.execute(text("VACUUM FULL outbox"))
                    growth["outbox_bytes_per_row"] = sizes(engine, schema)["outbox"] / all_rows
                    fu0, tl0 = after["follow_ups"], after["transition_log"]
                    rec = follow_up_sample(url, args.sample)
                    later = sizes(engine, schema)
                    growth["sample"] = rec
                    growth["follow_ups_bytes_per_row"] = (later["follow_ups"] - fu0) / max(rec, 1)
                    growth["transition_log_bytes_per_row"] = (later["transition_log"] - tl0) / max(rec, 1)
                    growth["plan_commitments"] = n_commitments
                    growth["gallra_pg"] = growth_gallra.on_postgresql(engine, Path(tmp), NOW)
                engine.dispose()
            finally:
                drop_schema(admin, schema)
    server.stop()
    admin.dispose()

    print()
    header = (
        f"{'instances':>9} {'due':>7} {'mails':>6} {'tick s':>7} {'deliver s':>9} {'notices/s':>9}"
        f"  {'sent per instance':<24} check"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        rate = r["due"] / r["deliver_s"] if r["deliver_s"] else 0.0
        split = " / ".join(f"{n:,}" for n in r["per_instance"])
        print(
            f"{r['k']:>9} {r['due']:>7,} {r['mails']:>6,} {r['tick_s']:>7.2f} {r['deliver_s']:>9.2f} {rate:>9.0f}"
            f"  {split:<24} {'OK' if r['ok'] else 'MISMATCH'}"
        )

    print()
    print(f"ten-year simulation of {args.copies} copies (2016–2025) …", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="samverkan-gallra-") as scratch:
        per = {
            mode: growth_gallra.simulated_rows(args.copies, mode, args.keep_days, Path(scratch))
            for mode in ("on-time", "never")
        }
    scale = 100_000
    plan_per_100k = growth["plan_bytes"] / growth["plan_commitments"] * scale
    bytes_per_row = {
        "outbox": growth["outbox_bytes_per_row"],
        "transition_log": growth["transition_log_bytes_per_row"],
        "follow_ups": growth["follow_ups_bytes_per_row"],
    }
    print(
        "bytes per row (table + indexes + TOAST): "
        + ", ".join(f"{t} {b:,.0f}" for t, b in bytes_per_row.items())
        + f" (outbox after VACUUM FULL; as written, with the dead versions of its two updates,"
        f" {growth['outbox_bytes_per_row_as_written']:,.0f}; follow-ups and transitions from"
        f" {growth['sample']:,} recorded follow-ups)"
    )
    print(f"the plan itself: {plan_per_100k / 2**20:,.0f} MiB per 100,000 commitments")
    removed, seconds, pg_archive = growth["gallra_pg"]
    print(
        f"gallra on PostgreSQL: {removed:,} sent rows archived and deleted in {seconds:.2f} s"
        f" ({removed / seconds if seconds else 0:,.0f} rows/s),"
        f" archive {pg_archive / max(removed, 1):,.0f} bytes per row"
    )
    for mode, rows_per in per.items():
        for gallrat in (False, True):
            total = plan_per_100k
            parts = []
            for table in ("outbox", "transition_log", "follow_ups"):
                per_commitment = rows_per["outbox_gallrat" if gallrat and table == "outbox" else table]
                n = per_commitment * scale
                total += n * bytes_per_row[table]
                parts.append(f"{table} {n:,.0f} rows ({per_commitment:.1f}/commitment)")
            label = f"follow-ups {mode}" + (f", gallra keeping {args.keep_days} days" if gallrat else "")
            extra = ""
            if gallrat:
                archive = rows_per["archive_bytes_per_commitment"] * scale
                extra = (
                    f"; archive files (outside the database) {archive / 2**20:,.0f} MiB over the decade"
                    f" (gallra of {rows_per['gallra_rows']:,} simulated rows took {rows_per['gallra_s']:.2f} s)"
                )
            print(
                f"ESTIMATE, {label}: after ten years {total / 2**20:,.0f} MiB per 100,000 commitments; "
                + ", ".join(parts)
                + extra
            )
    if not all(r["ok"] for r in rows):
        raise SystemExit(1)


def tick_bench_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main()
