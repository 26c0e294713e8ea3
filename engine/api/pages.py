"""The web's read models for people and commitments: who is signed in, one commitment's
page, and the state behind a follow-up link from a mail.

Each function opens its own transaction on the database and returns frozen values
without ORM rows, so a page can be rendered after the transaction has ended and can
never write by accident. Access is decided here, with ``engine.users.Person``: a page
gets only what the person may see. The dashboard is in ``engine.api.pages_dashboard``;
the agreement-wide pages (review, revision, parties, report) in ``engine.api.pages_agreement``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import db, service, users
from engine.api.pages_extensions import ExtensionLine
from engine.api.pages_extensions import lines as extension_lines
from engine.api.values import Move, move_of
from engine.db import Database
from engine.invites import INVITE_LIFETIME
from engine.models import (
    AgreementRow,
    AreaRow,
    Commitment,
    EffortRow,
    FollowUp,
    OutboxRow,
    PartyRow,
    TransitionRecord,
    UnitRow,
    User,
)
from engine.users import Person
from rules import deviation, lifecycle
from rules import follow_up as follow_up_rules
from rules.calendar import SwedishCalendar
from rules.model import Schedule


def today_in(timezone: str, now: datetime) -> date:
    """The agreement's local date: deadlines are days in its zone, not in UTC."""
    return now.astimezone(ZoneInfo(timezone)).date()


def signed_in(database: Database, user_id: int, session_version: int) -> Person | None:
    """The person a session names, or None when the user is gone or the session has ended

    (signed out, the password changed or the user deactivated, since the cookie was made).
    """
    with db.transaction(database) as session:
        user = session.get(User, user_id)
        if user is None or not user.active or user.session_version != session_version:
            return None
        return users.person(user)


@dataclass(frozen=True, kw_only=True)
class UserLine:
    email: str
    name: str | None
    role: str  # owner | party | unit
    role_sv: str
    party: str | None
    unit: str | None
    id: int = 0
    active: bool = True
    has_password: bool = True
    invited_at: datetime | None = None  # the invitation whose link still works, if any

    @property
    def invite_expires(self) -> datetime | None:
        return None if self.invited_at is None else self.invited_at + INVITE_LIFETIME

    @property
    def status_sv(self) -> str:
        if not self.active:
            return "avaktiverad"
        if self.has_password:
            return "aktiv, ny inbjudan skickad" if self.invited_at else "aktiv"
        return "inbjuden, inget lösenord ännu" if self.invited_at else "inget lösenord"


def user_list(database: Database) -> list[UserLine]:
    """Everyone who may sign in, for the process owner's users page and ``samverkan user list``."""
    with db.transaction(database) as session:
        return [
            UserLine(
                email=u.email,
                name=u.name,
                role=u.role,
                role_sv=users.ROLE_SV[u.role],
                party=u.party,
                unit=u.unit,
                id=u.id,
                active=u.active,
                has_password=users.has_password(u),
                invited_at=u.invited_at if u.invite_nonce is not None else None,
            )
            for u in users.everyone(session)
        ]


# -- one commitment --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CommitmentInfo:
    id: str
    agreement_id: str
    party: str
    text: str
    responsible: str
    state: str
    period: int
    next_due: date | None
    revision_flag: str | None


@dataclass(frozen=True, kw_only=True)
class AgreementHead:
    id: str
    title: str
    timezone: str  # instants on the page are shown in it


@dataclass(frozen=True, kw_only=True)
class EffortInfo:
    id: str
    title: str
    timeframe_text: str


@dataclass(frozen=True, kw_only=True)
class AreaInfo:
    number: int
    title: str


@dataclass(frozen=True, kw_only=True)
class UnitInfo:
    id: str
    name: str
    email: str


@dataclass(frozen=True, kw_only=True)
class Measure:
    """An aktivitetsmått the commitment's party reports."""

    id: str
    text: str
    kind: str  # count | text
    target: float | None


@dataclass(frozen=True, kw_only=True)
class ShownValue:
    measure: str  # the measure's id, the form field a correction fills in
    text: str
    value: Any
    target: float | None
    below: bool


@dataclass(frozen=True, kw_only=True)
class RecordedVersion:
    """An earlier version of a period's follow-up, kept when it was corrected."""

    version: int
    values: tuple[tuple[str, Any], ...]
    comment: str
    by: str
    recorded_at: datetime
    hours: float | None


@dataclass(frozen=True, kw_only=True)
class PeriodFollowUp:
    """A period's follow-up as its latest version says, each value beside its measure."""

    period: int
    version: int
    values: tuple[ShownValue, ...]
    comment: str
    by: str
    recorded_at: datetime
    hours: float | None
    earlier: tuple[RecordedVersion, ...]


@dataclass(frozen=True, kw_only=True)
class Notice:
    kind: str
    period: int | None
    recipients: tuple[str, ...]
    state: str
    send_at: datetime
    sent_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, kw_only=True)
class CommitmentPage:
    c: CommitmentInfo
    agreement: AgreementHead
    effort: EffortInfo
    area: AreaInfo
    party_name: str
    unit: UnitInfo
    co_responsible: tuple[str, ...]
    measures: tuple[Measure, ...]
    follow_ups: tuple[PeriodFollowUp, ...]  # the latest period first
    history: tuple[Move, ...]
    notices: tuple[Notice, ...]
    days_left: int | None
    # The current period may be recorded now: running, reporting has opened, nothing recorded yet.
    recordable: bool
    may_record: bool  # the person who asked may record it (False behind a mail link: no person)
    # Every extension (anstånd) granted, the latest first (engine.api.pages_extensions).
    extensions: tuple[ExtensionLine, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Refused:
    """The commitment exists but is not the person's to see, or to record; nothing of it is told."""

    commitment: str


def commitment_page(
    database: Database, key: str, *, who: Person, now: datetime, to_record: bool = False
) -> CommitmentPage | Refused:
    """The commitment named ``key`` (full or short id) as ``who`` may see it.

    ``to_record``: the page is the follow-up form, so refused unless ``who`` may record it.
    An unknown key raises NotFound.
    """
    with db.transaction(database) as session:
        c = service.resolve_commitment(session, key)
        if not who.may_see(c) or (to_record and not who.may_record(c)):
            return Refused(commitment=c.id)
        return _commitment_page(session, c, now, may_record=who.may_record(c))


def _commitment_page(session: Session, c: Commitment, now: datetime, *, may_record: bool) -> CommitmentPage:
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
    applying = service.measures_for(session, c)
    measures = tuple(
        Measure(id=m["id"], text=m["text"], kind=m.get("kind", "count"), target=m.get("target")) for m in applying
    )
    schedule = Schedule.from_settings(agreement.timezone, agreement.schedule)
    today = today_in(agreement.timezone, now)
    return CommitmentPage(
        c=_info(c),
        agreement=AgreementHead(id=agreement.id, title=agreement.title, timezone=agreement.timezone),
        effort=EffortInfo(id=effort.id, title=effort.title, timeframe_text=effort.timeframe_text),
        area=AreaInfo(number=area.number, title=area.title),
        party_name=party.name if party is not None else c.party,
        unit=UnitInfo(id=unit.id, name=unit.name, email=unit.email),
        co_responsible=tuple(co),
        measures=measures,
        follow_ups=tuple(_follow_ups(session, c, applying)),
        history=tuple(
            move_of(h)
            for h in session.scalars(
                select(TransitionRecord).where(TransitionRecord.commitment_id == c.id).order_by(TransitionRecord.id)
            )
        ),
        notices=tuple(
            Notice(
                kind=n.kind,
                period=n.period,
                recipients=tuple(n.recipients),
                state=n.state,
                send_at=n.send_at,
                sent_at=n.sent_at,
                last_error=n.last_error,
            )
            for n in session.scalars(
                select(OutboxRow).where(OutboxRow.commitment_id == c.id).order_by(OutboxRow.send_at, OutboxRow.id)
            )
        ),
        days_left=(c.next_due - today).days if c.next_due is not None else None,
        recordable=recordable(session, c, schedule, today),
        may_record=may_record,
        extensions=extension_lines(session, c.id),
    )


def recordable(session: Session, c: Commitment, schedule: Schedule, today: date) -> bool:
    """The current period may be recorded now: running, reporting has opened, nothing recorded yet.

    ``schedule`` and ``today`` are those of the commitment's agreement (``today_in``).
    """
    if c.state != lifecycle.PAGAENDE or today < follow_up_rules.reporting_opens(c.period, schedule, SwedishCalendar()):
        return False
    return service.latest_follow_up(session, c.id, c.period) is None


def _info(c: Commitment) -> CommitmentInfo:
    return CommitmentInfo(
        id=c.id,
        agreement_id=c.agreement_id,
        party=c.party,
        text=c.text,
        responsible=c.responsible,
        state=c.state,
        period=c.period,
        next_due=c.next_due,
        revision_flag=c.revision_flag,
    )


def _follow_ups(session: Session, c: Commitment, measures: list[dict[str, Any]]) -> list[PeriodFollowUp]:
    by_period: dict[int, list[FollowUp]] = defaultdict(list)
    for f in session.scalars(
        select(FollowUp).where(FollowUp.commitment_id == c.id).order_by(FollowUp.period.desc(), FollowUp.version)
    ):
        by_period[f.period].append(f)
    return [_period(versions, c.party, measures) for versions in by_period.values()]


def _period(versions: list[FollowUp], party: str, measures: list[dict[str, Any]]) -> PeriodFollowUp:
    latest = versions[-1]
    known = {m["id"]: m for m in measures}
    below = {m["id"] for m in deviation.below_target(measures, party, latest.values)}
    shown = tuple(
        ShownValue(
            measure=mid,
            text=known[mid]["text"] if mid in known else mid,
            value=value,
            target=known[mid].get("target") if mid in known else None,
            below=mid in below,
        )
        for mid, value in latest.values.items()
    )
    return PeriodFollowUp(
        period=latest.period,
        version=latest.version,
        values=shown,
        comment=latest.comment,
        by=latest.by,
        recorded_at=latest.recorded_at,
        hours=latest.hours,
        earlier=tuple(
            RecordedVersion(
                version=f.version,
                values=tuple(f.values.items()),
                comment=f.comment,
                by=f.by,
                recorded_at=f.recorded_at,
                hours=f.hours,
            )
            for f in versions[:-1]
        ),
    )


# -- the follow-up link from a mail -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LinkState:
    """What a signed follow-up link for (commitment, period) leads to now."""

    page: CommitmentPage | None  # None: the commitment is no longer in the plan
    done: PeriodFollowUp | None  # the period's follow-up, once it is recorded (by any way)


def follow_up_link(database: Database, commitment_id: str, period: int, *, now: datetime) -> LinkState:
    """The state behind a link: the link is the credential, so no person and no access check."""
    with db.transaction(database) as session:
        c = session.get(Commitment, commitment_id)
        if c is None:
            return LinkState(page=None, done=None)
        done = None
        latest = service.latest_follow_up(session, c.id, period)
        if latest is not None:
            versions = list(
                session.scalars(
                    select(FollowUp)
                    .where(FollowUp.commitment_id == c.id, FollowUp.period == period)
                    .order_by(FollowUp.version)
                )
            )
            done = _period(versions, c.party, service.measures_for(session, c))
        return LinkState(page=_commitment_page(session, c, now, may_record=False), done=done)


@dataclass(frozen=True, kw_only=True)
class Contact:
    name: str
    email: str


def process_owner_of(database: Database, commitment_id: str) -> Contact | None:
    """Whom to ask when a link has expired: the process owner of the commitment's agreement."""
    with db.transaction(database) as session:
        c = session.get(Commitment, commitment_id)
        if c is None:
            return None
        agreement = session.get(AgreementRow, c.agreement_id)
        owner = session.get(UnitRow, (c.agreement_id, agreement.process_owner)) if agreement else None
        return Contact(name=owner.name, email=owner.email) if owner is not None else None
