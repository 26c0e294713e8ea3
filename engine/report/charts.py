"""Bar charts of the report: one per count measure, a group of bars per year.

Plain SVG coordinates computed here, so the rendered file needs no script and prints
as it looks on screen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.report.values import AxisTick, Bar, Chart, Measure, PartyInfo
from rules import deviation
from rules.texts import tal

CHART_W, CHART_H = 360, 220
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 44.0, 350.0, 18.0, 174.0


def nice_scale(max_value: float, *, max_ticks: int = 5, integer: bool = True) -> tuple[float, float]:
    """The top of a value axis and its tick step: a 1–2–5 step, at most ``max_ticks`` steps.

    ``nice_scale(7) == (8, 2)``, ``nice_scale(2) == (2, 1)``, ``nice_scale(0) == (1, 1)``.
    With ``integer`` (counts) the step is never below 1.
    """
    if max_value <= 0:
        return 1.0, 1.0
    raw = max_value / max_ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw - 1e-12)
    if integer:
        step = max(step, 1.0)
    top = math.ceil(max_value / step - 1e-9) * step
    return float(top), float(step)


def scale_y(value: float, top_value: float, plot_top: float, plot_bottom: float) -> float:
    """The SVG y of ``value`` on an axis from 0 (``plot_bottom``) to ``top_value`` (``plot_top``)."""
    return round(plot_bottom - (value / top_value) * (plot_bottom - plot_top), 2)


def build_chart(
    *,
    effort: str,
    measure: Measure,
    series: dict[str, dict[int, float]],
    parties: Sequence[PartyInfo],
) -> Chart:
    """A grouped bar chart: one group per year, one bar per party, the target dashed."""
    shown = [p for p in parties if p.id in series]
    years = sorted({y for s in series.values() for y in s})
    span = list(range(years[0], years[-1] + 1))
    top_value, step = nice_scale(max([v for s in series.values() for v in s.values()] + [measure.target or 0]))
    group = (PLOT_RIGHT - PLOT_LEFT) / len(span)
    bar_w = min(34.0, group * 0.72 / max(1, len(shown)))
    bars = []
    for gi, year in enumerate(span):
        x0 = PLOT_LEFT + gi * group + (group - bar_w * len(shown)) / 2
        for pi, p in enumerate(shown):
            if year not in series[p.id]:
                continue
            v = series[p.id][year]
            y = scale_y(v, top_value, PLOT_TOP, PLOT_BOTTOM)
            bars.append(
                Bar(
                    x=round(x0 + pi * bar_w, 2),
                    y=y,
                    width=round(bar_w - 2, 2),
                    height=round(PLOT_BOTTOM - y, 2),
                    colour=p.colour,
                    label=tal(v),
                    title=f"{p.label} {year}: {tal(v)}",
                    below_target=deviation.falls_short(v, measure.target),
                )
            )
    y_ticks = []
    n = round(top_value / step)
    for i in range(n + 1):
        v = i * step
        y_ticks.append(AxisTick(x=PLOT_LEFT - 6, y=scale_y(v, top_value, PLOT_TOP, PLOT_BOTTOM), label=tal(v)))
    x_ticks = tuple(
        AxisTick(x=round(PLOT_LEFT + (gi + 0.5) * group, 2), y=PLOT_BOTTOM + 15, label=str(y))
        for gi, y in enumerate(span)
    )
    target_y = scale_y(measure.target, top_value, PLOT_TOP, PLOT_BOTTOM) if measure.target is not None else None
    return Chart(
        effort=effort,
        measure=measure.text,
        width=CHART_W,
        height=CHART_H,
        left=PLOT_LEFT,
        right=PLOT_RIGHT,
        top=PLOT_TOP,
        bottom=PLOT_BOTTOM,
        bars=tuple(bars),
        y_ticks=tuple(y_ticks),
        x_ticks=x_ticks,
        target_y=target_y,
        target_label=f"mål {tal(measure.target)}" if measure.target is not None else "",
        legend=tuple(shown),
    )
