"""Issue 15: extensions (anstånd) of a commitment's follow-up due date for one period.

Every grant is a row (who, when, the date it replaced, the new one, why); the latest per
(commitment, period) applies, the earlier ones are its history (engine.extensions).

Revision ID: 0013
Revises: 0012
Create Date: 2027-01-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "due_extensions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("commitment_id", sa.String(200), sa.ForeignKey("commitments.id"), nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("previous_due", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("granted_by", sa.Text, nullable=False),
        sa.Column("granted_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_due_extensions_commitment", "due_extensions", ["commitment_id", "period", "id"])


def downgrade() -> None:
    op.drop_index("ix_due_extensions_commitment", table_name="due_extensions")
    op.drop_table("due_extensions")
