"""The revised plan as a draft: edited in forms while a revision is open, adopted as an upload is.

The draft is the open revision's own edits, kept on its row (``Revision.draft``):

* ``efforts``: effort id → the whole effort as edited (title, timeframe, measures, commitments);
* ``added``: new efforts, each ``{"area": area id, "effort": {...}}``, in the order added;
* ``term``: the agreement's ``valid_from`` and ``valid_to`` and ``schedule.revision.every_years``.

The next plan is built whenever it is shown or adopted, from the current plan version's
document (as engine.contacts builds a unit's change): the edits applied, then every
commitment the revision decided to remove taken out (an effort left with none goes with
it, an area left with no effort too, and a measure only the removed party reported).
Kept as edits rather than as a whole document, a contact changed on /enheter meanwhile is
in the plan adopted rather than silently reverted. The document is checked through
``engine.agreement.validate_document``, so every schema and cross-check of a file applies,
and a problem is returned under the form field it concerns (``DraftInvalid``). Adopting
completes the revision through ``engine.revisions.complete``, the upload's own path.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from engine import agreement_yaml
from engine.agreement import Agreement, validate_document
from engine.agreement_yaml import Path_
from engine.models import AgreementRow, PlanVersion, Revision
from engine.plan import commitment_id, describe_changes, document_of
from engine.revisions import Completed, complete, current_revision, decisions
from rules.errors import AgreementFileError, InvalidValue, NotFound

TERM_FIELDS: Final = ("valid_from", "valid_to", "every_years")
# Where each of the term's fields is in the document.
TERM_PATHS: Final[dict[Path_, str]] = {
    ("agreement", "valid_from"): "valid_from",
    ("agreement", "valid_to"): "valid_to",
    ("schedule", "revision", "every_years"): "every_years",
}


class DraftInvalid(InvalidValue):
    """The draft as edited cannot be the next plan: each problem under its form field, the rest in ``general``."""

    def __init__(self, fields: dict[str, str], general: list[str]) -> None:
        self.fields = fields
        self.general = general
        super().__init__("draft", "; ".join([*fields.values(), *general]))


@dataclass(frozen=True, kw_only=True)
class Built:
    """The next plan as the draft stands: the base it was built from and what it becomes."""

    revision: Revision
    base: dict[str, Any]  # the current plan version's document
    edited: dict[str, Any]  # the edits applied, nothing removed yet (what the forms show)
    document: dict[str, Any]  # the edits applied and the removed commitments taken out
    agreement: Agreement | None  # None: the document is refused; see problems
    problems: tuple[tuple[Path_, str], ...]  # (where in ``document``, message without the place)
    removed: frozenset[str]  # commitments the revision decided to remove

    @property
    def next_document(self) -> dict[str, Any] | None:
        """The document the adopted plan version stores (None while refused)."""
        return document_of(self.agreement) if self.agreement is not None else None

    @property
    def changes(self) -> list[str]:
        """The lines ``samverkan plan diff`` prints between the current version and the adopted one."""
        nxt = self.next_document
        return describe_changes(self.base, nxt) if nxt is not None else []

    @property
    def digest(self) -> str | None:
        """Names what would be adopted: a review is adopted only while nothing has changed since."""
        nxt = self.next_document
        if nxt is None:
            return None
        return hashlib.sha256(json.dumps([self.base, nxt], sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def general(self) -> list[str]:
        """Every problem as a sentence naming its place, for the page's list."""
        return [f"{agreement_yaml.where(p)}: {m}" if p else m for p, m in self.problems]


def current_document(session: Session, row: AgreementRow) -> dict[str, Any]:
    """A copy of the current plan version's document, which a change in the web starts from."""
    plan = session.get(PlanVersion, (row.id, row.plan_version))
    return copy.deepcopy(plan.document if plan is not None else row.document)


def _open(session: Session, agreement_id: str, *, lock: bool = False) -> tuple[AgreementRow, Revision]:
    row = session.get(AgreementRow, agreement_id, with_for_update=lock)
    if row is None:
        raise NotFound("överenskommelse", agreement_id)
    revision = current_revision(session, agreement_id)
    if revision is None:
        raise InvalidValue("revision", "ingen revidering pågår; inled den först")
    return row, revision


def _edits(revision: Revision) -> dict[str, Any]:
    edits = copy.deepcopy(revision.draft) if revision.draft else {}
    return {"efforts": edits.get("efforts", {}), "added": edits.get("added", []), "term": edits.get("term")}


def build(session: Session, agreement_id: str, *, lock: bool = False) -> Built:
    """The next plan as the open revision's draft and decisions make it."""
    row, revision = _open(session, agreement_id, lock=lock)
    base = current_document(session, row)
    edited = _apply(base, _edits(revision))
    removed = frozenset(cid for cid, d in decisions(session, revision).items() if d.decision == "remove")
    document = _without(copy.deepcopy(edited), agreement_id, removed)
    agreement, problems = _check(document)
    return Built(
        revision=revision,
        base=base,
        edited=edited,
        document=document,
        agreement=agreement,
        problems=tuple(problems),
        removed=removed,
    )


def _apply(base: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    for area in doc.get("areas", []):
        area["efforts"] = [copy.deepcopy(edits["efforts"].get(e["id"], e)) for e in area["efforts"]]
    for new in edits["added"]:
        # Its area left the plan meanwhile (a file loaded during the revision): the last area takes it.
        area = next((a for a in doc["areas"] if a["id"] == new["area"]), doc["areas"][-1])
        area["efforts"].append(copy.deepcopy(new["effort"]))
    term = edits["term"]
    if term is not None:
        doc["agreement"]["valid_from"] = term["valid_from"]
        doc["agreement"]["valid_to"] = term["valid_to"]
        doc.setdefault("schedule", {}).setdefault("revision", {})["every_years"] = term["every_years"]
    return doc


def _without(doc: dict[str, Any], agreement_id: str, removed: frozenset[str]) -> dict[str, Any]:
    """``doc`` without the commitments in ``removed``, as the file would be written for the upload."""
    for area in doc.get("areas", []):
        kept = []
        for effort in area["efforts"]:
            gone = {p for p in effort["commitments"] if commitment_id(agreement_id, effort["id"], p) in removed}
            if gone:
                effort["commitments"] = {p: c for p, c in effort["commitments"].items() if p not in gone}
                measures = []
                for m in effort.get("measures", []):
                    if m.get("parties"):
                        m["parties"] = [p for p in m["parties"] if p not in gone]
                        if not m["parties"]:
                            continue  # only the removed party reported it
                    measures.append(m)
                effort["measures"] = measures
            if effort["commitments"]:
                kept.append(effort)
        area["efforts"] = kept
    doc["areas"] = [a for a in doc.get("areas", []) if a["efforts"]]
    return doc


def _check(doc: dict[str, Any]) -> tuple[Agreement | None, list[tuple[Path_, str]]]:
    """``doc`` through validate_document, each problem with the place in ``doc`` it concerns.

    validate_document places a problem by the line of the nearest key it knows; numbering
    every place in the document as a line of its own turns that line back into the place.
    """
    lines: dict[Path_, int] = {}
    places: dict[int, Path_] = {}

    def walk(value: Any, path: Path_) -> None:
        lines[path] = len(lines) + 2
        places[lines[path]] = path
        children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in children:
            walk(child, (*path, key))

    walk(doc, ())
    try:
        return validate_document(doc, lines, "utkastet"), []
    except AgreementFileError as exc:
        found = []
        for p in exc.problems:
            path = places.get(p.line, ())
            found.append((path, _bare(p.message, path)))
        return None, found


def _bare(message: str, path: Path_) -> str:
    """The message without the place it begins with ("areas[0].efforts[1].title: …"): the field shows it."""
    if not path:
        return message
    found = re.match(re.escape(agreement_yaml.where(path)) + r"[^\s:]*: ", message)
    return message[found.end() :] if found else message


# -- edits -------------------------------------------------------------------------------------


def _text(values: Mapping[str, str], key: str, old: Any) -> Any:
    given = values.get(key)
    return old if given is None else given.strip()


def _date(values: Mapping[str, str], key: str, old: Any) -> Any:
    given = values.get(key)
    if given is None:
        return old
    return given.strip() or None  # the schema reads "ÅÅÅÅ-MM-DD" and refuses anything else


def _number(given: str) -> Any:
    """A target as typed ("2", "2,5"): a number, or the text itself for the schema to refuse."""
    text = given.strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return given.strip()
    return int(value) if value.is_integer() and "." not in text else value


def _whole(given: str) -> Any:
    text = given.strip()
    return int(text) if re.fullmatch(r"[0-9]{1,4}", text) else text


def _effort_from(values: Mapping[str, str], old: dict[str, Any], parties: list[str]) -> dict[str, Any]:
    effort = copy.deepcopy(old)
    effort["title"] = _text(values, "title", effort.get("title"))
    tf = dict(effort.get("timeframe") or {})
    tf["text"] = _text(values, "timeframe.text", tf.get("text"))
    tf["start"] = _date(values, "timeframe.start", tf.get("start"))
    tf["end"] = _date(values, "timeframe.end", tf.get("end"))
    effort["timeframe"] = tf
    for m in effort.get("measures", []):
        m["text"] = _text(values, f"measures.{m['id']}.text", m.get("text"))
        target = values.get(f"measures.{m['id']}.target")
        if target is not None:
            m["target"] = _number(target)
    commitments = effort.setdefault("commitments", {})
    for party in parties:
        text = values.get(f"commitments.{party}.text")
        responsible = values.get(f"commitments.{party}.responsible")
        if party in commitments:
            spec = commitments[party]
            spec["text"] = _text(values, f"commitments.{party}.text", spec.get("text"))
            spec["responsible"] = _text(values, f"commitments.{party}.responsible", spec.get("responsible"))
        elif text is not None and text.strip():
            # A party without a commitment in this effort gets one when its text is filled in.
            commitments[party] = {
                "text": text.strip(),
                "responsible": (responsible or "").strip(),
                "co_responsible": [],
            }
    return effort


def _locate(doc: dict[str, Any], effort_id: str) -> Path_ | None:
    for ai, area in enumerate(doc.get("areas", [])):
        for ei, effort in enumerate(area["efforts"]):
            if effort["id"] == effort_id:
                return ("areas", ai, "efforts", ei)
    return None


def _effort_field(doc: dict[str, Any], at: Path_, rel: Path_) -> str | None:
    """The form field (the key ``values`` uses) of a place ``rel`` inside the effort at ``at``."""
    if not rel:
        return None
    if rel[0] in ("id", "title"):
        return str(rel[0])
    if rel[0] == "timeframe":
        return f"timeframe.{rel[1] if len(rel) > 1 and rel[1] in ('start', 'end') else 'text'}"
    effort = doc["areas"][at[1]]["efforts"][at[3]]
    if rel[0] == "measures" and len(rel) > 1 and isinstance(rel[1], int):
        mid = effort["measures"][rel[1]]["id"]
        return f"measures.{mid}.{'target' if len(rel) > 2 and rel[2] == 'target' else 'text'}"
    if rel[0] == "commitments" and len(rel) > 1:
        return f"commitments.{rel[1]}.{'responsible' if len(rel) > 2 and rel[2] == 'responsible' else 'text'}"
    return None


def _refuse_unless_valid(built: Built, field_of: Any) -> None:
    if built.agreement is not None:
        return
    fields: dict[str, str] = {}
    general: list[str] = []
    for path, message in built.problems:
        key = field_of(path)
        if key is not None and key not in fields:
            fields[key] = message
        else:
            general.append(f"{agreement_yaml.where(path)}: {message}" if path else message)
    raise DraftInvalid(fields, general)


def _save(revision: Revision, edits: dict[str, Any], *, by: str, now: datetime) -> None:
    revision.draft = edits
    revision.draft_by = by
    revision.draft_at = now


def _parties(doc: dict[str, Any]) -> list[str]:
    return [p["id"] for p in doc.get("parties", [])]


def edit_effort(
    session: Session, agreement_id: str, effort_id: str, values: Mapping[str, str], *, by: str, now: datetime
) -> Built:
    """Change one effort of the draft (its texts, timeframe, measures, commitments); refused, nothing is kept."""
    row, revision = _open(session, agreement_id, lock=True)
    edits = _edits(revision)
    edited = _apply(current_document(session, row), edits)
    at = _locate(edited, effort_id)
    if at is None:
        raise NotFound("insats", effort_id)
    new = _effort_from(values, edited["areas"][at[1]]["efforts"][at[3]], _parties(edited))
    added = next((a for a in edits["added"] if a["effort"]["id"] == effort_id), None)
    if added is not None:
        added["effort"] = new
    else:
        edits["efforts"][effort_id] = new
    return _saved(session, agreement_id, revision, edits, effort_id, by=by, now=now)


def _saved(
    session: Session,
    agreement_id: str,
    revision: Revision,
    edits: dict[str, Any],
    effort_id: str,
    *,
    by: str,
    now: datetime,
) -> Built:
    # Checked as it would be kept; a refusal rolls the command's transaction back, so nothing is.
    _save(revision, edits, by=by, now=now)
    built = build(session, agreement_id)
    at = _locate(built.document, effort_id)

    def field_of(path: Path_) -> str | None:
        if at is None or path[: len(at)] != at:
            return None
        return _effort_field(built.document, at, path[len(at) :])

    _refuse_unless_valid(built, field_of)
    session.flush()
    return built


def slug(text: str) -> str:
    """An id from a title, as the file's ids are written: "Trygg natt" → "trygg-natt"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:60].strip("-")


def add_effort(session: Session, agreement_id: str, values: Mapping[str, str], *, by: str, now: datetime) -> Built:
    """A new effort in one area of the draft, with a commitment per party whose text is filled in."""
    row, revision = _open(session, agreement_id, lock=True)
    edits = _edits(revision)
    edited = _apply(current_document(session, row), edits)
    area = (values.get("area") or "").strip()
    if area not in {a["id"] for a in edited.get("areas", [])}:
        raise DraftInvalid({"area": "välj ett samverkansområde"}, [])
    title = (values.get("title") or "").strip()
    effort_id = (values.get("id") or "").strip() or slug(title)
    measure_text = (values.get("measure.text") or "").strip()
    measures = []
    if measure_text:
        kind = "text" if values.get("measure.kind") == "text" else "count"
        measure: dict[str, Any] = {"id": slug(measure_text) or "matt", "text": measure_text, "kind": kind}
        target = _number(values.get("measure.target") or "")
        if target is not None:
            measure["target"] = target
        measures.append(measure)
    blank = {"id": effort_id, "title": title, "timeframe": {"text": ""}, "measures": measures, "commitments": {}}
    new = _effort_from(values, blank, _parties(edited))
    if not new["commitments"]:
        first = _parties(edited)[0]
        raise DraftInvalid({f"commitments.{first}.text": "skriv minst ett åtagande"}, [])
    if _locate(edited, effort_id) is not None:
        raise DraftInvalid({"id": f"insatsen '{effort_id}' finns redan; välj ett annat id"}, [])
    edits["added"].append({"area": area, "effort": new})
    try:
        return _saved(session, agreement_id, revision, edits, effort_id, by=by, now=now)
    except DraftInvalid as exc:
        # The new measure's problems are shown beside its own fields.
        fields = {
            ("measure.target" if k.endswith(".target") else "measure.text") if k.startswith("measures.") else k: v
            for k, v in exc.fields.items()
        }
        raise DraftInvalid(fields, exc.general) from None


def drop_added(session: Session, agreement_id: str, effort_id: str, *, by: str, now: datetime) -> None:
    """Take an effort added in this draft out again."""
    _, revision = _open(session, agreement_id, lock=True)
    edits = _edits(revision)
    left = [a for a in edits["added"] if a["effort"]["id"] != effort_id]
    if len(left) == len(edits["added"]):
        raise NotFound("ny insats", effort_id)
    edits["added"] = left
    _save(revision, edits, by=by, now=now)
    session.flush()


def set_term(session: Session, agreement_id: str, values: Mapping[str, str], *, by: str, now: datetime) -> Built:
    """The draft's term: valid from, valid to (empty: until further notice) and the revision interval."""
    row, revision = _open(session, agreement_id, lock=True)
    edits = _edits(revision)
    edited = _apply(current_document(session, row), edits)
    head, rhythm = edited["agreement"], edited.get("schedule", {}).get("revision", {})
    edits["term"] = {
        "valid_from": _date(values, "valid_from", head.get("valid_from")),
        "valid_to": _date(values, "valid_to", head.get("valid_to")),
        "every_years": _whole(values["every_years"]) if "every_years" in values else rhythm.get("every_years", 3),
    }
    _save(revision, edits, by=by, now=now)
    built = build(session, agreement_id)
    _refuse_unless_valid(built, lambda path: TERM_PATHS.get(path))
    session.flush()
    return built


def discard(session: Session, agreement_id: str, *, by: str, now: datetime) -> None:
    """Start the draft over from the current plan version."""
    _, revision = _open(session, agreement_id, lock=True)
    _save(revision, {}, by=by, now=now)
    session.flush()


def adopt(session: Session, agreement_id: str, *, reviewed: str, by: str, now: datetime) -> Completed:
    """Complete the revision with the draft, exactly as with the same document uploaded as a file.

    ``reviewed`` is the digest of what the person saw in the preview: adopted only if the
    draft, the decisions and the current plan still make that same next plan.
    """
    built = build(session, agreement_id, lock=True)
    if built.agreement is None:
        raise DraftInvalid({}, built.general())
    if built.digest != reviewed:
        raise InvalidValue(
            "reviewed", "utkastet, besluten eller planen har ändrats sedan du granskade ändringarna; granska dem igen"
        )
    return complete(session, built.agreement, by=by, now=now)
