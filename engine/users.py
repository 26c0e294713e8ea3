"""Users who sign in, and what each role may see and change.

Roles:

* ``owner`` — the process owner (BråB): sees and changes everything.
* ``party`` — a party's contact (kommun, polis): sees the whole agreement, records its
  own party's follow-ups, changed conditions and termination.
* ``unit`` — a responsible unit's contact: sees and records only the commitments its
  unit is responsible for.

Passwords are stored as argon2id hashes (argon2-cffi's defaults, RFC 9106's
recommendation), never as text.

Each user has a session version that the web's signed cookie carries; signing out,
a new password and removal change it (or remove the row), which ends every session
made before. A new user's version starts at a random value, so a user id that SQLite
hands out again after a removal never matches a cookie made for the removed user.

A deactivated user keeps the row, so the history still names them, but cannot sign in,
and deactivating ends their sessions; reactivating lets the same password in again. A
user invited by e-mail (engine.invites) has no password until they set one through the
link: their hash is ``NO_PASSWORD``, which argon2 refuses to verify, so no password opens it.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from engine.models import Commitment, OutboxRow, PartyRow, UnitRow, User
from rules.errors import InvalidValue
from rules.model import OutboxState

ROLES: Final = ("owner", "party", "unit")
ROLE_SV: Final = {"owner": "processägare", "party": "partskontakt", "unit": "enhetskontakt"}
MIN_PASSWORD: Final = 10
# Not an argon2 hash: verifying any password against it fails (InvalidHashError).
NO_PASSWORD: Final = "!inbjuden"

_hasher = PasswordHasher()


@functools.cache
def _dummy() -> str:
    """Verified against when the e-mail is unknown, so a wrong address costs as long as a wrong password.

    Made on first use, not at import: a hash costs ~0.2 s and 64 MiB, and every CLI
    command imports this module (through engine.api.commands) without signing anyone in.
    """
    return _hasher.hash("samverkan: ingen sådan användare")


@dataclass(frozen=True)
class Person:
    """The signed-in user, as the pages need it (no hash)."""

    id: int
    email: str
    name: str | None
    role: str
    party: str | None
    unit: str | None
    session_version: int = 0
    active: bool = True

    @property
    def label(self) -> str:
        """Who did it, as the history records it."""
        return f"{self.name} <{self.email}>" if self.name else self.email

    @property
    def role_sv(self) -> str:
        return ROLE_SV[self.role]

    def may_see(self, c: Commitment) -> bool:
        return self.role != "unit" or c.responsible == self.unit

    def may_record(self, c: Commitment) -> bool:
        if self.role == "owner":
            return True
        if self.role == "party":
            return c.party == self.party
        return c.responsible == self.unit

    def may_speak_for(self, party: str) -> bool:
        """Changed conditions and termination: the owner for any party, a party contact for its own."""
        return self.role == "owner" or (self.role == "party" and self.party == party)

    @property
    def sees_everything(self) -> bool:
        return self.role in ("owner", "party")


def person(u: User) -> Person:
    return Person(
        id=u.id,
        email=u.email,
        name=u.name,
        role=u.role,
        party=u.party,
        unit=u.unit,
        session_version=u.session_version,
        active=u.active,
    )


def normalise_email(text: str) -> str:
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidValue("email", f"'{text}' är ingen giltig e-postadress ({exc})") from None


def check_role(session: Session, role: str, party: str | None, unit: str | None) -> None:
    """A role with the party or unit it needs (and only that), each one the database knows; else InvalidValue."""
    if role not in ROLES:
        raise InvalidValue("role", f"'{role}' (giltiga: owner, party, unit)")
    if role == "party" and not party:
        raise InvalidValue("party", "krävs för --role party (t.ex. --party polis)")
    if role == "unit" and not unit:
        raise InvalidValue("unit", "krävs för --role unit (t.ex. --unit fritid-folkhalsa)")
    if role != "party" and party:
        raise InvalidValue("party", "gäller bara --role party")
    if role != "unit" and unit:
        raise InvalidValue("unit", "gäller bara --role unit")
    if party:
        known = set(session.scalars(select(PartyRow.id)))
        if party not in known:
            raise InvalidValue("party", f"okänd part '{party}' (parter: {', '.join(sorted(known)) or 'inga'})")
    if unit:
        known = set(session.scalars(select(UnitRow.id)))
        if unit not in known:
            raise InvalidValue("unit", f"okänd enhet '{unit}' (enheter: {', '.join(sorted(known)) or 'inga'})")


def add_user(
    session: Session,
    email: str,
    *,
    role: str,
    password: str | None,
    now: datetime,
    party: str | None = None,
    unit: str | None = None,
    name: str | None = None,
) -> User:
    """Create a user (``password`` None: invited, none yet); every problem is one InvalidValue, nothing written."""
    address = normalise_email(email)
    check_role(session, role, party, unit)
    if password is not None:
        check_password(password)
    if session.scalar(select(User.id).where(func.lower(User.email) == address)) is not None:
        raise InvalidValue("email", f"användaren {address} finns redan")
    user = User(
        email=address,
        name=(name or "").strip() or None,
        role=role,
        party=party,
        unit=unit,
        password_hash=NO_PASSWORD if password is None else _hasher.hash(password),
        created_at=now,
        session_version=secrets.randbelow(2**30),
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user with this e-mail and password, or None (the same time either way)."""
    dummy = _dummy()  # before the lookup, so the first sign-in costs the same for a known and an unknown address
    address = email.strip().lower()
    user = session.scalars(select(User).where(func.lower(User.email) == address)).first() if address else None
    try:
        _hasher.verify(user.password_hash if user is not None else dummy, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def verified(session: Session, email: str) -> User | None:
    """The user whose address an identity provider has vouched for (single sign-on), or None.

    No password is involved: the provider checked the person, this only finds the account.
    A deactivated user is found no more than an unknown one: the owner's deactivation holds
    whichever way the person signs in.
    """
    address = email.strip().lower()
    if not address:
        return None
    return session.scalars(select(User).where(func.lower(User.email) == address, User.active.is_(True))).first()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidValue("password", f"ska vara minst {MIN_PASSWORD} tecken")


def find(session: Session, email: str) -> User:
    """The user with this e-mail (any case), or InvalidValue naming it."""
    address = email.strip().lower()
    user = session.scalars(select(User).where(func.lower(User.email) == address)).first() if address else None
    if user is None:
        raise InvalidValue("email", f"ingen användare med adressen {address[:320]}")
    return user


def end_sessions(session: Session, user_id: int) -> int:
    """End every session of the user: the version their cookies carry no longer matches. The new version."""
    session.execute(update(User).where(User.id == user_id).values(session_version=User.session_version + 1))
    version = session.scalar(select(User.session_version).where(User.id == user_id))
    return int(version) if version is not None else 0


def set_password(session: Session, user: User, password: str) -> int:
    """A new password, and every session made with the old one ended; the new session version.

    A password set any way (the CLI, the user's own form) uses up a pending invitation too:
    its link would otherwise replace the password just chosen.
    """
    check_password(password)
    user.password_hash = _hasher.hash(password)
    user.invite_nonce = None
    withdraw_invites(session, user.id)
    session.flush()
    version = end_sessions(session, user.id)
    session.refresh(user)
    return version


def change_password(session: Session, user_id: int, current: str, new: str) -> int | None:
    """The signed-in user's own change: the new session version, or None when ``current`` is wrong.

    The new password is checked first, so a too-short one costs no password check.
    """
    check_password(new)
    user = session.get(User, user_id)
    if user is None:
        return None
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        return None
    return set_password(session, user, new)


def has_password(user: User) -> bool:
    return user.password_hash != NO_PASSWORD


def change_role(
    session: Session, email: str, *, role: str, party: str | None, unit: str | None, actor: int | None = None
) -> User:
    """A new role (with its party or unit); ``actor``, the owner asking, cannot give up their own ownership.

    The sessions stay: every request reads the role afresh (web.http.current_user).
    """
    user = find(session, email)
    check_role(session, role, party, unit)
    if user.id == actor and role != "owner":
        raise InvalidValue("role", "du kan inte ta bort din egen roll som processägare; be en annan processägare")
    user.role, user.party, user.unit = role, party, unit
    session.flush()
    return user


def set_active(session: Session, email: str, active: bool, *, actor: int | None = None) -> User:
    """Deactivate (their sessions and any invitation link end) or reactivate a user; not oneself."""
    user = find(session, email)
    if user.id == actor and not active:
        raise InvalidValue("email", "du kan inte avaktivera dig själv; be en annan processägare")
    if user.active == active:
        return user
    user.active = active
    if not active:
        user.invite_nonce = None
        withdraw_invites(session, user.id)
    session.flush()
    end_sessions(session, user.id)
    session.refresh(user)
    return user


def withdraw_invites(session: Session, user_id: int) -> None:
    """Withdraw the user's invitation mails not yet sent: their links no longer work."""
    session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.kind == "invite",
            OutboxRow.key.startswith(f"invite:{user_id}:", autoescape=True),
            OutboxRow.state.in_([OutboxState.PENDING, OutboxState.HELD]),
        )
        .values(state=OutboxState.WITHDRAWN, last_error="inbjudan ersatt eller användaren avaktiverad")
    )


def remove_user(session: Session, email: str) -> User:
    """Remove the user; their sessions end with the row. The removed user (detached)."""
    user = find(session, email)
    withdraw_invites(session, user.id)
    session.execute(delete(User).where(User.id == user.id))
    session.expunge(user)
    return user


def everyone(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, func.lower(User.email))))
