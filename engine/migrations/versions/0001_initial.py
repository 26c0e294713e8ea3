"""Agreements, plan versions, units, efforts, commitments and the append-only history.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_APPEND_ONLY_SQLITE = """
CREATE TRIGGER transition_log_no_{op} BEFORE {OP} ON transition_log
BEGIN SELECT RAISE(ABORT, 'transition_log is append-only'); END
"""

_APPEND_ONLY_PG_FUNC = """
CREATE FUNCTION transition_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'transition_log is append-only'; END $$
"""


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("signed", sa.Date, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("process_owner", sa.String(60), nullable=False),
        sa.Column("plan_version", sa.Integer, nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("loaded_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "plan_versions",
        sa.Column("agreement_id", sa.String(60), sa.ForeignKey("agreements.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("loaded_at", UTCDateTime, nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
    )
    op.create_table(
        "parties",
        sa.Column("agreement_id", sa.String(60), sa.ForeignKey("agreements.id"), primary_key=True),
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("contact_unit", sa.String(60), nullable=False),
    )
    op.create_table(
        "units",
        sa.Column("agreement_id", sa.String(60), sa.ForeignKey("agreements.id"), primary_key=True),
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("party", sa.String(60), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("contact_name", sa.Text),
    )
    op.create_table(
        "areas",
        sa.Column("agreement_id", sa.String(60), sa.ForeignKey("agreements.id"), primary_key=True),
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
    )
    op.create_table(
        "efforts",
        sa.Column("agreement_id", sa.String(60), sa.ForeignKey("agreements.id"), primary_key=True),
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("area_id", sa.String(60), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("timeframe_text", sa.Text, nullable=False),
        sa.Column("starts", sa.Date, nullable=False),
        sa.Column("ends", sa.Date),
        sa.Column("measures", sa.JSON, nullable=False),
    )
    op.create_table(
        "commitments",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("agreement_id", sa.String(60), nullable=False),
        sa.Column("effort_id", sa.String(60), nullable=False),
        sa.Column("party", sa.String(60), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("responsible", sa.String(60), nullable=False),
        sa.Column("co_responsible", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("state_since", UTCDateTime, nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("next_due", sa.Date),
        sa.ForeignKeyConstraint(["agreement_id", "effort_id"], ["efforts.agreement_id", "efforts.id"]),
    )
    op.create_index("ix_commitments_state_next_due", "commitments", ["state", "next_due"])
    op.create_index("ix_commitments_responsible", "commitments", ["agreement_id", "responsible"])
    op.create_table(
        "transition_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("commitment_id", sa.String(200), sa.ForeignKey("commitments.id"), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("from_state", sa.String(20), nullable=False),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("why", sa.Text, nullable=False),
    )
    op.create_index("ix_transition_log_commitment", "transition_log", ["commitment_id", "id"])

    # The history is evidence: no UPDATE or DELETE, whoever connects.
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(_APPEND_ONLY_SQLITE.format(op=verb, OP=verb.upper()))
    else:
        op.execute(_APPEND_ONLY_PG_FUNC)
        op.execute(
            "CREATE TRIGGER transition_log_append_only BEFORE UPDATE OR DELETE ON transition_log "
            "FOR EACH ROW EXECUTE FUNCTION transition_log_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS transition_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS transition_log_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS transition_log_append_only ON transition_log")
        op.execute("DROP FUNCTION IF EXISTS transition_log_append_only()")
    for table in (
        "transition_log",
        "commitments",
        "efforts",
        "areas",
        "units",
        "parties",
        "plan_versions",
        "agreements",
    ):
        op.drop_table(table)
