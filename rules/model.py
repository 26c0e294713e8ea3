"""What rules read and what they return: frozen, keyword-only value objects.

Rules never see the database: the engine builds these views from rows, calls the
rules with ``now`` and a calendar, and applies the actions they return in one
transaction. Every action that sends something carries an idempotency key; the
outbox holds a unique constraint on it, so a rule evaluated twice acts once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from rules.lifecycle import Moved


class OutboxState(StrEnum):
    """A queued notice's state; the value is what the outbox table stores.

    pending → sending (claimed, under a lease) → sent | pending again (retry) | failed;
    pending or sending → withdrawn when its reason went away (rules.withdrawal).
    held: rides along with the next mail to its recipient and is never sent alone
    (a calendar CANCEL after a follow-up is recorded); held → sent with that mail.
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"
    HELD = "held"


NoticeKind = Literal[
    "reminder",
    "overdue",
    "escalation",
    "revision_kickoff",
    "revision_overdue",
    "change_notice",
    "termination_notice",
    "deviation",
    "delivery_failed",
    "weekly_summary",
    "calendar_cancel",
    "invite",
]

# What falls due for one address in one send slot goes out as one mail (notifications'
# grouped mail); a weekly summary due the same morning is folded into the process
# owner's. Changed conditions and terminations stay immediate and separate; a revision
# kickoff goes to several addresses at once; a failed delivery is an alarm.
GROUPED_KINDS: frozenset[str] = frozenset(
    {"reminder", "overdue", "escalation", "deviation", "weekly_summary", "calendar_cancel"}
)


def group_key(kind: str, recipients: tuple[str, ...] | list[str]) -> str | None:
    """The address a notice is grouped under, or None when it goes out on its own."""
    if kind not in GROUPED_KINDS or len(recipients) != 1:
        return None
    return recipients[0].strip().lower()


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """An agreement's schedule settings (the ``schedule`` section of its file)."""

    zone: ZoneInfo
    send_time: time
    due_md: str
    reminder_offsets: tuple[int, ...]
    overdue_repeat_days: int
    escalation_after_days: int
    revision_every_years: int
    revision_kickoff_days: int
    revision_late_repeat_days: int
    weekly_summary: bool = True

    @classmethod
    def from_settings(cls, timezone: str, settings: dict[str, Any]) -> Schedule:
        fu, rev = settings["follow_up"], settings["revision"]
        hh, mm = (int(x) for x in settings["send_time"].split(":")[:2])
        return cls(
            zone=ZoneInfo(timezone),
            send_time=time(hh, mm),
            due_md=fu["due"],
            reminder_offsets=tuple(sorted(fu["reminder_offsets_days"])),
            overdue_repeat_days=fu["overdue_repeat_days"],
            escalation_after_days=fu["escalation_after_days"],
            revision_every_years=rev["every_years"],
            revision_kickoff_days=rev["kickoff_days_before"],
            revision_late_repeat_days=rev["late_repeat_days"],
            weekly_summary=settings.get("weekly_summary", True),
        )


@dataclass(frozen=True, kw_only=True)
class CommitmentView:
    """One commitment as the rules see it."""

    id: str
    agreement: str
    state: str
    period: int
    starts: date
    ends: date | None
    unit_email: str
    owner_email: str
    valid_to: date | None = None
    terminates: date | None = None
    # The open period's due date as stored (engine: commitments.next_due), which carries a
    # granted extension (anstånd); None: the calendar's date for the period.
    due: date | None = None


@dataclass(frozen=True, kw_only=True)
class AgreementView:
    """An agreement's revision cycle as the rules see it."""

    id: str
    signed: date
    valid_to: date | None
    revision_number: int
    # Revision ``revision_number``'s deadline (rules.revision.deadline); None when the term has no more.
    revision_due: date | None
    party_emails: tuple[str, ...]
    owner_email: str
    terminates: date | None = None
    needs_attention: bool = False


@dataclass(frozen=True, kw_only=True)
class FireTrigger:
    """Move a commitment through the lifecycle."""

    commitment: str
    trigger: str
    rule: str
    why: str
    # What the move made of the commitment (rules.lifecycle.move), once it is applied.
    moved: Moved | None = None


@dataclass(frozen=True, kw_only=True)
class QueueNotice:
    """Put a notice in the outbox, once per key, to go out at ``send_at``."""

    key: str
    kind: NoticeKind
    recipients: tuple[str, ...]
    send_at: datetime
    agreement: str
    commitment: str | None = None
    period: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AdvanceRevision:
    """Close revision cycle ``number`` of an agreement and schedule the next one."""

    agreement: str
    number: int
    next_due: date


Action = FireTrigger | QueueNotice | AdvanceRevision


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What a rule decided now, and the next instant at which it may decide anything."""

    actions: tuple[Action, ...] = ()
    next_check: datetime | None = None
