"""The tick's batch order (next_check, id) straight from an index.

With an index on next_check alone SQLite sorts the rest of each group of equal
next_check values in a temporary B-tree for every batch (bench/tick.py: 0.77 s of
the batch queries at 1M commitments, 0.37 s with this index).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("commitments") as t:
        t.drop_index("ix_commitments_next_check")
        t.create_index("ix_commitments_next_check", ["next_check", "id"])


def downgrade() -> None:
    with op.batch_alter_table("commitments") as t:
        t.drop_index("ix_commitments_next_check")
        t.create_index("ix_commitments_next_check", ["next_check"])
