"""Issue 14: a per-user session version, so sign-out and a password change end every session.

``users.session_version`` is carried in the signed session cookie and compared on every
request; existing users start at 0 (their sessions made before this upgrade, without a
version, end at once).

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as t:
        t.add_column(sa.Column("session_version", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as t:
        t.drop_column("session_version")
