"""The Alembic migrations own the schema; the ORM classes must describe exactly that schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from engine import db
from engine.models import Base


def test_upgrading_to_head_gives_the_schema_the_orm_expects(db_url: str) -> None:
    # From an empty database: the `engine` fixture starts from a copy of one upgraded per session.
    eng = db.connect(db_url)
    try:
        assert db.upgrade(eng) is True
        with eng.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        eng.dispose()
    assert diff == []


def test_the_test_databases_copied_from_the_template_have_the_same_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_upgrade_is_recorded_and_a_second_upgrade_does_nothing(engine: Engine) -> None:
    assert db.current_revision(engine) == db.head_revision()
    assert db.upgrade(engine) is False
