"""The action plan's tables as areas, efforts, measures and commitments.

Each numbered heading followed by an action plan table is an area; each row of its tables an
effort (the first column its title); the municipality's and the police's columns its
commitments (an empty cell: no commitment for that party); "Tidsplan" its timeframe,
"Aktivitetsmått" its measures, one per "Antal …" phrase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.importer import phrases
from engine.importer.document import Block, Cell, Heading, Table, is_plan_header
from engine.importer.notes import Notes, Path, Units
from rules.texts import datum

PARTY_NAMES = {"kommun": "kommunens", "polis": "polisens"}
NO_TIMEFRAME = "Dokumentet anger ingen tidsplan"


@dataclass(frozen=True, kw_only=True)
class Columns:
    title: int
    parties: dict[str, int]
    timeframe: int | None
    measures: int | None
    follow_up: int | None
    names: tuple[str, ...]


def plan_tables(blocks: tuple[Block, ...]) -> list[Table]:
    return [b for b in blocks if isinstance(b, Table) and is_plan_header([c.text for c in b.header])]


def columns(table: Table) -> Columns:
    names = tuple(c.text for c in table.header)
    low = [n.lower() for n in names]

    def first(*words: str) -> int | None:
        return next((i for i, n in enumerate(low) if any(w in n for w in words)), None)

    parties = {}
    for party in ("kommun", "polis"):
        found = next((i for i, n in enumerate(low) if party in n and "åtagande" in n), None)
        if found is not None:
            parties[party] = found
    timeframe, measures, follow_up = first("tidsplan", "tidpunkt"), first("mått", "indikator"), first("uppföljning")
    others = {*parties.values(), timeframe, measures, follow_up}
    # "Insats/mål", or (Borås's first table) an empty header: the first column that is none of the others
    title = first("insats") if first("insats") not in others else None
    if title is None:
        title = next((i for i in range(len(names)) if i not in others), 0)
    return Columns(
        title=title, parties=parties, timeframe=timeframe, measures=measures, follow_up=follow_up, names=names
    )


@dataclass
class PlanBuilder:
    notes: Notes
    units: Units
    process_owner: str
    police_contact: str
    valid_to: date | None

    def areas(self, blocks: tuple[Block, ...]) -> list[dict[str, Any]]:
        areas: list[dict[str, Any]] = []
        heading: Heading | None = None
        current: dict[str, Any] | None = None
        taken_efforts: set[str] = set()
        for block in blocks:
            if isinstance(block, Heading):
                heading, current = block, None
                continue
            if not isinstance(block, Table) or not is_plan_header([c.text for c in block.header]):
                continue
            if current is None:
                current = self._area(heading, block, areas)
                areas.append(current)
            self._table(block, current, len(areas) - 1, taken_efforts)
        kept = []
        for area in areas:
            if area["efforts"]:
                kept.append(area)
            else:
                self.notes.unplaced.append(f"samverkansområdet '{area['title']}' fick inga insatser med åtaganden")
        return kept

    def _area(self, heading: Heading | None, table: Table, areas: list[dict[str, Any]]) -> dict[str, Any]:
        numbers = {a["number"] for a in areas}
        path: Path = ("areas", len(areas))
        if heading is not None and heading.number is not None and heading.number not in numbers:
            title, number, where = heading.text, heading.number, heading.where
            self.notes.found.append(f"samverkansområde {number}: {title} ({where})")
        else:
            number = max(numbers, default=0) + 1
            title = heading.text if heading is not None else "Åtagandeplan"
            where = heading.where if heading is not None else table.where
            # Word numbers its headings itself, so their text has no number: counted in order.
            why = (
                "rubriken har inget eget nummer (eller samma som en tidigare); numret är räknat i ordning"
                if heading is not None
                else "ingen rubrik före tabellen; områdets nummer och rubrik är gissade"
            )
            self.notes.check((*path, "number"), why, where)
        ids = {a["id"] for a in areas}
        area_id = _unique(phrases.slug(title, words=4) or f"omrade-{number}", ids)
        return {"id": area_id, "number": number, "title": title, "efforts": []}

    def _table(self, table: Table, area: dict[str, Any], area_index: int, taken: set[str]) -> None:
        cols = columns(table)
        joined = dict(table.joined)
        for row_index, row in enumerate(table.rows):
            path: Path = ("areas", area_index, "efforts", len(area["efforts"]))
            effort = self._effort(row, cols, path, taken)
            if effort is None:
                continue
            if row_index in joined:
                self.notes.check(
                    (*path, "title"),
                    f"raden fortsatte efter en sidbrytning ({joined[row_index]}) och har lagts ihop",
                    _at(row, cols.title),
                )
            area["efforts"].append(effort)
            taken.add(effort["id"])

    def _effort(self, row: list[Cell], cols: Columns, path: Path, taken: set[str]) -> dict[str, Any] | None:
        title = _cell(row, cols.title).text
        said = len(self.notes.found)
        commitments: dict[str, Any] = {}
        for party, index in cols.parties.items():
            cell = _cell(row, index)
            if not cell.text:
                if title:
                    self.notes.found.append(f"inget åtagande för {PARTY_NAMES[party][:-1]} i '{title}' ({cell.where})")
                continue
            commitments[party] = self._commitment(party, cell, (*path, "commitments", party))
        if not commitments:
            text = " ".join(c.text for c in row if c.text)
            if text:
                self.notes.unplaced.append(f"en rad utan åtaganden: '{text[:60]}' ({_at(row, 0)})")
            return None
        effort: dict[str, Any] = {"id": "", "title": title or "Insats utan rubrik", "timeframe": {}, "measures": []}
        if not title:
            self.notes.check((*path, "title"), "raden har ingen rubrik i första kolumnen", _at(row, cols.title))
        effort["id"] = _unique(phrases.slug(effort["title"], words=4) or "insats", taken)
        self.notes.found.insert(said, f"insats '{effort['title']}' ({_at(row, cols.title)})")
        effort["timeframe"] = self._timeframe(_cell(row, cols.timeframe), (*path, "timeframe"))
        effort["measures"] = self._measures(_cell(row, cols.measures), commitments, (*path, "measures"))
        effort["commitments"] = commitments
        follow_up = _cell(row, cols.follow_up)
        if follow_up.text:
            self.notes.unplaced.append(
                f"uppföljningskolumnen '{follow_up.text[:60]}' har ingen nyckel i filen ({follow_up.where})"
            )
        return effort

    def _timeframe(self, cell: Cell, path: Path) -> dict[str, Any]:
        if not cell.text:
            self.notes.check((*path, "text"), "ingen tidsplan i raden", cell.where)
            return {"text": NO_TIMEFRAME}
        timeframe: dict[str, Any] = {"text": cell.text}
        span = phrases.year_span(cell.text)
        if span is not None:
            start, end, phrase = span
            if self.valid_to is not None and start > self.valid_to:
                self.notes.check(
                    (*path, "text"), f"'{phrase}' börjar efter giltighetstiden; inga datum satta", cell.where
                )
                return timeframe
            timeframe["start"], timeframe["end"] = start, end
            self.notes.note((*path, "start"), f"ur tidsplanen '{phrase}'")
            self.notes.found.append(f"tidsplan {datum(start)}–{datum(end)} ur '{phrase}' ({cell.where})")
        return timeframe

    def _measures(self, cell: Cell, commitments: dict[str, Any], path: Path) -> list[dict[str, Any]]:
        measures: list[dict[str, Any]] = []
        if not cell.text:
            self.notes.note(path, "dokumentet anger inget aktivitetsmått")
            return measures
        ids: set[str] = set()
        for piece in split_measures(cell.paragraphs):
            mpath: Path = (*path, len(measures))
            measure: dict[str, Any] = {"id": "", "text": piece, "kind": "count"}
            measure["id"] = _unique(phrases.slug(piece, words=4) or "matt", ids)
            ids.add(measure["id"])
            goal = phrases.target(piece)
            if goal is not None:
                measure["target"] = goal[0]
                self.notes.check((*mpath, "target"), f"målet {goal[0]} per år ur '{goal[1]}'", cell.where)
            elif not piece.lower().startswith("antal"):
                measure["kind"] = "text"
            elif re.search(r"\s(och|samt)\s", piece):
                self.notes.check(
                    (*mpath, "text"), "måttet kan vara två saker att rapportera; dela det vid behov", cell.where
                )
            only = _only_party(piece, commitments)
            if only is not None:
                measure["parties"] = [only]
                self.notes.check((*mpath, "parties"), f"måttet nämner bara {PARTY_NAMES[only][:-1]}", cell.where)
            measures.append(measure)
        self._targets_from_commitments(measures, commitments, path, cell.where)
        return measures

    def _targets_from_commitments(
        self, measures: list[dict[str, Any]], commitments: dict[str, Any], path: Path, where: str
    ) -> None:
        """'Erbjuda utbildning … minst 1ggr/ år' in a commitment: the target of the measure it speaks of."""
        counts = [m for m in measures if m["kind"] == "count" and "target" not in m]
        if not counts:
            return
        for party, commitment in commitments.items():
            for sentence in phrases.sentences(commitment["text"]):
                goal = phrases.target(sentence)
                if goal is None:
                    continue
                stems = {w[:6] for w in re.findall(r"\w{5,}", sentence.lower())}
                chosen = next(
                    (m for m in counts if stems & {w[:6] for w in re.findall(r"\w{5,}", m["text"].lower())}), counts[0]
                )
                chosen["target"] = goal[0]
                self.notes.check(
                    (*path, measures.index(chosen), "target"),
                    f"målet {goal[0]} per år ur {PARTY_NAMES[party]} åtagande: '{goal[1]}'",
                    where,
                )
                return

    def _commitment(self, party: str, cell: Cell, path: Path) -> dict[str, Any]:
        commitment: dict[str, Any] = {"text": cell.text}
        named: list[tuple[str, bool]] = []
        for body in phrases.named_bodies(cell.text):
            # "Polisen ansvarar …": the police's own commitments go to its contact
            uid = self.police_contact if "polis" in body.name.lower() else self.units.add(body.name, party)
            if uid not in [n[0] for n in named]:
                named.append((uid, body.leads))
        leads = [uid for uid, lead in named if lead]
        if leads:
            responsible = leads[0]
            self.notes.found.append(f"ansvarig {self._name(responsible)} ({cell.where})")
        elif named:
            responsible = named[0][0]
            self.notes.check(
                (*path, "responsible"), "cellen nämner enheten bara som stöd, inte som ansvarig", cell.where
            )
        elif party == "polis":
            responsible = self.police_contact
        else:
            responsible = self.process_owner
            why = "cellen nämner ingen ansvarig enhet; processägaren tills annat beslutas"
            self.notes.check((*path, "responsible"), why, cell.where)
        commitment["responsible"] = responsible
        co = [uid for uid, _ in named if uid != responsible]
        if co:
            commitment["co_responsible"] = co
        return commitment

    def _name(self, uid: str) -> str:
        return str(self.units.units[self.units.index(uid)]["name"])


def split_measures(paragraphs: tuple[str, ...]) -> list[str]:
    """'Antal utbildningar och antal deltagare. Antal genomförda tillsyner.' → three measures."""
    pieces: list[str] = []
    for paragraph in paragraphs:
        for sentence in phrases.sentences(paragraph):
            for part in re.split(r"(?:\s*,\s*|\s+(?:och|samt)\s+|\s+)(?=\b[Aa]ntal\b)", sentence):
                text = part.strip(" ,;.")
                if text:
                    pieces.append(text[:1].upper() + text[1:])
    return pieces


def _only_party(text: str, commitments: dict[str, Any]) -> str | None:
    low = text.lower()
    said = [p for p in ("kommun", "polis") if p in low]
    return said[0] if len(said) == 1 and said[0] in commitments and len(commitments) > 1 else None


def _cell(row: list[Cell], index: int | None) -> Cell:
    if index is None or index >= len(row):
        return Cell(paragraphs=(), where="")
    return row[index]


def _at(row: list[Cell], index: int) -> str:
    cell = _cell(row, index)
    return cell.where or (row[0].where if row else "")


def _unique(base: str, taken: set[str]) -> str:
    uid, n = base, 2
    while uid in taken:
        uid, n = f"{base}-{n}", n + 1
    return uid
