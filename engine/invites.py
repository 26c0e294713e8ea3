"""Invitations: a user sets their own password through a single-use link mailed to them.

The process owner invites a new user (or sends an existing one a new invitation, to reset
a forgotten password). Each invitation draws a random nonce, kept in ``users.invite_nonce``
and carried by the link (notifications.links signs it). The mail is a notice in the
outbox like every other, so the dispatcher (``samverkan run``) sends it.

A link works while its nonce is the user's current one and it is younger than
``INVITE_LIFETIME``:

* a new invitation draws a new nonce, so every earlier link stops working (and an
  earlier invitation not yet sent is withdrawn);
* setting the password clears the nonce, so a used link stops working;
* deactivating or removing the user clears it too.

A user invited again keeps their old password until they set a new one: the invitation
is a way back in, not a lock-out (deactivate the user to lock them out).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import outbox, users
from engine.models import AgreementRow, PartyRow, UnitRow, User
from rules.errors import InvalidValue
from rules.model import QueueNotice

# Long enough for someone back from a week away; short, as the link is a credential.
INVITE_LIFETIME: Final = timedelta(days=7)


class LinkState(StrEnum):
    OPEN = "open"
    USED = "used"  # used, replaced by a newer invitation, or the user deactivated
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # no such user (removed)


@dataclass(frozen=True, kw_only=True)
class Invited:
    email: str
    user_id: int
    created: bool  # a new user, or a new invitation for an existing one
    expires: datetime
    key: str  # the outbox row's key


@dataclass(frozen=True, kw_only=True)
class InviteLink:
    state: LinkState
    email: str | None = None
    name: str | None = None


def _agreement_for(session: Session, user: User) -> str:
    """The agreement whose process owner and sender the invitation mail speaks for."""
    if user.unit:
        chosen = session.scalar(
            select(UnitRow.agreement_id).where(UnitRow.id == user.unit).order_by(UnitRow.agreement_id)
        )
    elif user.party:
        chosen = session.scalar(
            select(PartyRow.agreement_id).where(PartyRow.id == user.party).order_by(PartyRow.agreement_id)
        )
    else:
        chosen = session.scalar(select(AgreementRow.id).order_by(AgreementRow.id))
    if chosen is None:
        raise InvalidValue(
            "email",
            "ingen överenskommelse är inläst, så inbjudan har ingen avsändare; läs in överenskommelsen först "
            "(samverkan init) eller skapa användaren med samverkan user add",
        )
    return str(chosen)


def _scope_name(session: Session, user: User) -> str | None:
    if user.unit:
        return session.scalar(select(UnitRow.name).where(UnitRow.id == user.unit).order_by(UnitRow.agreement_id))
    if user.party:
        return session.scalar(select(PartyRow.name).where(PartyRow.id == user.party).order_by(PartyRow.agreement_id))
    return None


def _queue(session: Session, user: User, *, by: str, now: datetime, created: bool) -> Invited:
    agreement = _agreement_for(session, user)
    users.withdraw_invites(session, user.id)
    nonce = secrets.token_urlsafe(16)
    user.invite_nonce = nonce
    user.invited_at = now
    key = f"invite:{user.id}:{nonce}"
    notice = QueueNotice(
        key=key,
        kind="invite",
        recipients=(user.email,),
        send_at=now,
        agreement=agreement,
        data={
            "user": user.id,
            "nonce": nonce,
            "name": user.name,
            "role_sv": users.ROLE_SV[user.role],
            "scope": _scope_name(session, user),
            "by": by,
            "new_user": created,
        },
    )
    outbox.queue_in(session, [notice], now)
    session.flush()
    return Invited(email=user.email, user_id=user.id, created=created, expires=now + INVITE_LIFETIME, key=key)


def invite(
    session: Session,
    email: str,
    *,
    role: str,
    by: str,
    now: datetime,
    party: str | None = None,
    unit: str | None = None,
    name: str | None = None,
) -> Invited:
    """A new user without a password, and the invitation mail queued; the caller owns the transaction."""
    user = users.add_user(session, email, role=role, password=None, now=now, party=party, unit=unit, name=name)
    return _queue(session, user, by=by, now=now, created=True)


def invite_again(session: Session, email: str, *, by: str, now: datetime) -> Invited:
    """A new invitation for an existing user (a forgotten password): every earlier link stops working."""
    user = users.find(session, email)
    if not user.active:
        raise InvalidValue("email", f"{user.email} är avaktiverad; aktivera användaren först")
    return _queue(session, user, by=by, now=now, created=False)


def _state(user: User | None, nonce: str, now: datetime) -> LinkState:
    if user is None:
        return LinkState.UNKNOWN
    if not user.active or user.invite_nonce is None or not secrets.compare_digest(user.invite_nonce, nonce):
        return LinkState.USED
    if user.invited_at is None or now - user.invited_at > INVITE_LIFETIME:
        return LinkState.EXPIRED
    return LinkState.OPEN


def look(session: Session, user_id: int, nonce: str, now: datetime) -> InviteLink:
    """What an invitation link leads to now."""
    user = session.get(User, user_id)
    state = _state(user, nonce, now)
    if user is None or state is not LinkState.OPEN:
        return InviteLink(state=state)
    return InviteLink(state=state, email=user.email, name=user.name)


def accept(session: Session, user_id: int, nonce: str, password: str, now: datetime) -> InviteLink:
    """Set the password through the link and use the link up; the link's state (OPEN: the password is set).

    The nonce is cleared by an UPDATE that names it, so of two submissions at once only
    one sets the password; the other finds the link used.
    """
    users.check_password(password)
    found = look(session, user_id, nonce, now)
    if found.state is not LinkState.OPEN:
        return found
    taken = session.execute(
        update(User)
        .where(User.id == user_id, User.invite_nonce == nonce, User.active.is_(True))
        .values(invite_nonce=None)
        .returning(User.id)
    ).first()
    if taken is None:
        return InviteLink(state=LinkState.USED)
    user = session.get(User, user_id)
    assert user is not None
    session.refresh(user)
    users.set_password(session, user, password)  # and every older session ends
    return found
