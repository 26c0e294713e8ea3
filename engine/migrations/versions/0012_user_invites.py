"""Issue 15: users on the web: deactivated users and invitations to set a password.

``users.active``: a deactivated user keeps the row (and the history naming them) but
cannot sign in; existing users are active. ``users.invite_nonce`` is the one invitation
link that still works (NULL: none; a new invitation replaces it, setting the password
uses it up), ``users.invited_at`` when it was made.

Revision ID: 0012
Revises: 0011
Create Date: 2027-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as t:
        t.add_column(sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()))
        t.add_column(sa.Column("invite_nonce", sa.String(64), nullable=True))
        t.add_column(sa.Column("invited_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as t:
        t.drop_column("invited_at")
        t.drop_column("invite_nonce")
        t.drop_column("active")
