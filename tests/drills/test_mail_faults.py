"""Drill: a mail server that misbehaves at random; every deliverable notice still arrives.

The server (aiosmtpd on 127.0.0.1, in this process) answers 421 or 451 to a share of
messages, drops the connection without an answer, stalls past the client's timeout
(``smtp.timeout_seconds`` is 1 s; half the stalled messages are kept anyway, as a slow
server may: the client then resends them with the same Message-ID), and refuses two
recipients' addresses with 550. The dispatcher is driven in this process with an advancing
``now`` (``deliver(engine, now, settings)``, then ``now`` + 30 s) until nothing is pending
or sending.

Afterwards: every notice to an accepted address was delivered (its Message-ID arrived); the
notices to the refused addresses are ``failed`` with the server's 550 answer, are listed in
``engine.review.review(...).undeliverable``, and the process owner was told of each; nothing
is lost (every row ends ``sent`` or ``failed``). Runs on SQLite and on PostgreSQL.

By hand: ``DRILL_NOTICES=5000 DRILL_FAULT_RATE=0.3 .venv/bin/pytest -s tests/drills/test_mail_faults.py``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from engine import db
from engine.models import OutboxRow
from engine.review import review
from notifications.dispatcher import deliver
from notifications.settings import Settings, SmtpSettings

OWNER = "brab@boras.example"


def test_a_misbehaving_mail_server_loses_nothing(
    db_url: str, chaos_server: Callable[..., Any], report: Callable[..., None], drill: Any
) -> None:
    notices = drill.env_int("DRILL_NOTICES", 300)
    rate = drill.env_float("DRILL_FAULT_RATE", 0.25)  # share of messages that meet a fault
    prepared = drill.prepare(db_url, notices, tick_due=True)
    engine = prepared.engine
    with engine.connect() as conn:
        rows = conn.execute(select(OutboxRow.key, OutboxRow.recipients)).all()
    per_address = Counter(r for _, recipients in rows for r in recipients if r != OWNER)
    refused = {addr for addr, _ in sorted(per_address.items(), key=lambda kv: (kv[1], kv[0]))[:2]}
    port, sink = chaos_server(
        seed=drill.env_int("DRILL_SEED", 11),
        p_4xx=rate * 0.6,
        p_drop=rate * 0.3,
        p_stall=rate * 0.1,
        stall_seconds=2.0,
        refuse={a: "550 5.1.1 Mottagaren finns inte" for a in refused},
    )
    settings = Settings(
        mailer="smtp",
        sender=drill.SENDER,
        smtp=SmtpSettings(port=port, timeout_seconds=1, connections=4),
        max_attempts=50,  # the drill is about faults, not about giving up: 4xx keeps being retried
        backoff_seconds=1,
        backoff_max_seconds=10,
    )

    began = time.monotonic()
    now = drill.DUE
    rounds = 0
    done = drill.settled(engine, notices)
    while not done():
        deliver(engine, now, settings)
        now += timedelta(seconds=30)
        rounds += 1
        assert rounds < 400, drill.outbox_states(engine)
    drill.wait_until(lambda: sink.in_flight == 0, 30, "stalled messages finished")
    elapsed = time.monotonic() - began

    with db.transaction(engine) as s:
        final = {r.key: r for r in s.scalars(select(OutboxRow))}
        undeliverable = review(s, now).undeliverable
    to_refused = {k for k, r in final.items() if set(r.recipients) & refused}
    failed = {k for k, r in final.items() if r.state == "failed"}
    sent = {k for k, r in final.items() if r.state == "sent"}
    told = {k for k, r in final.items() if r.kind == "delivery_failed"}
    received = sink.counts()
    duplicates = sum(received.values()) - len(received)
    report(
        f"mail-faults[{engine.dialect.name}]",
        notices=notices,
        rounds=rounds,
        faults=dict(sink.faults),
        refused_notices=len(to_refused),
        failed=len(failed),
        told=len(told),
        received=sum(received.values()),
        duplicates=duplicates,
        seconds=round(elapsed, 1),
    )
    assert prepared.keys <= set(final)  # nothing lost
    assert failed == to_refused and to_refused  # the 550s end failed, nothing else does
    assert sent == set(final) - failed
    assert all("550 5.1.1" in (final[k].last_error or "") for k in failed)
    assert {u.key for u in undeliverable} == failed
    # The process owner is told of every failure, several of one batch in one notice.
    listed = {f["key"] for k in told for f in final[k].data["failed"]}
    assert listed == failed and all(final[k].recipients == [OWNER] for k in told)
    # Every sent notice arrived in the mail it is marked with (several notices to one address share one).
    expected = {final[k].message_id for k in sent}
    assert None not in expected and set(received) == expected
    assert duplicates <= sink.faults["stall_kept"]  # only a message kept without an answer arrives twice
    assert sink.faults["4xx"] and sink.faults["drop"] and sink.faults["stall"]
    engine.dispose()
