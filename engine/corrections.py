"""Who may correct a recorded follow-up on the web, and until when.

A correction is a new version of the period's follow-up (``service.record_follow_up`` with
``replace``); every earlier version is kept. The process owner may correct at any time.
The responsible unit — its signed-in contact, its party's contact, or whoever holds the
link from its mail — may correct it for ``days`` local days after it was first recorded
(rules.correction); after that, only the process owner. ``samverkan followup --replace``
is the operator's and is not limited.

A correction names the version it corrects: one made meanwhile by someone else (or the
same form sent twice) is refused rather than silently overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import service
from engine.models import AgreementRow, Commitment, FollowUp
from engine.users import Person
from rules import correction, texts
from rules.errors import InvalidValue


@dataclass(frozen=True, kw_only=True)
class Window:
    """How long the unit may correct a period's follow-up itself."""

    period: int
    version: int  # the latest version, the one a correction replaces
    first_recorded: datetime
    last_day: date  # local date in the agreement's zone
    open: bool


def window(session: Session, c: Commitment, period: int, *, now: datetime, days: int) -> Window | None:
    """The unit's correction window for ``period``, or None when nothing is recorded for it."""
    rows = session.execute(
        select(FollowUp.version, FollowUp.recorded_at)
        .where(FollowUp.commitment_id == c.id, FollowUp.period == period)
        .order_by(FollowUp.version)
    ).all()
    if not rows:
        return None
    zone = zone_of(session, c)
    first = rows[0].recorded_at
    return Window(
        period=period,
        version=rows[-1].version,
        first_recorded=first,
        last_day=correction.last_day(first, days, zone),
        open=correction.is_open(first, days, zone, now),
    )


def zone_of(session: Session, c: Commitment) -> ZoneInfo:
    agreement = session.get(AgreementRow, c.agreement_id)
    assert agreement is not None
    return ZoneInfo(agreement.timezone)


def may_correct(who: Person | None, c: Commitment, w: Window | None) -> bool:
    """Whether ``who`` (None: the holder of the unit's link) may correct now; ``w`` is the period's window."""
    if w is None:
        return False
    if who is not None and who.role == "owner":
        return True
    if who is not None and not who.may_record(c):
        return False
    return w.open


def check(
    session: Session, key: str, period: int, *, who: Person | None, version: int, now: datetime, days: int
) -> None:
    """Refuse a correction ``who`` may not make now, in Swedish; nothing has been written yet."""
    c = service.resolve_commitment(session, key, lock=True)
    if who is not None and not who.may_record(c):
        raise InvalidValue("commitment", f"du får inte rätta uppföljningar för {c.id}")
    w = window(session, c, period, now=now, days=days)
    if w is None:
        raise InvalidValue("replace", f"{c.id} har ingen uppföljning för {period} att rätta")
    if w.version != version:
        raise InvalidValue(
            "version",
            f"uppföljningen för {period} har ändrats sedan formuläret öppnades (nu version {w.version}); "
            "se den nya versionen och rätta igen",
        )
    if not may_correct(who, c, w):
        raise InvalidValue(
            "period",
            f"uppföljningen för {period} kunde rättas till och med {texts.datum(w.last_day)}; "
            "nu rättar processägaren den",
        )
