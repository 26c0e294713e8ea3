"""The revision page's read models for the revised plan: the draft, its diff, and one effort's form.

As in ``engine.api.pages``: one transaction per call, frozen values out, no ORM row. The
draft is built by ``engine.drafts.build``, the same build the adoption uses, so the diff
shown is the diff adopted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine import agreement_yaml, db, drafts, revisions
from engine.api.pages_agreement import choose
from engine.api.queries import PlanFile
from engine.db import Database
from engine.models import AgreementRow
from engine.plan import commitment_id
from rules.errors import NotFound


@dataclass(frozen=True, kw_only=True)
class Option:
    id: str
    name: str


@dataclass(frozen=True, kw_only=True)
class UnitOption:
    id: str
    name: str
    party: str


@dataclass(frozen=True, kw_only=True)
class DraftCommitment:
    id: str
    party: str
    party_name: str
    text: str
    responsible: str
    responsible_name: str
    removed: bool  # the revision decided to remove it
    new: bool  # not in the current plan


@dataclass(frozen=True, kw_only=True)
class DraftEffort:
    id: str
    area: str  # the area's title
    title: str
    mark: str  # "" | "ändrad" | "ny" | "tas bort" (Swedish: shown as it is)
    commitments: tuple[DraftCommitment, ...]


@dataclass(frozen=True, kw_only=True)
class Term:
    valid_from: str  # ISO date, "" when the agreement is valid from its signing
    valid_to: str  # ISO date, "" when it is valid until further notice
    every_years: str
    signed: str


@dataclass(frozen=True, kw_only=True)
class DraftView:
    agreement: str
    efforts: tuple[DraftEffort, ...]
    term: Term
    changes: tuple[str, ...]  # the lines `samverkan plan diff` will print for the adopted version
    problems: tuple[str, ...]  # why it cannot be adopted as it is (empty: it can)
    digest: str | None  # names what the preview shows; the adopt form carries it
    edited_by: str | None
    edited_at: datetime | None


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def target_text(value: Any) -> str:
    """A target as a person types it: 2 for 2.0, 2,5 for 2.5."""
    if value is None or isinstance(value, str):
        return _str(value)
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number).replace(".", ",")


def _open_draft(session: Session, wanted: str | None) -> tuple[AgreementRow, drafts.Built] | None:
    """The agreement and its open revision's draft as built now; None when either is missing."""
    agreement, _ = choose(session, wanted)
    if agreement is None or revisions.current_revision(session, agreement.id) is None:
        return None
    return agreement, drafts.build(session, agreement.id)


def draft_view(database: Database, wanted: str | None) -> DraftView | None:
    """The open revision's revised plan; None when no agreement is loaded or no revision is open."""
    with db.transaction(database) as session:
        opened = _open_draft(session, wanted)
        if opened is None:
            return None
        agreement, built = opened
        doc = built.edited
        parties = {p["id"]: p["name"] for p in doc.get("parties", [])}
        units = {u["id"]: u["name"] for u in doc.get("units", [])}
        base_efforts = {e["id"]: e for a in built.base.get("areas", []) for e in a["efforts"]}
        kept = {e["id"] for a in built.document.get("areas", []) for e in a["efforts"]}
        efforts = []
        for area in doc.get("areas", []):
            for e in area["efforts"]:
                old = base_efforts.get(e["id"])
                mark = "ny" if old is None else "tas bort" if e["id"] not in kept else "ändrad" if old != e else ""
                commitments = tuple(
                    DraftCommitment(
                        id=(cid := commitment_id(agreement.id, e["id"], party)),
                        party=party,
                        party_name=parties.get(party, party),
                        text=spec.get("text", ""),
                        responsible=spec.get("responsible", ""),
                        responsible_name=units.get(spec.get("responsible", ""), spec.get("responsible", "")),
                        removed=cid in built.removed,
                        new=old is None or party not in old["commitments"],
                    )
                    for party, spec in e["commitments"].items()
                )
                efforts.append(
                    DraftEffort(id=e["id"], area=area["title"], title=e["title"], mark=mark, commitments=commitments)
                )
        head = doc["agreement"]
        return DraftView(
            agreement=agreement.id,
            efforts=tuple(efforts),
            term=Term(
                valid_from=_str(head.get("valid_from")),
                valid_to=_str(head.get("valid_to")),
                every_years=_str(doc.get("schedule", {}).get("revision", {}).get("every_years")),
                signed=_str(head.get("signed")),
            ),
            changes=tuple(built.changes),
            problems=tuple(built.general()),
            digest=built.digest,
            edited_by=built.revision.draft_by,
            edited_at=built.revision.draft_at,
        )


def draft_file(database: Database, wanted: str | None) -> PlanFile | None:
    """The draft's next plan as an agreement file: uploading it completes the revision alike.

    None when no revision is open or the draft cannot be adopted as it stands.
    """
    with db.transaction(database) as session:
        opened = _open_draft(session, wanted)
        if opened is None:
            return None
        agreement, built = opened
        document = built.next_document
        if document is None:
            return None
        header = (
            f"Överenskommelsen {agreement.id}: utkastet till planversion {agreement.plan_version + 1} "
            f"(revidering {built.revision.number}), ur samverkan.\n"
            "Formatet: docs/agreement-file.md. Ladda upp den på sidan Revidering för att anta den."
        )
        return PlanFile(
            agreement=agreement.id,
            version=agreement.plan_version + 1,
            text=agreement_yaml.dump(document, header=header),
        )


# -- one effort's form ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MeasureField:
    id: str
    text: str
    kind: str  # count | text
    target: str
    parties: str  # the parties that report it, "" for every party with a commitment


@dataclass(frozen=True, kw_only=True)
class CommitmentField:
    party: str
    party_name: str
    text: str
    responsible: str
    exists: bool  # False: the party has no commitment in this effort (filling in the text adds one)
    removed: bool  # the revision decided to remove it: shown, not edited


@dataclass(frozen=True, kw_only=True)
class EffortForm:
    agreement: str
    id: str  # "" for a new effort
    area: str  # the area's id
    area_title: str
    title: str
    timeframe_text: str
    start: str
    end: str
    measures: tuple[MeasureField, ...]
    commitments: tuple[CommitmentField, ...]
    units: tuple[UnitOption, ...]
    areas: tuple[Option, ...]
    added: bool  # added in this draft (it can be taken out again)


def effort_form(database: Database, wanted: str | None, effort_id: str | None) -> EffortForm | None:
    """The form for one effort of the draft (``effort_id``), or a blank one for a new effort (None).

    None when no revision is open; NotFound for an effort the draft does not hold.
    """
    with db.transaction(database) as session:
        opened = _open_draft(session, wanted)
        if opened is None:
            return None
        agreement, built = opened
        doc = built.edited
        areas = doc.get("areas", [])
        found = next(((a, e) for a in areas for e in a["efforts"] if e["id"] == effort_id), None)
        if effort_id is not None and found is None:
            raise NotFound("insats", effort_id)
        area, effort = found if found is not None else (areas[0], None)
        spec: dict[str, Any] = effort or {"id": "", "title": "", "timeframe": {"text": ""}, "measures": []}
        tf = spec.get("timeframe") or {}
        commitments = (effort or {}).get("commitments", {})
        base_ids = {e["id"] for a in built.base.get("areas", []) for e in a["efforts"]}
        return EffortForm(
            agreement=agreement.id,
            id=spec["id"],
            area=area["id"],
            area_title=area["title"],
            title=spec.get("title", ""),
            timeframe_text=_str(tf.get("text")),
            start=_str(tf.get("start")),
            end=_str(tf.get("end")),
            measures=tuple(
                MeasureField(
                    id=m["id"],
                    text=m.get("text", ""),
                    kind=m.get("kind", "count"),
                    target=target_text(m.get("target")),
                    parties=", ".join(m.get("parties") or []),
                )
                for m in spec.get("measures", [])
            ),
            commitments=tuple(
                CommitmentField(
                    party=p["id"],
                    party_name=p["name"],
                    text=commitments.get(p["id"], {}).get("text", ""),
                    responsible=commitments.get(p["id"], {}).get("responsible", ""),
                    exists=p["id"] in commitments,
                    removed=commitment_id(agreement.id, spec["id"], p["id"]) in built.removed,
                )
                for p in doc.get("parties", [])
            ),
            units=tuple(UnitOption(id=u["id"], name=u["name"], party=u["party"]) for u in doc.get("units", [])),
            areas=tuple(Option(id=a["id"], name=f"{a['number']}. {a['title']}") for a in areas),
            added=effort is not None and spec["id"] not in base_ids,
        )
