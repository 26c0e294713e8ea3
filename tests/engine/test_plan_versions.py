"""An effort id that a later plan version brings back is live again (issue 11, point 7).

Removed in version 2 and present again in version 3, by ``init`` or by ``revision
complete``: its commitments keep their id and history, go ``avslutad → planerad``
(``restore``), start per their timeframe, and count as new in the summary. A re-load of
the same file changes nothing, and an edit that does not touch what decides a
commitment's end brings nothing back.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from engine import db, parties, service
from engine.agreement import load_agreement, parse_agreement
from engine.clock import FixedClock
from engine.models import TransitionRecord
from engine.revisions import complete, decide
from engine.tick import tick
from samverkan.cli import main

STHLM = ZoneInfo("Europe/Stockholm")
LITEN = Path(__file__).resolve().parents[1] / "data" / "liten.yaml"
TEXT = LITEN.read_text(encoding="utf-8")
SKOLOR = "liten.skolor.kommun"


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


def without_effort(text: str, effort: str) -> str:
    start = text.index(f"\n      - id: {effort}\n")
    end = text.find("\n      - id: ", start + 1)
    return text[:start] + (text[end:] if end >= 0 else "\n")


def skolor_from_autumn_2027(text: str) -> str:
    """Skolor back, with a timeframe that begins on 1 August 2027."""
    old = "        title: Trygga skolor\n        timeframe:\n          text: Löpande\n"
    assert old in text
    new = old.replace("text: Löpande\n", "text: Från hösten 2027\n          start: 2027-08-01\n")
    return text.replace(old, new)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    parse_agreement(text, name)  # a valid file, or the test is wrong
    return str(path)


def init(engine: Engine, config: str, now: datetime, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    url = engine.url.render_as_string(hide_password=False)
    assert main(["init", "--config", config, "--db", url], clock=FixedClock(now)) == 0
    return capsys.readouterr().out


def commitment(engine: Engine, key: str) -> tuple[str, int, date | None]:
    with db.transaction(engine) as s:
        c = service.resolve_commitment(s, key)
        return c.state, c.period, c.next_due


def history(engine: Engine, key: str) -> list[tuple[str, str, str, str]]:
    with db.transaction(engine) as s:
        _, rows = service.history(s, key)
        return [(h.trigger, h.from_state, h.to_state, h.why) for h in rows]


def snapshot(engine: Engine) -> tuple[list[tuple[str, str, int]], int]:
    with db.transaction(engine) as s:
        states = sorted((r.id, r.state, r.period) for r in service.status(s))
        return states, s.scalar(select(func.count()).select_from(TransitionRecord)) or 0


@pytest.fixture
def v2_without_skolor(engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Engine:
    """Version 1 loaded 2026-11-24 and started; version 2 (1 December) has no Skolor: its commitment ends."""
    init(engine, str(LITEN), at(2026, 11, 24), capsys)
    tick(engine, at(2026, 11, 24))
    out = init(engine, write(tmp_path, "v2.yaml", without_effort(TEXT, "skolor")), at(2026, 12, 1), capsys)
    assert f"åtagande {SKOLOR} finns inte längre i filen: avslutat" in out
    assert commitment(engine, SKOLOR)[0] == "avslutad"
    return engine


def test_an_effort_brought_back_by_init_is_planned_then_starts_per_its_timeframe_and_keeps_its_history(
    v2_without_skolor: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = v2_without_skolor
    v3 = write(tmp_path, "v3.yaml", skolor_from_autumn_2027(TEXT))
    out = init(engine, v3, at(2027, 1, 15), capsys)
    assert "uppdaterad till planversion 3" in out
    assert f"nytt åtagande {SKOLOR} (åter i planen, planerat)" in out
    # Adopted in 2027: its first period is 2027 (due 31 March 2028), not the 2026 the others report.
    assert commitment(engine, SKOLOR) == ("planerad", 2027, date(2028, 3, 31))
    tick(engine, at(2027, 1, 15))
    assert commitment(engine, SKOLOR)[0] == "planerad"  # its timeframe begins in August
    tick(engine, at(2027, 8, 1, 0))
    assert commitment(engine, SKOLOR) == ("pågående", 2027, date(2028, 3, 31))
    assert history(engine, SKOLOR) == [
        ("start", "planerad", "pågående", "tidsplanen började 15 april 2019"),
        ("end", "pågående", "avslutad", "borttaget ur överenskommelsefilen (planversion 2)"),
        ("restore", "avslutad", "planerad", "åter i planen (planversion 3)"),
        ("start", "planerad", "pågående", "tidsplanen började 1 augusti 2027"),
    ]


def test_an_unchanged_reload_after_a_restore_changes_nothing(
    v2_without_skolor: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = v2_without_skolor
    v3 = write(tmp_path, "v3.yaml", TEXT)
    assert f"nytt åtagande {SKOLOR} (åter i planen, planerat)" in init(engine, v3, at(2027, 1, 15), capsys)
    tick(engine, at(2027, 1, 15))
    before = snapshot(engine)
    assert ("liten.skolor.kommun", "pågående", 2027) in before[0]
    out = init(engine, v3, at(2027, 2, 1), capsys)
    assert "Överenskommelsen 'liten' är oförändrad (planversion 3)." in out
    tick(engine, at(2027, 2, 1))
    assert snapshot(engine) == before


def test_an_effort_brought_back_by_a_revision_counts_as_added_and_starts(
    v2_without_skolor: Engine, tmp_path: Path
) -> None:
    engine = v2_without_skolor
    tick(engine, at(2028, 2, 18, 8))  # revision 3's kick-off opens it (deadline 2028-04-18)
    with db.transaction(engine) as s:
        for row in service.status(s):
            if row.state != "avslutad":
                decide(s, row.id, "keep", text="fortsätter", by="BRÅ", now=at(2028, 2, 20))
    with db.transaction(engine) as s:
        done = complete(s, load_agreement(LITEN), by="BRÅ", now=at(2028, 2, 21))
    assert done.added == [SKOLOR]
    assert f"nytt åtagande {SKOLOR} (åter i planen, planerat)" in done.changes
    assert SKOLOR not in done.reinstated
    # Adopted on 21 February 2028: its first period is 2028, due 3 April 2029 (31 March is a Saturday).
    assert commitment(engine, SKOLOR) == ("planerad", 2028, date(2029, 4, 3))
    tick(engine, at(2028, 2, 21, 10))
    assert commitment(engine, SKOLOR)[:2] == ("pågående", 2028)
    assert [h[0] for h in history(engine, SKOLOR)] == ["start", "end", "restore", "start"]
    assert history(engine, SKOLOR)[2][3] == "åter i planen (planversion 3)"


def test_a_commitment_ended_by_its_timeframe_or_by_hand_is_not_brought_back_by_an_unrelated_edit(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(engine, str(LITEN), at(2026, 11, 24), capsys)
    tick(engine, at(2026, 11, 24))
    with db.transaction(engine) as s:
        # Trafik (2020–2026) reports its last period and then ends; the polis leaves Trygghetsvandringar.
        service.record_follow_up(
            s,
            "trafik.kommun",
            period=2026,
            values={"insatser": 3},
            comment="Sista året",
            by="Fritid",
            now=at(2027, 3, 10),
        )
        service.transition(s, "vandringar.polis", "end", by="BRÅ", why="Polisen lämnar insatsen", now=at(2027, 3, 10))
    tick(engine, at(2027, 3, 10, 10))
    assert commitment(engine, "trafik.kommun")[0] == commitment(engine, "vandringar.polis")[0] == "avslutad"
    before = {key: history(engine, key) for key in ("trafik.kommun", "vandringar.polis")}
    edited = TEXT.replace("fritid@litenstad.example", "fritid-ny@litenstad.example")
    out = init(engine, write(tmp_path, "ny-adress.yaml", edited), at(2027, 4, 1), capsys)
    assert "uppdaterad till planversion 2" in out and "enhet fritid: email ändrat" in out
    assert "nytt åtagande" not in out
    tick(engine, at(2027, 4, 1, 10))
    for key, rows in before.items():
        assert commitment(engine, key)[0] == "avslutad"
        assert history(engine, key) == rows


def test_a_commitment_whose_timeframe_a_later_plan_extends_is_live_again(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(engine, str(LITEN), at(2026, 11, 24), capsys)
    tick(engine, at(2026, 11, 24))
    with db.transaction(engine) as s:
        service.record_follow_up(
            s,
            "trafik.kommun",
            period=2026,
            values={"insatser": 3},
            comment="Sista året",
            by="Fritid",
            now=at(2027, 3, 10),
        )
    tick(engine, at(2027, 3, 10, 10))
    assert commitment(engine, "trafik.kommun")[0] == "avslutad"
    extended = TEXT.replace("text: 2020–2026", "text: 2020–2028").replace("end: 2026-12-31", "end: 2028-12-31")
    out = init(engine, write(tmp_path, "forlangd.yaml", extended), at(2027, 4, 1), capsys)
    assert "nytt åtagande liten.trafik.kommun (åter i planen, planerat)" in out
    tick(engine, at(2027, 4, 1, 10))
    # 2026 is reported; it is asked for 2027 next, never 2026 again.
    assert commitment(engine, "trafik.kommun") == ("pågående", 2027, date(2028, 3, 31))
    assert [h[0] for h in history(engine, "trafik.kommun")] == ["start", "follow_up", "end", "restore", "start"]


def test_nothing_is_brought_back_after_the_agreement_was_terminated(
    v2_without_skolor: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = v2_without_skolor
    with db.transaction(engine) as s:
        parties.terminate(
            s, party="polis", effective=date(2027, 6, 30), reason="Ny överenskommelse", by="LPO", now=at(2027, 1, 10)
        )
    out = init(engine, write(tmp_path, "v3.yaml", TEXT), at(2027, 1, 15), capsys)
    assert "uppdaterad till planversion 3" in out and "nytt åtagande" not in out
    tick(engine, at(2027, 1, 15))
    assert commitment(engine, SKOLOR)[0] == "avslutad"
    assert [h[0] for h in history(engine, SKOLOR)] == ["start", "end"]


def test_an_effort_brought_back_never_asks_again_for_a_period_it_already_reported(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a due date early in the year, 2027 can be reported in December 2027 itself."""
    early = TEXT.replace('due: "03-31"', 'due: "01-06"')
    for version in ("v1", "v2"):
        (tmp_path / version).mkdir()
    v1 = write(tmp_path / "v1", "liten.yaml", early)
    init(engine, v1, at(2026, 11, 2), capsys)
    tick(engine, at(2026, 11, 2))
    with db.transaction(engine) as s:  # 2026's report (due 2027-01-07), so that 2027 is the open period
        service.record_follow_up(
            s, SKOLOR, period=2026, values={"besok": 3}, comment="ok", by="Skolan", now=at(2027, 1, 5)
        )
    tick(engine, at(2027, 1, 5, 12))
    tick(engine, at(2027, 12, 8, 8))  # reporting for 2027 opens with its -30 reminder
    with db.transaction(engine) as s:
        service.record_follow_up(
            s, SKOLOR, period=2027, values={"besok": 4}, comment="ok", by="Skolan", now=at(2027, 12, 10)
        )
    init(engine, write(tmp_path / "v2", "liten.yaml", without_effort(early, "skolor")), at(2027, 12, 15), capsys)
    assert commitment(engine, SKOLOR)[0] == "avslutad"
    init(engine, v1, at(2027, 12, 20), capsys)
    assert commitment(engine, SKOLOR)[:2] == ("planerad", 2028)  # not 2027 again
