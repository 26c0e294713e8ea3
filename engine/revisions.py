"""The revision cycle: open, decide per commitment, complete with the revised plan.

* **open** — by the kick-off rule or ``samverkan revision start``: a ``revisions`` row
  for the agreement's current revision number (once; a second open is a no-op).
* **decide** — the process owner records keep, change or remove for a commitment;
  a running or followed-up commitment moves to ``reviderad``.
* **complete** — with the revised agreement file: refused while any active
  commitment is undecided (they are listed), or when the file contradicts a decision;
  otherwise the file is loaded as the next plan version (new commitments start
  ``planerad``), removed commitments end, kept and changed ones are reinstated
  (``pågående``, or ``planerad`` if their new timeframe has not begun), flags from
  changed-conditions notices are cleared, and the next revision is the first whose
  deadline (counted from the signing date, capped by a fixed term: rules.revision) is
  still to come; none when the term has no revision left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.agreement import Agreement
from engine.models import (
    AgreementRow,
    Commitment,
    PartyRow,
    PlanVersion,
    Revision,
    RevisionDecision,
    UnitRow,
)
from engine.outbox import queue_in
from engine.plan import commitment_id, describe_changes, load_plan
from engine.service import agreement_for, apply_transition, complete_revision, require_text, resolve_commitment
from rules import lifecycle, texts
from rules.errors import InvalidValue, NotFound, SamverkanError
from rules.model import QueueNotice

DECISIONS: Final = ("keep", "change", "remove")


def open_revision(session: Session, *, by: str, now: datetime, agreement_id: str | None = None) -> Revision:
    """Open the agreement's current revision (idempotent) and queue its kick-off notice."""
    agreement = agreement_for(session, agreement_id)
    found = current_revision(session, agreement.id)
    if found is not None:
        return found
    if agreement.terminates is not None:
        raise InvalidValue("revision", f"överenskommelsen är uppsagd från {texts.datum(agreement.terminates)}")
    if agreement.revision_due is None:
        until = texts.datum(agreement.valid_to) if agreement.valid_to is not None else "–"
        raise InvalidValue(
            "revision",
            f"ingen revidering återstår: överenskommelsen gäller till {until}; "
            "en förnyad överenskommelse läses in med 'samverkan init'",
        )
    revision = Revision(
        agreement_id=agreement.id,
        number=agreement.revision_number,
        due=agreement.revision_due,
        opened_at=now,
        opened_by=by,
        plan_version_before=agreement.plan_version,
    )
    session.add(revision)
    session.flush()
    parties = session.scalars(
        select(UnitRow.email)
        .join(PartyRow, (PartyRow.agreement_id == UnitRow.agreement_id) & (PartyRow.contact_unit == UnitRow.id))
        .where(UnitRow.agreement_id == agreement.id)
        .order_by(PartyRow.id)
    ).all()
    owner = session.get(UnitRow, (agreement.id, agreement.process_owner))
    assert owner is not None
    # The same key as the rule's kick-off: opened by hand before the rule, it is sent once.
    queue_in(
        session,
        [
            QueueNotice(
                key=f"revision_kickoff:{agreement.id}:{agreement.revision_number}",
                kind="revision_kickoff",
                recipients=tuple(dict.fromkeys([*parties, owner.email])),
                send_at=now,
                agreement=agreement.id,
                data={
                    "revision": agreement.revision_number,
                    "due": agreement.revision_due.isoformat(),
                },
            )
        ],
        now,
    )
    return revision


def current_revision(session: Session, agreement_id: str) -> Revision | None:
    return session.scalars(
        select(Revision)
        .where(Revision.agreement_id == agreement_id, Revision.completed_at.is_(None))
        .order_by(Revision.number.desc())
        .limit(1)
    ).first()


def _require_open(session: Session, agreement_id: str) -> Revision:
    revision = current_revision(session, agreement_id)
    if revision is None:
        raise InvalidValue("revision", "ingen revidering pågår; starta med 'samverkan revision start'")
    return revision


def decisions(session: Session, revision: Revision) -> dict[str, RevisionDecision]:
    """The latest decision per commitment."""
    latest: dict[str, RevisionDecision] = {}
    for d in session.scalars(
        select(RevisionDecision).where(RevisionDecision.revision_id == revision.id).order_by(RevisionDecision.id)
    ):
        latest[d.commitment_id] = d
    return latest


def decide(session: Session, key: str, decision: str, *, text: str, by: str, now: datetime) -> RevisionDecision:
    if decision not in DECISIONS:
        raise InvalidValue("decision", f"'{decision}' (giltiga: keep, change, remove)")
    text = require_text("text", text)
    by = require_text("by", by)
    c = resolve_commitment(session, key, lock=True)
    if c.state == lifecycle.AVSLUTAD:
        raise InvalidValue("commitment", f"{c.id} är avslutat")
    revision = _require_open(session, c.agreement_id)
    if c.state in (lifecycle.PAGAENDE, lifecycle.UPPFOLJD):
        why = f"revidering {revision.number}: {texts.DECISION_NAMES[decision]} – {text}"
        apply_transition(session, c, "revise", by=by, now=now, why=why)
    record = RevisionDecision(
        revision_id=revision.id, commitment_id=c.id, decision=decision, text=text, by=by, decided_at=now
    )
    session.add(record)
    session.flush()
    return record


class DecisionsInvalid(InvalidValue):
    """Rows of the decision form that cannot be recorded, each under its commitment."""

    def __init__(self, problems: dict[str, SamverkanError]) -> None:
        self.problems = problems
        super().__init__("decisions", "; ".join(f"{cid}: {p}" for cid, p in problems.items()))


def decide_all(
    session: Session, agreement_id: str, rows: list[tuple[str, str, str]], *, by: str, now: datetime
) -> list[RevisionDecision]:
    """Every (commitment, decision, text) row of the one form at once; one bad row refuses them all.

    A row with neither a decision nor a text is left undecided; a row that repeats the
    latest decision is not recorded again.
    """
    revision = _require_open(session, agreement_id)
    latest = decisions(session, revision)
    problems: dict[str, SamverkanError] = {}
    todo: list[tuple[str, str, str]] = []
    for key, given, text in rows:
        decision, text = given.strip().lower(), text.strip()
        if not decision and not text:
            continue
        try:
            if decision not in DECISIONS:
                raise InvalidValue("decision", "välj behålls, ändras eller tas bort")
            if not text:
                raise InvalidValue("text", "skriv en motivering")
            c = resolve_commitment(session, key)
            if c.agreement_id != agreement_id or c.state == lifecycle.AVSLUTAD:
                raise InvalidValue("commitment", f"{c.id} är inte ett aktivt åtagande i revideringen")
        except SamverkanError as exc:
            problems[key] = exc
            continue
        d = latest.get(c.id)
        if d is None or (d.decision, d.text) != (decision, text):
            todo.append((c.id, decision, text))
    if problems:
        raise DecisionsInvalid(problems)
    return [decide(session, cid, decision, text=text, by=by, now=now) for cid, decision, text in todo]


@dataclass(frozen=True, kw_only=True)
class Completed:
    revision: int
    plan_version: int
    changes: list[str]
    reinstated: list[str]
    ended: list[str]
    added: list[str]
    # The next revision's deadline; None when the term has no revision left.
    next_due: date | None


def complete(session: Session, new: Agreement, *, by: str, now: datetime) -> Completed:
    by = require_text("by", by)
    agreement = session.get(AgreementRow, new.id, with_for_update=True)
    if agreement is None:
        raise NotFound("överenskommelse", new.id, "filens agreement.id måste vara den reviderade överenskommelsens")
    revision = _require_open(session, agreement.id)
    decided = decisions(session, revision)
    active = list(
        session.scalars(
            select(Commitment)
            .where(Commitment.agreement_id == agreement.id, Commitment.state != lifecycle.AVSLUTAD)
            .order_by(Commitment.id)
        )
    )
    undecided = [c.id for c in active if c.id not in decided]
    if undecided:
        raise InvalidValue("revision", f"{len(undecided)} åtaganden saknar beslut: {', '.join(undecided)}")
    in_file = {commitment_id(new.id, e.id, p) for _, e, p, _ in new.commitments()}
    conflicts = [
        f"{cid} ska tas bort men finns kvar i filen"
        for cid, d in decided.items()
        if d.decision == "remove" and cid in in_file
    ] + [
        f"{cid} ska {texts.DECISION_NAMES[d.decision]} men saknas i filen"
        for cid, d in decided.items()
        if d.decision != "remove" and cid not in in_file
    ]
    if conflicts:
        raise InvalidValue("config", "; ".join(sorted(conflicts)))

    before = set(session.scalars(select(Commitment.id).where(Commitment.agreement_id == agreement.id)))
    result = load_plan(session, new, now=now, by=f"revidering {revision.number}: {by}")
    ended, reinstated = [], []
    for cid, d in sorted(decided.items()):
        c = session.get(Commitment, cid)
        assert c is not None
        if d.decision == "remove":
            if c.state != lifecycle.AVSLUTAD:
                apply_transition(session, c, "end", by=by, now=now, why=f"borttaget i revidering {revision.number}")
            ended.append(cid)
        else:
            if c.state == lifecycle.REVIDERAD:
                why = f"reviderad plan antagen (revidering {revision.number})"
                apply_transition(session, c, "reinstate", by=by, now=now, why=why)
            c.revision_flag = None
            reinstated.append(cid)
    # New in this version, or back in it after an earlier version removed them.
    added = sorted(set(result.added) | set(result.restored) | (in_file - before - set(decided)))
    number = revision.number
    # The next revision is scheduled, and this one's queued kick-off and late notices are withdrawn.
    complete_revision(session, agreement.id, now=now, number=number)
    return Completed(
        revision=number,
        plan_version=result.plan_version,
        changes=result.changes,
        reinstated=reinstated,
        ended=ended,
        added=added,
        next_due=agreement.revision_due,
    )


def plan_diff(session: Session, v1: int, v2: int, *, agreement_id: str | None = None) -> list[str]:
    agreement = agreement_for(session, agreement_id)
    docs = {}
    for v in (v1, v2):
        row = session.get(PlanVersion, (agreement.id, v))
        if row is None:
            known = sorted(session.scalars(select(PlanVersion.version).where(PlanVersion.agreement_id == agreement.id)))
            raise InvalidValue("version", f"planversion {v} finns inte (finns: {', '.join(map(str, known))})")
        docs[v] = row.document
    return describe_changes(docs[v1], docs[v2])
