"""Issue 13: one mail per address per send slot, and calendar events that update.

* ``outbox.group_key``: the one address of a notice that goes out grouped
  (rules.model.group_key), filled for the rows already queued; ``ix_outbox_group``
  finds everything due for that address, so a mail is never split at a batch's edge.
* ``calendar_events``: per deadline UID the date its event last carried and its
  SEQUENCE, raised when the date moves or the event is cancelled.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from engine.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from rules.model import group_key

    with op.batch_alter_table("outbox") as t:
        t.add_column(sa.Column("group_key", sa.String(320)))
        t.create_index("ix_outbox_group", ["group_key", "state", "send_at"])
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, kind, recipients FROM outbox WHERE state IN ('pending', 'sending')")).all()
    for oid, kind, recipients in rows:
        to = json.loads(recipients) if isinstance(recipients, str) else recipients
        key = group_key(kind, list(to))
        if key is not None:
            conn.execute(sa.text("UPDATE outbox SET group_key = :k WHERE id = :id"), {"k": key, "id": oid})
    op.create_table(
        "calendar_events",
        sa.Column("uid", sa.String(200), primary_key=True),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("cancelled", sa.Boolean, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("calendar_events")
    with op.batch_alter_table("outbox") as t:
        t.drop_index("ix_outbox_group")
        t.drop_column("group_key")
