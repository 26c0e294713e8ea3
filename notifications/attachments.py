"""The calendar file a notice's mail carries: one event per deadline, the same UID everywhere."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.models import OutboxRow
from notifications import message as mime

ATTACH_ICS = ("reminder", "revision_kickoff")


def deadline_attachment(row: OutboxRow, ctx: dict[str, Any], now: datetime) -> mime.Attachment | None:
    """The .ics of a reminder or a revision kickoff; None for any other notice."""
    due = ctx["notice"]["due"]
    owner = ctx["owner"]["email"]
    if row.kind not in ATTACH_ICS or not due:
        return None
    # Short texts on purpose: the mail itself says the rest.
    if row.kind == "reminder" and row.commitment_id is not None and row.period is not None:
        what, uid = f"uppföljning {row.period}", mime.follow_up_uid(row.commitment_id, row.period)
    else:
        number = int(ctx["notice"]["revision"])
        what, uid = f"revision {number}", mime.revision_uid(row.agreement_id, number)
    content = mime.deadline_ics(
        uid=uid,
        summary=f"Sista dag: {what}",
        description=f"{row.commitment_id or row.agreement_id}. Frågor: {owner}",
        due=date.fromisoformat(due),
        organizer=owner,
        stamp=now,
        today=now.astimezone(ZoneInfo(ctx["agreement"]["timezone"])).date(),
    )
    return mime.Attachment(
        filename="deadline.ics", content=content, maintype="text", subtype="calendar", params={"method": "PUBLISH"}
    )
