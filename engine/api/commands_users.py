"""Who may sign in: users, their passwords, invitations, roles and deactivation.

As in ``engine.api.commands`` (kept apart for its length): one transaction each, frozen
values out, a refusal has written nothing. The rules are engine.users and engine.invites.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine import db, invites, outbox, users
from engine.db import Database
from engine.users import Person
from rules.model import QueueNotice


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
