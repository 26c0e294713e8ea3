"""What a party says to the other, and how an agreement ends: changed conditions, termination, closing.

Each is recorded and queued to go at once to the other party and the process owner
(a person's act is sent at once, not held for a send slot; docs/design.md). Every function takes the caller's session
and an explicit ``now``; nothing here reads the clock or commits.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import outbox, withdraw
from engine.models import AgreementRow, Commitment, PartyEvent, PartyRow, UnitRow
from engine.service import agreement_for, apply_transition, require_text, resolve_commitment
from rules import lifecycle, texts
from rules.errors import InvalidValue
from rules.model import NoticeKind, QueueNotice


def _other_party_recipients(session: Session, agreement: AgreementRow, party: str) -> tuple[str, ...]:
    parties = {p.id: p for p in session.scalars(select(PartyRow).where(PartyRow.agreement_id == agreement.id))}
    if party not in parties:
        raise InvalidValue("party", f"okänd part '{party}' (parter: {', '.join(sorted(parties))})")
    emails = []
    for pid, p in sorted(parties.items()):
        if pid != party:
            unit = session.get(UnitRow, (agreement.id, p.contact_unit))
            assert unit is not None
            emails.append(unit.email)
    owner = session.get(UnitRow, (agreement.id, agreement.process_owner))
    assert owner is not None
    emails.append(owner.email)
    return tuple(dict.fromkeys(emails))


def notify_change(
    session: Session,
    *,
    party: str,
    text: str,
    by: str,
    now: datetime,
    commitments: list[str] | None = None,
    agreement_id: str | None = None,
) -> PartyEvent:
    """Changed conditions: recorded, sent at once to the other party and the process owner,
    and the commitments named are flagged for the next revision."""
    text = require_text("text", text)
    by = require_text("by", by)
    agreement = agreement_for(session, agreement_id)
    recipients = _other_party_recipients(session, agreement, party)
    flagged = []
    # The flag is read on the pages and in the mails: the party's name and the day in prose.
    named = session.get(PartyRow, (agreement.id, party))
    said = f"{named.name if named is not None else party}, {texts.datum(now, ZoneInfo(agreement.timezone))}"
    for key in commitments or []:
        c = resolve_commitment(session, key, lock=True)
        if c.agreement_id != agreement.id:
            raise InvalidValue("commitment", f"{c.id} hör inte till överenskommelsen {agreement.id}")
        c.revision_flag = f"ändrade förutsättningar ({said}): {text[:200]}"
        flagged.append(c.id)
    return _record_party_event(
        session,
        agreement,
        "change",
        party=party,
        text=text,
        effective=None,
        commitments=flagged,
        by=by,
        now=now,
        recipients=recipients,
    )


def _record_party_event(
    session: Session,
    agreement: AgreementRow,
    kind: str,
    *,
    party: str,
    text: str,
    effective: date | None,
    commitments: list[str],
    by: str,
    now: datetime,
    recipients: tuple[str, ...],
) -> PartyEvent:
    """Store a party's notice and queue it, to go at once, to the other party and the process owner."""
    event = PartyEvent(
        agreement_id=agreement.id,
        kind=kind,
        party=party,
        text=text,
        effective=effective,
        commitments=commitments,
        by=by,
        recorded_at=now,
    )
    session.add(event)
    session.flush()
    data: dict[str, Any] = {"event": event.id, "party": party}
    if effective is not None:
        data["effective"] = effective.isoformat()
    notice_kind: NoticeKind = "change_notice" if kind == "change" else "termination_notice"
    notice = QueueNotice(
        key=f"{notice_kind}:{agreement.id}:{event.id}",
        kind=notice_kind,
        recipients=recipients,
        send_at=now,
        agreement=agreement.id,
        data=data,
    )
    outbox.queue_in(session, [notice], now)
    return event


def terminate(
    session: Session,
    *,
    party: str,
    effective: date,
    reason: str,
    by: str,
    now: datetime,
    agreement_id: str | None = None,
) -> PartyEvent:
    """A termination: recorded and sent at once; every commitment ends on ``effective``,
    and nothing queued for that day or later is sent."""
    reason = require_text("reason", reason)
    by = require_text("by", by)
    agreement = agreement_for(session, agreement_id)
    recipients = _other_party_recipients(session, agreement, party)
    today = now.astimezone(ZoneInfo(agreement.timezone)).date()
    if effective < today:
        raise InvalidValue("effective", f"{texts.datum(effective)} har redan passerat")
    if agreement.terminates is not None:
        raise InvalidValue("party", f"överenskommelsen är redan uppsagd från {texts.datum(agreement.terminates)}")
    agreement.terminates = effective
    agreement.next_check = now
    session.execute(
        update(Commitment)
        .where(Commitment.agreement_id == agreement.id, Commitment.state != lifecycle.AVSLUTAD)
        .values(next_check=now)
    )
    session.flush()
    # Everything queued for the day it takes effect or later lost its reason.
    withdraw.withdraw_stale(session.connection(), now, agreement=agreement.id)
    return _record_party_event(
        session,
        agreement,
        "termination",
        party=party,
        text=reason,
        effective=effective,
        commitments=[],
        by=by,
        now=now,
        recipients=recipients,
    )


def close_agreement(
    session: Session, *, by: str, why: str, now: datetime, agreement_id: str | None = None
) -> list[str]:
    """The process owner closes a fixed-term agreement whose term is over: every live commitment ends.

    Nothing more is asked or sent for it (what is queued is withdrawn). Refused while the
    term lasts (a termination is the way to end it early) and for an open-ended agreement.
    Returns the commitments it ended.
    """
    by = require_text("by", by)
    why = require_text("why", why)
    agreement = agreement_for(session, agreement_id)
    today = now.astimezone(ZoneInfo(agreement.timezone)).date()
    if agreement.valid_to is None:
        raise InvalidValue(
            "agreement", f"{agreement.id} gäller tills vidare; en part säger upp den med 'samverkan terminate'"
        )
    if today <= agreement.valid_to:
        raise InvalidValue(
            "agreement",
            f"{agreement.id} gäller till och med {texts.datum(agreement.valid_to)}; "
            "den kan avslutas först efter det, eller sägas upp med 'samverkan terminate'",
        )
    live = list(
        session.scalars(
            select(Commitment)
            .where(Commitment.agreement_id == agreement.id, Commitment.state != lifecycle.AVSLUTAD)
            .order_by(Commitment.id)
            .with_for_update()
        )
    )
    for c in live:
        apply_transition(session, c, "end", by=by, why=f"överenskommelsen avslutad: {why}", now=now)
    agreement.revision_due = None
    agreement.next_check = now
    session.flush()
    withdraw.withdraw_stale(session.connection(), now, agreement=agreement.id)
    return [c.id for c in live]
