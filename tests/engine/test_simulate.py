"""`samverkan simulate`: a decade of the Borås agreement on a virtual clock."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from engine import calendar_events, db, service
from engine.agreement import Agreement, parse_agreement
from engine.follow_ups import FirstReport, record_follow_ups
from engine.models import Base, Commitment, OutboxRow
from engine.plan import document_of, load_plan
from engine.simulate import FOLLOW_UPS, Event, FollowUps, simulate
from engine.tick import tick
from rules.calendar import SwedishCalendar, add_years
from rules.errors import SamverkanError
from samverkan.cli import main
from tests.conftest import PG_URL
from tests.properties.agreements import AgreementSpec, agreement_specs, parse

ROOT = Path(__file__).resolve().parents[2]
BORAS = str(ROOT / "config" / "boras-2015.yaml")
MINIMAL = str(ROOT / "tests" / "data" / "minimal.yaml")
STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOTICE_KINDS = {
    "reminder",
    "overdue",
    "escalation",
    "revision_kickoff",
    "revision_overdue",
    "change_notice",
    "termination_notice",
    "deviation",
}


@pytest.fixture(scope="module")
def decade(boras: Agreement) -> list[Event]:
    return list(simulate([boras], date(2016, 1, 1), date(2028, 12, 31)))


def test_revision_kickoffs_come_in_2018_2021_2024_and_2027_only(decade: list[Event]) -> None:
    kickoffs = [e for e in decade if e.kind == "revision_kickoff"]
    assert [e.at.year for e in kickoffs] == [2018, 2021, 2024, 2027]
    for e in kickoffs:
        assert set(e.recipients) == {"brab@boras.example", "kommunpolis@polisen.example"}


def test_every_active_commitment_is_reminded_every_year_at_its_own_units_address(
    decade: list[Event], boras: Agreement
) -> None:
    unit_email = {u.id: str(u.email) for u in boras.units}
    expected = {
        f"boras.{effort.id}.{party}": unit_email[spec.responsible] for _, effort, party, spec in boras.commitments()
    }
    reminded: dict[tuple[str, int], set[str]] = {}
    for e in decade:
        if e.kind == "reminder":
            assert e.commitment is not None
            assert e.recipients == (expected[e.commitment],), e
            reminded.setdefault((e.commitment, e.details["period"]), set()).add(e.details["key"].rsplit(":", 1)[1])
    for cid in expected:
        last = 2018 if ".trafik." in cid else 2027  # Trafik 2016–2018 ends after its 2018 follow-up
        for period in range(2016, last + 1):
            assert reminded.get((cid, period)) == {"-30", "-7", "0"}, (cid, period)
    assert not [k for k in reminded if ".trafik." in k[0] and k[1] > 2018]


def test_trafik_ends_after_its_2018_follow_up(decade: list[Event]) -> None:
    ends = [e for e in decade if e.kind == "transition" and e.details["to"] == "avslutad"]
    assert sorted(e.commitment or "" for e in ends) == ["boras.trafik.kommun", "boras.trafik.polis"]
    assert {e.at.date() for e in ends} == {date(2019, 4, 1)}  # 2019-03-31 is a Sunday


def test_no_notice_goes_out_on_a_non_working_day(decade: list[Event]) -> None:
    cal = SwedishCalendar()
    for e in decade:
        if e.kind in NOTICE_KINDS:
            assert cal.is_working_day(e.at.date()), e
            assert (e.at.hour, e.at.minute) == (8, 0), e


def test_no_event_happens_twice(decade: list[Event]) -> None:
    keys = [e.details["key"] for e in decade if e.kind in NOTICE_KINDS]
    assert len(keys) == len(set(keys))
    moves = Counter((e.commitment, e.at, e.details.get("trigger")) for e in decade if e.kind == "transition")
    assert max(moves.values()) == 1


def test_events_are_in_time_order(decade: list[Event]) -> None:
    assert [e.at for e in decade] == sorted(e.at for e in decade)


def test_without_follow_ups_the_overdue_notices_and_escalations_show(boras: Agreement) -> None:
    events = list(simulate([boras], date(2016, 1, 1), date(2017, 6, 30), follow_ups="never"))
    kinds = Counter(e.kind for e in events)
    # Four commitments are BråB's own: nobody is escalated to themselves.
    assert kinds["escalation"] == 26
    assert {e.recipients for e in events if e.kind == "escalation"} == {("brab@boras.example",)}
    assert kinds["overdue"] >= 30 * 3  # 1 April, then every 14 days until 30 June
    assert kinds["reminder"] == 30 * 3


def test_simulate_json_prints_one_object_per_event_with_the_stable_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--config", BORAS, "--from", "2016-01-01", "--to", "2019-12-31", "--json"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and lines
    for line in lines:
        event = json.loads(line)
        assert datetime.fromisoformat(event["at"]).utcoffset() is not None
        assert event["kind"] in NOTICE_KINDS | {"transition"}
        assert isinstance(event["recipients"], list)
        assert "commitment" in event or "agreement" in event
        if event["kind"] == "transition":
            assert {"from", "to"} <= set(event)
        else:
            assert event["recipients"] and all("@" in r for r in event["recipients"])


def test_simulate_timeline_is_swedish_and_says_nothing_was_sent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--config", BORAS, "--from", "2018-01-01", "--to", "2018-12-31"]) == 0
    out = capsys.readouterr().out
    assert "2018-10-15 08:00  revideringsstart" in out
    assert "påminnelse" in out and out.rstrip().endswith("Inget skickades.")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "2016-13-01", "--to", "2017-01-01"], "--from: ogiltigt datum '2016-13-01'"),
        (["--from", "2017-01-01", "--to", "2016-01-01"], "--to: 2016-01-01 ligger före --from 2017-01-01"),
    ],
)
def test_simulate_bad_dates_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["simulate", "--config", BORAS, *argv]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"samverkan: fel: {message}" or message in err
    assert len(err.strip().splitlines()) == 1


def _boras_with(**replacements: str) -> Agreement:
    text = Path(BORAS).read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    return parse_agreement(text, "boras-variant.yaml")


def test_with_a_due_date_early_in_the_year_every_reminder_of_every_year_goes_on_its_working_day() -> None:
    """Due 6 January: the -30 and -7 reminders fall in December of the period's own year."""
    early = _boras_with(**{'due: "03-31"': 'due: "01-06"'})
    events = list(simulate([early], date(2016, 1, 1), date(2026, 12, 31)))
    cal = SwedishCalendar()
    reminded: dict[tuple[str, int], list[str]] = {}
    for e in events:
        if e.kind == "reminder":
            assert cal.is_working_day(e.at.date()) and (e.at.hour, e.at.minute) == (8, 0), e
            reminded.setdefault((e.commitment or "", e.details["period"]), []).append(e.details["key"].rsplit(":")[-1])
    cid = "boras.bra-samordning.kommun"
    for period in range(2016, 2026):
        assert sorted(reminded[(cid, period)]) == ["-30", "-7", "0"], period
    # The -30 reminder of 2017's report is in December 2017, not lost, and none goes out on 1 January.
    assert [e.at.date() for e in events if e.kind == "reminder" and e.details["key"] == f"reminder:{cid}:2017:-30"] == [
        date(2017, 12, 8)
    ]
    assert not [e for e in events if e.at.month == 1 and e.at.day == 1 and e.kind != "transition"]


def test_an_agreement_signed_on_29_february_is_revised_on_its_anniversaries_from_signing() -> None:
    leap = parse_agreement(Path(MINIMAL).read_text(encoding="utf-8").replace("every_years: 3", "every_years: 2"), "x")
    events = list(simulate([leap], date(2020, 3, 1), date(2028, 12, 31), revisions="never"))
    dues = [e.details["due"] for e in events if e.kind == "revision_kickoff"]
    assert dues == ["2022-02-28", "2024-02-29", "2026-03-02", "2028-02-29"]  # 2026-02-28 is a Saturday


def test_simulate_stops_with_one_swedish_line_when_the_engine_cannot_advance(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A rule that keeps asking to be woken at the same instant (a bug) must not spin for ever.
    import engine.simulate as sim

    stuck = datetime(2016, 3, 1, 8, tzinfo=ZoneInfo("Europe/Stockholm"))
    monkeypatch.setattr(sim, "next_wakeup", lambda _engine: stuck)
    assert main(["simulate", "--config", BORAS, "--from", "2016-01-01", "--to", "2016-12-31"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "samverkan: fel: simuleringen av överenskommelsen boras kommer inte vidare från 2016-03-01T08:00+01:00"
    )


# -- follow-ups late, and recorded set-based (issue 17) ------------------------------------------------


def test_late_follow_ups_come_after_the_overdue_notices_and_the_escalation(boras: Agreement) -> None:
    events = list(simulate([boras], date(2016, 1, 1), date(2017, 12, 31), follow_ups="late"))
    cid = "boras.bra-samordning.kommun"
    mine = [e for e in events if e.commitment == cid and e.details.get("period", 2016) == 2016]
    reported = next(e for e in mine if e.kind == "transition" and e.details["trigger"] == "follow_up")
    # Due 31 March 2017: reported 20 days after, at noon, once the overdue notices and the escalation have gone.
    assert reported.at == datetime(2017, 4, 20, 12, 0, tzinfo=STOCKHOLM)
    before = [e.kind for e in mine if e.at < reported.at]
    assert before.count("overdue") == 2 and before.count("escalation") == 1
    assert not [e for e in mine if e.at > reported.at and e.kind in ("overdue", "escalation")]


def test_simulate_follow_ups_late_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--config", BORAS, "--from", "2016-01-01", "--to", "2017-12-31", "--follow-ups", "late"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2017-04-20 12:00" in out and out.rstrip().endswith("Inget skickades.")


def _copy(agreement: Agreement, suffix: str, due: str) -> Agreement:
    document = document_of(agreement)
    document["agreement"]["id"] = f"{agreement.id}-{suffix}"
    document["schedule"]["follow_up"]["due"] = due
    return Agreement.model_validate(document)


# Surrogate keys: the two paths insert the same rows in another order. Every other column is compared.
SURROGATE = {"follow_ups": "id", "transition_log": "id", "outbox": "id"}
# Made at upgrade (a random secret per database), not by what is simulated.
NOT_COMPARED = {"web_secrets"}


def _contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, surrogate keys left out, in a fixed order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in NOT_COMPARED:
                continue
            columns = [c for c in table.columns if c.name != SURROGATE.get(table.name)]
            rows = conn.execute(select(*columns)).all()
            out[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return out


@pytest.fixture
def twin(engine: Engine, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A second upgraded, empty database on the same backend as ``engine``."""
    if engine.dialect.name == "sqlite":
        other = db.connect(f"sqlite:///{tmp_path / 'twin.db'}")
        db.upgrade(other)
        yield other
        other.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    template = request.getfixturevalue("_pg_template")
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        if template is not None:
            conn.exec_driver_sql(template.replace("{schema}", schema))
    sep = "&" if "?" in PG_URL else "?"
    other = db.connect(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")
    db.upgrade(other)
    yield other
    other.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


def test_set_based_follow_ups_leave_the_database_as_recording_them_one_at_a_time_does(
    engine: Engine, twin: Engine, boras: Agreement
) -> None:
    """Three agreements, units on time, late and never, 2016–2018 (a revision in it): every row the same."""
    agreements = [boras, _copy(boras, "sen", "06-15"), _copy(boras, "aldrig", "01-06")]
    modes: dict[str, FollowUps] = {boras.id: "on-time", f"{boras.id}-sen": "late", f"{boras.id}-aldrig": "never"}
    window = (date(2016, 1, 1), date(2018, 12, 31))
    one_by_one = list(simulate(agreements, *window, follow_ups=modes, engine=twin, one_at_a_time=True))
    together = list(simulate(agreements, *window, follow_ups=modes, engine=engine))
    assert [e.as_json() for e in together] == [e.as_json() for e in one_by_one]
    kinds = Counter(e.kind for e in together)
    assert kinds["overdue"] and kinds["escalation"] and kinds["revision_completed"] == 3
    reported = [e for e in together if e.kind == "transition" and e.details["trigger"] == "follow_up"]
    assert {e.agreement for e in reported} == {boras.id, f"{boras.id}-sen"}
    assert _contents(engine) == _contents(twin)


def _below_target(session: Session, cid: str) -> dict[str, Any]:
    """A report of ``cid`` with every count at 0, below any target: a deviation for each that has one."""
    measures = service.measures_for(session, service.resolve_commitment(session, cid))
    return {m["id"]: 0 if m.get("kind", "count") == "count" else "redovisad" for m in measures}


def _reminded(eng: Engine, boras: Agreement) -> list[tuple[str, int]]:
    """Borås loaded when it began and ticked on 1 March 2017: the running commitments and their open period."""
    with db.transaction(eng) as session:
        load_plan(session, boras, now=datetime(2016, 1, 4, 9, 0, tzinfo=UTC))
    tick(eng, datetime(2017, 3, 1, 8, 0, tzinfo=STOCKHOLM))
    with eng.connect() as conn:
        running = select(Commitment.id, Commitment.period).where(Commitment.state == "pågående")
        return [(cid, period) for cid, period in conn.execute(running.order_by(Commitment.id))]


def test_record_follow_ups_writes_what_record_follow_up_writes_deviations_and_calendar_cancels_too(
    engine: Engine, twin: Engine, boras: Agreement
) -> None:
    """Values below target and an event already in a calendar: the deviations and the held cancellation agree."""
    at = datetime(2017, 3, 31, 12, 0, tzinfo=STOCKHOLM)
    running = _reminded(engine, boras)
    assert _reminded(twin, boras) == running and len(running) == 30
    for eng in (engine, twin):
        with db.transaction(eng) as session:
            # As a mail or an export does when it carries the event (engine.calendar_events).
            uid = calendar_events.follow_up_uid("boras.bra-samordning.kommun", 2016)
            calendar_events.stamp(session, uid, date(2017, 3, 31), now=at - timedelta(days=7))
    with db.transaction(twin) as session:
        for cid, period in running:
            values = _below_target(session, cid)
            service.record_follow_up(
                session, cid, period=period, values=values, comment="rapport", by="enheten", now=at
            )
    with db.transaction(engine) as session:
        reports = [
            FirstReport(
                commitment=cid, period=period, values=_below_target(session, cid), comment="rapport", by="enheten"
            )
            for cid, period in running
        ]
        assert record_follow_ups(session, reports, now=at) == 30
    after = _contents(engine)
    assert after == _contents(twin)
    outbox = Counter((row.kind, row.state) for row in _outbox(engine))
    assert outbox[("deviation", "pending")] and outbox[("calendar_cancel", "held")] == 1
    assert outbox[("reminder", "withdrawn")] == 30
    assert len(after["follow_ups"]) == len(after["transition_log"]) - 30 == 30


def _outbox(eng: Engine) -> list[Any]:
    with eng.connect() as conn:
        return list(conn.execute(select(OutboxRow.kind, OutboxRow.state)))


def test_record_follow_ups_refuses_as_record_follow_up_does_and_writes_nothing(
    engine: Engine, boras: Agreement
) -> None:
    at = datetime(2017, 3, 31, 12, 0, tzinfo=STOCKHOLM)
    cid, period = _reminded(engine, boras)[0]
    with db.transaction(engine) as session:
        report = FirstReport(commitment=cid, period=period, values=_below_target(session, cid), comment="x", by="y")
    before = _contents(engine)
    cases = [
        ([report, report], f"{cid}: uppföljningen för 2016 registrerades redan 31 mars 2017"),
        ([replace(report, period=2017)], f"{cid} följs nu upp för 2016, inte 2017"),
        ([report, replace(report, commitment="boras.finns-inte.kommun")], "boras.finns-inte.kommun"),
        ([replace(report, comment=" ")], "får inte vara tomt"),
        ([replace(report, values={})], "saknas"),
    ]
    for reports, message in cases:
        with pytest.raises(SamverkanError, match=re.escape(message)), db.transaction(engine) as session:
            record_follow_ups(session, reports, now=at)
        assert _contents(engine) == before, message


@pytest.fixture(scope="session")
def empty_sqlite(_sqlite_template: Path) -> Path:
    """An upgraded, empty SQLite file to copy: hypothesis runs many examples in one test."""
    return _sqlite_template


@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(spec=agreement_specs(), mode=st.sampled_from(FOLLOW_UPS))
def test_for_generated_agreements_both_ways_of_recording_leave_the_same_database(
    spec: AgreementSpec, mode: FollowUps, empty_sqlite: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every agreement the property suite can draw (tests/properties), four years, its units on time, late or never."""
    agreement = parse(spec)
    window = (spec.signed, add_years(spec.signed, 4))
    folder = tmp_path_factory.mktemp("both")
    contents, events = [], []
    for one_at_a_time in (True, False):
        path = folder / f"{one_at_a_time}.db"
        shutil.copyfile(empty_sqlite, path)
        eng = db.connect(f"sqlite:///{path}")
        try:
            found = simulate([agreement], *window, follow_ups=mode, engine=eng, one_at_a_time=one_at_a_time)
            events.append([e.as_json() for e in found])
            contents.append(_contents(eng))
        finally:
            eng.dispose()
    assert events[0] == events[1]
    assert contents[0] == contents[1]
    event(f"{mode}: {'follow-ups recorded' if contents[1]['follow_ups'] else 'no follow-up recorded'}")
