"""The revision in forms on /revision: every decision in one form, the revised plan edited as a draft,
its plan diff previewed, and the draft adopted — the same plan version as uploading the same file.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from engine import db
from engine.agreement import Agreement
from engine.api import queries
from engine.clock import FixedClock
from engine.models import Commitment, PlanVersion, Revision, RevisionDecision
from engine.plan import load_plan
from engine.tick import tick
from engine.users import add_user
from notifications.settings import Settings
from web.app import create_app

MBU = "boras.mbu.kommun"


def decision_fields(page: str) -> list[str]:
    """The commitments the one decision form has a row for."""
    return re.findall(r'name="beslut:([^"]+)"', page)


def decide_all(client: TestClient, kit: Any, **override: tuple[str, str]) -> Any:
    page = client.get("/revision").text
    data = {"csrf": kit.csrf_of(page), "overenskommelse": "boras"}
    for cid in decision_fields(page):
        decision, text = override.get(cid, ("remove" if ".tobakstillsyn." in cid else "keep", "Enligt BråB:s beslut."))
        data[f"beslut:{cid}"], data[f"motivering:{cid}"] = decision, text
    return client.post("/revision/beslut", data=data, follow_redirects=False)


def open_revision(client: TestClient, kit: Any, clock: FixedClock) -> None:
    clock.advance_to(kit.at(2027, 10, 1))
    kit.login(client, kit.OWNER)
    page = client.get("/revision").text
    client.post("/revision/inled", data={"csrf": kit.csrf_of(page), "overenskommelse": "boras"})


def post(client: TestClient, kit: Any, path: str, **fields: str) -> Any:
    page = client.get("/revision").text
    return client.post(
        path, data={"csrf": kit.csrf_of(page), "overenskommelse": "boras"} | fields, follow_redirects=False
    )


EDIT = {"commitments.kommun.text": "Finansiera och följa upp utbildningen.", "measures.utbildningar.target": "3"}
NEW = {
    "area": "struktur",
    "title": "Trygg natt",
    "timeframe.text": "Varje helg",
    "commitments.kommun.text": "Nattvandra med föreningar.",
    "commitments.kommun.responsible": "fritid-folkhalsa",
    "commitments.polis.text": "",
    "measure.text": "Antal nattvandringar",
    "measure.kind": "count",
    "measure.target": "20",
}
TERM = {"valid_from": "", "valid_to": "2030-12-31", "every_years": "2"}


def _written(engine: Engine) -> tuple[Any, ...]:
    with db.transaction(engine) as s:
        return (
            s.scalar(select(func.count()).select_from(PlanVersion)),
            s.scalar(select(func.count()).select_from(RevisionDecision)),
            [r.draft for r in s.scalars(select(Revision))],
            sorted((c.id, c.state, c.text) for c in s.scalars(select(Commitment))),
        )


def _versions(engine: Engine) -> list[tuple[Any, ...]]:
    with db.transaction(engine) as s:
        return [
            (v.version, v.config_hash, v.document, v.changes)
            for v in s.scalars(select(PlanVersion).order_by(PlanVersion.version))
        ]


def _another_boras(path: Path, kit: Any, boras: Agreement) -> Engine:
    """A second database in the state of ``boras_due``, for the upload to be compared with."""
    other = db.connect(f"sqlite:///{path}")
    db.upgrade(other)
    with db.transaction(other) as s:
        load_plan(s, boras, now=kit.at(2026, 11, 24, 9))
    tick(other, kit.at(2026, 11, 24, 9))
    tick(other, kit.ISSUED)
    with db.transaction(other) as s:
        add_user(s, kit.OWNER, role="owner", name="Anna Andersson", password=kit.PASSWORD, now=kit.at(2026, 11, 24))
    return other


def test_the_owner_decides_edits_previews_and_adopts_and_it_equals_uploading_the_same_file(
    client: TestClient,
    kit: Any,
    boras_due: Engine,
    boras: Agreement,
    clock: FixedClock,
    settings: Settings,
    tmp_path: Path,
) -> None:
    open_revision(client, kit, clock)
    answer = decide_all(client, kit)
    assert answer.status_code == 303
    shown = client.get(answer.headers["location"]).text
    assert "28 beslut sparade." in shown and "28 av 28 åtaganden har beslut" in shown

    assert 'value="2"' in client.get("/revision/insats/mbu").text  # the target as it stands
    assert post(client, kit, "/revision/insats/mbu", **EDIT).status_code == 303
    assert post(client, kit, "/revision/ny-insats", **NEW).status_code == 303
    assert post(client, kit, "/revision/giltighet", **TERM).status_code == 303
    page = html.unescape(client.get("/revision").text)
    diff = page.split('<ul id="plandiff">', 1)[1].split("</ul>", 1)[0]
    preview = re.findall(r"<li>([^<]+)</li>", diff)
    assert preview == [
        "överenskommelsen: valid_to ändrat från null till 2030-12-31",
        'schemat: revision ändrat från {"every_years": 3, "kickoff_days_before": 60, "late_repea... '
        'till {"every_years": 2, "kickoff_days_before": 60, "late_repea...',
        "ny insats trygg-natt",
        "insats tobakstillsyn borttagen",
        "insats mbu: aktivitetsmått ändrad",
        f"åtagande {MBU}: texten ändrad",
    ]
    draft_file = client.get("/revision/utkast.yaml")
    assert draft_file.status_code == 200 and "boras-utkast-v2.yaml" in draft_file.headers["content-disposition"]
    reviewed = re.search(r'name="granskat" value="([0-9a-f]+)"', page)
    assert reviewed is not None
    adopted = post(client, kit, "/revision/anta", granskat=reviewed.group(1))
    assert adopted.status_code == 303
    done = html.unescape(client.get(adopted.headers["location"]).text)
    assert "Revidering 4 genomförd: planversion 2 antagen. 26 åtaganden fortsätter, 2 avslutade, 1 nya." in done
    assert "Trygg natt" in client.get("/").text

    # The same document uploaded as a file, in a database where the same revision was decided alike.
    other = _another_boras(tmp_path / "fil.db", kit, boras)
    try:
        with TestClient(create_app(other, settings, clock, secret=kit.SECRET)) as second:
            open_revision(second, kit, clock)
            assert decide_all(second, kit).status_code == 303
            page = second.get("/revision").text
            action = re.search(r'action="(/revision/slutfor\?csrf=[^"]+)"', page)
            assert action is not None
            uploaded = second.post(
                action.group(1).replace("&amp;", "&"),
                files={"fil": ("boras-2028.yaml", draft_file.content, "text/yaml")},
            )
            assert "Revidering 4 genomförd: planversion 2 antagen." in html.unescape(uploaded.text)
        assert _versions(boras_due) == _versions(other)
        assert queries.plan_diff(boras_due, 1, 2) == queries.plan_diff(other, 1, 2) == tuple(preview)
    finally:
        other.dispose()


def test_a_bad_row_or_value_is_shown_beside_its_field_and_nothing_is_written(
    client: TestClient, kit: Any, boras_due: Engine, clock: FixedClock
) -> None:
    open_revision(client, kit, clock)
    before = _written(boras_due)
    bad = decide_all(client, kit, **{MBU: ("keep", "")})
    assert bad.status_code == 400 and "Inget har sparats" in bad.text
    assert f'aria-describedby="fel-{MBU}"' in bad.text and "Skriv en motivering." in bad.text
    # What was typed in the other rows is kept for the next try.
    assert 'name="motivering:boras.mbu.polis" value="Enligt BråB:s beslut."' in html.unescape(bad.text)

    effort = post(client, kit, "/revision/insats/mbu", **{"measures.utbildningar.target": "två"})
    assert effort.status_code == 400
    assert 'id="f-measures-utbildningar-target-fel"' in effort.text and 'value="två"' in effort.text
    assert "Målvärdet &#39;två&#39; är inte ett tal." in effort.text

    term = post(client, kit, "/revision/giltighet", valid_from="", valid_to="2015-01-01", every_years="3")
    assert term.status_code == 400
    assert 'aria-describedby="term-valid_to-tips term-valid_to-fel"' in term.text
    assert "Giltig till ligger före giltig från." in html.unescape(term.text)

    stale = post(client, kit, "/revision/anta", granskat="0" * 64)
    assert stale.status_code == 400 and "28 åtaganden saknar beslut" in html.unescape(stale.text)
    assert _written(boras_due) == before


def test_a_party_contact_sees_the_draft_read_only_and_a_unit_contact_gets_403(
    client: TestClient, kit: Any, boras_due: Engine, clock: FixedClock
) -> None:
    open_revision(client, kit, clock)
    assert post(client, kit, "/revision/insats/mbu", **EDIT).status_code == 303
    page = client.get("/").text
    client.post("/logga-ut", data={"csrf": kit.csrf_of(page)})
    before = _written(boras_due)
    actions = {
        "/revision/beslut": {f"beslut:{MBU}": "keep", f"motivering:{MBU}": "x"},
        "/revision/giltighet": TERM,
        "/revision/anta": {"granskat": "x"},
        "/revision/insats/mbu": EDIT,
        "/revision/ny-insats": NEW,
        "/revision/utkast/aterstall": {},
    }
    for path, fields in actions.items():  # signed out: to the sign-in, before any work
        answer = client.post(path, data={"overenskommelse": "boras"} | fields, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/logga-in"), path
    for who in (kit.POLIS, kit.FRITID):
        kit.login(client, who)
        shown = client.get("/revision")
        if who == kit.POLIS:
            text = html.unescape(shown.text)
            assert shown.status_code == 200 and f"åtagande {MBU}: texten ändrad" in text
            assert "Spara besluten" not in text and "Anta den reviderade planen" not in text
            assert 'name="valid_to"' not in text and "/revision/insats/mbu" not in text
        else:
            assert shown.status_code == 403
        for path in ("/revision/insats/mbu", "/revision/ny-insats", "/revision/utkast.yaml"):
            assert client.get(path).status_code == 403
        csrf = kit.csrf_of(client.get("/").text)
        for path, fields in actions.items():
            assert client.post(path, data={"csrf": csrf, "overenskommelse": "boras"} | fields).status_code == 403
        client.post("/logga-ut", data={"csrf": csrf})
    assert _written(boras_due) == before
