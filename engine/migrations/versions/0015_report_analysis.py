"""Issue 16: the process owner's analysis and conclusions in the yearly report, per agreement and period.

Every save is a row (the next version, who, when, the text); the latest per (agreement,
period) is the one the report shows, the earlier ones are its history (engine.analysis).
The unique version is what refuses the second of two saves made from the same form.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.models import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_analyses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agreement_id", sa.String(60), sa.ForeignKey("agreements.id"), nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("written_by", sa.Text, nullable=False),
        sa.Column("written_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("agreement_id", "period", "version", name="uq_report_analyses_version"),
    )


def downgrade() -> None:
    op.drop_table("report_analyses")
