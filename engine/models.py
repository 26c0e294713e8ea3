"""The stored state, as SQLAlchemy 2 typed ORM classes.

The schema itself is owned by the Alembic migrations in ``engine/migrations``;
these classes must match them (tests/engine/test_migrations.py compares the two).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; SQLite would otherwise drop the offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime (the clock gives one)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class AgreementRow(Base):
    __tablename__ = "agreements"

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    signed: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    process_owner: Mapped[str] = mapped_column(String(60))
    plan_version: Mapped[int] = mapped_column(Integer)
    config_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The rules' inputs, kept small so a tick over many agreements never parses documents.
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON)
    revision_number: Mapped[int] = mapped_column(Integer)
    # The current revision's deadline (rules.revision.deadline); NULL when the term has none left.
    revision_due: Mapped[date | None] = mapped_column(Date)
    terminates: Mapped[date | None] = mapped_column(Date)
    next_check: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class PlanVersion(Base):
    """Every version of an agreement's plan that was loaded, kept for diffs and audits."""

    __tablename__ = "plan_versions"

    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    config_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    changes: Mapped[list[Any]] = mapped_column(JSON)
    # Who loaded it (engine.plan.LOADED_BY, the revision's closer, a process owner on the web); NULL before 0011.
    loaded_by: Mapped[str | None] = mapped_column(Text, nullable=True)


class PartyRow(Base):
    __tablename__ = "parties"

    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    contact_unit: Mapped[str] = mapped_column(String(60))


class UnitRow(Base):
    __tablename__ = "units"

    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    party: Mapped[str] = mapped_column(String(60))
    email: Mapped[str] = mapped_column(String(320))
    contact_name: Mapped[str | None] = mapped_column(Text)


class AreaRow(Base):
    __tablename__ = "areas"

    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)


class EffortRow(Base):
    __tablename__ = "efforts"

    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    area_id: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    timeframe_text: Mapped[str] = mapped_column(Text)
    starts: Mapped[date] = mapped_column(Date)
    ends: Mapped[date | None] = mapped_column(Date)
    measures: Mapped[list[Any]] = mapped_column(JSON)


class Commitment(Base):
    """One party's promise in one insats: the row the lifecycle moves."""

    __tablename__ = "commitments"
    __table_args__ = (
        ForeignKeyConstraint(["agreement_id", "effort_id"], ["efforts.agreement_id", "efforts.id"]),
        # The tick asks "what is due by now" per state; this index answers it.
        Index("ix_commitments_state_next_due", "state", "next_due"),
        Index("ix_commitments_responsible", "agreement_id", "responsible"),
        Index("ix_commitments_next_check", "next_check", "id"),
    )

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    agreement_id: Mapped[str] = mapped_column(String(60))
    effort_id: Mapped[str] = mapped_column(String(60))
    party: Mapped[str] = mapped_column(String(60))
    text: Mapped[str] = mapped_column(Text)
    responsible: Mapped[str] = mapped_column(String(60))
    co_responsible: Mapped[list[Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20))
    state_since: Mapped[datetime] = mapped_column(UTCDateTime)
    period: Mapped[int] = mapped_column(Integer)
    next_due: Mapped[date | None] = mapped_column(Date)
    # The earliest instant at which a rule has something to do for this row; the
    # tick selects ``next_check <= now`` in (next_check, id) order through this index.
    next_check: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why this commitment must be looked at in the next revision (a changed-conditions notice).
    revision_flag: Mapped[str | None] = mapped_column(Text)


class DueExtension(Base):
    """An extension (anstånd) of one commitment's follow-up for one period; every grant is kept.

    The latest grant for a (commitment, period) is the one that applies (engine.extensions);
    the earlier ones stay as its history.
    """

    __tablename__ = "due_extensions"
    __table_args__ = (Index("ix_due_extensions_commitment", "commitment_id", "period", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    commitment_id: Mapped[str] = mapped_column(ForeignKey("commitments.id"))
    period: Mapped[int] = mapped_column(Integer)
    due: Mapped[date] = mapped_column(Date)
    # The due date the grant replaced (the calendar's, or an earlier grant's).
    previous_due: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TransitionRecord(Base):
    """Append-only history: database triggers refuse UPDATE and DELETE on this table."""

    __tablename__ = "transition_log"
    __table_args__ = (Index("ix_transition_log_commitment", "commitment_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    commitment_id: Mapped[str] = mapped_column(ForeignKey("commitments.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    trigger: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    by: Mapped[str] = mapped_column(Text)
    why: Mapped[str] = mapped_column(Text)


class FollowUp(Base):
    """A recorded follow-up of one commitment for one period (a correction adds a version)."""

    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("commitment_id", "period", "version", name="uq_follow_ups_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    commitment_id: Mapped[str] = mapped_column(ForeignKey("commitments.id"))
    period: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    comment: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Brå's process follow-up asks for the hours spent; optional.
    hours: Mapped[float | None] = mapped_column(Float)


class OutboxRow(Base):
    """A notice to send; written in the transaction of the action that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_send_at", "state", "send_at", "id"),
        # The notices of one commitment, for withdrawing them when it moves (rules.withdrawal).
        Index("ix_outbox_commitment", "commitment_id", "period"),
        # Everything due for one address, to send as one mail (notifications.dispatcher.claim).
        Index("ix_outbox_group", "group_key", "state", "send_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The idempotency key: a rule that runs twice, or on two machines, acts once.
    key: Mapped[str] = mapped_column(String(400), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    agreement_id: Mapped[str] = mapped_column(String(60))
    commitment_id: Mapped[str | None] = mapped_column(String(200))
    period: Mapped[int | None] = mapped_column(Integer)
    recipients: Mapped[list[Any]] = mapped_column(JSON)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    # rules.model.group_key: the one address of a notice that is sent grouped, else NULL.
    group_key: Mapped[str | None] = mapped_column(String(320))


class CalendarEvent(Base):
    """What a deadline's calendar event last said, so a changed date raises its SEQUENCE.

    RFC 5545 clients (Outlook above all) apply an update only when its SEQUENCE is higher
    than the one they hold; the number must therefore survive between mails and exports.
    """

    __tablename__ = "calendar_events"

    uid: Mapped[str] = mapped_column(String(200), primary_key=True)
    due: Mapped[date] = mapped_column(Date)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TickLock(Base):
    """One row; a tick updates it first, so ticks on one database run one at a time."""

    __tablename__ = "tick_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PartyEvent(Base):
    """A party's changed-conditions notice or termination, as recorded."""

    __tablename__ = "party_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.id"))
    kind: Mapped[str] = mapped_column(String(20))
    party: Mapped[str] = mapped_column(String(60))
    text: Mapped[str] = mapped_column(Text)
    effective: Mapped[date | None] = mapped_column(Date)
    commitments: Mapped[list[Any]] = mapped_column(JSON)
    by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Revision(Base):
    """One revision of an agreement's plan: opened by the kick-off, completed by a new plan version."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("agreement_id", "number", name="uq_revisions_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.id"))
    number: Mapped[int] = mapped_column(Integer)
    due: Mapped[date] = mapped_column(Date)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str] = mapped_column(Text)
    plan_version_before: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    plan_version_after: Mapped[int | None] = mapped_column(Integer)
    # The revised plan being edited in the browser (engine.drafts); NULL until the first edit.
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    draft_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    draft_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RevisionDecision(Base):
    """The process owner's decision for one commitment in a revision (the latest one counts)."""

    __tablename__ = "revision_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"))
    commitment_id: Mapped[str] = mapped_column(ForeignKey("commitments.id"))
    decision: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportAnalysis(Base):
    """The process owner's analysis and conclusions for one agreement's yearly report of one period.

    Every save is the next version; the latest is what the report shows (engine.analysis).
    """

    __tablename__ = "report_analyses"
    __table_args__ = (UniqueConstraint("agreement_id", "period", "version", name="uq_report_analyses_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.id"))
    period: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    written_by: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)


class User(Base):
    """A person who signs in to the web: the process owner, a party contact or a unit contact."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(10))  # owner | party | unit
    party: Mapped[str | None] = mapped_column(String(60))
    unit: Mapped[str | None] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(Text)  # argon2id, never the password
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Carried in the signed session cookie and compared on every request: raised when the
    # user signs out or the password changes, so every session made before ends.
    session_version: Mapped[int] = mapped_column(Integer, server_default="0")
    # A deactivated user keeps the row (the history names them) but cannot sign in.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The one invitation link that still works (engine.invites): a new invitation replaces
    # it and setting the password uses it up (NULL).
    invite_nonce: Mapped[str | None] = mapped_column(String(64))
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSecret(Base):
    """The web's signing key (sessions, mail links), kept so links stay valid across restarts."""

    __tablename__ = "web_secrets"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
