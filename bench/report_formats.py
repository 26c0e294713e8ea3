"""Rendering the Borås yearly report for one period in each format, beside the HTML baseline.

Usage::

    .venv/bin/python bench/report_formats.py [--repeat 5] [--examples docs] [--no-analysis]

The database is a SQLite file in a temporary directory: schema by ``engine.db.upgrade``,
config/boras-2015.yaml loaded at the start of 2016 and tests/report_scenario.py's
follow-ups (three commitments followed up for 2016, one of them below its target) and
its analysis for 2016 (``--no-analysis``: without it), the report built for 2016 by
``engine.report.build_report`` (not timed: it is the same for every format). Each format
runs in a process of its own, so that one format's memory is not another's: the process
builds the report, renders it once to warm up (imports, font lookup), then ``--repeat``
times, and reports the median seconds (``time.perf_counter``), the file's size and the
growth of its peak resident set over the warm-up and the runs (``ru_maxrss`` after minus
before, MB).

"2nd request" is what the web does for a report asked for again (web/pages/reports.py):
the report read from the database anew (``engine.api.pages_agreement.yearly_report``) and
its file taken from ``notifications.report_files.RenderedReports``, median of ``--repeat``.

``--examples DIR`` also writes ``report-example.pdf`` and ``report-example.docx`` there.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine  # noqa: E402

from engine import db  # noqa: E402
from engine.agreement import load_agreement  # noqa: E402
from engine.api import pages_agreement  # noqa: E402
from engine.plan import load_plan  # noqa: E402
from notifications.report import FILE_FORMATS  # noqa: E402
from notifications.report_files import RenderedReports, render_report_file  # noqa: E402
from tests.report_scenario import follow_up_some, report_for, write_analysis  # noqa: E402

STATEMENT = "https://samverkan.boras.se/tillganglighet"


def _build(path: Path, analysis: bool) -> None:
    engine = create_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    with db.transaction(engine) as session:
        load_plan(session, load_agreement(ROOT / "config" / "boras-2015.yaml"), now=datetime(2016, 1, 4, 9, tzinfo=UTC))
    follow_up_some(engine)
    if analysis:
        write_analysis(engine)
    engine.dispose()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _one(path: Path, fmt: str, repeat: int, examples: Path | None) -> dict[str, object]:
    engine = create_engine(f"sqlite:///{path}")
    report = report_for(engine)
    before = _rss_mb()
    data = render_report_file(report, fmt, statement_url=STATEMENT)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        data = render_report_file(report, fmt, statement_url=STATEMENT)
        times.append(time.perf_counter() - start)
    if examples and fmt in ("pdf", "docx"):
        (examples / f"report-example.{fmt}").write_bytes(data)
    rss = _rss_mb() - before
    cache = RenderedReports()
    first = cache.render(report, fmt, statement_url=STATEMENT)  # the first request
    again = []
    for _ in range(repeat):
        start = time.perf_counter()
        shown = pages_agreement.yearly_report(engine, period=report.period, wanted=None)
        # The same bytes, not equal ones rendered anew (Word and Excel files carry the time they were made).
        assert cache.render(shown, fmt, statement_url=STATEMENT) is first
        again.append(time.perf_counter() - start)
    return {
        "format": fmt,
        "seconds": round(statistics.median(times), 4),
        "again": round(statistics.median(again), 4),
        "file_mb": round(len(data) / 1e6, 3),
        "peak_rss_growth_mb": round(rss, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--examples", type=Path)
    ap.add_argument("--no-analysis", action="store_true", help="the scenario without its analysis for 2016")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_one(args.db, args.one, args.repeat, args.examples)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        _build(path, analysis=not args.no_analysis)
        rows = []
        for fmt in FILE_FORMATS:
            cmd = [sys.executable, __file__, "--one", fmt, "--db", str(path), "--repeat", str(args.repeat)]
            if args.examples:
                cmd += ["--examples", str(args.examples.resolve())]
            rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
    base = next(r for r in rows if r["format"] == "html")["seconds"]
    head = f"{'format':<6} {'s (median)':>11} {'× html':>8} {'2nd request s':>14} {'file MB':>8} {'peak RSS +MB':>13}"
    print(head)
    for r in rows:
        ratio = float(r["seconds"]) / float(base)  # type: ignore[arg-type]
        print(
            f"{r['format']:<6} {r['seconds']:>11} {ratio:>8.1f} {r['again']:>14} {r['file_mb']:>8}"
            f" {r['peak_rss_growth_mb']:>13}"
        )


if __name__ == "__main__":
    main()
