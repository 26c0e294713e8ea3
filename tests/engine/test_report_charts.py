"""The report's bar charts: a 1–2–5 value axis, a group per year and a bar per party."""

from __future__ import annotations

import pytest

from engine.report.charts import build_chart, nice_scale, scale_y
from engine.report.values import Measure, PartyInfo


@pytest.mark.parametrize(
    ("largest", "top", "step"),
    [(0, 1, 1), (1, 1, 1), (2, 2, 1), (3, 3, 1), (7, 8, 2), (10, 10, 2), (45, 50, 10), (120, 150, 50)],
)
def test_the_chart_scale_rounds_up_to_a_1_2_5_step(largest: float, top: float, step: float) -> None:
    assert nice_scale(largest) == (top, step)


def test_values_are_placed_on_the_chart_scale() -> None:
    assert scale_y(0, 10, 20, 180) == 180
    assert scale_y(10, 10, 20, 180) == 20
    assert scale_y(5, 10, 20, 180) == 100


def test_a_chart_has_a_group_per_year_and_a_bar_per_party() -> None:
    parties = (
        PartyInfo(id="kommun", name="K", heading="Kommunens åtagande", label="Kommunen", colour="#111111"),
        PartyInfo(id="polis", name="P", heading="Polisens åtagande", label="Polisen", colour="#222222"),
    )
    measure = Measure(id="u", text="Antal utbildningar", kind="count", target=2, parties=())
    chart = build_chart(
        effort="MBU", measure=measure, series={"kommun": {2016: 1, 2018: 4}, "polis": {2016: 2}}, parties=parties
    )
    assert [t.label for t in chart.x_ticks] == ["2016", "2017", "2018"]  # a year without data keeps its place
    assert [t.label for t in chart.y_ticks] == ["0", "1", "2", "3", "4"]
    assert [b.colour for b in chart.bars] == ["#111111", "#222222", "#111111"]
    assert all(b.y + b.height == pytest.approx(chart.bottom) for b in chart.bars)
    assert chart.bars[2].y == chart.top  # the largest value reaches the top of the axis
    assert chart.target_label == "mål 2"
