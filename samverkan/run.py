"""``samverkan run``: APScheduler 3 wakes the engine; the database says when.

One one-off job at a time, each wake-up adding the next at the earliest instant the database
knows something is due (a commitment's ``next_check``, the next pending notice, the end of the
lease of a notice left ``sending``), and at least once a day (so a plan edited by ``init`` is picked up).
Never one job per commitment (docs/libraries.md: 10,000 jobs take ~10 s to add; the
database's index answers "what is due" instead), and no job store: several
instances coordinate through the database's tick lock, not through APScheduler.

Missed wake-ups (a suspended laptop, a restart) run once, late: misfire grace has
no limit and runs coalesce; the tick itself acts on everything that fell due.
A wake-up that fails (the database restarting, say) is logged and tried again
``retry`` later (``run --retry-seconds``, 60 s by default).

Gallring, when the settings ask for it (``outbox_keep_days``, ``outbox_archive_dir``): the
first wake-up at or after 04:00 local time each day, after its tick and delivery and in
the same thread (so on SQLite it never competes with them for the write lock), moves the
notices older than that many days into ``gallring-DATE.jsonl.gz`` in the folder (engine.prune).
04:00 is past the night's daylight-saving changes (02:00–03:00), so it exists, once, every day.
A second instance that finds that day's file completes it, or finds nothing to do.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger

from engine.api import commands_outbox, queries
from engine.clock import Clock
from engine.db import Database
from engine.tick import next_wakeup, tick
from notifications.dispatcher import deliver, next_send
from notifications.links import inbox_link_maker_for, link_maker_for
from notifications.settings import Settings
from rules import texts
from rules.errors import InvalidValue, SamverkanError
from rules.texts import DEFAULT_ZONE

log = logging.getLogger("samverkan.run")
# The log's times and the scheduler's own zone; a wake-up serves every agreement, so it
# has none of its own (each trigger is an aware instant, so this changes no wake-up).
ZONE = DEFAULT_ZONE
AT_LEAST = timedelta(days=1)
# After a failed wake-up (the database restarting, say), try again this much later: ``run --retry-seconds``.
RETRY = timedelta(minutes=1)
# Set by SIGTERM/SIGINT: a delivery run in progress stops after the batch in hand.
STOPPING = threading.Event()
# The nightly gallring's local hour (see the module's docstring).
NIGHT = time(4, 0)


def next_night(now: datetime) -> datetime:
    """The first 04:00 local time after ``now``."""
    local = now.astimezone(ZONE)
    day = local.date() if local.time() < NIGHT else local.date() + timedelta(days=1)
    return datetime.combine(day, NIGHT, tzinfo=ZONE)


@dataclass
class Nightly:
    """The nightly gallring the settings ask for, and when it is next due."""

    keep_days: int
    folder: Path
    due: datetime


def nightly_for(settings: Settings, now: datetime) -> Nightly | None:
    """None unless ``outbox_keep_days`` is set; a folder that is not there is refused before ``run`` starts."""
    if settings.outbox_keep_days is None or settings.outbox_archive_dir is None:
        return None
    if not settings.outbox_archive_dir.is_dir():
        raise InvalidValue("inställningen outbox_archive_dir", f"mappen {settings.outbox_archive_dir} finns inte")
    return Nightly(keep_days=settings.outbox_keep_days, folder=settings.outbox_archive_dir, due=next_night(now))


def prune_nightly(engine: Database, now: datetime, night: Nightly) -> commands_outbox.Pruned | None:
    """Gallra once the night's hour has come: what is older than ``keep_days`` into the day's file."""
    if now < night.due:
        return None
    today = now.astimezone(ZONE).date()
    night.due = next_night(now)
    return commands_outbox.prune_outbox(
        engine,
        before=today - timedelta(days=night.keep_days),
        archive=night.folder / f"gallring-{today.isoformat()}.jsonl.gz",
        now=now,
    )


def _prune_logged(engine: Database, now: datetime, night: Nightly) -> None:
    try:
        done = prune_nightly(engine, now, night)
    except Exception as exc:  # the next night tries again; tick and delivery go on meanwhile
        log.error("gallringen misslyckades (%s); nästa försök %s", str(exc).splitlines()[0], _local(night.due))
        return
    if done is not None:
        log.info(
            "gallrade %d notiser från före %s till %s; nästa gallring %s",
            done.removed,
            texts.datum(done.before),
            done.archive,
            _local(night.due),
        )


def next_takeover(engine: Database, lease: timedelta) -> datetime | None:
    """When the oldest claim still ``sending`` runs out of its lease and may be claimed again.

    A delivery run that lost the database (a restart) or its process leaves its batch
    ``sending``; without a wake-up for the lease, that batch would wait for whatever else is
    due next, up to a day later.
    """
    oldest = queries.oldest_claim(engine)
    return None if oldest is None else oldest + lease


def next_run(engine: Database, now: datetime, lease: timedelta, night: Nightly | None = None) -> datetime:
    candidates = (next_wakeup(engine), next_send(engine), next_takeover(engine, lease), night.due if night else None)
    found = [t for t in candidates if t is not None]
    latest = now + AT_LEAST
    if not found or min(found) > latest:
        return latest
    return max(min(found), now + timedelta(seconds=1))


def wake(
    engine: Database,
    clock: Clock,
    scheduler: BlockingScheduler,
    settings: Settings,
    retry: timedelta = RETRY,
    *,
    night: Nightly | None = None,
) -> None:
    """One wake-up: tick, deliver, the night's gallring if due, then schedule the next wake-up as a new one-off job.

    A one-off job is removed by the scheduler once it has fired, so each wake-up
    adds its successor rather than rescheduling itself. When the wake-up fails, the
    next one is ``retry`` later (on ``clock``; the scheduler waits that long in real time).
    """
    now = clock.now()
    try:
        report = tick(engine, now, collect=False)
        sent = deliver(
            engine,
            now,
            settings,
            link=link_maker_for(engine, settings),
            inbox=inbox_link_maker_for(engine, settings),
            clock=clock,
            stop=STOPPING.is_set,
        )
        if night is not None:
            _prune_logged(engine, now, night)
        following = next_run(engine, now, timedelta(seconds=settings.lease_seconds), night)
    except SamverkanError as exc:
        # The settings are refused (the SMTP login): the tick was done and the batch put back;
        # not a database restarting, and said as what it is. Tried again after the delay, not at
        # once, so a wrong password does not knock on the server every second.
        following = clock.now() + retry
        log.error("utskicket avbröts: %s; försöker igen %s", " ".join(str(exc).split()), _local(following))
    except Exception as exc:  # the database may be restarting: try again shortly
        # From the failure, not from the wake-up: a delivery run may have lasted longer than the delay.
        following = clock.now() + retry
        log.error("tick misslyckades (%s); försöker igen %s", str(exc).splitlines()[0], _local(following))
    else:
        log.info(
            "vaknade %s: %d granskade, %d övergångar, %d nya notiser; %d skickade i %d e-postmeddelanden, "
            "%d skickas igen senare, %d misslyckade; nästa uppvaknande %s",
            _local(now),
            report.examined,
            report.transitions,
            report.notices,
            sent.sent,
            sent.messages,
            sent.retried,
            sent.failed,
            _local(following),
        )
    if not STOPPING.is_set():
        scheduler.add_job(
            wake, _after(clock, following), args=(engine, clock, scheduler, settings, retry), kwargs={"night": night}
        )


def _after(clock: Clock, when: datetime) -> DateTrigger:
    """A trigger at ``when`` on ``clock``; the scheduler itself runs on real time."""
    return DateTrigger(run_date=datetime.now(UTC) + (when - clock.now()), timezone=ZONE)


def _local(at: datetime) -> str:
    return at.astimezone(ZONE).isoformat(timespec="seconds")


def run_forever(engine: Database, clock: Clock, settings: Settings, *, retry: timedelta = RETRY) -> int:
    night = nightly_for(settings, clock.now())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # Their INFO lines (every job, every state callback) would drown what run itself says.
    for noisy in ("apscheduler", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    scheduler = BlockingScheduler(
        timezone=ZONE,
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
    )
    scheduler.add_job(
        wake, _after(clock, clock.now()), args=(engine, clock, scheduler, settings, retry), kwargs={"night": night}
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("avslutar (signal %s)", signal.Signals(signum).name)
        STOPPING.set()
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("samverkan run startar; Ctrl-C eller SIGTERM avslutar")
    scheduler.start()
    log.info("stoppad")
    return 0
