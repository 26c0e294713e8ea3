"""How much the commitment lifecycle costs: one shared machine versus machines bound to rows.

Usage::

    .venv/bin/python bench/lifecycle.py [--sizes 10000 100000] [--full]

For each size N, N commitments in state ``planerad`` are moved ``start`` then
``follow_up`` (2N fired events) by three approaches:

* ``next_state``: our design, rules.lifecycle's one machine built at import, fired on a
  small plain object per call (the machine's build is not counted: it happens at import);
* ``Machine per object``: the naive design, one ``transitions.Machine`` per commitment;
* ``add_model(list)``: one machine with every commitment added as a model in one call
  (at the largest size only with ``--full``: at 100,000 it takes about a minute).

Both bound designs are built from ``rules.lifecycle.TABLE``, with the same options as
rules.lifecycle (no auto transitions, invalid triggers raise). Their time includes
building the machines or adding the models, since a bound design pays that for every
batch of rows it loads.

Every (approach, N) runs in a fresh interpreter (this script with ``--child``), so one
measurement's memory cannot inflate another's. Memory is the growth of peak RSS, the
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` delta across the measured section, taken
after the commitment objects exist; tracemalloc is not used because it slows allocation
down and would distort the times.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transitions import Machine
from transitions import __version__ as transitions_version

from rules.lifecycle import PAGAENDE, PLANERAD, STATES, TABLE, UPPFOLJD, next_state

OURS = "next_state"
PER_OBJECT = "Machine per object"
ADD_MODEL = "add_model(list)"
APPROACHES = (OURS, PER_OBJECT, ADD_MODEL)


@dataclass(eq=False)  # identity equality, as a row object would have: add_model's `in` check stays cheap
class Commitment:
    id: str
    state: str
    timeframe_begun: bool = True


@dataclass(frozen=True)
class Result:
    approach: str
    n: int
    setup_s: float
    fire_s: float
    rss_mib: float

    @property
    def seconds(self) -> float:
        return self.setup_s + self.fire_s


def transitions_from_table() -> list[dict[str, object]]:
    """rules.lifecycle.TABLE in the form ``Machine(transitions=...)`` takes."""
    rows: list[dict[str, object]] = []
    for trigger, sources, dest, condition in TABLE:
        row: dict[str, object] = {"trigger": trigger, "source": list(sources), "dest": dest}
        if condition is not None:
            negate, _, name = condition.rpartition(" ")
            row["unless" if negate == "not" else "conditions"] = [name]
        rows.append(row)
    return rows


def machine_options() -> dict[str, Any]:
    return {
        "states": list(STATES),
        "transitions": transitions_from_table(),
        "auto_transitions": False,
        "ignore_invalid_triggers": False,
    }


# Each runner returns (setup seconds, firing seconds) and leaves the machines alive until
# it returns, so the peak RSS includes everything the approach has to keep.


def run_ours(commitments: list[Commitment]) -> tuple[float, float]:
    start = time.perf_counter()
    for c in commitments:
        c.state = next_state(c.id, c.state, "start")
        c.state = next_state(c.id, c.state, "follow_up")
    return 0.0, time.perf_counter() - start


def run_per_object(commitments: list[Commitment]) -> tuple[float, float]:
    options = machine_options()
    start = time.perf_counter()
    machines = [Machine(model=c, initial=c.state, **options) for c in commitments]
    built = time.perf_counter()
    for c in commitments:
        c.start()  # type: ignore[attr-defined]  # trigger methods are added by Machine
        c.follow_up()  # type: ignore[attr-defined]
    fired = time.perf_counter()
    del machines
    return built - start, fired - built


def run_add_model(commitments: list[Commitment]) -> tuple[float, float]:
    start = time.perf_counter()
    machine = Machine(model=None, initial=None, **machine_options())
    # Without initial= every loaded row would be reset to the machine's initial state
    # (docs/libraries.md), so add the rows grouped by the state they were loaded in.
    by_state: defaultdict[str, list[Commitment]] = defaultdict(list)
    for c in commitments:
        by_state[c.state].append(c)
    for state, group in by_state.items():
        machine.add_model(group, initial=state)
    built = time.perf_counter()
    for c in commitments:
        c.start()  # type: ignore[attr-defined]
        c.follow_up()  # type: ignore[attr-defined]
    fired = time.perf_counter()
    del machine
    return built - start, fired - built


RUNNERS: dict[str, Callable[[list[Commitment]], tuple[float, float]]] = {
    OURS: run_ours,
    PER_OBJECT: run_per_object,
    ADD_MODEL: run_add_model,
}


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def child(approach: str, n: int) -> Result:
    """One measurement, in this (fresh) interpreter."""
    commitments = [Commitment(id=f"ÅT-{i:06d}", state=PLANERAD) for i in range(n)]
    gc.collect()
    before = peak_rss_kib()
    setup_s, fire_s = RUNNERS[approach](commitments)
    after = peak_rss_kib()
    wrong = [c.id for c in commitments if c.state != UPPFOLJD]
    if wrong:
        raise SystemExit(f"{approach}: {len(wrong)} commitments did not reach {UPPFOLJD}, e.g. {wrong[0]}")
    return Result(approach, n, setup_s, fire_s, (after - before) / 1024)


def measure(approach: str, n: int) -> Result:
    done = subprocess.run(
        [sys.executable, __file__, "--child", approach, str(n)],
        check=True,
        capture_output=True,
        text=True,
    )
    return Result(**json.loads(done.stdout))


def print_table(results: list[Result]) -> None:
    baseline = {r.n: r.seconds for r in results if r.approach == OURS}
    header = f"{'approach':<20} {'N':>8} {'seconds':>9} {'setup s':>9} {'fire s':>8} {'MiB':>8} {'× ours':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = r.seconds / baseline[r.n] if r.n in baseline else float("nan")
        print(
            f"{r.approach:<20} {r.n:>8,} {r.seconds:>9.3f} {r.setup_s:>9.3f} {r.fire_s:>8.3f}"
            f" {r.rss_mib:>8.1f} {ratio:>8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="numbers of commitments")
    parser.add_argument("--full", action="store_true", help="run add_model(list) at every size, not only the smallest")
    parser.add_argument("--child", nargs=2, metavar=("APPROACH", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        approach, n = args.child
        result = child(approach, int(n))
        print(json.dumps(result.__dict__))
        return

    sizes = sorted(args.sizes)
    print(
        f"Python {sys.version.split()[0]}, transitions {transitions_version}; "
        f"2 fired events per commitment ({PLANERAD} → {PAGAENDE} → {UPPFOLJD})"
    )
    results: list[Result] = []
    for n in sizes:
        for approach in APPROACHES:
            if approach == ADD_MODEL and n != sizes[0] and not args.full:
                continue
            print(f"  {approach} at {n:,} …", file=sys.stderr, flush=True)
            results.append(measure(approach, n))
    print_table(results)
    print("seconds = setup + fire; MiB = peak RSS growth (ru_maxrss), fresh process; × ours = time / next_state's")


if __name__ == "__main__":
    main()
