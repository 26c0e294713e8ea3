"""Loading an agreement file into the database: first load, re-load, and what changed.

``load_plan`` is idempotent: the validated file is hashed, and the same file again
writes nothing. An edited file becomes the next plan version: rows are updated in
place, new commitments start ``planerad``, commitments no longer in the file are
ended (through the lifecycle, so the history says so), and the list of changes is
returned in Swedish for the person who ran ``samverkan init``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.agreement import Agreement, Effort
from engine.deadlines import extended_dues, stored_due
from engine.models import (
    AgreementRow,
    AreaRow,
    Commitment,
    EffortRow,
    FollowUp,
    PartyRow,
    PlanVersion,
    UnitRow,
)
from engine.service import apply_transition, record_move
from rules import lifecycle
from rules.calendar import SwedishCalendar
from rules.revision import following

LOADED_BY = "samverkan init"


@dataclass(frozen=True, kw_only=True)
class LoadResult:
    agreement_id: str
    plan_version: int
    created: bool
    changes: list[str]
    # Commitments new in this version, and ended ones the version brought back (restored).
    added: list[str] = dc_field(default_factory=list)
    restored: list[str] = dc_field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.created or bool(self.changes)


def document_of(agreement: Agreement) -> dict[str, Any]:
    return agreement.model_dump(mode="json")


def config_hash(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def commitment_id(agreement_id: str, effort_id: str, party: str) -> str:
    return f"{agreement_id}.{effort_id}.{party}"


def effort_start(agreement: Agreement, effort: Effort) -> date:
    return effort.timeframe.start or agreement.agreement.starts


def first_period(
    agreement: Agreement, effort: Effort, today: date, calendar: SwedishCalendar, *, added: bool = False
) -> int:
    """The first period the engine follows up for a commitment loaded ``today``.

    The year the timeframe starts (or ``first_period`` if later) — but never a period
    whose follow-up was already due before the plan was loaded: the engine takes over
    from today, and earlier periods were followed up before it. A commitment ``added``
    to an agreement already in the database (a later plan version, or one brought back)
    is never asked for a period that ended before it was adopted: it starts with the
    year it is adopted in at the earliest.
    """
    start = effort_start(agreement, effort).year
    configured = agreement.schedule.follow_up.first_period
    period = max(start, configured) if configured is not None else start
    if added:
        period = max(period, today.year)
    while follow_up_due(agreement, period, calendar) < today:
        period += 1
    return period


def last_period(agreement: Agreement, effort: Effort) -> int | None:
    ends = [d.year for d in (effort.timeframe.end, agreement.agreement.valid_to) if d is not None]
    return min(ends) if ends else None


def first_revision_due(
    agreement: Agreement, today: date, calendar: SwedishCalendar, *, after: int = 0
) -> tuple[int, date | None]:
    """The number and deadline of the first revision after ``after`` not yet due ``today``.

    The deadline is None when the agreement's term has no revision left.
    """
    head, every = agreement.agreement, agreement.schedule.revision.every_years
    return following(head.signed, every, head.valid_to, after, today, calendar, inclusive=True)


def _revision_rhythm(document: dict[str, Any]) -> tuple[Any, Any, Any]:
    head = document.get("agreement", {})
    return head.get("signed"), head.get("valid_to"), document.get("schedule", {}).get("revision", {}).get("every_years")


def follow_up_due(agreement: Agreement, period: int, calendar: SwedishCalendar) -> date:
    return calendar.follow_up_due(period, agreement.schedule.follow_up.due)


def load_plan(
    session: Session,
    agreement: Agreement,
    *,
    now: datetime,
    calendar: SwedishCalendar | None = None,
    by: str = LOADED_BY,
) -> LoadResult:
    """Create or update ``agreement`` in the database; the caller owns the transaction."""
    calendar = calendar or SwedishCalendar()
    document = document_of(agreement)
    digest = config_hash(document)
    head = agreement.agreement
    row = session.get(AgreementRow, head.id, with_for_update=True)
    if row is not None and row.config_hash == digest:
        return LoadResult(agreement_id=head.id, plan_version=row.plan_version, created=False, changes=[])

    created = row is None
    today = now.astimezone(agreement.zone).date()
    old: dict[str, Any] = {} if row is None else row.document
    changes = [] if created else describe_changes(old, document)
    version = 1 if row is None else row.plan_version + 1
    if row is None:
        row = AgreementRow(id=head.id)
        row.revision_number, row.revision_due = first_revision_due(agreement, today, calendar)
        row.terminates = None
        session.add(row)
    elif _revision_rhythm(old) != _revision_rhythm(document):
        # A new signing date, term or rhythm: the revisions still to come follow the new ones.
        row.revision_number, row.revision_due = first_revision_due(
            agreement, today, calendar, after=row.revision_number - 1
        )
    row.title = head.title
    row.signed = head.signed
    row.valid_from = head.starts
    row.valid_to = head.valid_to
    row.timezone = head.timezone
    row.process_owner = head.process_owner
    row.plan_version = version
    row.config_hash = digest
    row.document = document
    row.loaded_at = now
    row.schedule = document["schedule"]
    row.next_check = now  # a changed plan is looked at by the next tick
    session.flush()

    _replace(
        session,
        PartyRow,
        head.id,
        [PartyRow(agreement_id=head.id, id=p.id, name=p.name, contact_unit=p.contact) for p in agreement.parties],
    )
    _replace(
        session,
        UnitRow,
        head.id,
        [
            UnitRow(
                agreement_id=head.id,
                id=u.id,
                name=u.name,
                party=u.party,
                email=str(u.email),
                contact_name=u.contact_name,
            )
            for u in agreement.units
        ],
    )
    _replace(
        session,
        AreaRow,
        head.id,
        [AreaRow(agreement_id=head.id, id=a.id, number=a.number, title=a.title) for a in agreement.areas],
    )
    # Efforts stay when removed from the file: their ended commitments still point at them.
    for position, (area, effort) in enumerate(agreement.efforts()):
        erow = session.get(EffortRow, (head.id, effort.id)) or EffortRow(agreement_id=head.id, id=effort.id)
        erow.area_id = area.id
        erow.position = position
        erow.title = effort.title
        erow.timeframe_text = effort.timeframe.text
        erow.starts = effort_start(agreement, effort)
        erow.ends = effort.timeframe.end
        erow.measures = [m.model_dump(mode="json") for m in effort.measures]
        session.add(erow)
    session.flush()

    existing = {c.id: c for c in session.scalars(select(Commitment).where(Commitment.agreement_id == head.id))}
    extended = extended_dues(session.connection(), existing)
    before = _end_inputs(old)
    after = _end_inputs(document)
    wanted: set[str] = set()
    added: list[str] = []
    restored: list[str] = []
    for _area, effort, party, spec in agreement.commitments():
        cid = commitment_id(head.id, effort.id, party)
        wanted.add(cid)
        c = existing.get(cid)
        last = last_period(agreement, effort)
        if c is None:
            period = first_period(agreement, effort, today, calendar, added=not created)
            c = Commitment(
                id=cid,
                agreement_id=head.id,
                effort_id=effort.id,
                party=party,
                state=lifecycle.PLANERAD,
                state_since=now,
                period=period,
            )
            session.add(c)
            if not created:
                added.append(cid)
                changes.append(f"nytt åtagande {cid} (planerat)")
        elif (
            c.state == lifecycle.AVSLUTAD
            and row.terminates is None
            and before.get((effort.id, party)) != after.get((effort.id, party))
        ):
            # Back in the plan, or its end moved: live again if a period is left to follow up —
            # never one it already reported (with an early due date that can be this year's).
            reported = session.scalar(select(func.max(FollowUp.period)).where(FollowUp.commitment_id == cid))
            period = first_period(agreement, effort, today, calendar, added=True)
            if reported is not None:
                period = max(period, reported + 1)
            if last is None or period <= last:
                moved = lifecycle.move(
                    cid,
                    c.state,
                    c.period,
                    "restore",
                    at=now,
                    due_md=agreement.schedule.follow_up.due,
                    calendar=calendar,
                    restored_period=period,
                )
                record_move(session, c, moved, at=now, by=by, why=f"åter i planen (planversion {version})")
                restored.append(cid)
                changes.append(f"nytt åtagande {cid} (åter i planen, planerat)")
        c.text = spec.text
        c.responsible = spec.responsible
        c.co_responsible = list(spec.co_responsible)
        if c.state != lifecycle.AVSLUTAD:
            c.next_due = stored_due(extended, c.id, c.period, follow_up_due(agreement, c.period, calendar))
            c.next_check = now
        session.flush()
        if c.state == lifecycle.PLANERAD and last is not None and c.period > last:
            # Its timeframe ended, and its last follow-up fell due, before the plan was loaded.
            apply_transition(
                session,
                c,
                "end",
                by=by,
                now=now,
                why=f"tidsplanen ({effort.timeframe.text}) var slut före inläsningen",
            )
    session.flush()

    for cid in sorted(set(existing) - wanted):
        c = existing[cid]
        if c.state != lifecycle.AVSLUTAD:
            apply_transition(
                session,
                c,
                "end",
                by=by,
                now=now,
                why=f"borttaget ur överenskommelsefilen (planversion {version})",
            )
            changes.append(f"åtagande {cid} finns inte längre i filen: avslutat")

    session.add(
        PlanVersion(
            agreement_id=head.id,
            version=version,
            loaded_at=now,
            config_hash=digest,
            document=document,
            changes=changes,
            loaded_by=by,
        )
    )
    session.flush()
    return LoadResult(
        agreement_id=head.id,
        plan_version=version,
        created=created,
        changes=changes,
        added=added,
        restored=restored,
    )


def _end_inputs(document: dict[str, Any]) -> dict[tuple[str, str], tuple[Any, Any]]:
    """Per (effort, party) in a plan document: what decides when it ends (its timeframe, the term)."""
    valid_to = document.get("agreement", {}).get("valid_to")
    return {
        (e["id"], party): (e.get("timeframe", {}).get("end"), valid_to)
        for area in document.get("areas", [])
        for e in area.get("efforts", [])
        for party in e.get("commitments", {})
    }


def _replace(session: Session, model: Any, agreement_id: str, rows: list[Any]) -> None:
    keep = {r.id for r in rows}
    for old in session.scalars(select(model).where(model.agreement_id == agreement_id)):
        if old.id not in keep:
            session.delete(old)
    session.flush()
    for r in rows:
        session.merge(r)


def describe_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two plan documents, as lines a process owner reads."""
    out: list[str] = []

    def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {i["id"]: i for i in items}

    for key, label in (("agreement", "överenskommelsen"), ("schedule", "schemat")):
        for field in sorted(set(old.get(key, {})) | set(new.get(key, {}))):
            a, b = old.get(key, {}).get(field), new.get(key, {}).get(field)
            if a != b:
                out.append(f"{label}: {field} ändrat från {_short(a)} till {_short(b)}")
    for key, label in (("parties", "part"), ("units", "enhet"), ("areas", "samverkansområde")):
        a, b = by_id(old.get(key, [])), by_id(new.get(key, []))
        out += [f"ny {label} {i}" for i in sorted(set(b) - set(a))]
        out += [f"{label} {i} borttagen" for i in sorted(set(a) - set(b))]
        for i in sorted(set(a) & set(b)):
            fields = [f for f in sorted(set(a[i]) | set(b[i])) if f != "efforts" and a[i].get(f) != b[i].get(f)]
            if fields:
                out.append(f"{label} {i}: {', '.join(fields)} ändrat")

    def efforts(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {e["id"]: e for area in doc.get("areas", []) for e in area["efforts"]}

    a_eff, b_eff = efforts(old), efforts(new)
    out += [f"ny insats {i}" for i in sorted(set(b_eff) - set(a_eff))]
    out += [f"insats {i} borttagen" for i in sorted(set(a_eff) - set(b_eff))]
    agreement_id = new["agreement"]["id"]
    for i in sorted(set(a_eff) & set(b_eff)):
        ea, eb = a_eff[i], b_eff[i]
        for field, label in (("title", "rubrik"), ("timeframe", "tidsplan"), ("measures", "aktivitetsmått")):
            if ea.get(field) != eb.get(field):
                out.append(f"insats {i}: {label} ändrad")
        for party in sorted(set(ea["commitments"]) & set(eb["commitments"])):
            ca, cb = ea["commitments"][party], eb["commitments"][party]
            cid = commitment_id(agreement_id, i, party)
            if ca["text"] != cb["text"]:
                out.append(f"åtagande {cid}: texten ändrad")
            if ca["responsible"] != cb["responsible"]:
                out.append(f"åtagande {cid}: ansvarig ändrad från {ca['responsible']} till {cb['responsible']}")
            if ca.get("co_responsible") != cb.get("co_responsible"):
                out.append(f"åtagande {cid}: medansvariga ändrade")
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."
