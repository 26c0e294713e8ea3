"""The history is append-only: the database itself refuses to change or delete it."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import DBAPIError

from engine import db, service
from engine.models import TransitionRecord


def _one_move(engine: Engine, now: datetime) -> None:
    with db.transaction(engine) as s:
        service.transition(s, "boras.sspf.polis", "start", by="BråB", why="början", now=now)


def test_a_history_row_cannot_be_updated(loaded: Engine, now: datetime) -> None:
    _one_move(loaded, now)
    with pytest.raises(DBAPIError, match="append-only"), db.transaction(loaded) as s:
        s.execute(update(TransitionRecord).values(why="ändrad i efterhand"))
    with db.transaction(loaded) as s:
        assert s.scalars(select(TransitionRecord.why)).all() == ["början"]


def test_a_history_row_cannot_be_deleted(loaded: Engine, now: datetime) -> None:
    _one_move(loaded, now)
    with pytest.raises(DBAPIError, match="append-only"), db.transaction(loaded) as s:
        s.execute(delete(TransitionRecord))
    with db.transaction(loaded) as s:
        assert s.scalar(select(func.count()).select_from(TransitionRecord)) == 1


def test_every_move_appends_one_row_in_order(loaded: Engine, now: datetime) -> None:
    with db.transaction(loaded) as s:
        for trigger in ("start", "follow_up", "revise", "reinstate", "end"):
            service.transition(s, "boras.sspf.polis", trigger, by="BråB", why=trigger, now=now)
    with db.transaction(loaded) as s:
        _, rows = service.history(s, "sspf.polis")
    assert [(r.from_state, r.to_state) for r in rows] == [
        ("planerad", "pågående"),
        ("pågående", "uppföljd"),
        ("uppföljd", "reviderad"),
        ("reviderad", "pågående"),
        ("pågående", "avslutad"),
    ]
