"""The form behind the mail link: it records the follow-up as the CLI does, once, and says clearly when it cannot."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from engine import db
from engine.clock import FixedClock
from engine.models import Commitment, FollowUp, OutboxRow, TransitionRecord
from samverkan.cli import main

MBU = "boras.mbu.kommun"  # one count measure, "Utbildning två gånger per år" with target 2
BRA = "boras.bra-samordning.kommun"  # a count and a text measure


def written(engine: Engine) -> tuple[int, int, int, list[tuple[str, str]]]:
    with db.transaction(engine) as s:
        return (
            len(s.scalars(select(FollowUp)).all()),
            len(s.scalars(select(TransitionRecord)).all()),
            len(s.scalars(select(OutboxRow)).all()),
            sorted((c.id, c.state) for c in s.scalars(select(Commitment))),
        )


def post_form(client: TestClient, path: str, **fields: str) -> Any:
    page = client.get(path)
    assert page.status_code == 200, page.text
    data = {"csrf": kit_csrf(page.text), "kommentar": "Två utbildningar för nya poliser.", "namn": "Britt BråB"}
    data.update(fields)
    return client.post(path, data=data)


def kit_csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_the_link_opens_a_form_with_the_commitments_measures_without_signing_in(client: TestClient, kit: Any) -> None:
    page = client.get(kit.link_path(BRA))
    assert page.status_code == 200
    for text in ("Uppföljning 2026", "Antal möten", "Representation under mötena", "Kommentar", "Ditt namn"):
        assert text in page.text
    assert 'name="m_antal-moten"' in page.text and 'name="m_representation"' in page.text


def test_submitting_records_the_follow_up_exactly_as_the_cli_does(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    response = post_form(client, kit.link_path(MBU), m_utbildningar="1", timmar="12,5")
    assert response.status_code == 200 and "Tack! Uppföljningen för 2026 är registrerad" in response.text
    url = boras_due.url.render_as_string(hide_password=False)
    argv = ["followup", "mbu.polis", "--db", url, "--period", "2026", "--value", "utbildningar=1"]
    argv += ["--comment", "Två utbildningar för nya poliser.", "--by", "Per Polis", "--hours", "12.5"]
    assert main(argv, clock=FixedClock(kit.at(2027, 3, 1, 10))) == 0

    with db.transaction(boras_due) as s:
        web, cli = (
            s.scalars(select(FollowUp).where(FollowUp.commitment_id == c)).one() for c in (MBU, "boras.mbu.polis")
        )
        assert (web.period, web.version, web.values, web.comment, web.hours) == (
            cli.period,
            cli.version,
            cli.values,
            cli.comment,
            cli.hours,
        )
        assert web.values == {"utbildningar": 1} and web.hours == 12.5
        assert web.by == "Britt BråB (brab@boras.example, via länk i e-post)"
        moves = {
            r.commitment_id: r
            for r in s.scalars(select(TransitionRecord).where(TransitionRecord.trigger == "follow_up"))
        }
        assert (moves[MBU].from_state, moves[MBU].to_state, moves[MBU].why) == (
            "pågående",
            "uppföljd",
            moves["boras.mbu.polis"].why,
        )
        assert moves[MBU].by == web.by
        deviations = s.scalars(select(OutboxRow.commitment_id).where(OutboxRow.kind == "deviation")).all()
        assert sorted(deviations) == [MBU, "boras.mbu.polis"]  # 1 is below the target 2: BråB is told
        assert s.get(Commitment, MBU).state == "uppföljd"  # type: ignore[union-attr]


def test_a_used_link_says_the_follow_up_is_already_recorded_once_the_units_correction_window_is_over(
    client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any
) -> None:
    path = kit.link_path(MBU)
    post_form(client, path, m_utbildningar="2")
    before = written(boras_due)
    clock.advance_to(kit.at(2027, 3, 16))  # recorded 1 March: the unit could correct it through 15 March
    again = client.get(path)
    assert again.status_code == 410
    assert "Uppföljningen är redan registrerad" in again.text and "Britt BråB" in again.text
    assert "kontakta processägaren" in again.text and "brab@boras.example" in again.text
    resent = client.post(path, data={"csrf": "x", "m_utbildningar": "5", "kommentar": "igen", "namn": "X"})
    assert resent.status_code == 410 and "redan registrerad" in resent.text
    assert written(boras_due) == before


def test_a_follow_up_recorded_another_way_also_uses_up_the_link(
    client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any
) -> None:
    url = boras_due.url.render_as_string(hide_password=False)
    argv = [
        "followup",
        MBU,
        "--db",
        url,
        "--period",
        "2026",
        "--value",
        "utbildningar=2",
        "--comment",
        "ok",
        "--by",
        "BråB",
    ]
    assert main(argv, clock=FixedClock(kit.at(2027, 3, 1, 9))) == 0
    # Within the unit's window the link corrects what the CLI recorded; after it, it is used up.
    assert "Rätta uppföljning 2026" in client.get(kit.link_path(MBU)).text
    clock.advance_to(kit.at(2027, 3, 16))
    page = client.get(kit.link_path(MBU))
    assert page.status_code == 410 and "Uppföljningen är redan registrerad" in page.text


def test_an_expired_link_gets_a_clear_page_and_writes_nothing(
    client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any
) -> None:
    clock.advance_to(kit.at(2027, 5, 1, 9))  # 61 days after the reminder
    before = written(boras_due)
    page = client.get(kit.link_path(MBU))
    assert page.status_code == 410
    assert "Länken har gått ut" in page.text and "brab@boras.example" in page.text
    assert "Traceback" not in page.text
    posted = client.post(kit.link_path(MBU), data={"m_utbildningar": "2", "kommentar": "sent", "namn": "X"})
    assert posted.status_code == 410
    assert written(boras_due) == before


def test_a_link_issued_on_a_rehearsed_future_date_says_from_when_it_works_and_writes_nothing(
    client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any
) -> None:
    # The README's rehearsal: `tick --now 2027-03-24T08:00` writes the mail, the web runs on an earlier clock.
    link = kit.link_path(MBU, issued=kit.at(2027, 3, 24, 8))
    before = written(boras_due)
    page = client.get(link)
    assert page.status_code == 403
    assert "Länken gäller från 24 mars 2027 kl. 08:00" in page.text and "ofullständig" not in page.text
    assert "serve --from 2027-03-24T08:00" in page.text
    posted = client.post(link, data={"m_utbildningar": "2", "kommentar": "tidigt", "namn": "X"})
    assert posted.status_code == 403 and written(boras_due) == before
    clock.advance_to(kit.at(2027, 3, 24, 8))
    assert client.get(link).status_code == 200


@pytest.mark.parametrize("token", ["abc", "eyJjIjoiYm9yYXMifQ.forged", "x" * 300])
def test_a_wrong_link_gets_a_clear_page(client: TestClient, token: str) -> None:
    page = client.get(f"/uppfoljning/{token}")
    assert page.status_code == 404
    assert "Länken fungerar inte" in page.text and "Traceback" not in page.text


def test_a_link_is_for_its_own_period_only(client: TestClient, kit: Any) -> None:
    page = client.get(kit.link_path(MBU, period=2025))
    assert page.status_code == 410 and "Länken gäller inte längre" in page.text
    assert "Länken gällde uppföljningen för 2025; åtagandet följs nu upp för 2026." in page.text


def test_a_link_to_an_ended_commitment_no_longer_works(client: TestClient, kit: Any) -> None:
    page = client.get(kit.link_path("boras.trafik.kommun", period=2018))
    assert page.status_code == 410 and "Åtagandet är avslutat och följs inte upp längre." in page.text


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"m_utbildningar": "-1"}, ["Ange ett heltal, 0 eller större."]),
        ({"m_utbildningar": ""}, ["Ange ett antal (0 om inget har gjorts)."]),
        ({"m_utbildningar": "2,5"}, ["Ange ett heltal, 0 eller större."]),
        ({"m_utbildningar": "2", "kommentar": " "}, ["Skriv en kort kommentar"]),
        ({"m_utbildningar": "2", "namn": ""}, ["Skriv ditt namn"]),
        ({"m_utbildningar": "2", "timmar": "många"}, ["Ange timmar som ett tal"]),
    ],
)
def test_bad_input_shows_the_form_again_with_the_error_and_the_values_and_writes_nothing(
    client: TestClient, boras_due: Engine, kit: Any, fields: dict[str, str], errors: list[str]
) -> None:
    before = written(boras_due)
    page = post_form(client, kit.link_path(MBU), **fields)
    assert page.status_code == 400
    assert "Uppföljningen är inte sparad" in page.text
    for error in errors:
        assert error in page.text
    assert f'value="{fields["m_utbildningar"]}"' in page.text  # what was typed is kept
    assert 'aria-invalid="true"' in page.text
    assert written(boras_due) == before


def test_a_text_measure_left_empty_is_refused_and_the_count_is_kept(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    before = written(boras_due)
    page = post_form(client, kit.link_path(BRA), **{"m_antal-moten": "7", "m_representation": ""})
    assert page.status_code == 400 and "Fyll i det här fältet." in page.text and 'value="7"' in page.text
    assert written(boras_due) == before


def test_the_form_is_refused_without_its_link_bound_token(client: TestClient, boras_due: Engine, kit: Any) -> None:
    before = written(boras_due)
    path = kit.link_path(MBU)
    other = client.get(kit.link_path(BRA))  # a valid token of another link
    page = client.post(
        path, data={"csrf": kit_csrf(other.text), "m_utbildningar": "2", "kommentar": "ok", "namn": "Mallory"}
    )
    assert page.status_code == 403 and "Formuläret kunde inte kontrolleras" in page.text
    assert written(boras_due) == before


def test_the_engine_still_refuses_what_it_refuses_with_its_reason_on_the_form(
    client: TestClient, boras_due: Engine, clock: FixedClock, kit: Any
) -> None:
    # A link issued in December for the running year: the period has not ended yet.
    clock.current = kit.at(2026, 12, 1, 9)
    page = post_form(client, kit.link_path(MBU, issued=kit.at(2026, 12, 1, 8)), m_utbildningar="2")
    assert page.status_code == 400 and "Uppföljningen för 2026 kan lämnas från 1 januari 2027" in page.text
