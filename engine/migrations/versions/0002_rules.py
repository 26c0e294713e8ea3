"""The rules engine: schedule and revision cycle per agreement, next_check, outbox, follow-ups.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agreements") as t:
        t.add_column(sa.Column("schedule", sa.JSON, nullable=False, server_default="{}"))
        t.add_column(sa.Column("revision_number", sa.Integer, nullable=False, server_default="1"))
        t.add_column(sa.Column("revision_due", sa.Date, nullable=False, server_default="2000-01-01"))
        t.add_column(sa.Column("terminates", sa.Date))
        t.add_column(sa.Column("next_check", UTCDateTime))
        t.create_index("ix_agreements_next_check", ["next_check"])
    with op.batch_alter_table("commitments") as t:
        t.add_column(sa.Column("next_check", UTCDateTime))
        t.create_index("ix_commitments_next_check", ["next_check"])
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("commitment_id", sa.String(200), sa.ForeignKey("commitments.id"), nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("values", sa.JSON, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("commitment_id", "period", "version", name="uq_follow_ups_version"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(400), nullable=False, unique=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("agreement_id", sa.String(60), nullable=False),
        sa.Column("commitment_id", sa.String(200)),
        sa.Column("period", sa.Integer),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("send_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
    )
    op.create_index("ix_outbox_state_send_at", "outbox", ["state", "send_at"])
    op.create_table(
        "tick_lock",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ticked_at", UTCDateTime),
    )
    op.execute("INSERT INTO tick_lock (id) VALUES (1)")


def downgrade() -> None:
    op.drop_table("tick_lock")
    op.drop_index("ix_outbox_state_send_at", "outbox")
    op.drop_table("outbox")
    op.drop_table("follow_ups")
    with op.batch_alter_table("commitments") as t:
        t.drop_index("ix_commitments_next_check")
        t.drop_column("next_check")
    with op.batch_alter_table("agreements") as t:
        t.drop_index("ix_agreements_next_check")
        for col in ("next_check", "terminates", "revision_due", "revision_number", "schedule"):
            t.drop_column(col)
