"""The units page's read model: each unit's contact, and who changed which, when, from what to what.

The history is read from the plan versions themselves (each keeps its whole document), so
a change made by an edited file and ``init`` is listed beside one made on the web.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import select

from engine import db
from engine.api.pages_agreement import AgreementChoice, choose
from engine.db import Database
from engine.models import PartyRow, PlanVersion, UnitRow

# The unit's fields a person reads in the history, in the order shown.
FIELDS = (("name", "namn"), ("email", "e-post"), ("contact_name", "kontaktperson"), ("party", "part"))


@dataclass(frozen=True, kw_only=True)
class UnitContact:
    id: str
    name: str
    party: str
    party_name: str
    email: str
    contact_name: str | None


@dataclass(frozen=True, kw_only=True)
class ContactHistory:
    version: int
    at: datetime
    by: str | None  # None: loaded before the plan versions recorded it
    unit: str
    unit_name: str  # its name in that version (or, gone from it, in the one before)
    field: str  # Swedish
    old: str | None  # None: the unit is new in this version
    new: str | None  # None: the unit left the plan in this version


@dataclass(frozen=True, kw_only=True)
class UnitsPage:
    choice: AgreementChoice
    units: tuple[UnitContact, ...]
    history: tuple[ContactHistory, ...]  # the latest first


def units_page(database: Database, wanted: str | None) -> UnitsPage:
    with db.transaction(database) as session:
        agreement, choice = choose(session, wanted)
        if agreement is None:
            return UnitsPage(choice=choice, units=(), history=())
        parties = {p.id: p.name for p in session.scalars(select(PartyRow).where(PartyRow.agreement_id == agreement.id))}
        order = {u.get("id"): i for i, u in enumerate(agreement.document.get("units", []))}
        rows = sorted(
            session.scalars(select(UnitRow).where(UnitRow.agreement_id == agreement.id)),
            key=lambda u: order.get(u.id, len(order)),
        )
        units = tuple(
            UnitContact(
                id=u.id,
                name=u.name,
                party=u.party,
                party_name=parties.get(u.party, u.party),
                email=u.email,
                contact_name=u.contact_name,
            )
            for u in rows
        )
        versions = list(
            session.scalars(
                select(PlanVersion).where(PlanVersion.agreement_id == agreement.id).order_by(PlanVersion.version)
            )
        )
        history: list[ContactHistory] = []
        for before, after in pairwise(versions):
            history += _unit_changes(before.document, after)
        return UnitsPage(choice=choice, units=units, history=tuple(reversed(history)))


def _unit_changes(old: dict[str, Any], version: PlanVersion) -> list[ContactHistory]:
    a = {u["id"]: u for u in old.get("units", [])}
    b = {u["id"]: u for u in version.document.get("units", [])}
    out = []
    for uid in [*b, *(i for i in a if i not in b)]:
        for key, label in FIELDS:
            was, now = a.get(uid, {}).get(key), b.get(uid, {}).get(key)
            if was != now:
                out.append(
                    ContactHistory(
                        version=version.version,
                        at=version.loaded_at,
                        by=version.loaded_by,
                        unit=uid,
                        unit_name=str(b.get(uid, a.get(uid, {})).get("name") or uid),
                        field=label,
                        old=None if was is None else str(was),
                        new=None if now is None else str(now),
                    )
                )
    return out
