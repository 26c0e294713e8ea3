"""The users page's read model: everyone who may sign in, and the parties and units a user can belong to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from engine import db
from engine.api.pages import UserLine, user_list
from engine.db import Database
from engine.invites import INVITE_LIFETIME
from engine.models import PartyRow, UnitRow


@dataclass(frozen=True, kw_only=True)
class Option:
    id: str
    name: str


@dataclass(frozen=True, kw_only=True)
class UsersPage:
    people: tuple[UserLine, ...]
    parties: tuple[Option, ...]
    units: tuple[Option, ...]  # across every agreement, each id once
    invite_days: int


def users_page(database: Database) -> UsersPage:
    with db.transaction(database) as session:
        parties = _options(session.execute(select(PartyRow.id, PartyRow.name).order_by(PartyRow.agreement_id)))
        units = _options(session.execute(select(UnitRow.id, UnitRow.name).order_by(UnitRow.agreement_id)))
    return UsersPage(
        people=tuple(user_list(database)),
        parties=tuple(sorted(parties, key=lambda o: o.name)),
        units=tuple(sorted(units, key=lambda o: o.name)),
        invite_days=INVITE_LIFETIME.days,
    )


def _options(rows: Iterable[Any]) -> list[Option]:
    seen: dict[str, Option] = {}
    for oid, name in rows:
        seen.setdefault(oid, Option(id=oid, name=name))
    return list(seen.values())
