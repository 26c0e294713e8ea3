"""One tick over 1,000,000 commitments: the engine, a raw-SQL floor, and one APScheduler job per deadline.

Usage::

    .venv/bin/python bench/tick.py [--size 1000000] [--naive-sizes 10000 100000] [--repeat 3] [--db PATH] [--profile]
    .venv/bin/python bench/tick.py --backend postgresql [--db URL] [--size …] [--repeat …] [--profile]

With ``--backend postgresql`` the same database is built and the tick measured on a
PostgreSQL server (``--db``, default ``SAMVERKAN_TEST_PG_URL`` or
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), each measurement in a schema of its
own, against a floor of one ``INSERT … SELECT`` and a client floor beside it; no naive
design. What differs is in ``bench/tick_pg.py``'s docstring.

The synthetic database
----------------------
The schema is created by ``engine.db.upgrade`` (the Alembic migrations). The rows are
what ``engine.plan.load_plan`` writes for config/boras-2015.yaml — it is loaded once,
in memory, at ``T0`` and its stored rows are the template — copied ``ceil(size / 30)``
times as agreements ``boras-000001`` … with raw ``sqlite3.executemany`` (journal and
fsync off during the build only). Per copy, only the agreement id and the follow-up due
date differ: agreement i gets the month-day ``i mod 365`` of a common year, so the due
dates are spread evenly over the year. The agreement's ``document``, ``schedule`` and
``config_hash`` carry that due date (``config_hash`` here is the SHA-256 of the stored
document text). ``plan_versions``, ``transition_log`` and ``outbox`` stay empty.

Every commitment is ``pågående`` for the first period whose follow-up is due on or
after T0's date (load_plan's rule), with ``next_due`` set accordingly. ``next_check`` is
what the rules compute at T0: ``rules.commitment.evaluate`` on the commitment's view at
T0 (one evaluation per month-day, since all 30 commitments of a copy share it). The
agreements' ``next_check`` is ``rules.revision.evaluate`` at T0 (the next kick-off, in
2027; no revision work is due at the tick). The notices the rules would have queued at
T0 or earlier are taken as sent and are not in the outbox. (The ``trafik`` effort's
timeframe ended in 2018; in the copies it is open-ended like the others, so that all 30
commitments are alike: the rules would end a commitment asked for a period past its end.)

The tick runs at NOW = 2026-11-24 08:00 Europe/Stockholm; T0 = NOW − ``--since-days``
(12: the last tick ran 12 days earlier). Every commitment with a reminder or an overdue
instant in (T0, NOW] then has ``next_check <= NOW`` — with due dates spread evenly over
the year, that is about 1/12 of them — and each gets exactly one notice (the catch-up
rule queues only the latest), so the outbox rows the tick inserts equal the due set.

What is measured, each in a fresh interpreter (this script with ``--child``)
--------------------------------------------------------------------------------
The built file is never modified: each of ``--repeat`` rounds copies it twice, ticks
one copy and runs the floor on the other; the table shows the median round of each.

* ``tick``: ``engine.tick.tick(engine, NOW, collect=False)``. Peak RSS is VmHWM (the
  peak RSS) after the tick; Δ is that minus VmHWM after imports, ``connect`` and a
  first query (the baseline).
* ``floor``: with plain ``sqlite3``: one SELECT of the same due set with the tick's
  joins (commitments ⋈ efforts ⋈ units, ``next_check <= NOW``), one ``executemany``
  INSERT of one outbox row per selected row (the columns engine.outbox writes), one
  ``executemany`` UPDATE of their ``next_check``, one commit. No rules run and the
  agreements' schedules are not read: it is the least any design must do.
* ``naive``: APScheduler 3 ``BackgroundScheduler`` started paused, with
  ``SQLAlchemyJobStore`` on a SQLite file, one ``date`` job per deadline added one by one
  (run dates spread over a year), at each ``--naive-sizes``; then ``get_due_jobs`` for the
  first month (what its wake-up reads). 1,000,000 jobs is extrapolated linearly from the
  largest size, and printed as extrapolated.
* ``--profile``: the tick once more under cProfile on another copy (not timed), with
  the query plan of its batch select.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import json
import math
import pstats
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine import db
from engine.agreement import load_agreement
from engine.plan import document_of, load_plan
from engine.tick import tick
from rules import commitment as commitment_rules
from rules import revision as revision_rules
from rules.calendar import SwedishCalendar
from rules.model import AgreementView, CommitmentView, Schedule

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "boras-2015.yaml"
ZONE = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=ZONE)
PER_AGREEMENT = 30
PAGAENDE = "pågående"
# Every month-day of a common year, 01-01 … 12-31: one per agreement in turn.
MONTH_DAYS = [(date(2027, 1, 1) + timedelta(days=i)).strftime("%m-%d") for i in range(365)]
ID_MARK = "@@AGREEMENT-ID@@"
DUE_MARK = "@@DUE@@"
BUILD_BATCH = 50_000


def stored_dt(moment: datetime) -> str:
    """A datetime as engine.models.UTCDateTime stores it on SQLite (naive UTC text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def peak_rss_mb() -> float:
    """This process's peak RSS in MB (10^6 bytes), from VmHWM in /proc/self/status.

    Not ``getrusage().ru_maxrss``: Linux carries that across ``execve``, so a child
    started by a big parent would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # not Linux: KiB on most systems


# --------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Template:
    """The rows load_plan writes for the Borås file, as stored (text dates, JSON text)."""

    agreement: dict[str, Any]
    document: str  # with ID_MARK and DUE_MARK in place of the agreement id and due date
    schedule: dict[str, Any]
    parties: list[tuple[Any, ...]]
    units: list[tuple[Any, ...]]
    areas: list[tuple[Any, ...]]
    efforts: list[tuple[Any, ...]]
    commitments: list[tuple[Any, ...]]  # effort_id, party, text, responsible, co_responsible


@dataclass(frozen=True)
class DueSettings:
    """What differs per month-day: the schedule, the open period and the rules' next_check."""

    schedule: str
    period: int
    next_due: str
    state_since: str
    next_check: str
    due_at_now: bool


def load_template(t0: datetime) -> Template:
    agreement = load_agreement(CONFIG)
    engine = db.connect("sqlite://")
    db.upgrade(engine)
    with db.transaction(engine) as session:
        load_plan(session, agreement, now=t0)
    aid = agreement.id
    with engine.connect() as conn:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in conn.exec_driver_sql(sql, (aid,)).all()]

        result = conn.exec_driver_sql("SELECT * FROM agreements WHERE id = ?", (aid,))
        head = dict(zip(result.keys(), result.one(), strict=True))
        parties = rows("SELECT id, name, contact_unit FROM parties WHERE agreement_id = ? ORDER BY id")
        units = rows("SELECT id, name, party, email, contact_name FROM units WHERE agreement_id = ? ORDER BY id")
        areas = rows("SELECT id, number, title FROM areas WHERE agreement_id = ? ORDER BY id")
        # Every effort open-ended (Trafik's ended in 2018), so that all 30 commitments are alike.
        efforts = rows(
            "SELECT id, area_id, position, title, timeframe_text, starts, NULL AS ends, measures"
            " FROM efforts WHERE agreement_id = ? ORDER BY id"
        )
        commitments = rows(
            "SELECT effort_id, party, text, responsible, co_responsible FROM commitments"
            " WHERE agreement_id = ? ORDER BY id"
        )
    engine.dispose()
    document = document_of(agreement)
    document["agreement"]["id"] = ID_MARK
    document["schedule"]["follow_up"]["due"] = DUE_MARK
    # The JSON type stores json.dumps(value) with its defaults; keep that spelling.
    return Template(
        agreement=head,
        document=json.dumps(document),
        schedule=json.loads(head["schedule"]),
        parties=parties,
        units=units,
        areas=areas,
        efforts=efforts,
        commitments=commitments,
    )


def due_settings(tpl: Template, t0: datetime, now: datetime, cal: SwedishCalendar) -> dict[str, DueSettings]:
    """For each month-day: the commitments' open period and next_check as the rules give them at T0."""
    head = tpl.agreement
    today = t0.astimezone(ZONE).date()
    emails = {u[0]: u[3] for u in tpl.units}
    out: dict[str, DueSettings] = {}
    for md in MONTH_DAYS:
        settings = json.loads(json.dumps(tpl.schedule))
        settings["follow_up"]["due"] = md
        schedule = Schedule.from_settings(head["timezone"], settings)
        period = 2015
        while cal.follow_up_due(period, md) < today:  # engine.plan.first_period's rule
            period += 1
        view = CommitmentView(
            id="x",
            agreement="x",
            state=PAGAENDE,
            period=period,
            starts=date.fromisoformat(head["valid_from"]),
            ends=None,
            unit_email="x",
            owner_email="x",
        )
        outcome = commitment_rules.evaluate(view, schedule, t0, cal)
        assert outcome.next_check is not None and outcome.next_check > t0
        out[md] = DueSettings(
            schedule=json.dumps(settings),
            period=period,
            next_due=cal.follow_up_due(period, md).isoformat(),
            state_since=stored_dt(datetime(period + 1, 1, 1, tzinfo=ZONE)),  # new_period at 1 January
            next_check=stored_dt(outcome.next_check),
            due_at_now=outcome.next_check <= now,
        )
    # The revision cycle is the same for every copy (same signing date).
    schedule = Schedule.from_settings(head["timezone"], tpl.schedule)
    revision = AgreementView(
        id="x",
        signed=date.fromisoformat(head["signed"]),
        valid_to=None,
        revision_number=head["revision_number"],
        revision_due=date.fromisoformat(head["revision_due"]),
        party_emails=tuple(emails[p[2]] for p in tpl.parties),
        owner_email=emails[head["process_owner"]],
    )
    outcome = revision_rules.evaluate(revision, schedule, t0, cal)
    assert not outcome.actions and outcome.next_check is not None and outcome.next_check > now
    tpl.agreement["next_check"] = stored_dt(outcome.next_check)
    return out


def build(path: Path, size: int, t0: datetime, now: datetime) -> tuple[int, int, int]:
    """Create the schema with Alembic, then fill it; returns (agreements, commitments, due)."""
    if path.exists():
        path.unlink()
    engine = db.connect(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()

    cal = SwedishCalendar()
    tpl = load_template(t0)
    per_md = due_settings(tpl, t0, now, cal)
    n_agreements = math.ceil(size / PER_AGREEMENT)
    ids = [f"boras-{i + 1:06d}" for i in range(n_agreements)]
    head = tpl.agreement
    documents = {md: tpl.document.replace(DUE_MARK, md) for md in MONTH_DAYS}

    def agreements() -> Iterator[tuple[Any, ...]]:
        for i, aid in enumerate(ids):
            md = MONTH_DAYS[i % 365]
            document = documents[md].replace(ID_MARK, aid)
            yield (
                aid,
                head["title"],
                head["signed"],
                head["valid_from"],
                head["valid_to"],
                head["timezone"],
                head["process_owner"],
                1,
                hashlib.sha256(document.encode()).hexdigest(),
                document,
                stored_dt(t0),
                per_md[md].schedule,
                head["revision_number"],
                head["revision_due"],
                None,
                head["next_check"],
            )

    def per_agreement(rows: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        for aid in ids:
            for row in rows:
                yield (aid, *row)

    def commitments() -> Iterator[tuple[Any, ...]]:
        for i, aid in enumerate(ids):
            s = per_md[MONTH_DAYS[i % 365]]
            for effort, party, text, responsible, co in tpl.commitments:
                yield (
                    f"{aid}.{effort}.{party}",
                    aid,
                    effort,
                    party,
                    text,
                    responsible,
                    co,
                    PAGAENDE,
                    s.state_since,
                    s.period,
                    s.next_due,
                    s.next_check,
                )

    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-262144")
    con.execute("BEGIN")
    statements: list[tuple[str, Iterator[tuple[Any, ...]]]] = [
        (
            "INSERT INTO agreements (id, title, signed, valid_from, valid_to, timezone, process_owner,"
            " plan_version, config_hash, document, loaded_at, schedule, revision_number, revision_due,"
            " terminates, next_check) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            agreements(),
        ),
        (
            "INSERT INTO parties (agreement_id, id, name, contact_unit) VALUES (?, ?, ?, ?)",
            per_agreement(tpl.parties),
        ),
        (
            "INSERT INTO units (agreement_id, id, name, party, email, contact_name) VALUES (?, ?, ?, ?, ?, ?)",
            per_agreement(tpl.units),
        ),
        ("INSERT INTO areas (agreement_id, id, number, title) VALUES (?, ?, ?, ?)", per_agreement(tpl.areas)),
        (
            "INSERT INTO efforts (agreement_id, id, area_id, position, title, timeframe_text, starts, ends,"
            " measures) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            per_agreement(tpl.efforts),
        ),
        (
            "INSERT INTO commitments (id, agreement_id, effort_id, party, text, responsible, co_responsible,"
            " state, state_since, period, next_due, next_check) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            commitments(),
        ),
    ]
    for sql, rows in statements:
        while batch := [row for _, row in zip(range(BUILD_BATCH), rows, strict=False)]:
            con.executemany(sql, batch)
    con.execute("COMMIT")
    con.close()
    due = sum(PER_AGREEMENT for i in range(n_agreements) if per_md[MONTH_DAYS[i % 365]].due_at_now)
    return n_agreements, n_agreements * PER_AGREEMENT, due


# --------------------------------------------------------------------------- children


def child_tick(path: str, now: datetime) -> dict[str, Any]:
    engine = db.connect(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM tick_lock").scalar()
    gc.collect()
    base = peak_rss_mb()
    start = time.perf_counter()
    report = tick(engine, now, collect=False)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    with engine.connect() as conn:
        outbox = conn.exec_driver_sql("SELECT count(*) FROM outbox").scalar()
        left = conn.exec_driver_sql(
            "SELECT count(*) FROM commitments WHERE next_check <= ?", (stored_dt(now),)
        ).scalar()
    engine.dispose()
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
    }


FLOOR_SELECT = """
SELECT c.id, c.agreement_id, c.state, c.period, e.starts, e.ends, u.email
FROM commitments AS c
JOIN efforts AS e ON e.agreement_id = c.agreement_id AND e.id = c.effort_id
JOIN units AS u ON u.agreement_id = c.agreement_id AND u.id = c.responsible
WHERE c.next_check <= ?
"""
FLOOR_COLUMNS = ("key", "kind", "agreement_id", "commitment_id", "period", "recipients", "send_at", "created_at")
FLOOR_COLUMNS_TAIL = ("data", "state")
FLOOR_UPDATE = "UPDATE commitments SET next_check = ? WHERE id = ?"


def child_floor(path: str, now: datetime) -> dict[str, Any]:
    con = sqlite3.connect(path, timeout=30)  # the stdlib's default transaction handling, as pysqlite in the engine
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("SELECT count(*) FROM tick_lock").fetchone()
    gc.collect()
    base = peak_rss_mb()
    at, later = stored_dt(now), stored_dt(now + timedelta(days=7))
    # The columns engine.outbox.queue writes: the notice's, plus ``attempts`` (a model default) where it exists.
    extra = tuple(c for c in ("attempts",) if c in {r[1] for r in con.execute("PRAGMA table_info(outbox)")})
    columns = (*FLOOR_COLUMNS, *FLOOR_COLUMNS_TAIL, *extra)
    insert_sql = f"INSERT INTO outbox ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    start = time.perf_counter()
    rows = con.execute(FLOOR_SELECT, (at,)).fetchall()
    selected = time.perf_counter()
    con.executemany(
        insert_sql,
        (
            (
                f"reminder:{cid}:{period}:0",
                "reminder",
                aid,
                cid,
                period,
                json.dumps([email]),
                at,
                at,
                json.dumps({"period": period}),
                "pending",
                *(0 for _ in extra),
            )
            for cid, aid, _state, period, _starts, _ends, email in rows
        ),
    )
    inserted = time.perf_counter()
    con.executemany(FLOOR_UPDATE, ((later, r[0]) for r in rows))
    con.commit()
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    outbox = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
    con.close()
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


def send_notice(key: str) -> None:
    """The job function of the naive design (never run: the scheduler stays paused)."""
    print(key)


def child_naive(directory: str, n: int) -> dict[str, Any]:
    from apscheduler import __version__ as aps_version
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    path = Path(directory) / f"apscheduler-{n}.db"
    if path.exists():
        path.unlink()
    store = SQLAlchemyJobStore(url=f"sqlite:///{path}")
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=UTC)
    # Paused, so add_job writes straight to the store and no job runs.
    scheduler.start(paused=True)
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    step = timedelta(days=365) / n
    gc.collect()
    base = peak_rss_mb()
    start = time.perf_counter()
    for i in range(n):
        key = f"reminder:boras-{i // 90 + 1:06d}.insats-{i // 3 % 30}.part:2026:{(-30, -7, 0)[i % 3]}"
        scheduler.add_job(send_notice, "date", run_date=first + i * step, args=[key], id=key)
    added = time.perf_counter() - start
    peak = peak_rss_mb()
    start = time.perf_counter()
    due = store.get_due_jobs(first + timedelta(days=30))
    lookup = time.perf_counter() - start
    scheduler.shutdown(wait=False)
    return {
        "n": n,
        "add_s": added,
        "due_lookup_s": lookup,
        "due_jobs": len(due),
        "base_mb": base,
        "peak_mb": peak,
        "version": aps_version,
        "db_mib": path.stat().st_size / 2**20,
    }


def child_profile(path: str, now: datetime) -> dict[str, Any]:
    engine = db.connect(f"sqlite:///{path}")
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT c.id FROM commitments AS c"
            " JOIN efforts AS e ON e.agreement_id = c.agreement_id AND e.id = c.effort_id"
            " JOIN units AS u ON u.agreement_id = c.agreement_id AND u.id = c.responsible"
            " WHERE c.next_check <= ? ORDER BY c.next_check, c.id LIMIT 2000",
            (stored_dt(now),),
        ).all()
    profiler = cProfile.Profile()
    profiler.enable()
    tick(engine, now, collect=False)
    profiler.disable()
    engine.dispose()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(18)
    stats.sort_stats("cumulative").print_stats(30)
    return {"plan": [str(row[-1]) for row in plan], "profile": text.getvalue()}


def run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True, cwd=ROOT
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="commitments (30 per agreement, rounded up)")
    parser.add_argument("--since-days", type=int, default=12, help="days between T0 (the last tick) and the tick")
    parser.add_argument("--naive-sizes", type=int, nargs="*", default=[10_000, 100_000], help="APScheduler jobs")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite", help="where the tick runs")
    parser.add_argument(
        "--db",
        help="sqlite: build the database file here (default: a temporary directory);"
        " postgresql: the server's URL (default: SAMVERKAN_TEST_PG_URL or postgres@127.0.0.1:5432/test)",
    )
    parser.add_argument("--profile", action="store_true", help="also run the tick under cProfile on a copy")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of tick and floor, each on fresh copies")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, *rest = args.child
        if kind == "tick":
            out = child_tick(rest[0], datetime.fromisoformat(rest[1]))
        elif kind == "floor":
            out = child_floor(rest[0], datetime.fromisoformat(rest[1]))
        elif kind == "naive":
            out = child_naive(rest[0], int(rest[1]))
        elif kind == "profile":
            out = child_profile(rest[0], datetime.fromisoformat(rest[1]))
        else:
            import tick_pg  # bench/tick_pg.py imports this module: only PostgreSQL's children need it

            out = tick_pg.CHILDREN[kind](rest[0], datetime.fromisoformat(rest[1]))
        print(json.dumps(out))
        return

    now = NOW
    t0 = now - timedelta(days=args.since_days)
    postgresql = args.backend == "postgresql"
    with tempfile.TemporaryDirectory(prefix="samverkan-bench-") as tmp:
        given = Path(args.db).resolve() if args.db and not postgresql else None
        path = given or Path(tmp) / "tick.db"
        work = path.parent if given else Path(tmp)
        tick_path = work / (path.stem + "-tick.db")
        floor_path = work / (path.stem + "-floor.db")
        profile_path = work / (path.stem + "-profile.db")

        if postgresql:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            import pg
            import tick_pg

            url = args.db or pg.DEFAULT_PG
            print(f"Python {sys.version.split()[0]}, PostgreSQL at {db.redact(url)}; NOW {now.isoformat()}, T0 {t0}")
        else:
            print(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}; NOW {now.isoformat()}, T0 {t0}")
        start = time.perf_counter()
        n_agreements, n_commitments, expected = build(path, args.size, t0, now)
        built = time.perf_counter() - start
        size_mib = path.stat().st_size / 2**20
        print(
            f"built {n_agreements:,} agreements, {n_commitments:,} commitments in {built:.1f} s ({size_mib:,.0f} MiB);"
            f" due at NOW: {expected:,} = {expected / n_commitments:.2%} (1/{n_commitments / max(expected, 1):.1f})"
        )

        iso = now.isoformat()
        ticks: list[dict[str, Any]] = []
        floors: list[dict[str, Any]] = []
        clients: list[dict[str, Any]] = []
        naive: list[dict[str, Any]] = []
        prof: dict[str, Any] | None = None
        if postgresql:
            ticks, floors, clients, prof, version = tick_pg.measure(url, path, args.repeat, args.profile, now)
            print(f"PostgreSQL {version}; each measurement on its own clone of the built schema")
        else:
            # Each round ticks a fresh copy and runs the floor on another; the built file stays as built.
            for i in range(args.repeat):
                shutil.copyfile(path, tick_path)
                shutil.copyfile(path, floor_path)
                print(f"  round {i + 1}: tick …", file=sys.stderr, flush=True)
                ticks.append(run_child("tick", str(tick_path), iso))
                print(f"  round {i + 1}: floor …", file=sys.stderr, flush=True)
                floors.append(run_child("floor", str(floor_path), iso))
            for n in sorted(args.naive_sizes):
                print(f"  naive {n:,} …", file=sys.stderr, flush=True)
                naive.append(run_child("naive", str(work), str(n)))
            if args.profile:
                shutil.copyfile(path, profile_path)
                print("  profile …", file=sys.stderr, flush=True)
                prof = run_child("profile", str(profile_path), iso)
        for p in (tick_path, floor_path, profile_path, *(work / f"apscheduler-{n}.db" for n in args.naive_sizes)):
            if p.exists():
                p.unlink()
    ok = show(ticks, floors, clients, naive, prof, expected, postgresql)
    if not ok:
        raise SystemExit(1)


def median(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(rounds, key=lambda r: r["seconds"])[len(rounds) // 2]


def show(
    ticks: list[dict[str, Any]],
    floors: list[dict[str, Any]],
    clients: list[dict[str, Any]],
    naive: list[dict[str, Any]],
    prof: dict[str, Any] | None,
    expected: int,
    postgresql: bool,
) -> bool:
    """Print the table, the details and the targets line; True when the rows written check out."""
    # The round with the median tick time, and the median floor round, stand for the run.
    t = median(ticks)
    f = median(floors)
    ok = all(
        r["notices"] == r["outbox_rows"] == r["examined"] == expected and r["still_due"] == 0 for r in ticks
    ) and all(r["selected"] == r["outbox_rows"] == expected for r in (*floors, *clients))
    print()
    header = f"{'what':<44} {'rows / jobs':>12} {'seconds':>9} {'µs/row':>8} {'peak MB':>8} {'Δ MB':>7} {'× floor':>8}"
    print(header)
    print("-" * len(header))

    def line(what: str, n: int, seconds: float, peak: float | None, delta: float | None, note: str = "") -> None:
        peak_s = f"{peak:>8.0f}" if peak is not None else f"{'':>8}"
        delta_s = f"{delta:>7.1f}" if delta is not None else f"{'':>7}"
        print(
            f"{what:<44} {n:>12,} {seconds:>9.2f} {seconds / n * 1e6:>8.1f} {peak_s} {delta_s}"
            f" {seconds / f['seconds']:>8.1f}{note}"
        )

    line(
        "tick (engine.tick.tick, collect=False)", t["notices"], t["seconds"], t["peak_mb"], t["peak_mb"] - t["base_mb"]
    )
    if postgresql:
        line("raw-SQL floor (one INSERT … SELECT, UPDATE)", f["selected"], f["seconds"], f["peak_mb"], None)
        c = median(clients)
        line("client floor (SELECT, psycopg executemany)", c["selected"], c["seconds"], c["peak_mb"], None)
    else:
        line(
            "raw-SQL floor (sqlite3 executemany)",
            f["selected"],
            f["seconds"],
            f["peak_mb"],
            f["peak_mb"] - f["base_mb"],
        )
    for r in naive:
        line(
            f"naive: APScheduler {r['version']} add_job × {r['n']:,}",
            r["n"],
            r["add_s"],
            r["peak_mb"],
            r["peak_mb"] - r["base_mb"],
        )
    if naive:
        big = naive[-1]
        per_job = big["add_s"] / big["n"]
        line(
            "naive: add_job × 1,000,000 (EXTRAPOLATED)",
            1_000_000,
            per_job * 1_000_000,
            None,
            None,
            f"  (linear from {big['n']:,})",
        )
    print()
    tick_rounds = ", ".join(f"{r['seconds']:.2f}" for r in ticks)
    floor_rounds = ", ".join(f"{r['seconds']:.2f}" for r in floors)
    print(f"rounds: tick {tick_rounds} s; floor {floor_rounds} s; the table shows the medians")
    if postgresql:
        c = median(clients)
        client_rounds = ", ".join(f"{r['seconds']:.2f}" for r in clients)
        print(
            f"client floor rounds {client_rounds} s; median: select {c['select_s']:.2f} s, executemany insert"
            f" {c['insert_s']:.2f} s, executemany update+commit {c['update_commit_s']:.2f} s;"
            f" tick/client floor {t['seconds'] / c['seconds']:.1f}×"
        )
        sent = t["sent"]
        verbs = ", ".join(
            f"{k} {v} in {sent['seconds_by_verb'].get(k, 0.0):.2f} s" for k, v in sorted(sent["by_verb"].items())
        )
        print(
            f"tick sent {sent['statements']:,} statements ({verbs}; {sent['executemany']} executemany,"
            f" {sent['insertmanyvalues_pages']} insertmanyvalues pages) with {sent['parameter_sets']:,}"
            " parameter sets outside the pages"
        )
    else:
        print(
            f"floor: select {f['select_s']:.2f} s, insert {f['insert_s']:.2f} s,"
            f" update+commit {f['update_commit_s']:.2f} s"
        )
    print(
        f"tick: examined {t['examined']:,}, notices {t['notices']:,}, duplicates {t['duplicates']}, transitions"
        f" {t['transitions']}, outbox rows {t['outbox_rows']:,}, still due after {t['still_due']}"
    )
    for r in naive:
        print(
            f"naive {r['n']:,}: get_due_jobs(first 30 days) {r['due_lookup_s']:.2f} s for {r['due_jobs']:,} jobs;"
            f" job store {r['db_mib']:.0f} MiB"
        )
    print(f"check: tick's outbox rows == floor's rows == due set built: {'OK' if ok else 'MISMATCH'}")
    ratio = t["seconds"] / f["seconds"]
    peak = max(r["peak_mb"] for r in ticks)
    print(
        f"targets: tick/floor {ratio:.1f}× (≤ 3×: {'met' if ratio <= 3 else 'NOT met'});"
        f" highest peak RSS of the ticks {peak:.0f} MB (< 300 MB: {'met' if peak < 300 else 'NOT met'})"
    )
    if prof is not None:
        print()
        print("query plan of the tick's batch select:", "; ".join(prof["plan"]))
        if "sent" in prof:
            print("statements under the profiler:", json.dumps(prof["sent"]))
        print(prof["profile"])
    return ok


if __name__ == "__main__":
    main()
