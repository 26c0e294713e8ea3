"""The process owner's work: hours on follow-ups, revisions and their decisions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("follow_ups") as t:
        t.add_column(sa.Column("hours", sa.Float))
    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agreement_id", sa.String(60), sa.ForeignKey("agreements.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("opened_at", UTCDateTime, nullable=False),
        sa.Column("opened_by", sa.Text, nullable=False),
        sa.Column("plan_version_before", sa.Integer, nullable=False),
        sa.Column("completed_at", UTCDateTime),
        sa.Column("plan_version_after", sa.Integer),
        sa.UniqueConstraint("agreement_id", "number", name="uq_revisions_number"),
    )
    op.create_table(
        "revision_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("revision_id", sa.Integer, sa.ForeignKey("revisions.id"), nullable=False),
        sa.Column("commitment_id", sa.String(200), sa.ForeignKey("commitments.id"), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("decided_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("revision_decisions")
    op.drop_table("revisions")
    with op.batch_alter_table("follow_ups") as t:
        t.drop_column("hours")
