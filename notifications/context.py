"""The data a notice's templates see, loaded for a whole batch of outbox rows at once.

The keys are the contract documented in notifications/render.py's templates: notice,
agreement, commitment, unit, owner, followup_url, change, deviation, revision_items,
failed, items, agreements, recipient, invite. ``items`` and ``agreements`` are filled
for a digest only (notifications.dispatcher): each item's subject, text and agreement,
and each agreement the digest's notices come from, with its process owner (``owner``).
``invite`` is an invitation's (engine.invites): its link, whom it is for and when it
expires; None for every other kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, tuple_
from sqlalchemy.orm import Session

from engine.invites import INVITE_LIFETIME
from engine.models import (
    AgreementRow,
    AreaRow,
    Commitment,
    EffortRow,
    FollowUp,
    OutboxRow,
    PartyEvent,
    PartyRow,
    UnitRow,
)
from engine.review import review
from rules import deviation

# A hook for the web issue: (outbox row) -> personal follow-up link, or None.
LinkMaker = Callable[[OutboxRow], str | None]


@dataclass
class _Lookup:
    agreements: dict[str, AgreementRow]
    parties: dict[tuple[str, str], PartyRow]
    units: dict[tuple[str, str], UnitRow]
    commitments: dict[str, Commitment]
    efforts: dict[tuple[str, str], EffortRow]
    areas: dict[tuple[str, str], AreaRow]
    events: dict[int, PartyEvent]


def _load(session: Session, rows: Sequence[OutboxRow]) -> _Lookup:
    aids = sorted({r.agreement_id for r in rows})
    cids = sorted({r.commitment_id for r in rows if r.commitment_id})
    event_ids = sorted({int(r.data["event"]) for r in rows if "event" in r.data})
    agreements = {a.id: a for a in session.scalars(select(AgreementRow).where(AgreementRow.id.in_(aids)))}
    parties = {
        (p.agreement_id, p.id): p for p in session.scalars(select(PartyRow).where(PartyRow.agreement_id.in_(aids)))
    }
    units = {(u.agreement_id, u.id): u for u in session.scalars(select(UnitRow).where(UnitRow.agreement_id.in_(aids)))}
    commitments = {c.id: c for c in session.scalars(select(Commitment).where(Commitment.id.in_(cids)))}
    pairs = sorted({(c.agreement_id, c.effort_id) for c in commitments.values()})
    efforts = (
        {
            (e.agreement_id, e.id): e
            for e in session.scalars(select(EffortRow).where(tuple_(EffortRow.agreement_id, EffortRow.id).in_(pairs)))
        }
        if pairs
        else {}
    )
    areas = {(a.agreement_id, a.id): a for a in session.scalars(select(AreaRow).where(AreaRow.agreement_id.in_(aids)))}
    events = (
        {e.id: e for e in session.scalars(select(PartyEvent).where(PartyEvent.id.in_(event_ids)))} if event_ids else {}
    )
    return _Lookup(agreements, parties, units, commitments, efforts, areas, events)


def _agreement(agreement: AgreementRow) -> dict[str, Any]:
    head = agreement.document.get("agreement", {})
    # The file's own clauses (engine.agreement.CLAUSES), None when the file has none.
    return {
        "id": agreement.id,
        "title": agreement.title,
        # Instants in the mail are shown in the agreement's own zone (render's datumtid filter).
        "timezone": agreement.timezone,
        "termination_clause": head.get("termination_clause"),
        "change_clause": head.get("change_clause"),
        # The file's own sender (engine.agreement.MailHead), {} when it names none.
        "mail": dict(head.get("mail") or {}),
        # Said in the mail, so a unit knows when the process owner is told of a late follow-up.
        "escalation_after_days": int(agreement.schedule.get("follow_up", {}).get("escalation_after_days", 14)),
    }


def _commitment(look: _Lookup, c: Commitment) -> dict[str, Any]:
    effort = look.efforts[(c.agreement_id, c.effort_id)]
    area = look.areas.get((c.agreement_id, effort.area_id))
    party = look.parties.get((c.agreement_id, c.party))
    measures = deviation.for_party(effort.measures, c.party)
    return {
        "id": c.id,
        "text": c.text,
        "party": c.party,
        "party_name": party.name if party else c.party,
        "effort_title": effort.title,
        "area_title": area.title if area else "",
        "area_number": area.number if area else 0,
        "timeframe_text": effort.timeframe_text,
        "state": c.state,
        "measures": [
            {"id": m["id"], "text": m["text"], "kind": m.get("kind", "count"), "target": m.get("target")}
            for m in measures
        ],
    }


def _revision_items(session: Session, agreement_id: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Commitment, EffortRow, AreaRow, PartyRow.name, UnitRow.name)
        .join(EffortRow, and_(EffortRow.agreement_id == Commitment.agreement_id, EffortRow.id == Commitment.effort_id))
        .join(AreaRow, and_(AreaRow.agreement_id == EffortRow.agreement_id, AreaRow.id == EffortRow.area_id))
        .join(PartyRow, and_(PartyRow.agreement_id == Commitment.agreement_id, PartyRow.id == Commitment.party))
        .outerjoin(UnitRow, and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible))
        .where(Commitment.agreement_id == agreement_id)
        .order_by(AreaRow.number, EffortRow.position, Commitment.party)
    ).all()
    latest: dict[str, FollowUp] = {}
    for followup in session.scalars(
        select(FollowUp)
        .join(Commitment, Commitment.id == FollowUp.commitment_id)
        .where(Commitment.agreement_id == agreement_id)
        .order_by(FollowUp.period, FollowUp.version)
    ):
        latest[followup.commitment_id] = followup
    items = []
    for c, effort, area, party_name, unit_name in rows:
        f = latest.get(c.id)
        # The values are stored by measure id; a person reads the measure's own words.
        said = {m["id"]: m["text"] for m in effort.measures}
        items.append(
            {
                "id": c.id,
                "effort_title": effort.title,
                "area_title": area.title,
                "party": c.party,
                "party_name": party_name,
                "unit_name": unit_name or c.responsible,
                "state": c.state,
                "latest": None
                if f is None
                else {
                    "period": f.period,
                    "comment": f.comment,
                    "values": {said.get(k, k): v for k, v in f.values.items()},
                },
            }
        )
    return items


def contexts(
    session: Session, rows: Sequence[OutboxRow], *, link: LinkMaker | None = None, now: datetime | None = None
) -> dict[int, dict[str, Any]]:
    """Template context per outbox row id; ``now`` is when it is sent (the weekly review is as of then)."""
    look = _load(session, rows)
    out: dict[int, dict[str, Any]] = {}
    # One dict per agreement and per commitment, shared by the batch's notices of it (templates
    # only read them): built per notice, they were a fifth of a grouped batch's planning
    # (bench/mail.py), as one address's mail holds the same agreement ten times and more.
    agreements: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    commitments: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    for r in rows:
        agreement = look.agreements[r.agreement_id]
        if (shared := agreements.get(r.agreement_id)) is None:
            owner_unit = look.units[(r.agreement_id, agreement.process_owner)]
            shared = agreements[r.agreement_id] = (
                _agreement(agreement),
                {"name": owner_unit.name, "email": owner_unit.email},
            )
        c = look.commitments.get(r.commitment_id or "")
        commitment: dict[str, Any] | None = None
        responsible: dict[str, Any] | None = None
        if c is not None:
            if (described := commitments.get(c.id)) is None:
                unit = look.units.get((c.agreement_id, c.responsible))
                described = commitments[c.id] = (
                    _commitment(look, c),
                    None if unit is None else {"name": unit.name, "email": unit.email},
                )
            commitment, responsible = described
        data = r.data
        context: dict[str, Any] = {
            "notice": {
                "kind": r.kind,
                "key": r.key,
                "period": r.period,
                "due": data.get("due"),
                "days_left": data.get("days_left"),
                "days_late": data.get("days_late"),
                "offset_days": data.get("offset_days"),
                "revision": data.get("revision"),
                "repeat": data.get("repeat"),
                "week": data.get("week"),
            },
            "agreement": shared[0],
            "commitment": commitment,
            "unit": responsible,
            "owner": shared[1],
            "followup_url": link(r) if link is not None and r.kind in ("reminder", "overdue", "escalation") else None,
            "change": None,
            "deviation": None,
            "revision_items": [],
            "failed": list(data.get("failed", [])),
            "items": [],
            "agreements": [],
            "recipient": {"email": ", ".join(r.recipients)},
            # The web's review of what is late, when the web's address is known (notifications.compose).
            "overdue_url": None,
            "accessibility_url": None,  # the web's /tillganglighet, when its address is known (compose)
            "inbox_url": None,
            "review": None,
            "invite": None,
        }
        if r.kind == "invite":
            context["invite"] = {
                "url": link(r) if link is not None else None,
                "name": data.get("name"),
                "role_sv": data.get("role_sv"),
                "scope": data.get("scope"),
                "by": data.get("by"),
                "new_user": bool(data.get("new_user", True)),
                "expires": r.send_at + INVITE_LIFETIME,
            }
        if r.kind == "weekly_summary":
            # As of sending: a summary sent late counts what is late when it is read.
            context["review"] = review(session, now or r.send_at, agreement_id=r.agreement_id).as_json()
        if r.kind == "deviation":
            context["deviation"] = {k: data[k] for k in ("measure", "text", "value", "target")}
        if r.kind == "revision_kickoff":
            context["revision_items"] = _revision_items(session, r.agreement_id)
        if "event" in data:
            event = look.events[int(data["event"])]
            party = look.parties.get((r.agreement_id, event.party))
            others = [p.name for (aid, pid), p in look.parties.items() if aid == r.agreement_id and pid != event.party]
            flagged = []
            for cid in event.commitments:
                fc = look.commitments.get(cid) or session.get(Commitment, cid)
                if fc is None:
                    continue
                fe = session.get(EffortRow, (fc.agreement_id, fc.effort_id))
                fp = look.parties.get((fc.agreement_id, fc.party))
                flagged.append(
                    {
                        "id": cid,
                        "effort_title": fe.title if fe else cid,
                        "party": fc.party,
                        "party_name": fp.name if fp else fc.party,
                    }
                )
            context["change"] = {
                "party": event.party,
                "party_name": party.name if party else event.party,
                "other_party_name": ", ".join(others),
                "text": event.text,
                "by": event.by,
                "recorded_at": event.recorded_at,
                "effective": event.effective.isoformat() if event.effective else None,
                "reason": event.text if event.kind == "termination" else None,
                "commitments": flagged,
            }
        out[r.id] = context
    return out
