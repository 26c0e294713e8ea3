"""The yearly report's read model: what build_report reads for a period (tests/report_scenario.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from engine import db
from engine.agreement import Agreement
from engine.plan import load_plan
from engine.report import build_report
from rules.errors import InvalidValue
from tests.report_scenario import at, follow_up_some, report_for


@pytest.fixture
def followed_up(loaded: Engine) -> Engine:
    return follow_up_some(loaded)


def test_the_summary_counts_the_states(followed_up: Engine) -> None:
    counts = {sc.state: sc.count for sc in report_for(followed_up).summary.states}
    # mbu.kommun is uppföljd again (2017), mbu.polis and sspf.kommun uppföljd, trafik.polis pågående.
    assert counts == {"planerad": 26, "pågående": 1, "uppföljd": 3, "reviderad": 0, "avslutad": 0}


# -- periods and agreements -----------------------------------------------------------------


def test_an_unknown_agreement_is_refused_with_the_known_ones(followed_up: Engine) -> None:
    with pytest.raises(InvalidValue, match=r"^agreement: .*'nope'.*boras"), db.transaction(followed_up) as s:
        build_report(s, period=2016, agreement_id="nope")


def test_several_agreements_need_one_named(followed_up: Engine, minimal: Agreement) -> None:
    with db.transaction(followed_up) as s:
        load_plan(s, minimal, now=at(2020, 3, 2))
    with pytest.raises(InvalidValue, match=r"^agreement: .*boras, exempel"), db.transaction(followed_up) as s:
        build_report(s, period=2016)
    with db.transaction(followed_up) as s:
        assert build_report(s, period=2016, agreement_id="boras").summary.followed_up == 3
