"""Issue 11: withdrawn notices, revision deadlines from the signing date, a term with no revision left.

* ``agreements.revision_due`` holds the current revision's deadline (the nominal date
  from the signing date moved to a working day, rules.revision.deadline) and may be
  NULL: a fixed term whose last revision is done has none left. Stored nominal dates
  are recomputed into deadlines, from the signing date, and so are open revisions' own.
  (On SQLite the table is rebuilt; engine.db.upgrade turns foreign keys off around it.)
* ``cancelled`` outbox rows become ``withdrawn``: one state for every notice whose
  reason went away before it was sent (rules.withdrawal).
* ``ix_outbox_commitment``: the notices of a commitment that moved, found without
  reading every pending row.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _as_date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def upgrade() -> None:
    from rules.calendar import SwedishCalendar
    from rules.revision import deadline

    with op.batch_alter_table("agreements") as t:
        t.alter_column("revision_due", existing_type=sa.Date(), nullable=True)
    with op.batch_alter_table("outbox") as t:
        t.create_index("ix_outbox_commitment", ["commitment_id", "period"])
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE outbox SET state = 'withdrawn' WHERE state = 'cancelled'"))
    cal = SwedishCalendar()
    rows = conn.execute(sa.text("SELECT id, signed, valid_to, revision_number, schedule FROM agreements")).all()
    for aid, signed, valid_to, number, schedule in rows:
        settings = json.loads(schedule) if isinstance(schedule, str) else schedule
        signed_on = _as_date(signed)
        assert signed_on is not None
        due = deadline(signed_on, int(settings["revision"]["every_years"]), int(number), _as_date(valid_to), cal)
        conn.execute(sa.text("UPDATE agreements SET revision_due = :due WHERE id = :id"), {"due": due, "id": aid})
        # An open revision shows its own date (revision status): the same deadline.
        for rid, rnumber in conn.execute(
            sa.text("SELECT id, number FROM revisions WHERE agreement_id = :id AND completed_at IS NULL"), {"id": aid}
        ).all():
            rdue = deadline(signed_on, int(settings["revision"]["every_years"]), int(rnumber), _as_date(valid_to), cal)
            if rdue is not None:
                conn.execute(sa.text("UPDATE revisions SET due = :due WHERE id = :id"), {"due": rdue, "id": rid})


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE outbox SET state = 'cancelled' WHERE state = 'withdrawn'"))
    with op.batch_alter_table("outbox") as t:
        t.drop_index("ix_outbox_commitment")
