"""The yearly report's scenario, shared by its engine tests and its rendering tests.

Borås loaded at the start of 2016, a few commitments started and followed up for
2016 in March 2017 (MBU kommun below its target of two utbildningar, SSPF kommun
with a text measure), and MBU kommun followed up for 2017 as well, so that its chart
has two years. ``write_analysis`` adds the process owner's analysis of 2016 (the
example report in docs/ and the bench have it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from engine import db, service
from engine.api import commands
from engine.report import Report, build_report

MBU_TEXT = "Utbildning två gånger per år: antal genomförda utbildningar"
MBU_COMMENT = "Endast en utbildning hölls"
SSPF_VALUE = "42 enskilda handlingsplaner följdes upp i statistiken"


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 9, 0, tzinfo=UTC)


def follow_up_some(loaded: Engine) -> Engine:
    """Start four commitments in 2016 and follow three of them up for 2016, MBU kommun for 2017 too."""
    with db.transaction(loaded) as s:
        for key in ("mbu.kommun", "mbu.polis", "sspf.kommun", "trafik.polis"):
            service.transition(s, key, "start", by="regel", why="tidsplanen börjar", now=at(2016, 1, 5))
    with db.transaction(loaded) as s:
        service.record_follow_up(
            s,
            "mbu.kommun",
            period=2016,
            values={"utbildningar": 1},
            comment=MBU_COMMENT,
            by="Anna",
            now=at(2017, 3, 10),
        )
        service.record_follow_up(
            s, "mbu.polis", period=2016, values={"utbildningar": 2}, comment="Två kurser", by="Per", now=at(2017, 3, 11)
        )
        service.record_follow_up(
            s,
            "sspf.kommun",
            period=2016,
            values={"handlingsplaner": SSPF_VALUE},
            comment="Enligt plan",
            by="Sara",
            now=at(2017, 3, 12),
        )
    with db.transaction(loaded) as s:
        service.transition(s, "mbu.kommun", "new_period", by="regel", why="ny period", now=at(2018, 1, 2))
        service.record_follow_up(
            s,
            "mbu.kommun",
            period=2017,
            values={"utbildningar": 3},
            comment="Tre kurser",
            by="Anna",
            now=at(2018, 3, 1),
        )
    return loaded


ANALYSIS_BY = "Anna Andersson, BråB"
# One line per paragraph, as typed in the web's text box: a line break in it is kept.
ANALYSIS = (
    "Året 2016 var det första med den nya överenskommelsen. Tre av de väntade uppföljningarna kom in i tid, "
    "och arbetet med skolorna och med trafiken kom i gång som planerat.\n\n"
    "Utbildningen Människan bakom uniformen hölls bara en gång på kommunens sida, mot målet två. Orsaken var "
    "att utbildarna byttes ut under hösten; en andra omgång är bokad till våren 2017.\n\n"
    "Slutsatser inför 2017:\n"
    "– samordningen av trygghetsvandringarna flyttas till BRÅ:s arbetsgrupp,\n"
    "– uppföljningen av handlingsplanerna i SSPF redovisas med antal, inte bara i text.\n\n"
    "Analysen har stämts av med kommunpolisen och behandlas i styrgruppen i maj."
)


def write_analysis(loaded: Engine, period: int = 2016) -> Engine:
    """The process owner's analysis of ``period``, saved on 3 April of the year after."""
    commands.save_analysis(loaded, period=period, text=ANALYSIS, by=ANALYSIS_BY, now=at(period + 1, 4, 3))
    return loaded


def report_for(engine: Engine, period: int = 2016) -> Report:
    with db.transaction(engine) as s:
        return build_report(s, period=period)
