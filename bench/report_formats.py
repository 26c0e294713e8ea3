"""Rendering the Borås yearly report for one period in each format, beside the HTML baseline.

Usage::

    .venv/bin/python bench/report_formats.py [--repeat 5] [--examples docs]

The database is a SQLite file in a temporary directory: schema by ``engine.db.upgrade``,
config/boras-2015.yaml loaded at the start of 2016 and tests/report_scenario.py's
follow-ups (three commitments followed up for 2016, one of them below its target), the
report built for 2016 by ``engine.report.build_report`` (not timed: it is the same for
every format). Each format runs in a process of its own, so that one format's memory is
not another's: the process builds the report, renders it once to warm up (imports, font
lookup), then ``--repeat`` times, and reports the median seconds (``time.perf_counter``),
the file's size and the growth of its peak resident set over the warm-up and the runs
(``ru_maxrss`` after minus before, MB).

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
from engine.plan import load_plan  # noqa: E402
from notifications.report import FILE_FORMATS  # noqa: E402
from notifications.report_files import render_report_file  # noqa: E402
from tests.report_scenario import follow_up_some, report_for  # noqa: E402


def _build(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    with db.transaction(engine) as session:
        load_plan(session, load_agreement(ROOT / "config" / "boras-2015.yaml"), now=datetime(2016, 1, 4, 9, tzinfo=UTC))
    follow_up_some(engine)
    engine.dispose()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _one(path: Path, fmt: str, repeat: int, examples: Path | None) -> dict[str, object]:
    report = report_for(create_engine(f"sqlite:///{path}"))
    before = _rss_mb()
    data = render_report_file(report, fmt)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        data = render_report_file(report, fmt)
        times.append(time.perf_counter() - start)
    if examples and fmt in ("pdf", "docx"):
        (examples / f"report-example.{fmt}").write_bytes(data)
    return {
        "format": fmt,
        "seconds": round(statistics.median(times), 4),
        "file_mb": round(len(data) / 1e6, 3),
        "peak_rss_growth_mb": round(_rss_mb() - before, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--examples", type=Path)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_one(args.db, args.one, args.repeat, args.examples)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        _build(path)
        rows = []
        for fmt in FILE_FORMATS:
            cmd = [sys.executable, __file__, "--one", fmt, "--db", str(path), "--repeat", str(args.repeat)]
            if args.examples:
                cmd += ["--examples", str(args.examples.resolve())]
            rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
    base = next(r for r in rows if r["format"] == "html")["seconds"]
    print(f"{'format':<6} {'s (median)':>11} {'× html':>8} {'file MB':>8} {'peak RSS +MB':>13}")
    for r in rows:
        ratio = float(r["seconds"]) / float(base)  # type: ignore[arg-type]
        print(f"{r['format']:<6} {r['seconds']:>11} {ratio:>8.1f} {r['file_mb']:>8} {r['peak_rss_growth_mb']:>13}")


if __name__ == "__main__":
    main()
