"""Extensions (anstånd) and reminders sent by hand: the process owner acting on a late follow-up.

``grant`` moves one commitment's due date for its open period. The grant is a row of
``due_extensions`` (who, when, the date it replaced, the new one, why); the new date is
written to ``commitments.next_due`` through ``engine.deadlines.stored_due``, the one place
a stored due date is decided, so every reader follows it (see engine.deadlines). What was
queued for the old date (reminders, overdue notices, an escalation) is withdrawn
(rules.withdrawal); the commitment is looked at by the next tick, which queues the new
date's cycle under its own keys (rules.follow_up).

Which dates a grant accepts, and why:

* only for the open period of a ``pågående`` commitment: a period not yet open has no
  reminders to move, and a reported one needs nothing;
* a closed day moves to the next working day, as every due date does (rules.calendar);
* after the period's ordinary due date (a later grant may shorten an earlier one, never
  below the ordinary date), not before today (no grant makes a follow-up late at once), not
  the date it already has, before the next period's ordinary due date (the periods' cycles
  must not overlap) and before the day a termination takes effect (nothing is asked then).

``remind`` is "Påminn nu" on the overdue review: an overdue notice for one late follow-up,
or for every late follow-up of one unit, queued at once through the outbox like every other
notice, under the key ``overdue:<commitment>:<period>:manual:<local date>``: a second
reminder the same day queues nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from engine import outbox, withdraw
from engine.deadlines import stored_due
from engine.models import AgreementRow, Commitment, DueExtension, UnitRow
from engine.service import agreement_for, resolve_commitment
from rules import lifecycle, texts
from rules.calendar import SwedishCalendar
from rules.errors import InvalidValue
from rules.model import QueueNotice

MAX_REASON = 2000


@dataclass(frozen=True, kw_only=True)
class Granted:
    commitment: str
    period: int
    due: date
    previous_due: date
    regular_due: date
    reason: str
    by: str
    at: datetime
    moved_to_working_day: bool  # the date asked for was a closed day
    withdrawn: int  # queued notices of the old date, withdrawn


def _today(agreement: AgreementRow, now: datetime) -> date:
    return now.astimezone(ZoneInfo(agreement.timezone)).date()


def grant(
    session: Session,
    key: str,
    *,
    period: int,
    due: date,
    reason: str,
    by: str,
    now: datetime,
    cal: SwedishCalendar | None = None,
) -> Granted:
    """Give ``key``'s follow-up for ``period`` the new due date ``due``, or raise InvalidValue (nothing written)."""
    cal = cal or SwedishCalendar()
    c = resolve_commitment(session, key, lock=True)
    agreement = session.get(AgreementRow, c.agreement_id)
    assert agreement is not None
    if c.state != lifecycle.PAGAENDE:
        raise InvalidValue("period", f"anstånd ges bara för en pågående uppföljning (åtagandet är {c.state})")
    if period != c.period:
        raise InvalidValue("period", f"perioden {period} är inte öppen (åtagandet följs upp för {c.period})")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidValue("reason", "ange varför anståndet ges")
    if len(reason) > MAX_REASON:
        raise InvalidValue("reason", f"anledningen får vara högst {MAX_REASON} tecken")
    due_md = agreement.schedule["follow_up"]["due"]
    regular = cal.follow_up_due(period, due_md)
    moved = cal.next_working_day(due)
    today = _today(agreement, now)
    following = cal.follow_up_due(period + 1, due_md)
    shown = texts.datum(moved) + (f" (närmaste arbetsdag efter {texts.datum(due)})" if moved != due else "")
    if moved <= regular:
        raise InvalidValue("due", f"den nya sista dagen måste vara efter den ordinarie, {texts.datum(regular)}")
    if moved < today:
        raise InvalidValue("due", f"den nya sista dagen kan inte vara före i dag, {texts.datum(today)}")
    if moved >= following:
        raise InvalidValue(
            "due", f"den nya sista dagen måste vara före nästa periods sista dag, {texts.datum(following)}"
        )
    if agreement.terminates is not None and moved >= agreement.terminates:
        raise InvalidValue(
            "due", f"överenskommelsen är uppsagd från {texts.datum(agreement.terminates)}; välj en tidigare dag"
        )
    previous = c.next_due or regular
    if moved == previous:
        raise InvalidValue("due", f"uppföljningen har redan sista dag {shown}")
    session.add(
        DueExtension(
            commitment_id=c.id,
            period=period,
            due=moved,
            previous_due=previous,
            reason=reason,
            granted_by=by,
            granted_at=now,
        )
    )
    session.flush()
    c.next_due = stored_due({(c.id, period): moved}, c.id, period, regular)
    # The next tick queues the new date's cycle (and withdraws nothing more: done here).
    c.next_check = now
    session.flush()
    withdrawn = withdraw.withdraw_stale(session.connection(), now, commitments=[c.id])
    return Granted(
        commitment=c.id,
        period=period,
        due=moved,
        previous_due=previous,
        regular_due=regular,
        reason=reason,
        by=by,
        at=now,
        moved_to_working_day=moved != due,
        withdrawn=len(withdrawn),
    )


def granted(session: Session, commitment_id: str) -> list[DueExtension]:
    """Every extension of a commitment, the latest first (the first of a period is the one that applies)."""
    return list(
        session.scalars(
            select(DueExtension)
            .where(DueExtension.commitment_id == commitment_id)
            .order_by(DueExtension.period.desc(), DueExtension.id.desc())
        )
    )


@dataclass(frozen=True, kw_only=True)
class Reminded:
    agreement: str
    unit_name: str  # the unit reminded (all of its late follow-ups), or the one commitment's unit
    queued: tuple[QueueNotice, ...]
    already: tuple[str, ...]  # commitments reminded by hand earlier today: nothing queued for them


def remind(
    session: Session,
    *,
    by: str,
    now: datetime,
    commitment: str | None = None,
    agreement: str | None = None,
    unit: str | None = None,
) -> Reminded:
    """ "Påminn nu": an overdue notice for ``commitment``, or for every late follow-up of ``unit``.

    Refused (InvalidValue, nothing queued) for a follow-up that is not late, and for a unit
    with none.
    """
    stmt = select(Commitment, UnitRow).join(
        UnitRow, and_(UnitRow.agreement_id == Commitment.agreement_id, UnitRow.id == Commitment.responsible)
    )
    if commitment is not None:
        c = resolve_commitment(session, commitment)
        head = session.get(AgreementRow, c.agreement_id)
        assert head is not None
        rows = session.execute(stmt.where(Commitment.id == c.id)).all()
        late = [(c, u) for c, u in rows if _late(c, _today(head, now))]
        if not late:
            raise InvalidValue("commitment", f"uppföljningen av {c.id} är inte försenad; ingen påminnelse skickades")
    else:
        head = agreement_for(session, agreement, lock=False)
        known = session.get(UnitRow, (head.id, unit or ""))
        if known is None:
            raise InvalidValue("unit", f"okänd enhet '{unit}'")
        today = _today(head, now)
        rows = session.execute(
            stmt.where(Commitment.agreement_id == head.id, Commitment.responsible == known.id).order_by(Commitment.id)
        ).all()
        late = [(c, u) for c, u in rows if _late(c, today)]
        if not late:
            raise InvalidValue("unit", f"{known.name} har inga försenade uppföljningar; ingen påminnelse skickades")
    today = _today(head, now)
    notices = [
        QueueNotice(
            key=f"overdue:{c.id}:{c.period}:manual:{today.isoformat()}",
            kind="overdue",
            recipients=(u.email,),
            send_at=now,
            agreement=c.agreement_id,
            commitment=c.id,
            period=c.period,
            data={
                "period": c.period,
                "due": c.next_due.isoformat() if c.next_due else None,
                "days_late": (today - c.next_due).days if c.next_due else None,
                "manual": by,
            },
        )
        for c, u in late
    ]
    inserted = outbox.queue_in(session, notices, now)
    return Reminded(
        agreement=head.id,
        unit_name=late[0][1].name,
        queued=tuple(n for n in notices if n.key in inserted),
        already=tuple(n.commitment or "" for n in notices if n.key not in inserted),
    )


def _late(c: Commitment, today: date) -> bool:
    return c.state == lifecycle.PAGAENDE and c.next_due is not None and c.next_due < today
