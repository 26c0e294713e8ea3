"""Delivery: outbox claim/attempt columns, revision flags, party events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as t:
        t.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        t.add_column(sa.Column("claimed_by", sa.String(100)))
        t.add_column(sa.Column("claimed_at", UTCDateTime))
        t.add_column(sa.Column("sent_at", UTCDateTime))
        t.add_column(sa.Column("message_id", sa.String(200)))
        t.add_column(sa.Column("last_error", sa.Text))
    with op.batch_alter_table("commitments") as t:
        t.add_column(sa.Column("revision_flag", sa.Text))
    op.create_table(
        "party_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agreement_id", sa.String(60), sa.ForeignKey("agreements.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("party", sa.String(60), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("effective", sa.Date),
        sa.Column("commitments", sa.JSON, nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("party_events")
    with op.batch_alter_table("commitments") as t:
        t.drop_column("revision_flag")
    with op.batch_alter_table("outbox") as t:
        for col in ("last_error", "message_id", "sent_at", "claimed_at", "claimed_by", "attempts"):
            t.drop_column(col)
