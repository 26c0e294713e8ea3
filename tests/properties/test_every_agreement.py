"""Issue 11: the rules hold on every agreement, not only Borås.

Each test draws a generated agreement file and scripted people (tests/properties/agreements.py),
runs the real engine over ten years with the real dispatcher (tests/properties/harness.py) and
asserts one behaviour of docs/rules.md on what happened. The run is shared: every test draws the same
sequence of cases (one fixed seed), and a case is run once and kept, so the nine-plus behaviours
cost one decade of engine time per case (profiled: see the terminal summary).

Sizes and seeds (printed in the summary; a failure reproduces with the same values):

    SAMVERKAN_PROPERTY_EXAMPLES=30   cases per test (the same cases for every test)
    SAMVERKAN_PROPERTY_SEED=20260111 the seed; any other integer explores other cases
    SAMVERKAN_PROPERTY_SHRINK=0      report the first failing case without shrinking it (fast triage)
    SAMVERKAN_PROPERTY_NAMED=0       leave out the named cases (a failing named case is reported as it
                                     is, not shrunk: turn them off to have hypothesis find minimal ones)

e.g. ``SAMVERKAN_PROPERTY_EXAMPLES=400 SAMVERKAN_PROPERTY_SEED=7 .venv/bin/pytest tests/properties``.

Each assertion helper is named after its behaviour and lists every violation it found (at most
``SHOWN``), so a failure says which rule broke, where and when; the falsifying case comes with
its agreement file and the people's actions (hypothesis ``note``).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, note, seed, settings

from tests.properties.agreements import NAMED_CASES, OWNER, Case, cases, render
from tests.properties.harness import Row, Run, cached_run, simulate_ends
from tests.properties.model import Model
from tests.properties.spec import (
    AT_ONCE_KINDS,
    CAL,
    FOLLOW_UP_KINDS,
    REVISION_KINDS,
    RIDES_ALONG_KINDS,
    ZONE,
    FollowUpRule,
    RevisionRule,
    is_send_slot,
    last_period,
    midnight,
    term_end,
)

EXAMPLES = int(os.environ.get("SAMVERKAN_PROPERTY_EXAMPLES", "30"))
SEED = int(os.environ.get("SAMVERKAN_PROPERTY_SEED", "20260111"))
SHRINK = os.environ.get("SAMVERKAN_PROPERTY_SHRINK", "1") != "0"
NAMED = os.environ.get("SAMVERKAN_PROPERTY_NAMED", "1") != "0"
SHOWN = 12

# -- the outbox state of a withdrawn notice -----------------------------------------------------
# A stale notice must end withdrawn (shown as "återkallad"), never sent.
WITHDRAWN = "withdrawn"
NOT_SENT = frozenset({WITHDRAWN})

# What a termination (or the term's end) makes stale: docs/rules.md, "Withdrawn notices" (a deviation stays valid).
ENDED_BY_TERMINATION = FOLLOW_UP_KINDS | REVISION_KINDS | {"weekly_summary"}

PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if SHRINK else [])],
)


def every_agreement(test: Callable[[Case], None]) -> Callable[..., None]:
    """The same cases, in the same order, for every test: the runs are shared through cached_run.

    The cases issue 11 names (Borås, an early-year due date, 29 February, Exempelstad's fixed term)
    run first, every time; then the generated ones."""
    wrapped = given(case=cases())(test)
    for named in reversed(NAMED_CASES if NAMED else ()):
        wrapped = example(case=named)(wrapped)
    return seed(SEED)(PROPERTY(wrapped))


def lived(case: Case) -> tuple[Run, Model]:
    run = cached_run(case)
    note(render(case.agreement))
    note(f"script: {case.script}")
    note(run.summary(limit=60))
    if "model" not in run.derived:
        run.derived["model"] = Model(run)
    return run, run.derived["model"]


def fail_if(violations: Iterable[str], what: str) -> None:
    found = list(violations)
    if found:
        shown = "\n  ".join(found[:SHOWN])
        more = f"\n  … and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
        raise AssertionError(f"{what}: {len(found)} violation(s)\n  {shown}{more}")


def t(at: datetime | None) -> str:
    """An instant as people read it: local time with the weekday."""
    if at is None:
        return "-"
    lt = at.astimezone(ZONE)
    return lt.strftime("%Y-%m-%d %a %H:%M")


def _rules(run: Run) -> tuple[FollowUpRule, RevisionRule]:
    spec = run.spec
    fu = FollowUpRule(
        due_md=spec.due,
        offsets=spec.offsets,
        overdue_repeat_days=spec.overdue_repeat_days,
        escalation_after_days=spec.escalation_after_days,
        send_time=spec.send_time,
    )
    rev = RevisionRule(
        signed=spec.signed,
        every_years=spec.every_years,
        kickoff_days_before=spec.kickoff_days_before,
        late_repeat_days=spec.late_repeat_days,
        send_time=spec.send_time,
    )
    return fu, rev


def _first_reports(run: Run) -> dict[tuple[str, int], datetime]:
    """When each (commitment, period) was first reported (its follow-up's version 1)."""
    if "reports" not in run.derived:
        run.derived["reports"] = {(cid, p): at for cid, p, version, at in run.follow_ups if version == 1}
    reports: dict[tuple[str, int], datetime] = run.derived["reports"]
    return reports


def _first_delivery_at_or_after(run: Run, at: datetime) -> datetime | None:
    return next((d for d, _ in run.deliveries if d >= at), None)


def _engine_ended(run: Run) -> dict[str, list[tuple[datetime, datetime | None]]]:
    """Per commitment, the stretches the engine itself had it avslutad (until a move out of it)."""
    out: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for m in run.moves:
        stretches = out[m.commitment]
        if m.to_state == "avslutad":
            stretches.append((m.at, None))
        elif m.from_state == "avslutad" and stretches and stretches[-1][1] is None:
            stretches[-1] = (stretches[-1][0], m.at)
    return out


def _within(stretches: list[tuple[datetime, datetime | None]], at: datetime) -> datetime | None:
    for a, b in stretches:
        if a <= at and (b is None or at < b):
            return a
    return None


def _hand_opened_kickoffs(run: Run) -> set[str]:
    """Kick-offs a person queued with `revision start` (a person's action goes at once)."""
    opened = {a.at for a in run.actions if a.kind == "open_revision" and a.ok and a.detail.get("by_hand")}
    return {r.key for r in run.outbox if r.kind == "revision_kickoff" and r.created_at in opened}


def _describe(row: Row) -> str:
    what = f"{row.kind} {row.commitment_id or ''}{f' P{row.period}' if row.period is not None else ''}".strip()
    extra = {k: v for k, v in row.data.items() if k in ("offset_days", "revision", "due", "repeat", "week")}
    return f"{what} {extra} [{row.state}] planned {t(row.send_at)}, sent {t(row.sent_at)}, queued {t(row.created_at)}"


# -- 1. reminders --------------------------------------------------------------------------------


def every_reminder_is_sent_once_on_time(run: Run, model: Model) -> Iterable[str]:
    """Every configured offset of every period a commitment was open for: one reminder, planned at its
    working day's send time, and sent — unless its reason was gone (follow-up recorded, revision decision,
    end) before the dispatcher could send it (then it is withdrawn: see the stale-notice property)."""
    fu, _ = _rules(run)
    spec = run.spec
    by_key: dict[tuple[str | None, int | None, Any], list[Row]] = defaultdict(list)
    for r in run.outbox:
        if r.kind == "reminder":
            by_key[(r.commitment_id, r.period, r.data.get("offset_days"))].append(r)
            if r.data.get("offset_days") not in spec.offsets:
                yield f"{_describe(r)}: offset {r.data.get('offset_days')} is not configured ({spec.offsets})"
    for cid, life in sorted(model.lives.items()):
        for period, opened, closed in life.open:
            # Offsets moved onto the same working day are one reminder, the one nearest the due date.
            same_day = {fu.reminder_day(period, o): o for o in sorted(spec.offsets)}
            for offset in sorted(same_day.values()):
                planned = fu.reminder_at(period, offset)
                if planned < opened or (closed is not None and planned >= closed) or planned >= run.until:
                    continue
                rows = by_key.get((cid, period, offset), [])
                where = f"reminder {cid} P{period} offset {offset} (due {fu.due(period)}, planned {t(planned)})"
                if not rows:
                    yield f"{where}: never queued (open for {period} from {t(opened)} to {t(closed)})"
                    continue
                if len(rows) > 1:
                    yield f"{where}: queued {len(rows)} times"
                row = rows[0]
                if row.send_at != planned:
                    yield f"{where}: planned for {t(row.send_at)} instead"
                delivered = _first_delivery_at_or_after(run, planned)
                if delivered is None or (closed is not None and closed <= delivered):
                    continue  # not delivered before the run ended, or stale before the dispatcher came
                if row.state != "sent":
                    yield f"{where}: {row.state} ({row.last_error}), not sent"
                elif row.sent_at is None or not is_send_slot(row.sent_at, spec.send_time):
                    yield f"{where}: sent {t(row.sent_at)}, not at a send slot"


@every_agreement
def test_every_configured_reminder_of_every_open_period_is_sent_exactly_once_at_the_send_time(case: Case) -> None:
    """Varje påminnelse (varje förskjutning, varje period åtagandet var öppet för) skickas en gång,
    en arbetsdag vid utskickstiden."""
    run, model = lived(case)
    fail_if(every_reminder_is_sent_once_on_time(run, model), "reminders")


# -- 2. instants ---------------------------------------------------------------------------------


def scheduled_notices_are_planned_at_send_slots(run: Run) -> Iterable[str]:
    """Everything but a person's at-once notices is planned (and sent) at the send time of a working day."""
    spec = run.spec
    by_hand = _hand_opened_kickoffs(run)
    for r in run.outbox:
        if r.kind in AT_ONCE_KINDS or r.key in by_hand:
            continue
        if r.kind in RIDES_ALONG_KINDS:
            # Queued at the report; it goes with the next mail, at that mail's slot.
            if r.sent_at is not None and not is_send_slot(r.sent_at, spec.send_time):
                yield f"{_describe(r)}: sent outside a send slot"
            continue
        if not is_send_slot(r.send_at, spec.send_time):
            lt = r.send_at.astimezone(ZONE)
            why = "at midnight" if lt.hour == 0 and lt.minute == 0 else "not at the send time"
            if not CAL.is_working_day(lt.date()):
                why += ", on a closed day"
            yield f"{_describe(r)}: {why} (send time {spec.send_time.strftime('%H:%M')})"
        elif r.sent_at is not None and not is_send_slot(r.sent_at, spec.send_time):
            yield f"{_describe(r)}: sent outside a send slot"


@every_agreement
def test_no_scheduled_notice_goes_out_at_night_or_on_a_closed_day(case: Case) -> None:
    """Ingen schemalagd notis (allt utom ändrade förutsättningar, uppsägning, leveransfel) planeras
    eller skickas på en stängd dag eller vid annan tid än utskickstiden — aldrig 00:00."""
    run, _ = lived(case)
    fail_if(scheduled_notices_are_planned_at_send_slots(run), "notices outside the send slots")


# -- 3. after the end -----------------------------------------------------------------------------


def nothing_is_sent_after_the_end(run: Run, model: Model) -> Iterable[str]:
    """No follow-up notice for an ended commitment, after the termination took effect, or for a period
    after the last one; no revision notice after the term or the termination; no weekly summary after
    the termination, nor after the term once no commitment is live."""
    terminates = model.terminates
    ended = _engine_ended(run)
    for r in run.outbox:
        if r.state != "sent" or r.sent_at is None:
            continue
        at = r.sent_at
        if terminates is not None and at >= terminates and r.kind in ENDED_BY_TERMINATION:
            yield f"{_describe(r)}: sent after the termination took effect ({t(terminates)})"
            continue
        valid_to = model.valid_to_at(at)
        if r.kind in FOLLOW_UP_KINDS and r.commitment_id is not None:
            engine_end = _within(ended.get(r.commitment_id, []), at)
            if engine_end is not None:
                yield f"{_describe(r)}: sent after the engine ended the commitment ({t(engine_end)})"
                continue
            life = model.lives.get(r.commitment_id)
            why = life.dead_at(at) if life is not None else None
            if why is not None:
                yield f"{_describe(r)}: sent after the commitment ended per the spec ({why})"
                continue
            last = last_period(life.effort.end if life else None, valid_to)
            if last is not None and r.period is not None and r.period > last:
                yield f"{_describe(r)}: period {r.period} is after the last period {last}"
        ends = term_end(valid_to)
        if ends is not None and at >= ends:
            if r.kind in REVISION_KINDS:
                yield f"{_describe(r)}: sent after the term ended ({t(ends)})"
            elif r.kind == "weekly_summary" and not model.live_at(at):
                yield f"{_describe(r)}: sent after the term ended ({t(ends)}) with no live commitment"


@every_agreement
def test_nothing_is_sent_for_what_has_ended(case: Case) -> None:
    """Inga påminnelser, förseningsbesked eller eskaleringar för ett avslutat åtagande, efter att en
    uppsägning trätt i kraft eller (tidsbegränsad) för en period efter den sista; inga revisionsbesked
    eller veckosammanställningar efter giltighetstiden eller uppsägningen."""
    run, model = lived(case)
    fail_if(nothing_is_sent_after_the_end(run, model), "notices after the end")


# -- 4. on time means no overdue ----------------------------------------------------------------


def no_overdue_for_a_period_reported_on_time(run: Run) -> Iterable[str]:
    fu, _ = _rules(run)
    reported = _first_reports(run)
    for r in run.outbox:
        if r.kind not in ("overdue", "escalation") or r.state in NOT_SENT or r.period is None:
            continue
        at = reported.get((r.commitment_id or "", r.period))
        if at is not None and at < fu.due_end(r.period):
            yield f"{_describe(r)}: {r.period} was reported on time ({t(at)}, due {fu.due(r.period)})"


@every_agreement
def test_no_overdue_or_escalation_for_a_period_reported_on_time(case: Case) -> None:
    """En period som rapporterades i tid får aldrig förseningsbesked eller eskalering."""
    run, _ = lived(case)
    fail_if(no_overdue_for_a_period_reported_on_time(run), "overdue notices for on-time reports")


# -- 5. revision deadlines -----------------------------------------------------------------------


def revision_deadlines_are_signing_anniversaries(run: Run, model: Model) -> Iterable[str]:
    """The due in every revision notice is add_years(signed, n*N) moved to the next working day,
    capped by the term in force when it was queued."""
    _, rev = _rules(run)
    for r in run.outbox:
        if r.kind not in REVISION_KINDS:
            continue
        n = r.data.get("revision")
        valid_to = model.valid_to_at(r.created_at)
        if not isinstance(n, int):
            yield f"{_describe(r)}: no revision number"
            continue
        expected = rev.deadline(n, valid_to)
        if expected is None:
            yield f"{_describe(r)}: revision {n} does not exist under the term to {valid_to}"
        elif r.data.get("due") != expected.isoformat():
            yield (
                f"{_describe(r)}: due {r.data.get('due')}, expected {expected} "
                f"(nominal {rev.nominal(n)}{f', term to {valid_to}' if valid_to else ''})"
            )


@every_agreement
def test_revision_deadlines_are_the_signing_anniversaries_on_working_days(case: Case) -> None:
    """Revisionens sista dag i varje besked är årsdagen add_years(signed, n×N), flyttad till nästa
    arbetsdag (och för en tidsbegränsad överenskommelse begränsad av giltighetstiden)."""
    run, model = lived(case)
    fail_if(revision_deadlines_are_signing_anniversaries(run, model), "revision deadlines")


# -- 6. the run ends ------------------------------------------------------------------------------


def the_run_ends(run: Run) -> Iterable[str]:
    """The harness's decade ended by itself (no instant repeated, no crash, within the step bound), and so
    did `samverkan simulate` (engine.simulate) on the same file around the end of a fixed term."""
    if run.stuck:
        yield run.stuck
    if "simulate" not in run.derived:
        run.derived["simulate"] = simulate_ends(run.case)
    if run.derived["simulate"]:
        yield run.derived["simulate"]


@every_agreement
def test_the_engine_always_advances_and_the_run_ends(case: Case) -> None:
    """Körningen tar slut av sig själv: inget ögonblick upprepas i det oändliga, motorn kraschar inte;
    `samverkan simulate` tar också slut på samma fil."""
    run, _ = lived(case)
    fail_if(the_run_ends(run), "the run did not end")


# -- 7. stale notices ------------------------------------------------------------------------------


def _gone(
    run: Run, model: Model, r: Row, ended: dict[str, list[tuple[datetime, datetime | None]]]
) -> tuple[datetime, str] | None:
    """When (and why) the reason for ``r`` went away, if it did before the run ended."""
    reasons: list[tuple[datetime, str]] = []
    if run.termination is not None and r.kind in ENDED_BY_TERMINATION:
        announced, effective = run.termination
        takes_effect = max(midnight(effective), announced)
        reasons.append((announced if r.send_at >= takes_effect else takes_effect, f"termination from {effective}"))
    # A held calendar cancellation waits for the address's next mail; whether closing takes it
    # is rules.withdrawal's to say, not asked here.
    if run.closed_at is not None and r.kind not in AT_ONCE_KINDS | RIDES_ALONG_KINDS:
        reasons.append((run.closed_at, "the agreement was closed"))
    if r.kind in FOLLOW_UP_KINDS and r.commitment_id is not None and r.period is not None:
        reported = _first_reports(run).get((r.commitment_id, r.period))
        if reported is not None:
            reasons.append((reported, f"the follow-up for {r.period} was recorded"))
        for a, _ in ended.get(r.commitment_id, []):
            if a >= r.created_at:
                reasons.append((a, "the engine ended the commitment"))
                break
        life = model.lives.get(r.commitment_id)
        for a, _, why in life.dead if life else []:
            if a >= r.created_at:
                reasons.append((a, f"the commitment ended ({why})"))
                break
    if r.kind in REVISION_KINDS:
        n = r.data.get("revision")
        for number, _, _, _, completed in run.revisions:
            if number == n and completed is not None:
                reasons.append((completed, f"revision {n} was completed"))
        ends = term_end(model.valid_to_at(r.send_at))
        if ends is not None:
            reasons.append((max(ends, r.created_at) if r.send_at < ends else r.created_at, "the term ended"))
    if not reasons:
        return None
    at, why = min(reasons, key=lambda x: x[0])
    at = max(at, r.created_at)
    return (at, why) if at < run.until else None


def stale_notices_are_withdrawn_not_sent(run: Run, model: Model) -> Iterable[str]:
    ended = _engine_ended(run)
    for r in run.outbox:
        gone = _gone(run, model, r, ended)
        if gone is None:
            continue
        at, why = gone
        if r.state == "sent":
            if r.sent_at is not None and at <= r.sent_at:
                yield f"{_describe(r)}: sent although {why} ({t(at)})"
        elif r.state != WITHDRAWN:
            yield f"{_describe(r)}: {r.state}, not {WITHDRAWN}, although {why} ({t(at)})"


@every_agreement
def test_a_notice_whose_reason_is_gone_is_withdrawn_never_sent(case: Case) -> None:
    """En köad notis vars skäl försvann innan den skickades (uppföljningen registrerades, åtagandet
    avslutades, revisionen genomfördes, uppsägningen trädde i kraft) blir återkallad, aldrig skickad."""
    run, model = lived(case)
    fail_if(stale_notices_are_withdrawn_not_sent(run, model), "stale notices")


# -- 8. nobody escalated to themselves ------------------------------------------------------------


def nobody_is_escalated_to_themselves(run: Run, model: Model) -> Iterable[str]:
    spec = run.spec
    owner = spec.email(OWNER)
    for r in run.outbox:
        if r.kind != "escalation" or r.state in NOT_SENT or r.commitment_id is None:
            continue
        life = model.lives.get(r.commitment_id)
        if life is None:
            continue
        party = r.commitment_id.rsplit(".", 1)[1]
        unit = life.effort.commitment(party).responsible
        if spec.email(unit) == owner and owner in r.recipients:
            yield f"{_describe(r)}: the responsible unit {unit} <{spec.email(unit)}> is the process owner"


@every_agreement
def test_no_escalation_to_a_responsible_unit_that_is_the_process_owner(case: Case) -> None:
    """Ingen eskalering till den ansvariga enheten själv när den är processägaren (samma adress)."""
    run, model = lived(case)
    fail_if(nobody_is_escalated_to_themselves(run, model), "escalations to oneself")


# -- 9. a revision never re-opens a reported period -------------------------------------------------


def reported_periods_stay_closed_after_a_revision(run: Run) -> Iterable[str]:
    for done in run.completions:
        for cid, (state, period) in sorted(done.state_before.items()):
            if state != "uppföljd" or done.decisions.get(cid) == "remove":
                continue
            for r in run.outbox:
                if r.commitment_id != cid or r.period != period or r.kind not in FOLLOW_UP_KINDS:
                    continue
                if r.created_at >= done.at or (r.state == "sent" and r.sent_at is not None and r.sent_at >= done.at):
                    yield (
                        f"{_describe(r)}: {period} was reported before revision {done.step} "
                        f"(adopted {t(done.at)}) and is asked for again"
                    )


@every_agreement
def test_a_revision_never_reopens_a_reported_period(case: Case) -> None:
    """Efter en antagen revision får ett åtagande som var uppföljt för P aldrig fler notiser för P."""
    run, _ = lived(case)
    fail_if(reported_periods_stay_closed_after_a_revision(run), "reported periods asked for again")


# -- the harness's own footing ------------------------------------------------------------------------


def the_people_are_never_refused(run: Run) -> Iterable[str]:
    """Every step the script takes is one the spec allows: a follow-up for the open period from the day
    reporting opens, each revision step, the termination, closing an ended term."""
    for a in run.actions:
        if not a.ok:
            what = a.kind + (f" {a.commitment}" if a.commitment else "") + (f" P{a.period}" if a.period else "")
            yield f"{t(a.at)} {what}: refused: {a.error}"


@every_agreement
def test_the_people_s_steps_that_the_spec_allows_are_accepted(case: Case) -> None:
    """Det skriptade folket gör bara det specen tillåter (rapport från den dag rapporteringen öppnar,
    revisionens steg, uppsägning, stängning efter giltighetstiden) — och motorn tar emot det."""
    run, _ = lived(case)
    fail_if(the_people_are_never_refused(run), "refused steps")


def one_mail_per_address_per_delivery(run: Run) -> Iterable[str]:
    sent = [r for r in run.outbox if r.state == "sent"]
    mails = {r.message_id for r in sent}
    if None in mails:
        yield "a sent notice without the Message-ID of the mail it went in"
    if run.eml_files != len(mails):
        yield f"{len(sent)} notices sent in {len(mails)} mails, {run.eml_files} .eml files written"
    slots: dict[tuple[str, datetime], set[str | None]] = {}
    for r in sent:
        if r.group_key is not None and r.sent_at is not None:
            slots.setdefault((r.group_key, r.sent_at), set()).add(r.message_id)
    for (address, at), ids in sorted(slots.items()):
        if len(ids) > 1:
            yield f"{address} got {len(ids)} mails in the delivery of {at.isoformat()}, not one"
    for mid in sorted(m for m in mails if m is not None):
        if len({r.group_key or r.key for r in sent if r.message_id == mid}) > 1:
            yield f"{mid}: one mail holds notices to different addresses"


@every_agreement
def test_every_address_gets_one_mail_per_delivery_holding_all_it_is_due(case: Case) -> None:
    """Den riktiga FileMailer skrev ett meddelande per adress och utskick: varje skickad notis i exakt ett."""
    run, _ = lived(case)
    fail_if(one_mail_per_address_per_delivery(run), "mail files")


def commitments_end_up_where_the_spec_says(run: Run, model: Model) -> Iterable[str]:
    """At the end of the run each commitment is in the state (and open period) the spec gives it, after the
    same people did the same things: ended when its term, timeframe or plan ended, back when re-added."""
    for cid, life in sorted(model.lives.items()):
        engine = run.final.get(cid)
        expected = (life.state, life.period)
        if engine is None:
            yield f"{cid}: not in the database; the spec has it {life.state} for {life.period}"
        elif engine[0] != life.state or (life.state != "avslutad" and engine[1] != life.period):
            why = f" ({life.dead[-1][2]})" if life.state == "avslutad" and life.dead else ""
            yield f"{cid}: {engine[0]} for {engine[1]} at the end; the spec has it {expected[0]} for {expected[1]}{why}"


@every_agreement
def test_every_commitment_ends_the_decade_where_the_spec_puts_it(case: Case) -> None:
    """Efter samma händelser står varje åtagande där specen säger: avslutat när tidsplanen, giltighetstiden
    eller planen tog slut, levande igen när det kom tillbaka i planen, väntande på rätt period."""
    run, model = lived(case)
    fail_if(commitments_end_up_where_the_spec_says(run, model), "commitments in the wrong state")
