"""The årshjul: the deadlines of the year in which a period's follow-up is due, on a circle.

The dates come from the rules that send the notices (rules.calendar, rules.revision),
so the wheel shows the days the engine acts on. Angles run clockwise from the top,
1 January at 0; the geometry is pure and returns SVG coordinates.
"""

from __future__ import annotations

import calendar as _cal
import math
from collections.abc import Sequence
from datetime import date, timedelta

from engine.models import AgreementRow
from engine.report.values import Wheel, WheelEvent, WheelMonth
from rules import texts
from rules.calendar import SwedishCalendar
from rules.model import Schedule
from rules.revision import deadline, kickoff_day

WHEEL_SIZE = 560
RING_OUTER, RING_INNER = 226.0, 192.0  # the band of months
LABEL_R = 252.0  # month names, outside the band, so that no marker crosses them
LANES = (170.0, 144.0, 118.0, 92.0)  # radii for the numbered dots, outermost first
DOT_R = 10.0

# The order is also the order of deadlines on the same day: a reminder before the deadline it is for.
KIND_COLOUR = {
    "Påminnelse": "#d97706",
    "Sista dag för uppföljning": "#dc2626",
    "Eskalering till processägaren": "#7e22ce",
    "Revidering: startbesked": "#0d9488",
    "Revidering ska vara klar": "#1d4ed8",
    "Uppsägning träder i kraft": "#374151",
}


def year_angle(d: date) -> float:
    """Where ``d`` lies on the year's circle, in degrees clockwise from the top (1 January = 0)."""
    days = 366 if _cal.isleap(d.year) else 365
    return 360.0 * (d.timetuple().tm_yday - 1) / days


def polar(cx: float, cy: float, r: float, degrees: float) -> tuple[float, float]:
    """The SVG point at ``degrees`` clockwise from the top, ``r`` from the centre (y grows down)."""
    a = math.radians(degrees)
    return round(cx + r * math.sin(a), 2), round(cy - r * math.cos(a), 2)


def ring_sector(cx: float, cy: float, r_outer: float, r_inner: float, start: float, end: float) -> str:
    """An SVG path for the part of a ring between two angles (clockwise, degrees)."""
    large = 1 if end - start > 180 else 0
    ox1, oy1 = polar(cx, cy, r_outer, start)
    ox2, oy2 = polar(cx, cy, r_outer, end)
    ix2, iy2 = polar(cx, cy, r_inner, end)
    ix1, iy1 = polar(cx, cy, r_inner, start)
    return (
        f"M {ox1} {oy1} A {r_outer} {r_outer} 0 {large} 1 {ox2} {oy2} "
        f"L {ix2} {iy2} A {r_inner} {r_inner} 0 {large} 0 {ix1} {iy1} Z"
    )


def _reminder_label(offset: int) -> str:
    if offset == 0:
        return "påminnelse på sista dagen"
    days = -offset
    return f"påminnelse {texts.days(days)} före sista dagen"


def _revision_dues(agreement: AgreementRow, every: int, until: int, cal: SwedishCalendar) -> list[date]:
    """Every revision deadline (rules.revision.deadline) up to year ``until``, from the signing date."""
    out: list[date] = []
    n = 1
    while (d := deadline(agreement.signed, every, n, agreement.valid_to, cal)) is not None and d.year <= until:
        out.append(d)
        n += 1
    return out


def wheel_events(
    agreement: AgreementRow, schedule: Schedule, period: int, cal: SwedishCalendar
) -> list[tuple[date, str, str]]:
    """The deadlines of year ``period + 1`` as (day, kind, label), in date order."""
    year = period + 1
    due = cal.follow_up_due(period, schedule.due_md)
    events: list[tuple[date, str, str]] = [
        (cal.reminder_day(due, off), "Påminnelse", _reminder_label(off)) for off in schedule.reminder_offsets
    ]
    events.append((due, "Sista dag för uppföljning", f"sista dag för uppföljningen av {period}"))
    escalation = cal.next_working_day(due + timedelta(days=schedule.escalation_after_days))
    events.append(
        (escalation, "Eskalering till processägaren", f"eskalering om uppföljningen av {period} fortfarande saknas")
    )
    for working in _revision_dues(agreement, schedule.revision_every_years, year + 1, cal):
        kickoff = kickoff_day(working, schedule, cal)
        events.append(
            (kickoff, "Revidering: startbesked", "startbesked för revideringen till parterna och processägaren")
        )
        events.append((working, "Revidering ska vara klar", "revideringen av åtagandeplanen ska vara klar"))
    if agreement.terminates is not None:
        events.append((agreement.terminates, "Uppsägning träder i kraft", "uppsägningen träder i kraft"))
        events = [e for e in events if e[0] <= agreement.terminates]
    events = [e for e in events if e[0].year == year]
    return sorted(set(events), key=lambda e: (e[0], list(KIND_COLOUR).index(e[1])))


def place_in_lanes(angles: Sequence[float], lanes: Sequence[float] = LANES, gap: float = 2 * DOT_R + 2) -> list[float]:
    """A radius for each dot (angles in date order) so that no two dots overlap: each dot
    goes to the outermost lane whose previous dot is at least ``gap`` away along the arc."""
    last: dict[float, float] = {}
    out = []
    for a in angles:
        chosen = lanes[-1]
        for r in lanes:
            prev = last.get(r)
            if prev is None or math.radians(a - prev) * r >= gap:
                chosen = r
                break
        last[chosen] = a
        out.append(chosen)
    return out


def build_wheel(agreement: AgreementRow, schedule: Schedule, period: int, cal: SwedishCalendar) -> Wheel:
    year = period + 1
    c = WHEEL_SIZE / 2
    months = []
    for m in range(12):
        start = year_angle(date(year, m + 1, 1))
        end = 360.0 if m == 11 else year_angle(date(year, m + 2, 1))
        lx, ly = polar(c, c, LABEL_R, (start + end) / 2)
        months.append(
            WheelMonth(
                name=texts.MONTH_ABBR[m],
                path=ring_sector(c, c, RING_OUTER, RING_INNER, start, end),
                label_x=lx,
                label_y=ly,
                shade=m % 2 == 0,
            )
        )
    raw = wheel_events(agreement, schedule, period, cal)
    angles = [year_angle(d) for d, _, _ in raw]
    radii = place_in_lanes(angles)
    events = []
    for i, ((day, kind, label), a, r) in enumerate(zip(raw, angles, radii, strict=True), start=1):
        x, y = polar(c, c, r, a)
        x1, y1 = polar(c, c, r + DOT_R, a)
        x2, y2 = polar(c, c, RING_OUTER, a)
        events.append(
            WheelEvent(
                number=i,
                day=day,
                kind=kind,
                label=label,
                colour=KIND_COLOUR[kind],
                x=x,
                y=y,
                x1=x1,
                y1=y1,
                x2=x2,
                y2=y2,
            )
        )
    kinds = tuple(dict.fromkeys((e.kind, e.colour) for e in events))
    return Wheel(
        year=year,
        size=WHEEL_SIZE,
        cx=c,
        cy=c,
        ring_outer=RING_OUTER,
        ring_inner=RING_INNER,
        months=tuple(months),
        events=tuple(events),
        kinds=kinds,
    )
