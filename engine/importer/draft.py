"""A read document (``engine.importer.document``) as a draft agreement file, with what it guessed.

The agreement's head comes from the prose: the title from the first lines, the parties from
"X och Y träffar följande överenskommelse" (or the title's "mellan X och Y"), the signing date
and signatories from the signature block ("Borås den 14 december 2015", a name, a title), the
term from "gäller …", the schedule from "årligen" and "vart tredje år", the process owner from
"X är processägare". The action plan is ``engine.importer.plan``'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.importer import phrases
from engine.importer.document import Document, Heading, Paragraph
from engine.importer.errors import DocumentError
from engine.importer.notes import Notes, Path, Units
from engine.importer.plan import PlanBuilder, plan_tables
from rules.texts import datum

NO_PLAN = (
    "hittar ingen åtagandeplan (en tabell med kolumnerna 'Kommunens åtagande' och 'Polisens åtagande'); "
    "spara dokumentet som .docx eller som text med tabbar mellan kolumnerna"
)


@dataclass(frozen=True, kw_only=True)
class Draft:
    document: dict[str, Any]
    comments: dict[Path, str]
    found: tuple[str, ...]
    guessed: tuple[str, ...]
    unplaced: tuple[str, ...]
    areas: int
    efforts: int
    commitments: int


@dataclass(frozen=True, kw_only=True)
class _Line:
    text: str
    where: str


def build(doc: Document, *, agreement_id: str | None, today: date) -> Draft:
    """The draft of ``doc``; ``today`` is the signing date when the document gives none (marked)."""
    if not plan_tables(doc.blocks):
        raise DocumentError(doc.name, NO_PLAN)
    notes = Notes()
    lines = [_Line(text=b.text, where=b.where) for b in doc.blocks if isinstance(b, Paragraph | Heading)]
    prose = [(s, line.where) for line in lines for s in phrases.sentences(line.text)]
    title = _title(lines, notes)
    kommun, polis = _parties(title, prose, notes)
    aid = agreement_id or phrases.slug(re.sub(r"\s+(stad|kommun)$", "", kommun, flags=re.IGNORECASE), words=1)
    aid = aid or "overenskommelse"
    if agreement_id is None:
        notes.check(("agreement", "id"), "id:t är gissat ur kommunens namn (byt före init, sedan går det inte)", "")
    units = Units(domain=aid)
    owner_name, owner_where = _first(prose, phrases.process_owner)
    if owner_name is not None:
        owner = units.add(owner_name, "polis" if "polis" in owner_name.lower() else "kommun")
        notes.found.append(f"processägare {owner_name} ({owner_where})")
        notes.note(("agreement", "process_owner"), f"dokumentet: '{owner_name} är processägare'")
    else:
        owner = units.add("Processägaren", "kommun", unit_id="processagare")
        notes.check(("agreement", "process_owner"), "dokumentet nämner ingen processägare; skriv in den", "")
    police = units.add(_police_contact_name(polis), "polis", unit_id="kommunpolis")
    units.police_contact = police
    head = _head(aid, title, owner, lines, prose, notes, today)
    parties = _party_list(kommun, polis, owner, police, units, lines, notes)
    builder = PlanBuilder(notes=notes, units=units, process_owner=owner, police_contact=police, valid_to=head.valid_to)
    areas = builder.areas(doc.blocks)
    if not areas:
        raise DocumentError(doc.name, "åtagandeplanens tabeller har inga rader med åtaganden")
    for i in range(len(units.units)):
        notes.todo(("units", i, "email"), "platshållare under .example – byt till enhetens riktiga funktionsadress")
    document: dict[str, Any] = {
        "format": 1,
        "agreement": head.agreement,
        "parties": parties,
        "units": units.units,
        "schedule": _schedule(prose, head.start, head.valid_to, notes),
        "areas": areas,
    }
    efforts = [e for a in areas for e in a["efforts"]]
    return Draft(
        document=_mail_safe(document),
        comments=notes.comments,
        found=tuple(notes.found),
        guessed=tuple(notes.guessed),
        unplaced=tuple(notes.unplaced),
        areas=len(areas),
        efforts=len(efforts),
        commitments=sum(len(e["commitments"]) for e in efforts),
    )


def _first(prose: list[tuple[str, str]], read: Any) -> tuple[Any, str]:
    for sentence, where in prose:
        value = read(sentence)
        if value is not None:
            return value, where
    return None, ""


def _title(lines: list[_Line], notes: Notes) -> str:
    texts = [line.text for line in lines[:3]]
    if len(texts) == 3 and texts[1].lower() == "mellan":
        return " ".join(texts)
    if texts and len(texts[0]) <= 200:
        if "överenskommelse" not in texts[0].lower():
            notes.check(("agreement", "title"), "rubriken är dokumentets första rad", lines[0].where)
        return texts[0]
    notes.check(("agreement", "title"), "dokumentet har ingen rubrik", "")
    return "Samverkansöverenskommelse"


def _parties(title: str, prose: list[tuple[str, str]], notes: Notes) -> tuple[str, str]:
    candidates = [(s, w) for s, w in prose if re.search(r"\b(träffar|ingår|sluter)\b", s)]
    candidates.append((title.split(" mellan ", 1)[1], "rubriken") if " mellan " in title else ("", ""))
    for sentence, where in candidates:
        head = re.split(r",?\s+(?:träffar|ingår|sluter)\b", sentence, maxsplit=1)[0]
        for found in re.finditer(r"\s+och\s+", head):
            left, right = head[: found.start()].strip(" ,"), head[found.end() :].strip(" ,")
            if "polis" in right.lower() and left and len(left) <= 80 and len(right) <= 80:
                notes.found.append(f"parterna {left} och {right} ({where})")
                return left, right
    notes.check(("parties", 0, "name"), "parterna hittades inte i texten", "")
    return "Kommunen", "Polismyndigheten"


def _police_contact_name(polis: str) -> str:
    rest = polis.split(",", 1)[1].strip() if "," in polis else ""
    return f"Kommunpolis, {rest[:1].lower() + rest[1:]}" if rest else "Kommunpolis"


@dataclass(frozen=True, kw_only=True)
class _Head:
    agreement: dict[str, Any]
    start: date
    valid_to: date | None


def _head(
    aid: str, title: str, owner: str, lines: list[_Line], prose: list[tuple[str, str]], notes: Notes, today: date
) -> _Head:
    agreement: dict[str, Any] = {"id": aid, "title": title}
    signatures = _signatures(lines)
    dates = [s[0] for s in signatures]
    if dates:
        signed = max(dates)
        where = next(s[3] for s in signatures if s[0] == signed)
        notes.found.append(f"undertecknad {datum(signed)} ({where})")
        if len(set(dates)) > 1:
            notes.check(("agreement", "signed"), "parterna skrev under olika dagar; den senaste är vald", where)
    else:
        signed = today
        notes.check(("agreement", "signed"), "ingen underskrift med datum hittad; dagens datum är satt", "")
    agreement["signed"] = signed
    term, where = _first(prose, phrases.term)
    start, valid_to = signed, None
    if term is None:
        notes.check(("agreement", "signed"), "ingen giltighetstid i texten; gäller tills vidare antas", "")
    elif term.open_ended:
        notes.note(("agreement", "signed"), "valid_to saknas: överenskommelsen gäller tills vidare")
        notes.found.append(f"giltighetstid: tills vidare ({where})")
    else:
        if term.valid_from is not None and term.valid_from >= signed:
            agreement["valid_from"] = start = term.valid_from
        elif term.valid_from is not None:
            notes.check(
                ("agreement", "signed"),
                f"texten säger att den gäller från {datum(term.valid_from)}, före underskriften",
                where,
            )
        if term.valid_to is not None and term.valid_to > start:
            agreement["valid_to"] = valid_to = term.valid_to
            notes.found.append(f"giltighetstid till och med {datum(valid_to)} ({where})")
            notes.note(("agreement", "valid_to"), f"dokumentet: '{term.quote[:70]}'")
        elif term.valid_to is not None:
            notes.check(("agreement", "signed"), "slutdagen i texten ligger före startdagen; utelämnad", where)
    agreement["timezone"] = "Europe/Stockholm"
    agreement["process_owner"] = owner
    for key, words in (("termination_clause", ("säga upp",)), ("change_clause", ("förutsättningar", "förändras"))):
        clause = next((s for s, _ in prose if all(w in s.lower() for w in words) and len(s) < 300), None)
        if clause is not None:
            agreement[key] = clause
    return _Head(agreement=agreement, start=start, valid_to=valid_to)


def _signatures(lines: list[_Line]) -> list[tuple[date, str, str, str]]:
    """Each 'Ort den D månad ÅÅÅÅ' with the name and title on the two lines after it."""
    found = []
    for i, line in enumerate(lines):
        when = phrases.signing_line(line.text)
        if when is None:
            continue
        after = [lines[j].text for j in range(i + 1, min(i + 3, len(lines)))]
        if len(after) == 2 and all(len(t) <= 80 and phrases.signing_line(t) is None for t in after):
            found.append((when, after[0], after[1], line.where))
        else:
            found.append((when, "", "", line.where))
    return found


def _party_list(
    kommun: str, polis: str, owner: str, police: str, units: Units, lines: list[_Line], notes: Notes
) -> list[dict[str, Any]]:
    owner_party = units.units[units.index(owner)]["party"]
    parties: list[dict[str, Any]] = [
        {"id": "kommun", "name": kommun, "contact": owner if owner_party == "kommun" else ""},
        {"id": "polis", "name": polis, "contact": police},
    ]
    if not parties[0]["contact"]:
        parties[0]["contact"] = units.add("Kommunens kontakt", "kommun", unit_id="kommunens-kontakt")
        notes.check(("parties", 0, "contact"), "processägaren hör till polisen; kommunens kontakt är gissad", "")
    order = iter((0, 1))
    for when, name, title, where in _signatures(lines):
        if not name:
            continue
        said = f"{name} {title}".lower()
        index = 1 if "polis" in said else 0 if "kommun" in said else next(order, None)
        if index is None or "signatory" in parties[index]:
            continue
        parties[index]["signatory"] = {"name": name, "title": title, "date": when}
        notes.found.append(f"undertecknare för {parties[index]['name']}: {name}, {title} ({where})")
        if "polis" not in said and "kommun" not in said:
            notes.check(("parties", index, "signatory", "name"), "vilken part som skrev under är gissat", where)
    return parties


def _schedule(prose: list[tuple[str, str]], start: date, valid_to: date | None, notes: Notes) -> dict[str, Any]:
    every, where = _first(prose, phrases.revision_years)
    if every is None:
        every = 3
        notes.check(("schedule", "revision", "every_years"), "texten säger inte hur ofta planen revideras", "")
    else:
        notes.found.append(f"revidering vart {every}:e år ({where})")
        notes.note(("schedule", "revision", "every_years"), f"ur texten ({where})")
    yearly, where = _first(prose, lambda s: True if phrases.yearly_follow_up(s) else None)
    if yearly:
        notes.found.append(f"uppföljning årligen ({where})")
        notes.note(("schedule", "follow_up", "period"), f"texten: uppföljning årligen ({where})")
    else:
        notes.check(("schedule", "follow_up", "period"), "texten säger inte hur ofta uppföljningen görs", "")
    first = start.year + 1 if start.month >= 10 and (valid_to is None or valid_to.year > start.year) else start.year
    if first != start.year:
        notes.check(
            ("schedule", "follow_up", "first_period"),
            "undertecknad sent på året: första uppföljningen gäller året efter",
            "",
        )
    notes.note(("schedule", "follow_up", "due"), "sista dag, påminnelser och eskalering är standardval")
    return {
        "send_time": "08:00",
        "follow_up": {
            "period": "calendar_year",
            "first_period": first,
            "due": "03-31",
            "reminder_offsets_days": [-30, -7, 0],
            "overdue_repeat_days": 14,
            "escalation_after_days": 14,
        },
        "revision": {"every_years": every, "kickoff_days_before": 60, "late_repeat_days": 30},
    }


def _mail_safe(value: Any) -> Any:
    """Text from a document may hold '=?', which no title or name in a mail header may (rules.headers)."""
    if isinstance(value, str):
        return value.replace("=?", "= ?")
    if isinstance(value, dict):
        return {k: _mail_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mail_safe(v) for v in value]
    return value
