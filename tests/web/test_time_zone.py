"""A page shows every instant in its agreement's own time zone, like the mail does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, update
from starlette.testclient import TestClient

from engine import db
from engine.models import AgreementRow


def test_the_commitment_pages_history_is_in_the_agreements_time_zone(
    client: TestClient, boras_due: Engine, kit: Any
) -> None:
    kit.login(client, kit.OWNER)
    stockholm = client.get("/atagande/boras.mbu.kommun").text
    assert "1 mars 2027 kl. 08:00" in stockholm  # the reminder sent at the send time, Swedish local time
    with db.transaction(boras_due) as s:  # the same agreement, kept by a municipality one zone east
        s.execute(update(AgreementRow).values(timezone="Europe/Helsinki"))
    helsinki = client.get("/atagande/boras.mbu.kommun").text
    assert "1 mars 2027 kl. 09:00" in helsinki and "1 mars 2027 kl. 08:00" not in helsinki
