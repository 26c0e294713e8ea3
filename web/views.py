"""What the pages show, read from the database into plain values (no web framework here)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from engine.models import (
    AgreementRow,
    AreaRow,
    Commitment,
    EffortRow,
    FollowUp,
    OutboxRow,
    PartyEvent,
    PartyRow,
    TransitionRecord,
    UnitRow,
)
from engine.users import Person
from notifications.states import STATE_CLASS
from rules import lifecycle, texts


def today_in(agreement: AgreementRow, now: datetime) -> date:
    return now.astimezone(ZoneInfo(agreement.timezone)).date()


def measures_of(effort: EffortRow, party: str) -> list[dict[str, Any]]:
    """The commitment's measures (the same selection engine.service makes)."""
    return [
        {"id": m["id"], "text": m["text"], "kind": m.get("kind", "count"), "target": m.get("target")}
        for m in effort.measures
        if not m.get("parties") or party in m["parties"]
    ]


# -- the dashboard ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CommitmentLine:
    id: str
    party: str
    party_name: str
    responsible_name: str
    state: str
    css: str
    period: int
    next_due: date | None
    days_left: int | None  # negative: late

    @property
    def late(self) -> bool:
        return self.state == lifecycle.PAGAENDE and self.days_left is not None and self.days_left < 0


@dataclass(kw_only=True)
class EffortBlock:
    id: str
    title: str
    timeframe: str
    commitments: list[CommitmentLine] = field(default_factory=list)


@dataclass(kw_only=True)
class AreaBlock:
    number: int
    title: str
    efforts: list[EffortBlock] = field(default_factory=list)


@dataclass(kw_only=True)
class AgreementBlock:
    id: str
    title: str
    signed: date
    terminates: date | None
    areas: list[AreaBlock] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    late: int = 0


def dashboard(session: Session, who: Person, now: datetime) -> list[AgreementBlock]:
    """Every agreement's areas → insatser → commitments the person may see, in plan order."""
    agreements = {a.id: a for a in session.scalars(select(AgreementRow).order_by(AgreementRow.id))}
    parties = {(p.agreement_id, p.id): p.name for p in session.scalars(select(PartyRow))}
    stmt = (
        select(Commitment, EffortRow, AreaRow, UnitRow.name)
        .join(EffortRow, and_(EffortRow.agreement_id == Commitment.agreement_id, EffortRow.id == Commitment.effort_id))
        .join(AreaRow, and_(AreaRow.agreement_id == EffortRow.agreement_id, AreaRow.id == EffortRow.area_id))
        .join(UnitRow, and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible))
        .order_by(Commitment.agreement_id, AreaRow.number, EffortRow.position, Commitment.party)
    )
    if who.role == "unit":
        stmt = stmt.where(Commitment.responsible == who.unit)
    blocks: dict[str, AgreementBlock] = {}
    for c, effort, area, unit_name in session.execute(stmt):
        a = agreements[c.agreement_id]
        block = blocks.get(a.id)
        if block is None:
            block = blocks[a.id] = AgreementBlock(id=a.id, title=a.title, signed=a.signed, terminates=a.terminates)
        if not block.areas or block.areas[-1].number != area.number:
            block.areas.append(AreaBlock(number=area.number, title=area.title))
        efforts = block.areas[-1].efforts
        if not efforts or efforts[-1].id != effort.id:
            efforts.append(EffortBlock(id=effort.id, title=effort.title, timeframe=effort.timeframe_text))
        today = today_in(a, now)
        line = CommitmentLine(
            id=c.id,
            party=c.party,
            party_name=texts.party_label(c.party, parties.get((c.agreement_id, c.party), c.party)),
            responsible_name=unit_name,
            state=c.state,
            css=STATE_CLASS[c.state],
            period=c.period,
            next_due=c.next_due,
            days_left=(c.next_due - today).days if c.next_due is not None else None,
        )
        efforts[-1].commitments.append(line)
        block.counts[c.state] = block.counts.get(c.state, 0) + 1
        block.late += line.late
    order: dict[str, int] = {s: i for i, s in enumerate(lifecycle.STATES)}
    for block in blocks.values():
        block.counts = dict(sorted(block.counts.items(), key=lambda kv: order[kv[0]]))
    return list(blocks.values())


# -- one commitment --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ShownValue:
    text: str
    value: Any
    target: float | None
    below: bool


@dataclass(frozen=True, kw_only=True)
class PeriodFollowUp:
    period: int
    version: int
    values: list[ShownValue]
    comment: str
    by: str
    recorded_at: datetime
    hours: float | None
    earlier: list[FollowUp]


@dataclass(frozen=True, kw_only=True)
class CommitmentPage:
    c: Commitment
    agreement: AgreementRow
    effort: EffortRow
    area: AreaRow
    party_name: str
    unit: UnitRow
    co_responsible: list[str]
    css: str
    measures: list[dict[str, Any]]
    follow_ups: list[PeriodFollowUp]
    history: list[TransitionRecord]
    notices: list[OutboxRow]
    days_left: int | None
    recordable: bool  # the current period has ended and is not followed up yet


def commitment_page(session: Session, c: Commitment, now: datetime) -> CommitmentPage:
    agreement = session.get(AgreementRow, c.agreement_id)
    effort = session.get(EffortRow, (c.agreement_id, c.effort_id))
    assert agreement is not None and effort is not None
    area = session.get(AreaRow, (c.agreement_id, effort.area_id))
    unit = session.get(UnitRow, (c.agreement_id, c.responsible))
    party = session.get(PartyRow, (c.agreement_id, c.party))
    assert area is not None and unit is not None
    co = []
    for uid in c.co_responsible or []:
        u = session.get(UnitRow, (c.agreement_id, uid))
        co.append(u.name if u is not None else str(uid))
    measures = measures_of(effort, c.party)
    texts = {m["id"]: m for m in measures}
    by_period: dict[int, list[FollowUp]] = defaultdict(list)
    for f in session.scalars(
        select(FollowUp).where(FollowUp.commitment_id == c.id).order_by(FollowUp.period.desc(), FollowUp.version)
    ):
        by_period[f.period].append(f)
    follow_ups = []
    for period, versions in by_period.items():
        latest = versions[-1]
        shown = []
        for mid, value in latest.values.items():
            m = texts.get(mid, {"text": mid, "target": None})
            target = m.get("target")
            below = target is not None and isinstance(value, int | float) and value < target
            shown.append(ShownValue(text=m["text"], value=value, target=target, below=below))
        follow_ups.append(
            PeriodFollowUp(
                period=period,
                version=latest.version,
                values=shown,
                comment=latest.comment,
                by=latest.by,
                recorded_at=latest.recorded_at,
                hours=latest.hours,
                earlier=versions[:-1],
            )
        )
    history = list(
        session.scalars(
            select(TransitionRecord).where(TransitionRecord.commitment_id == c.id).order_by(TransitionRecord.id)
        )
    )
    notices = list(
        session.scalars(
            select(OutboxRow).where(OutboxRow.commitment_id == c.id).order_by(OutboxRow.send_at, OutboxRow.id)
        )
    )
    today = today_in(agreement, now)
    return CommitmentPage(
        c=c,
        agreement=agreement,
        effort=effort,
        area=area,
        party_name=party.name if party is not None else c.party,
        unit=unit,
        co_responsible=co,
        css=STATE_CLASS[c.state],
        measures=measures,
        follow_ups=follow_ups,
        history=history,
        notices=notices,
        days_left=(c.next_due - today).days if c.next_due is not None else None,
        recordable=c.state == lifecycle.PAGAENDE and today.year > c.period and c.period not in by_period,
    )


# -- the follow-up form ----------------------------------------------------------------------


@dataclass(kw_only=True)
class FormField:
    name: str
    label: str
    kind: str  # count | text
    target: float | None = None
    value: str = ""
    error: str | None = None


@dataclass(kw_only=True)
class FollowUpForm:
    measures: list[FormField]
    comment: str = ""
    hours: str = ""
    name: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None  # an error that belongs to no single field

    @property
    def invalid(self) -> bool:
        return bool(self.errors or self.message or any(m.error for m in self.measures))


def empty_form(measures: list[dict[str, Any]]) -> FollowUpForm:
    return FollowUpForm(
        measures=[FormField(name=f"m_{m['id']}", label=m["text"], kind=m["kind"], target=m["target"]) for m in measures]
    )


def read_form(
    measures: list[dict[str, Any]], data: dict[str, str], *, ask_name: bool
) -> tuple[FollowUpForm, dict[str, str], float | None]:
    """The form as posted, each field checked; the values for record_follow_up and the hours."""
    form = empty_form(measures)
    values: dict[str, str] = {}
    for f, m in zip(form.measures, measures, strict=True):
        f.value = data.get(f.name, "").strip()
        if f.kind == "count":
            if not f.value:
                f.error = "Ange ett antal (0 om inget har gjorts)."
            elif not f.value.isdigit():
                f.error = "Ange ett heltal, 0 eller större."
        elif not f.value:
            f.error = "Fyll i det här fältet."
        values[m["id"]] = f.value
    form.comment = data.get("kommentar", "").strip()
    if not form.comment:
        form.errors["kommentar"] = "Skriv en kort kommentar om hur arbetet har gått."
    form.hours = data.get("timmar", "").strip()
    hours = None
    if form.hours:
        try:
            hours = float(form.hours.replace(",", ".").replace(" ", ""))
        except ValueError:
            hours = -1.0
        if hours < 0 or hours != hours or hours == float("inf"):
            form.errors["timmar"] = "Ange timmar som ett tal, 0 eller större (t.ex. 12,5), eller lämna tomt."
            hours = None
    if ask_name:
        form.name = data.get("namn", "").strip()
        if not form.name:
            form.errors["namn"] = "Skriv ditt namn, så att det syns vem som rapporterade."
        elif len(form.name) > 200:
            form.errors["namn"] = "Namnet får vara högst 200 tecken."
    return form, values, hours


def party_events(session: Session, agreement_id: str) -> list[PartyEvent]:
    return list(
        session.scalars(
            select(PartyEvent).where(PartyEvent.agreement_id == agreement_id).order_by(PartyEvent.id.desc())
        )
    )
