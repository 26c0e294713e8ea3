"""Issue 15: who loaded each plan version (``samverkan init``, a revision, or a person on the web).

A contact changed on the web becomes a plan version like an edited file does; the units
page lists who changed what. Versions loaded before this upgrade name nobody (NULL).

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plan_versions") as t:
        t.add_column(sa.Column("loaded_by", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_versions") as t:
        t.drop_column("loaded_by")
