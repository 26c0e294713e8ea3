"""`/plan.yaml`: the process owner downloads the current plan as an agreement file.

What the page gives is the file `samverkan plan export` writes: it validates, and loaded
with `init` it changes nothing. Only the process owner gets it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from engine import db
from engine.agreement import Agreement, parse_agreement
from engine.models import PlanVersion
from engine.plan import document_of, load_plan


def test_signing_in_comes_first(client: TestClient) -> None:
    page = client.get("/plan.yaml", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/logga-in?nasta=")


def test_a_unit_or_party_contact_is_refused(client: TestClient, kit: Any) -> None:
    for who in (kit.FRITID, kit.POLIS):
        kit.login(client, who)
        page = client.get("/plan.yaml")
        assert page.status_code == 403, who
        assert "format: 1" not in page.text
        client.post("/logga-ut", data={"csrf": kit.csrf_of(client.get("/").text)})


def test_the_owner_downloads_a_file_that_loads_as_the_same_plan(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    kit.login(client, kit.OWNER)
    page = client.get("/plan.yaml")
    assert page.status_code == 200
    assert page.headers["content-type"] == "application/yaml; charset=utf-8"
    assert page.headers["content-disposition"] == 'attachment; filename="boras-plan-v1.yaml"'
    assert "name: Borås Stad" in page.text
    agreement = parse_agreement(page.text, "boras-plan-v1.yaml")
    with db.transaction(boras_due) as s:
        stored = s.get(PlanVersion, ("boras", 1))
        assert stored is not None and document_of(agreement) == stored.document
        result = load_plan(s, agreement, now=kit.at(2027, 3, 2))
        assert (result.created, result.changes, result.plan_version) == (False, [], 1)
        assert s.scalar(select(func.count()).select_from(PlanVersion)) == 1


def test_the_agreement_asked_for_is_the_one_given(
    client: TestClient, boras_due: Engine, minimal: Agreement, kit: Any
) -> None:
    with db.transaction(boras_due) as s:
        load_plan(s, minimal, now=kit.at(2027, 2, 1))
    kit.login(client, kit.OWNER)
    page = client.get("/plan.yaml?overenskommelse=exempel")
    assert page.headers["content-disposition"] == 'attachment; filename="exempel-plan-v1.yaml"'
    assert document_of(parse_agreement(page.text)) == document_of(minimal)
    first = client.get("/plan.yaml")  # none asked for: the first, as on every page over one agreement
    assert first.headers["content-disposition"] == 'attachment; filename="boras-plan-v1.yaml"'


def test_the_reports_page_links_the_file_for_the_owner_only(client: TestClient, kit: Any) -> None:
    kit.login(client, kit.OWNER)
    page = client.get("/rapport").text
    assert 'href="/plan.yaml?overenskommelse=boras" data-plan-file>Ladda ner planversion 1' in page
    client.post("/logga-ut", data={"csrf": kit.csrf_of(client.get("/").text)})
    kit.login(client, kit.POLIS)
    refused = client.get("/rapport")
    assert refused.status_code == 200 and "/plan.yaml" not in refused.text
