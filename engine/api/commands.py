"""Every change a person makes, as one transaction each: what the CLI and the web call.

Each command opens its transaction on ``db``, calls the engine function that holds
the rule (engine.service, engine.parties, engine.revisions, engine.plan, engine.users),
commits, and returns a frozen value that names what was queued. A refused command
raises a SamverkanError and has written nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import contacts, corrections, db, extensions, invites, outbox, parties, revisions, service, users
from engine.agreement import Agreement
from engine.api.values import Move, move_of
from engine.db import Database
from engine.plan import load_plan as _load_plan
from engine.revisions import Completed
from engine.users import Person
from rules import deviation
from rules.errors import InvalidValue
from rules.model import QueueNotice


@dataclass(frozen=True, kw_only=True)
class PlanLoaded:
    agreement: str
    plan_version: int
    created: bool
    changes: tuple[str, ...]
    # On the first load: the first period the engine follows, its due date, and the next revision's deadline.
    first_period: int | None = None
    first_due: date | None = None
    revision_due: date | None = None


@dataclass(frozen=True, kw_only=True)
class FollowUpRecorded:
    commitment: str
    period: int
    version: int
    # The measures below their target in this follow-up (the process owner is told of each once).
    deviations: tuple[str, ...]
    queued: tuple[QueueNotice, ...]


@dataclass(frozen=True, kw_only=True)
class RevisionOpened:
    agreement: str
    number: int
    due: date
    queued: tuple[QueueNotice, ...]


@dataclass(frozen=True, kw_only=True)
class Decided:
    commitment: str
    decision: str
    text: str


@dataclass(frozen=True, kw_only=True)
class PartyNoticeRecorded:
    agreement: str
    kind: str  # "change" or "termination"
    party: str
    commitments: tuple[str, ...]  # flagged for the next revision (changed conditions)
    effective: date | None
    queued: tuple[QueueNotice, ...]


@dataclass(frozen=True, kw_only=True)
class Closed:
    agreement: str
    ended: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class UnitChanged:
    agreement: str
    unit: str
    plan_version: int
    changes: tuple[str, ...]  # empty: the unit already had that name and address
    old_name: str
    new_name: str
    old_email: str
    new_email: str
    old_contact_name: str | None
    new_contact_name: str | None
    moved: int  # queued, unsent notices now addressed to the new address


@dataclass(frozen=True, kw_only=True)
class UserAdded:
    email: str
    role: str
    party: str | None
    unit: str | None


@dataclass(frozen=True, kw_only=True)
class UserChanged:
    """A user whose sessions have all ended (a new password, or removed)."""

    email: str


@dataclass(frozen=True, kw_only=True)
class UserInvited:
    """An invitation mail queued (the dispatcher sends it); earlier links of the user no longer work."""

    email: str
    created: bool  # a new user; else a new invitation for an existing one
    expires: datetime
    queued: tuple[QueueNotice, ...]


@dataclass(frozen=True, kw_only=True)
class UserRole:
    email: str
    role: str
    party: str | None
    unit: str | None


@dataclass(frozen=True, kw_only=True)
class UserActive:
    email: str
    active: bool


def load_plan(database: Database, agreement: Agreement, *, now: datetime) -> PlanLoaded:
    """Load or update the plan (``samverkan init``); the first load also says where the engine takes over."""
    with db.transaction(database) as session:
        result = _load_plan(session, agreement, now=now)
        first = due = revision_due = None
        if result.created:
            first, due, revision_due = service.takeover(session, result.agreement_id)
    return PlanLoaded(
        agreement=result.agreement_id,
        plan_version=result.plan_version,
        created=result.created,
        changes=tuple(result.changes),
        first_period=first,
        first_due=due,
        revision_due=revision_due,
    )


def change_unit(
    database: Database,
    agreement: str,
    unit: str,
    *,
    name: str,
    email: str,
    by: str,
    now: datetime,
    contact_name: str | None = None,
) -> UnitChanged:
    """A unit's new name, e-mail and contact person (the units page): the next plan version, as an
    edited file loaded with init. ``contact_name`` None keeps it; empty text removes it."""
    with db.transaction(database) as session:
        c = contacts.change_unit(
            session, agreement, unit, name=name, email=email, by=by, now=now, contact_name=contact_name
        )
    return UnitChanged(
        agreement=c.agreement_id,
        unit=c.unit,
        plan_version=c.plan_version,
        changes=tuple(c.changes),
        old_name=c.old_name,
        new_name=c.new_name,
        old_email=c.old_email,
        new_email=c.new_email,
        old_contact_name=c.old_contact_name,
        new_contact_name=c.new_contact_name,
        moved=c.moved,
    )


def transition(database: Database, key: str, trigger: str, *, by: str, why: str, now: datetime) -> Move:
    with db.transaction(database) as session:
        r = service.transition(session, key, trigger, by=by, why=why, now=now)
        return move_of(r)


def record_follow_up(
    database: Database,
    key: str,
    *,
    period: int,
    values: dict[str, Any],
    comment: str,
    by: str,
    now: datetime,
    hours: float | None = None,
    replace: bool = False,
) -> FollowUpRecorded:
    """Record (or, with ``replace``, correct) a period's follow-up: pågående → uppföljd.

    Two recordings of the same period at once (a double-clicked link, the link and the
    CLI) both pass the service's "not yet recorded" check when neither has committed;
    the follow-up row's unique (commitment, period, version) lets one through. The other
    is refused as a later recording is: the period's follow-up is already recorded.
    """
    try:
        return _record_follow_up(
            database, key, period=period, values=values, comment=comment, by=by, now=now, hours=hours, replace=replace
        )
    except IntegrityError as exc:
        if not _follow_up_clash(exc):
            raise
    if replace:
        raise _corrected_meanwhile(key, period)
    # Asked again now that the winner has committed, the service refuses it in its own words
    # ("… registrerades redan <date>; rätta med --replace"), exactly as a second recording later.
    return _record_follow_up(
        database, key, period=period, values=values, comment=comment, by=by, now=now, hours=hours, replace=False
    )


def correct_follow_up(
    database: Database,
    key: str,
    *,
    period: int,
    version: int,
    values: dict[str, Any],
    comment: str,
    by: str,
    now: datetime,
    who: Person | None,
    window_days: int,
    hours: float | None = None,
) -> FollowUpRecorded:
    """Correct version ``version`` of a period's follow-up on the web: the next version, the earlier kept.

    ``who`` is the signed-in person, or None for the holder of the unit's link from its mail.
    The process owner may correct at any time, the unit only within ``window_days`` of the
    first recording (engine.corrections); a refusal has written nothing.
    """

    def allowed(session: Session) -> None:
        corrections.check(session, key, period, who=who, version=version, now=now, days=window_days)

    try:
        return _record_follow_up(
            database,
            key,
            period=period,
            values=values,
            comment=comment,
            by=by,
            now=now,
            hours=hours,
            replace=True,
            allowed=allowed,
        )
    except IntegrityError as exc:
        if not _follow_up_clash(exc):
            raise
    raise _corrected_meanwhile(key, period)


def _corrected_meanwhile(key: str, period: int) -> InvalidValue:
    return InvalidValue(
        "replace", f"{key}: uppföljningen för {period} rättades samtidigt av någon annan; se den och rätta igen"
    )


def _record_follow_up(
    database: Database,
    key: str,
    *,
    period: int,
    values: dict[str, Any],
    comment: str,
    by: str,
    now: datetime,
    hours: float | None,
    replace: bool,
    allowed: Callable[[Session], None] | None = None,
) -> FollowUpRecorded:
    with db.transaction(database) as session:
        if allowed is not None:
            allowed(session)
        record = service.record_follow_up(
            session, key, period=period, values=values, comment=comment, by=by, now=now, hours=hours, replace=replace
        )
        c = service.resolve_commitment(session, record.commitment_id)
        below = deviation.below_target(service.measures_for(session, c), c.party, record.values)
        return FollowUpRecorded(
            commitment=record.commitment_id,
            period=record.period,
            version=record.version,
            deviations=tuple(m["id"] for m in below),
            queued=tuple(outbox.queued(session)),
        )


FOLLOW_UP_VERSION_KEY = "uq_follow_ups_version"


def _follow_up_clash(exc: IntegrityError) -> bool:
    """Whether ``exc`` is the follow-up row's unique (commitment, period, version): another recording won."""
    diag = getattr(exc.orig, "diag", None)  # psycopg names the constraint
    if diag is not None:
        return getattr(diag, "constraint_name", None) == FOLLOW_UP_VERSION_KEY
    # SQLite names the columns instead.
    return "follow_ups.commitment_id, follow_ups.period, follow_ups.version" in str(exc.orig)


def open_revision(database: Database, *, by: str, now: datetime, agreement: str | None = None) -> RevisionOpened:
    with db.transaction(database) as session:
        rev = revisions.open_revision(session, by=by, now=now, agreement_id=agreement)
        queued = tuple(outbox.queued(session))
        return RevisionOpened(agreement=rev.agreement_id, number=rev.number, due=rev.due, queued=queued)


def decide(database: Database, key: str, decision: str, *, text: str, by: str, now: datetime) -> Decided:
    with db.transaction(database) as session:
        d = revisions.decide(session, key, decision.strip().lower(), text=text, by=by, now=now)
        return Decided(commitment=d.commitment_id, decision=d.decision, text=d.text)


def complete_revision(database: Database, new: Agreement, *, by: str, now: datetime) -> Completed:
    with db.transaction(database) as session:
        return revisions.complete(session, new, by=by, now=now)


def notify_change(
    database: Database,
    *,
    party: str,
    text: str,
    by: str,
    now: datetime,
    commitments: list[str] | None = None,
    agreement: str | None = None,
) -> PartyNoticeRecorded:
    with db.transaction(database) as session:
        event = parties.notify_change(
            session, party=party, text=text, by=by, now=now, commitments=commitments, agreement_id=agreement
        )
        return _party_notice(event, tuple(outbox.queued(session)))


def terminate(
    database: Database,
    *,
    party: str,
    effective: date,
    reason: str,
    by: str,
    now: datetime,
    agreement: str | None = None,
) -> PartyNoticeRecorded:
    with db.transaction(database) as session:
        event = parties.terminate(
            session, party=party, effective=effective, reason=reason, by=by, now=now, agreement_id=agreement
        )
        return _party_notice(event, tuple(outbox.queued(session)))


def _party_notice(event: Any, queued: tuple[QueueNotice, ...]) -> PartyNoticeRecorded:
    return PartyNoticeRecorded(
        agreement=event.agreement_id,
        kind=event.kind,
        party=event.party,
        commitments=tuple(event.commitments),
        effective=event.effective,
        queued=queued,
    )


def close(database: Database, *, by: str, why: str, now: datetime, agreement: str | None = None) -> Closed:
    with db.transaction(database) as session:
        ended = parties.close_agreement(session, by=by, why=why, now=now, agreement_id=agreement)
        chosen = service.agreement_for(session, agreement, lock=False)
        return Closed(agreement=chosen.id, ended=tuple(ended))


def add_user(
    database: Database,
    email: str,
    *,
    role: str,
    password: str,
    now: datetime,
    party: str | None = None,
    unit: str | None = None,
    name: str | None = None,
) -> UserAdded:
    with db.transaction(database) as session:
        u = users.add_user(session, email, role=role, password=password, now=now, party=party, unit=unit, name=name)
        return UserAdded(email=u.email, role=u.role, party=u.party, unit=u.unit)


def sign_in(database: Database, email: str, password: str) -> Person | None:
    """The person with this e-mail and password, or None (the same time either way)."""
    with db.transaction(database) as session:
        u = users.authenticate(session, email, password)
        return users.person(u) if u is not None else None


def sign_in_verified(database: Database, email: str) -> Person | None:
    """The person whose e-mail the identity provider verified (the web's single sign-on), or None."""
    with db.transaction(database) as session:
        u = users.verified(session, email)
        return users.person(u) if u is not None else None


def sign_out(database: Database, user_id: int) -> None:
    """End every session of the user (the web's sign-out)."""
    with db.transaction(database) as session:
        users.end_sessions(session, user_id)


def set_password(database: Database, email: str, password: str) -> UserChanged:
    """A new password for the user (``samverkan user passwd``); every session of theirs ends."""
    with db.transaction(database) as session:
        u = users.find(session, email)
        users.set_password(session, u, password)
        return UserChanged(email=u.email)


def change_password(database: Database, user_id: int, current: str, new: str) -> int | None:
    """The signed-in user's own new password: the new session version, or None when ``current`` is wrong."""
    with db.transaction(database) as session:
        return users.change_password(session, user_id, current, new)


def remove_user(database: Database, email: str) -> UserChanged:
    """Remove the user (``samverkan user remove``, the users page); every session of theirs ends."""
    with db.transaction(database) as session:
        return UserChanged(email=users.remove_user(session, email).email)


def invite_user(
    database: Database,
    email: str,
    *,
    role: str,
    by: str,
    now: datetime,
    party: str | None = None,
    unit: str | None = None,
    name: str | None = None,
) -> UserInvited:
    """A new user without a password, mailed a link to set one (the users page, ``samverkan user invite``)."""
    with db.transaction(database) as session:
        done = invites.invite(session, email, role=role, by=by, now=now, party=party, unit=unit, name=name)
        return _invited(done, tuple(outbox.queued(session)))


def invite_again(database: Database, email: str, *, by: str, now: datetime) -> UserInvited:
    """A new invitation for an existing user (a forgotten password); every earlier link stops working."""
    with db.transaction(database) as session:
        return _invited(invites.invite_again(session, email, by=by, now=now), tuple(outbox.queued(session)))


def _invited(done: invites.Invited, queued: tuple[QueueNotice, ...]) -> UserInvited:
    return UserInvited(email=done.email, created=done.created, expires=done.expires, queued=queued)


def invite_link(database: Database, user_id: int, nonce: str, now: datetime) -> invites.InviteLink:
    """What an invitation link leads to now (read only)."""
    with db.transaction(database) as session:
        return invites.look(session, user_id, nonce, now)


def accept_invite(database: Database, user_id: int, nonce: str, password: str, now: datetime) -> invites.InviteLink:
    """Set the password through an invitation link, which is then used up; its state (OPEN: done)."""
    with db.transaction(database) as session:
        return invites.accept(session, user_id, nonce, password, now)


def change_role(
    database: Database,
    email: str,
    *,
    role: str,
    party: str | None = None,
    unit: str | None = None,
    actor: int | None = None,
) -> UserRole:
    """A user's new role, party or unit; ``actor`` (the owner asking) cannot give up their own ownership."""
    with db.transaction(database) as session:
        u = users.change_role(session, email, role=role, party=party, unit=unit, actor=actor)
        return UserRole(email=u.email, role=u.role, party=u.party, unit=u.unit)


def set_active(database: Database, email: str, active: bool, *, actor: int | None = None) -> UserActive:
    """Deactivate (their sessions and invitation link end) or reactivate a user; ``actor``: not oneself."""
    with db.transaction(database) as session:
        u = users.set_active(session, email, active, actor=actor)
        return UserActive(email=u.email, active=u.active)


def grant_extension(
    database: Database, key: str, *, period: int, due: date, reason: str, by: str, now: datetime
) -> extensions.Granted:
    """An extension (anstånd) of a commitment's follow-up for ``period`` to ``due`` (engine.extensions.grant)."""
    with db.transaction(database) as session:
        return extensions.grant(session, key, period=period, due=due, reason=reason, by=by, now=now)


def remind_now(
    database: Database,
    *,
    by: str,
    now: datetime,
    commitment: str | None = None,
    agreement: str | None = None,
    unit: str | None = None,
) -> extensions.Reminded:
    """ "Påminn nu": an overdue notice, at once, for one late follow-up or every one of a unit (engine.extensions)."""
    with db.transaction(database) as session:
        return extensions.remind(session, by=by, now=now, commitment=commitment, agreement=agreement, unit=unit)
