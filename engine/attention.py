"""Whether an agreement has something for the weekly review: the one question the tick and the
withdrawal check both ask before a weekly summary goes out (engine.review shows what it is)."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from sqlalchemy import Connection, Table, func, select

from engine.models import Commitment, OutboxRow
from rules import lifecycle
from rules.model import OutboxState


def needs_attention(conn: Connection, ids: list[str], today: dict[str, date]) -> set[str]:
    """Agreements with something for the weekly review: a late follow-up, a failed notice, a flag.

    ``today`` is each agreement's local date. The tick asks this to decide whether a
    week's summary goes out; the dispatcher asks it again before sending one late.
    """
    if not ids:
        return set()
    c = cast(Table, Commitment.__table__)
    out = cast(Table, OutboxRow.__table__)
    late = (
        select(c.c.agreement_id, func.min(c.c.next_due))
        .where(c.c.agreement_id.in_(ids), c.c.state == lifecycle.PAGAENDE, c.c.next_due.is_not(None))
        .group_by(c.c.agreement_id)
    )
    found = {aid for aid, due in conn.execute(late) if due is not None and _as_date(due) < today[aid]}
    flagged = select(c.c.agreement_id).where(c.c.agreement_id.in_(ids), c.c.revision_flag.is_not(None))
    failed = select(out.c.agreement_id).where(out.c.agreement_id.in_(ids), out.c.state == OutboxState.FAILED)
    return found | set(conn.execute(flagged.union(failed)).scalars())


def _as_date(value: Any) -> date:
    # An aggregate skips the column type's result processing; SQLite returns text.
    return date.fromisoformat(value) if isinstance(value, str) else value
