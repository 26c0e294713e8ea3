"""The checks that span several parts of an agreement file: ids, references, reminder order.

They need a document that fits the schema, so they run after it and report, all at
once, on the next run after the schema problems are fixed (engine.agreement).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.agreement_yaml import Path_, where

if TYPE_CHECKING:
    from engine.agreement import Agreement


def cross_check(a: Agreement, add: Any) -> None:
    """Checks that span several parts of the file; add(loc, message, key=False)."""

    def dupes(items: list[Any], loc: Path_, what: str) -> None:
        first: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.id in first:
                add((*loc, i, "id"), f"{what} '{item.id}' finns redan ({where((*loc, first[item.id]))})")
            else:
                first[item.id] = i

    parties = {p.id for p in a.parties}
    units = {u.id: u for u in a.units}
    dupes(a.parties, ("parties",), "parten")
    dupes(a.units, ("units",), "enheten")
    dupes(a.areas, ("areas",), "samverkansområdet")
    efforts = [(ai, ei, e) for ai, ar in enumerate(a.areas) for ei, e in enumerate(ar.efforts)]
    seen: dict[str, Path_] = {}
    for ai, ei, e in efforts:
        if e.id in seen:
            add(("areas", ai, "efforts", ei, "id"), f"insatsen '{e.id}' finns redan ({where(seen[e.id])})")
        else:
            seen[e.id] = ("areas", ai, "efforts", ei)
    numbers: dict[int, int] = {}
    for ai, ar in enumerate(a.areas):
        if ar.number in numbers:
            add(("areas", ai, "number"), f"nummer {ar.number} används redan av areas[{numbers[ar.number]}]")
        numbers.setdefault(ar.number, ai)

    def unit_ref(loc: Path_, unit_id: str, party: str | None = None) -> None:
        if unit_id not in units:
            add(loc, f"okänd enhet '{unit_id}' (finns inte under units)")
        elif party is not None and units[unit_id].party != party:
            add(loc, f"enheten '{unit_id}' hör till parten '{units[unit_id].party}', inte '{party}'")

    unit_ref(("agreement", "process_owner"), a.agreement.process_owner)
    for i, p in enumerate(a.parties):
        unit_ref(("parties", i, "contact"), p.contact, p.id)
    for i, u in enumerate(a.units):
        if u.party not in parties:
            add(("units", i, "party"), f"okänd part '{u.party}' (parter: {', '.join(sorted(parties))})")

    head = a.agreement
    if head.valid_to is not None and head.valid_to <= head.starts:
        add(("agreement", "valid_to"), "giltig till ligger före giltig från")
    if head.valid_from is not None and head.valid_from < head.signed:
        add(("agreement", "valid_from"), "giltig från ligger före undertecknandet")

    for ai, ei, e in efforts:
        base: Path_ = ("areas", ai, "efforts", ei)
        tf = e.timeframe
        if tf.start and tf.end and tf.end < tf.start:
            add((*base, "timeframe", "end"), "tidsplanens slut ligger före dess början")
        if head.valid_to and tf.start and tf.start > head.valid_to:
            add((*base, "timeframe", "start"), "tidsplanen börjar efter att överenskommelsen upphört")
        for party, spec in e.commitments.items():
            cloc: Path_ = (*base, "commitments", party)
            if party not in parties:
                add((*cloc, "<key>"), f"okänd part '{party}' (parter: {', '.join(sorted(parties))})")
                continue
            unit_ref((*cloc, "responsible"), spec.responsible)
            for k, co in enumerate(spec.co_responsible):
                unit_ref((*cloc, "co_responsible", k), co)
        dupes(e.measures, (*base, "measures"), "aktivitetsmåttet")
        for mi, m in enumerate(e.measures):
            mloc: Path_ = (*base, "measures", mi)
            if m.target is not None and m.kind != "count":
                add((*mloc, "target"), "ett målvärde kräver kind: count")
            for k, party in enumerate(m.parties or []):
                if party not in e.commitments:
                    add((*mloc, "parties", k), f"parten '{party}' har inget åtagande i insatsen")

    fu = a.schedule.follow_up
    for i, off in enumerate(fu.reminder_offsets_days):
        loc = ("schedule", "follow_up", "reminder_offsets_days", i)
        if off >= fu.escalation_after_days:
            add(loc, f"påminnelsen {off:+d} dagar ligger efter eskaleringen (+{fu.escalation_after_days} dagar)")
        elif off > 0:
            add(loc, f"påminnelsen {off:+d} dagar ligger efter förfallodagen (påminnelser är ≤ 0)")
    if len(set(fu.reminder_offsets_days)) != len(fu.reminder_offsets_days):
        add(("schedule", "follow_up", "reminder_offsets_days"), "samma påminnelse anges två gånger")
