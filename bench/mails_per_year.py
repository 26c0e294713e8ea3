"""Mails per recipient per year over the Borås decade: grouped (issue 13) beside one mail per notice.

Usage::

    .venv/bin/python bench/mails_per_year.py [--config config/boras-2015.yaml]
        [--from 2016-01-01] [--to 2028-12-31] [--follow-ups on-time|never] [--revisions completed|never]

One run of ``engine.simulate.simulate`` — what ``samverkan simulate --config FILE --from
… --to …`` prints, with the same simulated people (``--follow-ups``, ``--revisions``) —
and from its notices, per recipient address and calendar year (Swedish time):

* *per notice* (the baseline, ``digest=False``): every notice is a mail to each of
  its recipients;
* *grouped* (``Settings.digest``, the default since issue 13): the notices with the
  same group key (``rules.model.group_key``: the one address of a kind in
  ``rules.model.GROUPED_KINDS``) and the same ``send_at`` are one mail; a notice
  without a group key (a revision kick-off to both parties, a change notice …) is
  still one mail to each recipient.

A notice is an event whose kind is a ``rules.model.NoticeKind``; transitions and
completed revisions send nothing. The simulation runs no dispatcher, so every notice it
yields counts as a mail (or part of one) at its ``send_at``: the tick queues a notice
when it falls due, and a later withdrawal of a row still pending in the simulation's
own outbox (nothing sends it there) does not mean it would not have gone out.

The table shows, per recipient, the mean per year and the most in one year, both ways,
and grouped ÷ per notice (of the means). The years counted run from the first year in
which any notice is sent to the last year of the window: the first calendar year of a
window starting with the agreement's first period sends nothing (its report is due the
year after), and would only dilute the mean.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import get_args

from engine.agreement import load_agreement
from engine.simulate import Event, simulate
from rules.model import NoticeKind, group_key

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "boras-2015.yaml"
NOTICE_KINDS = frozenset(get_args(NoticeKind))

# (address, year) -> mails
Tally = Counter[tuple[str, int]]


def address(text: str) -> str:
    return text.strip().lower()


def per_notice(notices: Sequence[Event]) -> Tally:
    """One mail per notice to each of its recipients."""
    return Counter((address(r), n.at.year) for n in notices for r in n.recipients)


def grouped(notices: Sequence[Event]) -> Tally:
    """One mail per (group key, send_at); a notice without a group key is one mail to each recipient."""
    slots: set[tuple[str, datetime]] = set()
    out: Tally = Counter()
    for n in notices:
        key = group_key(n.kind, n.recipients)
        if key is None:
            out.update((address(r), n.at.year) for r in n.recipients)
        else:
            slots.add((key, n.at))
    out.update((key, at.year) for key, at in slots)
    return out


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--config", type=Path, default=CONFIG, help="the agreement file (default Borås 2015)")
    parser.add_argument("--from", dest="start", type=date.fromisoformat, default=date(2016, 1, 1))
    parser.add_argument("--to", dest="end", type=date.fromisoformat, default=date(2028, 12, 31))
    parser.add_argument("--follow-ups", choices=("on-time", "never"), default="on-time")
    parser.add_argument("--revisions", choices=("completed", "never"), default="completed")
    args = parser.parse_args(argv)

    agreement = load_agreement(args.config)
    units = {address(str(u.email)): u.id for u in agreement.units}
    began = time.perf_counter()
    events = list(simulate([agreement], args.start, args.end, follow_ups=args.follow_ups, revisions=args.revisions))
    seconds = time.perf_counter() - began
    notices = [e for e in events if e.kind in NOTICE_KINDS]
    kinds = Counter(n.kind for n in notices)
    print(
        f"Python {sys.version.split()[0]}; simulate {args.config.name} {args.start}–{args.end}, "
        f"follow-ups {args.follow_ups}, revisions {args.revisions}: {len(events)} events in {seconds:.1f} s, "
        f"{len(notices)} notices ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})"
    )
    if not notices:
        print("no notices: nothing to count")
        return 0

    one, grp = per_notice(notices), grouped(notices)
    first = min(n.at.year for n in notices)
    years = list(range(first, args.end.year + 1))
    skipped = f" ({first - args.start.year} year(s) before it send nothing)" if first > args.start.year else ""
    print(f"years counted: {years[0]}–{years[-1]}, {len(years)}{skipped}")
    print()

    recipients = sorted({a for a, _ in one}, key=lambda a: (-sum(one[a, y] for y in years), a))
    print(
        "| recipient | unit | per notice: mean/year | max in a year "
        "| grouped: mean/year | max in a year | grouped ÷ per notice |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    rows = [*((a, units.get(a, "")) for a in recipients), ("all recipients", "")]
    for who, unit in rows:
        chosen = recipients if who == "all recipients" else [who]
        a_year = [sum(one[a, y] for a in chosen) for y in years]
        g_year = [sum(grp[a, y] for a in chosen) for y in years]
        mean_one, mean_grp = sum(a_year) / len(years), sum(g_year) / len(years)
        name = f"**{who}**" if who == "all recipients" else who
        print(
            f"| {name} | {unit} | {fmt(mean_one)} | {max(a_year)} | {fmt(mean_grp)} | {max(g_year)} | "
            f"{fmt(mean_grp / mean_one, 2)} |"
        )
    print()
    print("per year, all recipients:")
    print("| year | per notice | grouped | grouped ÷ per notice |")
    print("| ---: | ---: | ---: | ---: |")
    for y in years:
        a_total = sum(one[a, y] for a in recipients)
        g_total = sum(grp[a, y] for a in recipients)
        ratio = fmt(g_total / a_total, 2) if a_total else "–"
        print(f"| {y} | {a_total} | {g_total} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
