"""The overdue review: what the process owner looks at, at a given ``now``.

Follow-ups past due (with the reminders, overdue notices and escalations already
sent), late revisions, notices that could not be delivered, recorded values below
target, and commitments flagged by a changed-conditions notice. Worst first within
each section; grouped by party and unit where that applies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from engine.models import (
    AgreementRow,
    Commitment,
    EffortRow,
    FollowUp,
    OutboxRow,
    PartyRow,
    Revision,
    UnitRow,
)
from engine.revisions import decisions
from rules import lifecycle
from rules.model import OutboxState


@dataclass(frozen=True, kw_only=True)
class LateFollowUp:
    commitment: str
    agreement: str
    party: str
    party_name: str
    unit: str
    unit_name: str
    unit_email: str
    effort: str
    period: int
    due: str
    days_late: int
    reminders_sent: int
    overdue_sent: int
    escalated: bool


@dataclass(frozen=True, kw_only=True)
class LateRevision:
    agreement: str
    agreement_title: str
    revision: int
    due: str
    days_late: int
    opened: bool
    decided: int
    undecided: int


@dataclass(frozen=True, kw_only=True)
class Undeliverable:
    key: str
    kind: str
    agreement: str
    commitment: str | None
    recipients: list[str]
    error: str
    attempts: int


@dataclass(frozen=True, kw_only=True)
class Deviation:
    commitment: str
    party: str
    party_name: str
    unit_name: str
    effort: str
    period: int
    measure: str
    text: str
    value: float
    target: float


@dataclass(frozen=True, kw_only=True)
class Flagged:
    commitment: str
    party: str
    party_name: str
    effort: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Review:
    now: datetime
    follow_ups: list[LateFollowUp] = field(default_factory=list)
    revisions: list[LateRevision] = field(default_factory=list)
    undeliverable: list[Undeliverable] = field(default_factory=list)
    deviations: list[Deviation] = field(default_factory=list)
    flagged: list[Flagged] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.follow_ups or self.revisions or self.undeliverable or self.deviations or self.flagged)

    def as_json(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "follow_ups": [asdict(x) for x in self.follow_ups],
            "revisions": [asdict(x) for x in self.revisions],
            "undeliverable": [asdict(x) for x in self.undeliverable],
            "deviations": [asdict(x) for x in self.deviations],
            "flagged": [asdict(x) for x in self.flagged],
        }


def review(session: Session, now: datetime, *, agreement_id: str | None = None) -> Review:
    out = Review(now=now)
    agreements = {
        a.id: a
        for a in session.scalars(
            select(AgreementRow).where(AgreementRow.id == agreement_id) if agreement_id else select(AgreementRow)
        )
    }
    if not agreements:
        return out
    ids = list(agreements)
    parties = {
        (p.agreement_id, p.id): p.name for p in session.scalars(select(PartyRow).where(PartyRow.agreement_id.in_(ids)))
    }

    def today(aid: str) -> date:
        return now.astimezone(ZoneInfo(agreements[aid].timezone)).date()

    # Follow-ups past due: pågående with a due date before today (indexed on state, next_due).
    earliest_today = min(today(a) for a in ids)
    late_rows = session.execute(
        select(Commitment, EffortRow.title, UnitRow)
        .join(EffortRow, and_(EffortRow.agreement_id == Commitment.agreement_id, EffortRow.id == Commitment.effort_id))
        .join(UnitRow, and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible))
        .where(
            Commitment.agreement_id.in_(ids),
            Commitment.state == lifecycle.PAGAENDE,
            Commitment.next_due < max(today(a) for a in ids),
        )
    ).all()
    sent: dict[tuple[str | None, int | None, str], int] = defaultdict(int)
    if late_rows:
        for cid, period, kind, n in session.execute(
            select(OutboxRow.commitment_id, OutboxRow.period, OutboxRow.kind, func.count())
            .where(
                OutboxRow.commitment_id.in_([c.id for c, _, _ in late_rows]),
                OutboxRow.state == OutboxState.SENT,
            )
            .group_by(OutboxRow.commitment_id, OutboxRow.period, OutboxRow.kind)
        ):
            sent[(cid, period, kind)] = n
    del earliest_today
    for c, effort_title, unit in late_rows:
        if c.next_due is None or c.next_due >= today(c.agreement_id):
            continue
        out.follow_ups.append(
            LateFollowUp(
                commitment=c.id,
                agreement=c.agreement_id,
                party=c.party,
                party_name=parties.get((c.agreement_id, c.party), c.party),
                unit=unit.id,
                unit_name=unit.name,
                unit_email=unit.email,
                effort=effort_title,
                period=c.period,
                due=c.next_due.isoformat(),
                days_late=(today(c.agreement_id) - c.next_due).days,
                reminders_sent=sent[(c.id, c.period, "reminder")],
                overdue_sent=sent[(c.id, c.period, "overdue")],
                escalated=sent[(c.id, c.period, "escalation")] > 0,
            )
        )
    out.follow_ups.sort(key=lambda x: (x.party, x.unit_name, -x.days_late, x.commitment))

    # Late revisions: the current cycle's due date has passed.
    for a in agreements.values():
        if a.terminates is not None and today(a.id) >= a.terminates:
            continue
        due = a.revision_due
        if due is None or today(a.id) <= due:
            continue
        rev = session.scalars(
            select(Revision).where(Revision.agreement_id == a.id, Revision.number == a.revision_number)
        ).first()
        active = (
            session.scalar(
                select(func.count())
                .select_from(Commitment)
                .where(Commitment.agreement_id == a.id, Commitment.state != lifecycle.AVSLUTAD)
            )
            or 0
        )
        decided = 0
        if rev is not None:
            decided = len(decisions(session, rev))
        out.revisions.append(
            LateRevision(
                agreement=a.id,
                agreement_title=a.title,
                revision=a.revision_number,
                due=due.isoformat(),
                days_late=(today(a.id) - due).days,
                opened=rev is not None,
                decided=decided,
                undecided=max(active - decided, 0),
            )
        )

    # Notices that could not be delivered.
    for o in session.scalars(
        select(OutboxRow)
        .where(OutboxRow.agreement_id.in_(ids), OutboxRow.state == OutboxState.FAILED)
        .order_by(OutboxRow.send_at)
    ):
        out.undeliverable.append(
            Undeliverable(
                key=o.key,
                kind=o.kind,
                agreement=o.agreement_id,
                commitment=o.commitment_id,
                recipients=list(o.recipients),
                error=o.last_error or "",
                attempts=o.attempts,
            )
        )

    # Values below target, from the latest version of each period's follow-up.
    latest: dict[tuple[str, int], FollowUp] = {}
    for f in session.scalars(
        select(FollowUp)
        .join(Commitment, Commitment.id == FollowUp.commitment_id)
        .where(Commitment.agreement_id.in_(ids))
        .order_by(FollowUp.commitment_id, FollowUp.period, FollowUp.version)
    ):
        latest[(f.commitment_id, f.period)] = f
    if latest:
        rows = session.execute(
            select(Commitment, EffortRow, UnitRow.name)
            .join(
                EffortRow, and_(EffortRow.agreement_id == Commitment.agreement_id, EffortRow.id == Commitment.effort_id)
            )
            .join(UnitRow, and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible))
            .where(Commitment.id.in_({cid for cid, _ in latest}))
        ).all()
        info = {c.id: (c, e, u) for c, e, u in rows}
        for (cid, period), f in sorted(latest.items()):
            c, effort, unit_name = info[cid]
            for m in effort.measures:
                target = m.get("target")
                value = f.values.get(m["id"])
                if target is None or not isinstance(value, int | float) or value >= target:
                    continue
                out.deviations.append(
                    Deviation(
                        commitment=cid,
                        party=c.party,
                        party_name=parties.get((c.agreement_id, c.party), c.party),
                        unit_name=unit_name,
                        effort=effort.title,
                        period=period,
                        measure=m["id"],
                        text=m["text"],
                        value=value,
                        target=target,
                    )
                )
    out.deviations.sort(key=lambda d: (-d.period, d.value / d.target if d.target else 0, d.commitment))

    for c, effort_title in session.execute(
        select(Commitment, EffortRow.title)
        .join(EffortRow, and_(EffortRow.agreement_id == Commitment.agreement_id, EffortRow.id == Commitment.effort_id))
        .where(Commitment.agreement_id.in_(ids), Commitment.revision_flag.is_not(None))
        .order_by(Commitment.id)
    ):
        out.flagged.append(
            Flagged(
                commitment=c.id,
                party=c.party,
                party_name=parties.get((c.agreement_id, c.party), c.party),
                effort=effort_title,
                reason=c.revision_flag or "",
            )
        )
    return out
