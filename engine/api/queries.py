"""The one door's read models: what the CLI prints, each read in one transaction of its own.

Each function opens its transaction on ``db``, asks the engine function that holds the
decision (engine.service, engine.revisions, engine.review, engine.report) and returns
frozen keyword-only values; no ORM row or session leaves this module. An instant
that belongs to an agreement comes back in that agreement's time zone, so an edge
prints it as it is and never picks a zone of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import agreement_yaml, db, revisions, service
from engine.api.values import Move, move_of
from engine.db import Database, as_utc
from engine.models import AgreementRow, Commitment, EffortRow, OutboxRow, PartyRow, PlanVersion, Revision, User
from engine.report import Report, build_report
from engine.review import Review, review
from engine.service import StatusRow
from rules import lifecycle
from rules.errors import SamverkanError
from rules.model import OutboxState
from rules.texts import DEFAULT_ZONE

# How many ids one IN (...) carries: well below SQLite's limit on bound parameters.
CHUNK = 500


@dataclass(frozen=True, kw_only=True)
class Zones:
    """Each agreement's time zone, and the agreement of each commitment asked about."""

    agreements: dict[str, ZoneInfo]
    commitments: dict[str, str]

    @property
    def common(self) -> ZoneInfo:
        """The zone every agreement shares (Borås: Europe/Stockholm), else the file format's default."""
        found = set(self.agreements.values())
        return found.pop() if len(found) == 1 else DEFAULT_ZONE

    def of_agreement(self, agreement: str | None) -> ZoneInfo:
        return self.agreements.get(agreement, self.common) if agreement is not None else self.common

    def of_commitment(self, commitment: str | None) -> ZoneInfo:
        return self.of_agreement(self.commitments.get(commitment or ""))


@dataclass(frozen=True, kw_only=True)
class History:
    commitment: str
    state: str
    moves: tuple[Move, ...]


@dataclass(frozen=True, kw_only=True)
class Notice:
    """One outbox row as ``samverkan outbox`` shows it; instants in its agreement's zone."""

    key: str
    kind: str
    state: str
    recipients: tuple[str, ...]
    send_at: datetime
    attempts: int
    sent_at: datetime | None
    message_id: str | None
    last_error: str | None
    commitment: str | None
    agreement: str


@dataclass(frozen=True, kw_only=True)
class Decision:
    decision: str  # keep | change | remove
    text: str
    by: str
    decided_at: datetime


@dataclass(frozen=True, kw_only=True)
class ActiveCommitment:
    id: str
    party: str
    party_name: str  # as the agreement file names the party: what a person reads
    state: str
    effort: str  # the insats's title
    revision_flag: str | None


@dataclass(frozen=True, kw_only=True)
class RevisionRow:
    c: ActiveCommitment
    decision: Decision | None  # the latest one counts


@dataclass(frozen=True, kw_only=True)
class DecisionShown:
    """A live commitment in the open revision and its latest decision, if any."""

    commitment: str
    decision: str | None
    text: str | None


@dataclass(frozen=True, kw_only=True)
class OpenRevision:
    number: int
    due: date
    decided: int  # latest decisions recorded in this revision
    undecided: int  # live commitments without one
    commitments: tuple[DecisionShown, ...]  # every live commitment, by id


@dataclass(frozen=True, kw_only=True)
class RevisionStatus:
    agreement: str
    revision: OpenRevision | None
    # The next revision's deadline, None when the term has none left (then valid_to says until when).
    revision_due: date | None
    valid_to: date | None


def zones(database: Database, *, commitments: Iterable[str] = ()) -> Zones:
    """Every agreement's zone, and the agreement of each of ``commitments`` that exists (by full id)."""
    wanted = sorted(set(commitments))
    with db.transaction(database) as session:
        agreements = {a: ZoneInfo(tz) for a, tz in session.execute(select(AgreementRow.id, AgreementRow.timezone))}
        owners: dict[str, str] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            stmt = select(Commitment.id, Commitment.agreement_id).where(Commitment.id.in_(chunk))
            owners.update({c: a for c, a in session.execute(stmt)})
    return Zones(agreements=agreements, commitments=owners)


def zone(database: Database, *, agreement: str | None = None, commitment: str | None = None) -> ZoneInfo:
    """The zone a wall-clock time typed for a command means (``--now`` without an offset).

    The zone of the commitment's agreement (a full id or an unambiguous short one), else of
    the agreement named, else the one all agreements share, else ``DEFAULT_ZONE``. Never
    refuses: an unknown name is the command's own error to report.
    """
    with db.transaction(database) as session:
        agreements = {a: ZoneInfo(tz) for a, tz in session.execute(select(AgreementRow.id, AgreementRow.timezone))}
        owner = None
        if commitment is not None:
            try:
                owner = service.resolve_commitment(session, commitment).agreement_id
            except SamverkanError:
                owner = None
    return Zones(agreements=agreements, commitments={}).of_agreement(owner or agreement)


def status(
    database: Database, *, party: str | None = None, unit: str | None = None, state: str | None = None
) -> tuple[StatusRow, ...]:
    """Every commitment (optionally filtered by party, unit or state), in plan order."""
    with db.transaction(database) as session:
        return tuple(service.status(session, party=party, unit=unit, state=state))


def history(database: Database, key: str) -> History:
    """A commitment's state and every move it made, oldest first."""
    with db.transaction(database) as session:
        c, rows = service.history(session, key)
        agreement = session.get(AgreementRow, c.agreement_id)
        tz = ZoneInfo(agreement.timezone) if agreement is not None else DEFAULT_ZONE
        moves = tuple(move_of(r, tz) for r in rows)
        return History(commitment=c.id, state=c.state, moves=moves)


def outbox(database: Database, *, state: str | None = None) -> tuple[Notice, ...]:
    """Every notice in the outbox (or those in ``state``), in the order they go out."""
    with db.transaction(database) as session:
        tz = {a: ZoneInfo(t) for a, t in session.execute(select(AgreementRow.id, AgreementRow.timezone))}
        stmt = select(OutboxRow).order_by(OutboxRow.send_at, OutboxRow.id)
        if state is not None:
            stmt = stmt.where(OutboxRow.state == state)
        rows = list(session.scalars(stmt))
    notices = []
    for r in rows:
        # A notice outlives nothing it names, but a zone lookup must not be what fails.
        local = tz.get(r.agreement_id, DEFAULT_ZONE)
        notices.append(
            Notice(
                key=r.key,
                kind=r.kind,
                state=r.state,
                recipients=tuple(r.recipients),
                send_at=r.send_at.astimezone(local),
                attempts=r.attempts,
                sent_at=r.sent_at.astimezone(local) if r.sent_at else None,
                message_id=r.message_id,
                last_error=r.last_error,
                commitment=r.commitment_id,
                agreement=r.agreement_id,
            )
        )
    return tuple(notices)


def revision_rows(session: Session, agreement_id: str, rev: Revision | None) -> tuple[RevisionRow, ...]:
    """The agreement's live commitments in plan order, each with its latest decision in ``rev``.

    The one answer to "what has the revision decided": the CLI's status and the web's
    revision page both read it.
    """
    decided = revisions.decisions(session, rev) if rev is not None else {}
    rows = []
    for c in active_commitments(session, agreement_id):
        d = decided.get(c.id)
        decision = Decision(decision=d.decision, text=d.text, by=d.by, decided_at=d.decided_at) if d else None
        rows.append(RevisionRow(c=c, decision=decision))
    return tuple(rows)


def active_commitments(session: Session, agreement_id: str) -> list[ActiveCommitment]:
    """The agreement's commitments that have not ended, in plan order."""
    return [
        ActiveCommitment(
            id=c.id, party=c.party, party_name=party, state=c.state, effort=title, revision_flag=c.revision_flag
        )
        for c, title, party in session.execute(
            select(Commitment, EffortRow.title, PartyRow.name)
            .join(
                EffortRow,
                (EffortRow.agreement_id == Commitment.agreement_id) & (EffortRow.id == Commitment.effort_id),
            )
            .join(PartyRow, (PartyRow.agreement_id == Commitment.agreement_id) & (PartyRow.id == Commitment.party))
            .where(Commitment.agreement_id == agreement_id, Commitment.state != lifecycle.AVSLUTAD)
            .order_by(EffortRow.position, Commitment.party)
        )
    ]


def revision_status(database: Database, *, agreement: str | None = None) -> RevisionStatus:
    """The open revision of the agreement meant (named, or the only one) and its decisions."""
    with db.transaction(database) as session:
        row = service.agreement_for(session, agreement, lock=False)
        rev = revisions.current_revision(session, row.id)
        shown = None
        if rev is not None:
            live = sorted(revision_rows(session, row.id, rev), key=lambda r: r.c.id)
            items = tuple(
                DecisionShown(
                    commitment=r.c.id,
                    decision=r.decision.decision if r.decision else None,
                    text=r.decision.text if r.decision else None,
                )
                for r in live
            )
            shown = OpenRevision(
                number=rev.number,
                due=rev.due,
                decided=len(revisions.decisions(session, rev)),
                undecided=sum(1 for r in live if r.decision is None),
                commitments=items,
            )
        return RevisionStatus(agreement=row.id, revision=shown, revision_due=row.revision_due, valid_to=row.valid_to)


def plan_diff(database: Database, v1: int, v2: int, *, agreement: str | None = None) -> tuple[str, ...]:
    """What changed between two plan versions, one Swedish line each."""
    with db.transaction(database) as session:
        return tuple(revisions.plan_diff(session, v1, v2, agreement_id=agreement))


@dataclass(frozen=True, kw_only=True)
class PlanFile:
    """The current plan version of an agreement, as an agreement file."""

    agreement: str
    version: int
    text: str

    @property
    def filename(self) -> str:
        return f"{self.agreement}-plan-v{self.version}.yaml"


def plan_file(database: Database, *, agreement: str | None = None) -> PlanFile:
    """The agreement's current plan version in the agreement-file format (docs/agreement-file.md).

    Every value of the stored document is kept, so ``samverkan validate`` accepts the text
    and ``samverkan init`` with it finds nothing changed; the loaded file's comments are not kept.
    """
    with db.transaction(database) as session:
        return plan_file_of(session, service.agreement_for(session, agreement, lock=False))


def plan_file_of(session: Session, row: AgreementRow) -> PlanFile:
    plan = session.get(PlanVersion, (row.id, row.plan_version))
    document = plan.document if plan is not None else row.document
    header = (
        f"Överenskommelsen {row.id}, planversion {row.plan_version}, ur samverkan.\n"
        "Formatet: docs/agreement-file.md. Kontrollera med 'samverkan validate', läs in med 'samverkan init --config'."
    )
    return PlanFile(agreement=row.id, version=row.plan_version, text=agreement_yaml.dump(document, header=header))


def overdue(database: Database, now: datetime, *, agreement: str | None = None) -> Review:
    """The process owner's review at ``now``: late follow-ups and revisions, undelivered mail, deviations, flags."""
    with db.transaction(database) as session:
        return review(session, now, agreement_id=agreement)


def report(database: Database, *, period: int, agreement: str | None = None) -> Report:
    """Everything the yearly report for ``period`` shows."""
    with db.transaction(database) as session:
        return build_report(session, period=period, agreement_id=agreement)


def oldest_claim(database: Database) -> datetime | None:
    """When the oldest notice still ``sending`` was claimed (its lease runs from then)."""
    with db.transaction(database) as session:
        sending = OutboxRow.state == OutboxState.SENDING
        oldest = session.execute(select(func.min(OutboxRow.claimed_at)).where(sending)).scalar()
    return None if oldest is None else as_utc(oldest)


def user_count(database: Database) -> int:
    """How many people may sign in to the web."""
    with db.transaction(database) as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)
