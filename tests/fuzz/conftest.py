"""Property-based tests (hypothesis): whatever goes in, the answer is a value or a clear error.

Sizes: ``FUZZ_EXAMPLES`` (default 200) examples per property. The examples are derandomised
(the same every run, so CI is stable); ``FUZZ_RANDOM=1`` explores new ones, e.g.::

    FUZZ_EXAMPLES=5000 FUZZ_RANDOM=1 .venv/bin/pytest -s tests/fuzz

The number of inputs each property tried is printed in the terminal summary.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
TRIED: Counter[str] = Counter()
KNOWN_BUGS: Counter[str] = Counter()


# Registered, not loaded: the test modules ask for it by name (settings(settings.get_profile(PROFILE))),
# so hypothesis tests elsewhere in the suite keep their own defaults.
PROFILE = "samverkan-fuzz"
settings.register_profile(
    PROFILE,
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    database=None,
)


@pytest.fixture(scope="session")
def fuzz() -> Any:
    """The counters: ``fuzz.tried[name] += 1`` per input, ``fuzz.known_bugs[name] += 1`` per known-bug hit."""
    import types

    return types.SimpleNamespace(tried=TRIED, known_bugs=KNOWN_BUGS)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TRIED:
        return
    terminalreporter.section("fuzz: inputs tried")
    for name, n in sorted(TRIED.items()):
        extra = f" ({KNOWN_BUGS[name]} hit a known bug, see the xfail tests)" if KNOWN_BUGS[name] else ""
        terminalreporter.write_line(f"{name}: {n}{extra}")
