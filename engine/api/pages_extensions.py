"""The extension form's read model: one commitment's open follow-up, its dates and its extensions.

The form is the process owner's (the web checks the role); ``may_extend`` says whether the
commitment has a period an extension can move (engine.extensions: only a pågående one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from engine import db, extensions, service
from engine.db import Database
from engine.models import AgreementRow, EffortRow, PartyRow, UnitRow
from rules import lifecycle
from rules.calendar import SwedishCalendar


@dataclass(frozen=True, kw_only=True)
class ExtensionLine:
    period: int
    due: date
    previous_due: date
    reason: str
    by: str
    at: datetime
    applies: bool  # the latest grant of its period: the one in force


@dataclass(frozen=True, kw_only=True)
class ExtensionForm:
    commitment: str
    effort: str
    party_name: str
    unit_name: str
    state: str
    period: int
    regular_due: date
    due: date | None  # as it stands (an extension moved it if it differs from regular_due)
    may_extend: bool
    extensions: tuple[ExtensionLine, ...]  # the latest first


def lines(session: Session, commitment_id: str) -> tuple[ExtensionLine, ...]:
    seen: set[int] = set()
    out = []
    for x in extensions.granted(session, commitment_id):
        out.append(
            ExtensionLine(
                period=x.period,
                due=x.due,
                previous_due=x.previous_due,
                reason=x.reason,
                by=x.granted_by,
                at=x.granted_at,
                applies=x.period not in seen,
            )
        )
        seen.add(x.period)
    return tuple(out)


def extension_form(database: Database, key: str) -> ExtensionForm:
    """The form for ``key`` (full or short id); an unknown one raises NotFound."""
    with db.transaction(database) as session:
        c = service.resolve_commitment(session, key)
        agreement = session.get(AgreementRow, c.agreement_id)
        effort = session.get(EffortRow, (c.agreement_id, c.effort_id))
        unit = session.get(UnitRow, (c.agreement_id, c.responsible))
        party = session.get(PartyRow, (c.agreement_id, c.party))
        assert agreement is not None and effort is not None and unit is not None
        return ExtensionForm(
            commitment=c.id,
            effort=effort.title,
            party_name=party.name if party is not None else c.party,
            unit_name=unit.name,
            state=c.state,
            period=c.period,
            regular_due=SwedishCalendar().follow_up_due(c.period, agreement.schedule["follow_up"]["due"]),
            due=c.next_due,
            may_extend=c.state == lifecycle.PAGAENDE,
            extensions=lines(session, c.id),
        )
