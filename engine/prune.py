"""Gallring of the outbox: old notices moved to an archive file, then deleted (``samverkan gallra``).

What may go
-----------
A notice goes when it is ``sent``, ``withdrawn``, or ``failed`` and shown to the process
owner, and both its due time (``send_at``) and its send time (``sent_at``, if any) lie
before midnight of the given date in its agreement's time zone. ``pending``, ``sending``
and ``held`` rows never go, nor anything outside the outbox: transitions, follow-ups,
revisions and decisions are the agreement's record and are never touched here.

"Shown" means the process owner was told: a ``delivery_failed`` notice that lists the
row's key has been sent (notifications.dispatcher tells the owner of every failure it
can). A failure nobody was told about stays until they are.

The outbox row is also the idempotency key (docs/design.md): a rule that asks for a key
again finds the row and acts once. A row may therefore only go once no rule can ask for
its key again, or the notice would be queued and sent a second time. So each kind goes
only once that holds:

* ``reminder``, ``overdue``, ``escalation``: once the commitment's open period is later
  than the row's (the rules only ever ask about the open period; an escalation is asked
  for at every overdue repeat while the period stays open, so it waits for that);
  a reminder or overdue notice of a period still open also goes once its window has
  closed: a reminder once the period's first overdue notice is due, overdue notice k
  once notice k+1 is (``_windows_over``: the earliest offset, or the repeat interval,
  plus SLACK_DAYS after it was sent);
* ``revision_kickoff``, ``revision_overdue``: once the agreement's current revision is a
  later one than the row's;
* ``weekly_summary``: once its week is over (the rule asks only for the current week);
* ``change_notice``, ``termination_notice``, ``invite``, ``delivery_failed``,
  ``calendar_cancel``: by age alone (their keys name a recorded event, a one-time nonce,
  row ids, or a period's first follow-up: never asked for again);
* ``deviation`` and any other kind: never (a correction of an old follow-up asks for its
  period's deviation keys again).

The archive and the crash
-------------------------
One run is one database transaction. The rows are deleted in batches of ids
(``DELETE … WHERE id IN (…) RETURNING`` every column, so no statement is huge and the
archive holds exactly what was deleted) and each batch's rows are written, one JSON
object a line with every column, to a gzip file beside the archive under a temporary
name. When all are written the file is flushed and fsync'd, linked to the archive's
name (a link, not a rename: it refuses to replace a file that appeared meanwhile, say
another instance's), the temporary name removed and the folder fsync'd. Only then is the
transaction committed.

* A crash before the archive's name exists: the transaction rolls back (the database
  does that for a dead connection), nothing is deleted, no archive exists; a stray
  temporary file (``.NAME.*.tmp``) may be left, never read.
* A crash after the archive exists and before the commit (the window is the commit
  itself): the archive holds rows that are still in the outbox. Running again with the
  same ``--archive`` is the repair: an existing archive is never appended to or
  replaced; its rows that are still in the outbox, identical in every column, are
  deleted (in one transaction), and nothing else. Nothing is lost, nothing is archived
  twice, nothing is deleted that the archive does not hold.
* A re-run after success with the same archive finds none of its rows and changes
  nothing. A later gallring needs a new file name (the nightly job names it by date).
* Not guarded: after such a crash, a run with a *new* file name instead archives those
  rows again, in the new file, and deletes them: nothing is lost, but they are in two
  files (the same ``id`` and ``key`` in both). The database keeps no note of archives,
  so the repair is to run the same command again.

A file at the archive's name that is not such an archive is refused, untouched.
"""

from __future__ import annotations

import gzip
import json
import os
import uuid
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Table, and_, delete, exists, or_, select
from sqlalchemy.sql.elements import ColumnElement

from engine.models import AgreementRow, Commitment, OutboxRow
from rules.errors import InvalidValue
from rules.model import OutboxState, Schedule
from rules.texts import DEFAULT_ZONE

OUT = cast(Table, OutboxRow.__table__)
C = cast(Table, Commitment.__table__)
BATCH = 2000
# The kinds whose key a rule asks for again while the commitment's row period is open.
PER_PERIOD = ("reminder", "overdue", "escalation")
PER_REVISION = ("revision_kickoff", "revision_overdue")
BY_AGE = ("change_notice", "termination_notice", "invite", "delivery_failed", "calendar_cancel")
# A week's summary is asked for until the next week's send instant: at most 7 days and a
# catch-up slot after its own; 8 days is past that.
WEEK_OVER = timedelta(days=8)
# More than a reminder moved back to a working day before a closed day, plus a first overdue
# notice moved forward past one after the due date, can add (Easter, Christmas to New Year).
SLACK_DAYS = 12
GONE = (OutboxState.SENT, OutboxState.WITHDRAWN, OutboxState.FAILED)

# For drills (tests/engine/test_prune.py): called with "written" once the temporary file is
# fsync'd and with "archived" once the archive exists, before the commit.
Drill = Callable[[str], None]


@dataclass
class Tally:
    """What goes (or went): per (kind, state), how many and the earliest and latest instant."""

    counts: dict[tuple[str, str], list[Any]] = field(default_factory=dict)

    def add(self, kind: str, state: str, at: datetime) -> None:
        entry = self.counts.setdefault((kind, state), [0, at, at])
        entry[0] += 1
        entry[1] = min(entry[1], at)
        entry[2] = max(entry[2], at)

    @property
    def total(self) -> int:
        return sum(e[0] for e in self.counts.values())


@dataclass(frozen=True, kw_only=True)
class Outcome:
    tally: Tally
    removed: int
    archived: int  # lines in the archive
    resumed: bool  # the archive existed: its rows still in the outbox were removed
    wrote: bool  # an archive file was written by this run


def cutoffs(conn: Connection, before: date) -> dict[str, datetime]:
    """Per agreement, midnight at the start of ``before`` in its time zone, as UTC."""
    return {
        aid: datetime.combine(before, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)
        for aid, tz in conn.execute(select(AgreementRow.id, AgreementRow.timezone))
    }


def _aged(cuts: dict[str, datetime], before: date) -> ColumnElement[bool]:
    default = datetime.combine(before, time(0), tzinfo=DEFAULT_ZONE).astimezone(UTC)
    by_cut: dict[datetime, list[str]] = {}
    for aid, cut in cuts.items():
        by_cut.setdefault(cut, []).append(aid)

    def older(cut: datetime) -> ColumnElement[bool]:
        return and_(OUT.c.send_at < cut, or_(OUT.c.sent_at.is_(None), OUT.c.sent_at < cut))

    if not by_cut or list(by_cut) == [default]:
        return older(default)
    clauses = [and_(OUT.c.agreement_id.in_(ids), older(cut)) for cut, ids in by_cut.items()]
    clauses.append(and_(OUT.c.agreement_id.not_in(list(cuts)), older(default)))
    return or_(*clauses)


def _shown(conn: Connection) -> set[str]:
    """The keys of failed notices the process owner was sent word of."""
    keys: set[str] = set()
    told = select(OUT.c.data).where(OUT.c.kind == "delivery_failed", OUT.c.state == OutboxState.SENT)
    for (data,) in conn.execute(told):
        keys.update(str(f["key"]) for f in (data or {}).get("failed", []) if isinstance(f, dict) and "key" in f)
    return keys


def eligible(conn: Connection, before: date, now: datetime) -> Iterator[tuple[int, str, str, datetime]]:
    """(id, kind, state, instant) of every row that may go, in id order; see the module's rules."""
    cuts = cutoffs(conn, before)
    revisions = {aid: n for aid, n in conn.execute(select(AgreementRow.id, AgreementRow.revision_number))}
    shown = _shown(conn)
    period_passed = exists().where(C.c.id == OUT.c.commitment_id, C.c.period > OUT.c.period)
    policy = or_(
        and_(OUT.c.kind.in_(PER_PERIOD), period_passed),
        *_windows_over(conn, now),
        OUT.c.kind.in_(PER_REVISION),  # the revision is compared below, from the row's data
        and_(OUT.c.kind == "weekly_summary", OUT.c.send_at < now - WEEK_OVER),
        OUT.c.kind.in_(BY_AGE),
    )
    stmt = (
        select(OUT.c.id, OUT.c.kind, OUT.c.state, OUT.c.key, OUT.c.agreement_id, OUT.c.send_at, OUT.c.sent_at)
        .where(OUT.c.state.in_(GONE), _aged(cuts, before), policy)
        .order_by(OUT.c.id)
    )
    rev_ids = _revision_rows(conn, stmt, revisions)
    for r in conn.execute(stmt.execution_options(yield_per=BATCH)):
        if r.state == OutboxState.FAILED and r.key not in shown:
            continue
        if r.kind in PER_REVISION and r.id not in rev_ids:
            continue
        yield r.id, r.kind, r.state, r.sent_at or r.send_at


def _windows_over(conn: Connection, now: datetime) -> list[ColumnElement[bool]]:
    """Reminders and overdue notices of a period still open whose window has closed, per agreement.

    The rule asks for a reminder's key only until the period's first overdue notice is due,
    and for overdue notice k only until notice k+1 is due; a queued notice's ``send_at`` is
    never earlier than its planned instant. So a reminder sent more than the earliest offset
    (plus SLACK_DAYS) ago, or an overdue notice sent more than the repeat interval (plus
    SLACK_DAYS) ago, is never asked for again, though its period is still open.
    """
    windows: dict[tuple[str, timedelta], list[str]] = {}
    for aid, tz, schedule in conn.execute(select(AgreementRow.id, AgreementRow.timezone, AgreementRow.schedule)):
        s = Schedule.from_settings(tz, schedule)
        earliest = max([-o for o in s.reminder_offsets if o <= 0], default=0)
        windows.setdefault(("reminder", timedelta(days=earliest + SLACK_DAYS)), []).append(aid)
        windows.setdefault(("overdue", timedelta(days=s.overdue_repeat_days + SLACK_DAYS)), []).append(aid)
    clauses = []
    for kind in ("reminder", "overdue"):
        mine = sorted(((w, ids) for (k, w), ids in windows.items() if k == kind), key=lambda e: -len(e[1]))
        for i, (window, ids) in enumerate(mine):
            # The most common window is said as "not one of the others": with thousands of
            # agreements on one schedule a list of them all is more ids than a statement binds
            # (PostgreSQL 65,535, SQLite 32,766: bench/instances.py at 1,000,000 commitments).
            others = [a for _, rest in mine[:i] + mine[i + 1 :] for a in rest] if i == 0 else None
            where = OUT.c.agreement_id.not_in(others) if others is not None else OUT.c.agreement_id.in_(ids)
            clauses.append(and_(OUT.c.kind == kind, where, OUT.c.send_at < now - window))
    return clauses


def _revision_rows(conn: Connection, stmt: Any, current: dict[str, int]) -> set[int]:
    # Few rows (a kick-off and some late notices per revision), so the row's revision is read in Python.
    picked = stmt.with_only_columns(OUT.c.id, OUT.c.agreement_id, OUT.c.data).where(OUT.c.kind.in_(PER_REVISION))
    return {
        i
        for i, aid, data in conn.execute(picked)
        if isinstance((data or {}).get("revision"), int) and data["revision"] < current.get(aid, 0)
    }


def line(row: Any) -> str:
    """One archived notice: every column by its name, instants in ISO 8601 UTC."""
    out = {}
    for col in OUT.c:
        value = row._mapping[col.name]
        out[col.name] = value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
    return json.dumps(out, ensure_ascii=False)


def prune(
    engine: Engine,
    *,
    before: date,
    archive: Path,
    now: datetime,
    dry_run: bool = False,
    batch: int = BATCH,
    drill: Drill | None = None,
) -> Outcome:
    """Gallra the outbox into ``archive`` (see the module's docstring); ``dry_run`` changes nothing."""
    folder = archive.parent
    if not folder.is_dir():
        raise InvalidValue("archive", f"mappen {folder} finns inte")
    if archive.exists() or archive.is_symlink():
        return _finish(engine, archive, dry_run=dry_run, batch=batch)
    tally = Tally()
    with engine.connect() as conn:
        if dry_run:
            for _, kind, state, at in eligible(conn, before, now):
                tally.add(kind, state, at)
            return Outcome(tally=tally, removed=0, archived=0, resumed=False, wrote=False)
        with conn.begin():
            ids = array("q", (i for i, *_ in eligible(conn, before, now)))
            if not ids:
                return Outcome(tally=tally, removed=0, archived=0, resumed=False, wrote=False)
            tmp = folder / f".{archive.name}.{uuid.uuid4().hex}.tmp"
            try:
                with _GzipLines(tmp) as out:
                    for chunk in _chunks(ids, batch):
                        gone = conn.execute(
                            delete(OUT).where(OUT.c.id.in_(chunk), OUT.c.state.in_(GONE)).returning(*OUT.c)
                        ).all()
                        for r in sorted(gone, key=lambda r: r.id):
                            out.write(line(r))
                            tally.add(r.kind, r.state, r.sent_at or r.send_at)
                if drill is not None:
                    drill("written")
                _publish(tmp, archive)
            finally:
                tmp.unlink(missing_ok=True)
            if drill is not None:
                drill("archived")
        # Committed: the archive was on disk, under its name, before this line.
    return Outcome(tally=tally, removed=tally.total, archived=tally.total, resumed=False, wrote=True)


def _finish(engine: Engine, archive: Path, *, dry_run: bool, batch: int) -> Outcome:
    """An existing archive: delete its rows still in the outbox, identical in every column; nothing else."""
    lines = _read_archive(archive)
    tally = Tally()
    removed = 0
    with engine.connect() as conn, conn.begin():
        for chunk in _chunks([a["id"] for a in lines.values()], batch):
            here = conn.execute(select(*OUT.c).where(OUT.c.id.in_(chunk))).all()
            same = [r for r in here if json.loads(line(r)) == lines[r.id]]
            for r in same:
                tally.add(r.kind, r.state, r.sent_at or r.send_at)
            if same and not dry_run:
                ids = [r.id for r in same]
                removed += conn.execute(delete(OUT).where(OUT.c.id.in_(ids), OUT.c.state.in_(GONE))).rowcount
    return Outcome(tally=tally, removed=removed, archived=len(lines), resumed=True, wrote=False)


def _read_archive(archive: Path) -> dict[int, dict[str, Any]]:
    refused = InvalidValue(
        "archive", f"{archive} finns redan och är inget gallringsarkiv från samverkan; välj ett nytt filnamn"
    )
    if not archive.is_file() or archive.is_symlink():
        raise refused
    names = set(OUT.c.keys())
    found: dict[int, dict[str, Any]] = {}
    try:
        with gzip.open(archive, "rt", encoding="utf-8") as f:
            for text in f:
                item = json.loads(text)
                if not isinstance(item, dict) or set(item) != names or not isinstance(item["id"], int):
                    raise refused
                found[item["id"]] = item
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError):
        raise refused from None
    return found


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


class _GzipLines:
    """Lines into a new gzip file, flushed and fsync'd when the block ends without an error."""

    def __init__(self, path: Path) -> None:
        self.raw = open(path, "xb")  # noqa: SIM115 - closed in __exit__, after the fsync
        self.gz = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, compresslevel=6, mtime=0)

    def __enter__(self) -> _GzipLines:
        return self

    def write(self, text: str) -> None:
        self.gz.write(text.encode("utf-8") + b"\n")

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            self.gz.close()  # the gzip trailer; the file itself stays open
            if kind is None:
                self.raw.flush()
                os.fsync(self.raw.fileno())
        finally:
            self.raw.close()


def _publish(tmp: Path, archive: Path) -> None:
    """``tmp`` under the archive's name, never over another file, and the folder's entry on disk."""
    try:
        os.link(tmp, archive)
    except FileExistsError:
        raise InvalidValue("archive", f"{archive} skapades av någon annan under körningen; inget gallrades") from None
    fd = os.open(archive.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
