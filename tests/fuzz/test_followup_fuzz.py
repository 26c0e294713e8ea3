"""Follow-up values and follow-up submissions, fuzzed.

1. ``check_values(measures, values)`` with random measures and random values returns a
   dict of valid values (every measure present; a count a whole number ≥ 0, a text a
   non-empty stripped string) or raises ``InvalidValue``; nothing else.
2. Random sequences of submissions through ``record_follow_up`` on a SQLite database never
   leave a partial write: after each one, either it succeeded and ``follow_ups`` grew by one,
   ``transition_log`` by one (a new follow-up) or by none (``replace``), and ``outbox`` by
   the deviations it found; or it failed and the three counts, and the commitment's row,
   are as before. This holds even for the known bugs (a count such as ``²``, an instant
   outside the calendar), which are counted rather than failed.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import StatementError

from engine import db
from engine.agreement import load_agreement
from engine.models import Commitment, FollowUp, OutboxRow, TransitionRecord
from engine.plan import load_plan
from engine.service import check_values, record_follow_up
from engine.tick import tick
from rules.errors import InvalidValue, SamverkanError

PROFILE = "samverkan-fuzz"
MINIMAL = Path(__file__).resolve().parents[1] / "data" / "minimal.yaml"
LOADED = datetime(2021, 1, 5, 8, 0, tzinfo=UTC)

SLUG = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
MEASURES = st.lists(
    st.fixed_dictionaries(
        {"id": SLUG, "text": st.just("Mått"), "kind": st.sampled_from(["count", "text"])},
        optional={"target": st.integers(0, 5)},
    ),
    max_size=4,
    unique_by=lambda m: m["id"],
)
VALUE = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from(["0", "2", " 3 ", "-1", "1.5", "", " ", "två", "²", "٣", "1_000", "0x10", "9" * 5000]),
    st.text(max_size=20),
    st.floats(),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


def digits_bug(value: Any) -> bool:
    """A string str.isdigit() accepts but int() refuses (known bug)."""
    return isinstance(value, str) and value.strip().isdigit() and (not value.strip().isascii() or len(value) > 4300)


@settings(settings.get_profile(PROFILE))
@given(measures=MEASURES, data=st.data())
def test_check_values_gives_valid_values_or_invalid_value(fuzz: Any, measures: list[dict[str, Any]], data: Any) -> None:
    fuzz.tried["check_values"] += 1
    keys = st.one_of(st.sampled_from([m["id"] for m in measures]), SLUG) if measures else SLUG
    complete = st.fixed_dictionaries({m["id"]: st.one_of(st.integers(0, 9), st.just("3"), VALUE) for m in measures})
    values = data.draw(st.one_of(complete, st.dictionaries(keys, VALUE, max_size=5)))
    try:
        out = check_values(measures, values)
    except InvalidValue:
        return
    except ValueError:
        if not any(digits_bug(v) for v in values.values()):
            raise
        fuzz.known_bugs["check_values"] += 1
        return
    fuzz.tried["check_values (of which valid)"] += 1
    assert set(out) == {m["id"] for m in measures} == set(values)
    for m in measures:
        given_value, result = values[m["id"]], out[m["id"]]
        if m["kind"] == "count":
            assert type(result) is int and result >= 0
            assert result == (int(given_value.strip()) if isinstance(given_value, str) else given_value)
        else:
            assert isinstance(result, str) and result and result == result.strip() == given_value.strip()


# -- the database property ---------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """minimal.yaml taken over on 2021-01-05: vandringar.kommun/.polis and tillsyn.kommun pågående for 2020."""
    path = tmp_path_factory.mktemp("followup-fuzz") / "template.db"
    engine = db.connect(f"sqlite:///{path}")
    db.upgrade(engine)
    with db.transaction(engine) as s:
        load_plan(s, load_agreement(MINIMAL), now=LOADED)
    tick(engine, LOADED + timedelta(hours=1))
    engine.dispose()
    return path


COPIES = count()
SUBMISSION = st.fixed_dictionaries(
    {
        "key": st.one_of(
            st.sampled_from(["vandringar.kommun", "vandringar.polis", "tillsyn.kommun", "trafik.kommun", "okänd"]),
            st.text(max_size=12),
        ),
        "period": st.one_of(st.sampled_from([2019, 2020, 2020, 2021]), st.integers(-5, 10**6)),
        "values": st.one_of(
            st.fixed_dictionaries({"antal": VALUE}),
            st.fixed_dictionaries({"rapport": VALUE}),
            st.dictionaries(st.sampled_from(["antal", "rapport", "insatser", "x"]), VALUE, max_size=3),
        ),
        "comment": st.one_of(st.just("Enligt plan"), st.text(max_size=10)),
        "by": st.one_of(st.just("Fritid"), st.text(max_size=10)),
        "now": st.one_of(
            st.sampled_from([datetime(2021, 2, 1, 10, tzinfo=UTC), datetime(2021, 3, 20, 10, tzinfo=UTC)]),
            st.datetimes(datetime(1900, 1, 1), datetime(2300, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001 (naive bounds)
        ),
        "hours": st.one_of(st.none(), st.floats(allow_nan=True), st.sampled_from([0.0, 2.5])),
        "replace": st.booleans(),
    }
)


# Close to a real submission: the right measure for the commitment, period 2020, a time in 2021.
VALID_ISH = st.one_of(
    st.builds(
        lambda key, value, **rest: {"key": key, "values": {"antal": value}, **rest},
        key=st.sampled_from(["vandringar.kommun", "vandringar.polis"]),
        value=st.one_of(st.integers(0, 5), st.sampled_from(["0", "1", " 4 "]), VALUE),
        period=st.just(2020),
        comment=st.just("Enligt plan"),
        by=st.just("Fritid"),
        now=st.just(datetime(2021, 2, 1, 10, tzinfo=UTC)),
        hours=st.one_of(st.none(), st.just(1.5)),
        replace=st.booleans(),
    ),
    st.builds(
        lambda value, **rest: {"key": "tillsyn.kommun", "values": {"rapport": value}, **rest},
        value=st.one_of(st.just("Verksamhetsberättelsen är klar"), VALUE),
        period=st.just(2020),
        comment=st.just("Enligt plan"),
        by=st.just("BRÅ"),
        now=st.just(datetime(2021, 3, 20, 10, tzinfo=UTC)),
        hours=st.none(),
        replace=st.booleans(),
    ),
)


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (FollowUp, TransitionRecord, OutboxRow)
        )


def _commitments(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        cols = (Commitment.id, Commitment.state, Commitment.period, Commitment.next_check)
        return [tuple(r) for r in conn.execute(select(*cols).order_by(Commitment.id))]


def _known(exc: BaseException, sub: dict[str, Any]) -> bool:
    """A known bug: a count such as '²', or an instant outside the calendar (1953–2100)."""
    out_of_calendar = not 1953 <= sub["now"].year <= 2100
    digits = any(digits_bug(v) for v in sub["values"].values())
    return (isinstance(exc, ValueError) and digits) or (
        isinstance(exc, StopIteration | OverflowError | StatementError) and out_of_calendar
    )


@settings(settings.get_profile(PROFILE))
@given(submissions=st.lists(st.one_of(VALID_ISH, SUBMISSION), min_size=1, max_size=4))
def test_a_submission_writes_all_of_it_or_nothing(fuzz: Any, template: Path, submissions: list[dict[str, Any]]) -> None:
    path = template.with_name(f"copy-{next(COPIES)}.db")
    shutil.copyfile(template, path)
    engine = db.connect(f"sqlite:///{path}")
    try:
        for sub in submissions:
            fuzz.tried["record_follow_up"] += 1
            before, rows_before = _counts(engine), _commitments(engine)
            error: Exception | None = None
            version, cid = 0, ""
            try:
                with db.transaction(engine) as s:
                    record = record_follow_up(
                        s,
                        sub["key"],
                        period=sub["period"],
                        values=sub["values"],
                        comment=sub["comment"],
                        by=sub["by"],
                        now=sub["now"],
                        hours=sub["hours"],
                        replace=sub["replace"],
                    )
                    version, cid = record.version, record.commitment_id
            except Exception as exc:
                error = exc
            if error is not None:
                if not isinstance(error, SamverkanError):
                    if not _known(error, sub):
                        raise error
                    fuzz.known_bugs["record_follow_up"] += 1
                assert _counts(engine) == before, f"partial write after {type(error).__name__}: {error}"
                assert _commitments(engine) == rows_before
                continue
            fuzz.tried["record_follow_up (of which recorded)"] += 1
            after = _counts(engine)
            assert after[0] == before[0] + 1
            assert after[1] == before[1] + (1 if version == 1 else 0)
            assert after[2] >= before[2]
            if version == 1:  # a new follow-up moved the commitment: pågående → uppföljd
                assert dict((r[0], r[1]) for r in _commitments(engine))[cid] == "uppföljd"
    finally:
        engine.dispose()
        path.unlink(missing_ok=True)
