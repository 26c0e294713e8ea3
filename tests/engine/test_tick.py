"""The tick: set-based, idempotent, safe in parallel, and catching up once after downtime."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, text

from engine import db, service
from engine import tick as engine_tick
from engine.api import commands
from engine.models import AgreementRow, Commitment, DueExtension, FollowUp, OutboxRow, Revision, TransitionRecord
from engine.plan import load_plan
from engine.tick import next_wakeup, tick

STHLM = ZoneInfo("Europe/Stockholm")


def at(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


@pytest.fixture
def boras_2026(engine: Engine, boras) -> Engine:  # type: ignore[no-untyped-def]
    """Borås loaded on 2026-11-24 and started: the 2026 report is due 2027-03-31.

    Trafik (2016–2018) was over before the load and is ended by init, so 28 commitments run.
    """
    with db.transaction(engine) as s:
        load_plan(s, boras, now=at(2026, 11, 24, 9))
    report = tick(engine, at(2026, 11, 24, 9))
    assert report.transitions == 28
    return engine


def outbox(engine: Engine) -> list[tuple[str, str]]:
    with db.transaction(engine) as s:
        return sorted((r.key, r.kind) for r in s.scalars(select(OutboxRow)))


def test_loading_today_starts_every_commitment_and_waits_for_the_next_report(boras_2026: Engine) -> None:
    with db.transaction(boras_2026) as s:
        states = Counter(s.scalars(select(Commitment.state)))
        periods = set(s.scalars(select(Commitment.period)))
    assert states == {"pågående": 28, "avslutad": 2}
    assert periods == {2026}
    assert outbox(boras_2026) == []
    with db.transaction(boras_2026) as s:
        first_rule = min(t for t in s.scalars(select(Commitment.next_check)) if t is not None)
    assert first_rule == at(2027, 3, 1)  # the first reminder
    assert next_wakeup(boras_2026) == at(2026, 11, 30)  # Monday: the weekly review, if anything is late


def test_the_first_reminder_goes_to_every_responsible_unit(boras_2026: Engine) -> None:
    report = tick(boras_2026, at(2027, 3, 1))
    assert (report.examined, report.notices, report.transitions) == (28, 28, 0)
    assert {k for _, k in outbox(boras_2026)} == {"reminder"}


def test_a_tick_run_twice_at_the_same_instant_acts_once(boras_2026: Engine) -> None:
    tick(boras_2026, at(2027, 3, 1))
    first = outbox(boras_2026)
    again = tick(boras_2026, at(2027, 3, 1))
    assert (again.examined, again.notices) == (0, 0)
    assert outbox(boras_2026) == first


def test_a_tick_that_reevaluates_everything_still_queues_nothing_twice(boras_2026: Engine) -> None:
    tick(boras_2026, at(2027, 3, 2))
    with db.transaction(boras_2026) as s:  # as if another instance had not stored its next_check
        for c in s.scalars(select(Commitment).where(Commitment.state == "pågående")):
            c.next_check = at(2027, 3, 1)
    report = tick(boras_2026, at(2027, 3, 2))
    assert (report.examined, report.notices, report.duplicates) == (28, 0, 28)
    assert len(outbox(boras_2026)) == 28


def test_two_ticks_in_parallel_threads_queue_each_notice_once(boras_2026: Engine) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            tick(boras_2026, at(2027, 4, 29, 10))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    keys = [k for k, _ in outbox(boras_2026)]
    # One overdue per running commitment, one escalation for each not BråB's own (4 are), and the weekly review.
    assert len(keys) == len(set(keys)) == 28 + 24 + 1
    with db.transaction(boras_2026) as s:
        assert s.scalar(select(func.count()).select_from(TransitionRecord)) == 30  # 28 starts, 2 ends at init


def test_after_40_days_down_the_next_tick_acts_once_on_what_fell_due(boras_2026: Engine) -> None:
    """Also: one weekly review for the week the tick runs in, not one per missed week."""
    tick(boras_2026, at(2027, 3, 20))  # the -30 reminder (due 1 March) goes out, late
    assert Counter(k for _, k in outbox(boras_2026)) == {"reminder": 28}
    # Down from 20 March to 29 April: the -7 and 0 reminders, two overdue notices and the escalation fell due.
    report = tick(boras_2026, at(2027, 4, 29, 10))
    assert report.notices == 28 + 24 + 1  # + this week's review for the process owner
    keys = [k for k, _ in outbox(boras_2026)]
    assert not [k for k in keys if k.endswith((":-7", ":0")) and k.startswith("reminder:")]
    assert sum(k.startswith("overdue:") and k.endswith(":2026:2") for k in keys) == 28
    assert sum(k.startswith("escalation:") for k in keys) == 24  # none for BråB's own four
    assert [k for k in keys if k.startswith("weekly_summary:")] == ["weekly_summary:boras:2027-W17"]
    assert tick(boras_2026, at(2027, 4, 29, 10)).notices == 0


def test_a_recorded_follow_up_stops_the_reminders_and_the_year_turns(boras_2026: Engine, boras) -> None:  # type: ignore[no-untyped-def]
    tick(boras_2026, at(2027, 3, 1))
    with db.transaction(boras_2026) as s:
        service.record_follow_up(
            s,
            "mbu.polis",
            period=2026,
            values={"utbildningar": 1},
            comment="En utbildning i år",
            by="Kommunpolisen",
            now=at(2027, 3, 10, 14),
        )
    tick(boras_2026, at(2027, 3, 31))
    keys = [k for k, _ in outbox(boras_2026)]
    assert "reminder:boras.mbu.polis:2026:0" not in keys
    assert "reminder:boras.mbu.kommun:2026:0" in keys
    assert "deviation:boras.mbu.polis:2026:utbildningar" in keys  # 1 < target 2
    tick(boras_2026, at(2028, 1, 1, 0))
    with db.transaction(boras_2026) as s:
        c = service.resolve_commitment(s, "mbu.polis")
        assert (c.state, c.period, str(c.next_due)) == ("pågående", 2027, "2028-03-31")


def test_two_tick_processes_at_once_queue_each_notice_once(boras_2026: Engine) -> None:
    """Two `samverkan tick` processes started together on the same database."""
    exe = Path(sys.executable).parent / "samverkan"
    url = boras_2026.url.render_as_string(hide_password=False)
    procs = [
        subprocess.Popen(
            [exe, "tick", "--db", url, "--now", "2027-04-29T10:00+02:00"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    keys = [k for k, _ in outbox(boras_2026)]
    assert len(keys) == len(set(keys)) == 53
    assert sorted("53 nya notiser" in out for out, _ in results) == [False, True]


def test_the_bulk_path_writes_the_same_outbox_rows_as_the_collecting_path(tmp_path: Path, boras) -> None:  # type: ignore[no-untyped-def]
    """`run` ticks without collecting events (a driver-level insert on SQLite); the rows must be identical."""

    def rows(collect: bool, url: str) -> list[tuple[object, ...]]:
        eng = db.connect(url)
        db.upgrade(eng)
        with db.transaction(eng) as s:
            load_plan(s, boras, now=at(2026, 11, 24, 9))
        tick(eng, at(2026, 11, 24, 9), collect=collect)
        report = tick(eng, at(2027, 4, 29, 10), collect=collect)
        assert report.notices == 53 and report.duplicates == 0
        again = tick(eng, at(2027, 4, 29, 10), collect=collect)
        assert again.notices == 0
        with db.transaction(eng) as s:
            out = [
                (
                    r.key,
                    r.kind,
                    r.agreement_id,
                    r.commitment_id,
                    r.period,
                    r.recipients,
                    r.send_at,
                    r.created_at,
                    r.data,
                    r.state,
                    r.attempts,
                )
                for r in s.scalars(select(OutboxRow).order_by(OutboxRow.key))
            ]
        eng.dispose()
        return out

    assert rows(True, f"sqlite:///{tmp_path / 'a.db'}") == rows(False, f"sqlite:///{tmp_path / 'b.db'}")


def _outbox_rows_planned_for(engine: Engine) -> float:
    """What PostgreSQL's planner believes the outbox holds (pg_class.reltuples; -1: never analysed)."""
    with engine.connect() as conn:
        return float(
            conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(current_schema() || '.outbox')")
            ).scalar_one()
        )


@pytest.mark.postgresql
@pytest.mark.parametrize(("threshold", "analysed"), [(20, True), (100, False)])
def test_a_burst_of_notices_gives_postgresql_fresh_outbox_statistics(
    pg_url: str,
    boras,
    monkeypatch: pytest.MonkeyPatch,
    threshold: int,
    analysed: bool,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(engine_tick, "ANALYZE_AFTER", threshold)
    engine = db.connect(pg_url)
    try:
        db.upgrade(engine)
        with db.transaction(engine) as s:
            load_plan(s, boras, now=at(2026, 11, 24, 9))
        tick(engine, at(2026, 11, 24, 9))
        before = _outbox_rows_planned_for(engine)
        assert tick(engine, at(2027, 3, 1)).notices == 28
        after = _outbox_rows_planned_for(engine)
    finally:
        engine.dispose()
    # Planned with stale statistics, every claim sorted all due rows (engine/tick.py).
    assert after == (28 if analysed else before)


def _scenario(url: str, boras, collect: bool) -> tuple[list[object], dict[str, list[tuple[object, ...]]]]:  # type: ignore[no-untyped-def]
    """Two years of Borås through every write the tick makes; what each tick said and every row written.

    Starts, reminders, overdue notices and escalations, an extension kept across a move, follow-ups
    (one below target), weekly reviews, the revision's kick-off and late notice, the year turning,
    and a termination that ends every commitment and withdraws what was queued for them.
    """
    eng = db.connect(url)
    said: list[object] = []
    try:
        db.upgrade(eng)
        with db.transaction(eng) as s:
            load_plan(s, boras, now=at(2026, 11, 24, 9))

        def run(now: datetime) -> None:
            report = tick(eng, now, collect=collect)
            said.append((now, report.examined, report.notices, report.duplicates, report.transitions))
            if collect:
                said.append(report.events)

        run(at(2026, 11, 24, 9))
        run(at(2027, 3, 1))
        commands.grant_extension(
            eng, "boras.mbu.kommun", period=2026, due=date(2027, 4, 30), reason="Ny kontaktperson", by="BråB",
            now=at(2027, 3, 2, 10),
        )  # fmt: skip
        for key, values in (("boras.mbu.polis", {"utbildningar": 1}), ("boras.vald-nara-relationer.kommun", {})):
            commands.record_follow_up(
                eng, key, period=2026, values=values, comment="Genomfört", by="Kommunpolisen", now=at(2027, 3, 10, 14)
            )
        for now in (at(2027, 3, 24), at(2027, 3, 31), at(2027, 4, 15), at(2027, 4, 29, 10), at(2027, 5, 3)):
            run(now)
        for now in (at(2027, 10, 15), at(2027, 12, 20), at(2028, 1, 1, 0), at(2028, 1, 3)):
            run(now)
        commands.terminate(
            eng, party="kommun", effective=date(2028, 6, 30), reason="Ny organisation", by="BråB", now=at(2028, 1, 10)
        )
        for now in (at(2028, 3, 1), at(2028, 7, 1), at(2028, 7, 1)):
            run(now)
        rows: dict[str, list[tuple[object, ...]]] = {}
        with eng.connect() as conn:
            for model in (OutboxRow, TransitionRecord, Commitment, AgreementRow, Revision, FollowUp, DueExtension):
                table = model.__table__
                # Serial ids differ where PostgreSQL spent a sequence value on a conflict; their order must not.
                cols = [c for c in table.c if not (c.name == "id" and c.autoincrement is True)]  # type: ignore[attr-defined]
                rows[table.name] = [tuple(r) for r in conn.execute(select(*cols).order_by(table.c.id))]  # type: ignore[attr-defined]
    finally:
        eng.dispose()
    return said, rows


@pytest.mark.postgresql
@pytest.mark.parametrize("collect", [True, False], ids=["collecting", "bulk"])
def test_the_tick_writes_the_same_rows_on_sqlite_and_postgresql(  # type: ignore[no-untyped-def]
    tmp_path: Path, pg_url: str, boras, collect: bool
) -> None:
    """The tick's statements differ per dialect and path (engine/bulk.py); what it does and writes must not."""
    expected_said, expected = _scenario(f"sqlite:///{tmp_path / 'collecting.db'}", boras, collect=True)
    assert {r[1] for r in expected["outbox"]} >= {"reminder", "overdue", "escalation", "weekly_summary"}
    assert {r[1] for r in expected["outbox"]} >= {"deviation", "revision_kickoff", "termination_notice"}
    assert "withdrawn" in {r[9] for r in expected["outbox"]}
    assert {r[2] for r in expected["transition_log"]} >= {"start", "new_period", "end"}
    assert expected["revisions"] and expected["due_extensions"]
    if not collect:
        sqlite_said, sqlite_rows = _scenario(f"sqlite:///{tmp_path / 'bulk.db'}", boras, collect=False)
        assert sqlite_rows == expected
        expected_said = sqlite_said
    pg_said, pg_rows = _scenario(pg_url, boras, collect=collect)
    assert pg_rows == expected
    assert pg_said == expected_said
