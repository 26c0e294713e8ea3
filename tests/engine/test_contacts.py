"""A unit's new address reaches that unit's queued notices only, even where units share an address."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from engine import db
from engine.agreement import parse_agreement
from engine.api import commands
from engine.models import Commitment, OutboxRow
from engine.plan import load_plan
from engine.tick import tick
from rules.model import OutboxState
from tests.conftest import BORAS

STHLM = ZoneInfo("Europe/Stockholm")
SHARED = "forvaltningarna@boras.example"  # one mailbox for two units, as a small municipality may have
NEW = "fritid.ny@boras.example"


def at(y: int, m: int, d: int, hh: int = 9) -> datetime:
    return datetime(y, m, d, hh, tzinfo=STHLM)


def test_a_changed_address_moves_the_units_own_notices_not_those_of_a_unit_sharing_the_old_one(
    engine: Engine,
) -> None:
    text = BORAS.read_text(encoding="utf-8")
    text = text.replace("email: fritid-folkhalsa@boras.example", f"email: {SHARED}")
    text = text.replace("email: stadsdelsforvaltningarna@boras.example", f"email: {SHARED}")
    with db.transaction(engine) as s:
        load_plan(s, parse_agreement(text, "delad.yaml"), now=at(2026, 11, 24))
    tick(engine, at(2026, 11, 24))
    tick(engine, at(2027, 3, 1, 8))
    with db.transaction(engine) as s:
        owner = {c.id: c.responsible for c in s.scalars(select(Commitment))}
    agreement = next(iter({c.split(".")[0] for c in owner}))

    commands.change_unit(
        engine,
        agreement,
        "fritid-folkhalsa",
        name="Fritids- och folkhälsoförvaltningen",
        email=NEW,
        by="BråB",
        now=at(2027, 3, 1, 10),
    )

    with db.transaction(engine) as s:
        queued = [
            (owner[r.commitment_id], list(r.recipients))
            for r in s.scalars(select(OutboxRow).where(OutboxRow.state == OutboxState.PENDING))
            if r.commitment_id in owner
        ]
    fritid = [to for unit, to in queued if unit == "fritid-folkhalsa"]
    stadsdel = [to for unit, to in queued if unit == "stadsdelsforvaltningarna"]
    assert fritid and all(to == [NEW] for to in fritid)
    assert stadsdel and all(to == [SHARED] for to in stadsdel)  # still the other unit's, at its address
