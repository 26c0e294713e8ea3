"""Issue 15: the revised plan as a draft, edited in the browser while a revision is open.

The draft is the revision's own: its edits (efforts changed or added, the term) are kept
on the revision row and applied to the current plan version's document when it is shown
or adopted (engine.drafts). NULL: nothing edited yet.

Revision ID: 0014
Revises: 0013
Create Date: 2027-01-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.models import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("revisions") as t:
        t.add_column(sa.Column("draft", sa.JSON, nullable=True))
        t.add_column(sa.Column("draft_by", sa.Text, nullable=True))
        t.add_column(sa.Column("draft_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("revisions") as t:
        t.drop_column("draft_at")
        t.drop_column("draft_by")
        t.drop_column("draft")
