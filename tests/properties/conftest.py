"""The property suite's summary: how many engine runs it made and what they cost."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.properties.harness import STATS

    if not STATS.runs:
        return
    from tests.properties.test_every_agreement import EXAMPLES, SEED, SHRINK

    terminalreporter.section("properties: engine runs")
    terminalreporter.write_line(
        f"seed {SEED}, {EXAMPLES} cases per test (SAMVERKAN_PROPERTY_SEED, SAMVERKAN_PROPERTY_EXAMPLES)"
        + ("" if SHRINK else ", shrinking off")
    )
    terminalreporter.write_line(
        f"{STATS.runs} decade runs ({STATS.reused} reused by other tests), {STATS.seconds:.1f} s in runs, "
        f"{STATS.seconds / STATS.runs:.2f} s a run on average, slowest {STATS.slowest:.2f} s, "
        f"{STATS.steps / STATS.runs:.0f} engine steps a run"
    )
