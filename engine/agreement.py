"""The agreement file: its schema, and a loader that reports problems by line.

The file is YAML (documented key by key in ``docs/agreement-file.md``). Loading is
two passes: PyYAML composes the document into nodes, which gives every key and
value a line number; pydantic then validates the plain data. Every problem the
schema finds is reported as ``FILE:LINE: message`` in one ``AgreementFileError``.
The cross-reference checks (unknown unit ids, duplicate ids, reminders after the
escalation) need a document that fits the schema, so they report, all at once,
on the next run after the schema problems are fixed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SerializerFunctionWrapHandler,
    StrictInt,
    ValidationError,
    field_serializer,
    field_validator,
    model_serializer,
)

from rules.errors import AgreementFileError, Problem

FORMAT_VERSION = 1

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=60)]

# The Swedish holiday tables (the holidays package) cover these years; deadlines outside
# them cannot be computed, so a date outside is an error in the file, not at run time.
FIRST_YEAR, LAST_YEAR = 1953, 2100


def _calendar_year(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"året {value.year} ligger utanför kalenderns år {FIRST_YEAR}–{LAST_YEAR}")
    return value


CalendarDate = Annotated[date, AfterValidator(_calendar_year)]
Text = Annotated[str, Field(min_length=1)]
# Optional quotations from the agreement, left out of the stored document when absent.
CLAUSES = ("termination_clause", "change_clause")
MonthDay = Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]


class _Strict(BaseModel):
    # Unknown keys are errors: a misspelt key would otherwise silently become a default.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Signatory(_Strict):
    name: Text
    title: Text
    date: CalendarDate | None = None


class Party(_Strict):
    id: Slug
    name: Text
    contact: Slug = Field(description="unit that receives notices addressed to the party")
    signatory: Signatory | None = None


class Unit(_Strict):
    id: Slug
    name: Text
    party: Slug
    email: EmailStr
    contact_name: str | None = None


class Timeframe(_Strict):
    text: Text
    start: CalendarDate | None = None
    end: CalendarDate | None = None


class Measure(_Strict):
    id: Slug
    text: Text
    kind: Literal["count", "text"] = "count"
    target: float | None = Field(default=None, ge=0)
    parties: list[Slug] | None = None

    @field_validator("target", mode="before")
    @classmethod
    def _a_number(cls, value: Any) -> Any:
        # bool is an int in Python, and "2" would be coerced: both are typing mistakes here.
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"målvärdet {value!r} är inte ett tal")
        return value


class CommitmentSpec(_Strict):
    text: Text
    responsible: Slug
    co_responsible: list[Slug] = Field(default_factory=list)


class Effort(_Strict):
    id: Slug
    title: Text
    timeframe: Timeframe
    measures: list[Measure] = Field(default_factory=list)
    commitments: dict[Slug, CommitmentSpec] = Field(min_length=1)


class Area(_Strict):
    id: Slug
    number: StrictInt = Field(ge=1)
    title: Text
    efforts: list[Effort] = Field(min_length=1)


class FollowUpSchedule(_Strict):
    period: Literal["calendar_year"] = "calendar_year"
    first_period: StrictInt | None = Field(default=None, ge=1900, le=2200)
    due: MonthDay = "03-31"
    reminder_offsets_days: list[Annotated[StrictInt, Field(ge=-366, le=366)]] = Field(
        default_factory=lambda: [-30, -7, 0]
    )
    overdue_repeat_days: StrictInt = Field(default=14, ge=1, le=366)
    escalation_after_days: StrictInt = Field(default=14, ge=1, le=366)

    @field_validator("due")
    @classmethod
    def _real_month_day(cls, value: str) -> str:
        month, day = (int(x) for x in value.split("-"))
        # 2000 is a leap year, so 02-29 is accepted (it falls on 02-28 in other years).
        try:
            date(2000, month, day)
        except ValueError:
            raise ValueError(f"månaden {month:02d} har ingen dag {day:02d}") from None
        return value


class RevisionSchedule(_Strict):
    every_years: StrictInt = Field(default=3, ge=1, le=50)
    kickoff_days_before: StrictInt = Field(default=60, ge=0, le=1000)
    late_repeat_days: StrictInt = Field(default=30, ge=1, le=366)


class Schedule(_Strict):
    send_time: time = time(8, 0)
    weekly_summary: bool = True
    follow_up: FollowUpSchedule = Field(default_factory=FollowUpSchedule)
    revision: RevisionSchedule = Field(default_factory=RevisionSchedule)

    @field_validator("send_time", mode="before")
    @classmethod
    def _hh_mm(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value):
            raise ValueError('ska vara en tid HH:MM, t.ex. "08:00"')
        if isinstance(value, time):
            return value
        if not isinstance(value, str):
            raise ValueError('ska vara en tid inom citattecken, t.ex. "08:00"')
        return value

    @field_serializer("send_time")
    def _dump_hh_mm(self, value: time) -> str:
        return value.strftime("%H:%M")


class AgreementHead(_Strict):
    id: Slug
    title: Text
    signed: CalendarDate
    valid_from: CalendarDate | None = None
    valid_to: CalendarDate | None = None
    timezone: str = "Europe/Stockholm"
    process_owner: Slug
    # The agreement's own words, quoted in the termination and changed-conditions mails.
    termination_clause: Text | None = None
    change_clause: Text | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"okänd tidszon '{value}'") from None
        return value

    @property
    def starts(self) -> date:
        return self.valid_from or self.signed

    @model_serializer(mode="wrap")
    def _without_absent_clauses(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A file without a clause stores the same document as before the keys existed, so
        # its config hash is unchanged and `init` does not see a new plan version.
        data: dict[str, Any] = handler(self)
        for key in CLAUSES:
            if data.get(key) is None:
                data.pop(key, None)
        return data


class Agreement(_Strict):
    format: Literal[1]
    agreement: AgreementHead
    parties: list[Party] = Field(min_length=2)
    units: list[Unit] = Field(min_length=1)
    schedule: Schedule = Field(default_factory=Schedule)
    areas: list[Area] = Field(min_length=1)

    # -- derived views, used by the loader and the engine --------------------------

    @property
    def id(self) -> str:
        return self.agreement.id

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.agreement.timezone)

    def unit(self, unit_id: str) -> Unit:
        return next(u for u in self.units if u.id == unit_id)

    def efforts(self) -> Iterator[tuple[Area, Effort]]:
        for area in self.areas:
            for effort in area.efforts:
                yield area, effort

    def commitments(self) -> Iterator[tuple[Area, Effort, str, CommitmentSpec]]:
        for area, effort in self.efforts():
            for party, spec in effort.commitments.items():
                yield area, effort, party, spec

    def summary(self) -> str:
        n_efforts = sum(1 for _ in self.efforts())
        n_commitments = sum(1 for _ in self.commitments())
        return (
            f"{len(self.areas)} samverkansområden, {n_efforts} insatser, "
            f"{n_commitments} åtaganden, {len(self.units)} ansvariga enheter"
        )


# -- YAML with line numbers ---------------------------------------------------------

Path_ = tuple[str | int, ...]


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit dates, so a bad date reaches the schema as text.

    Mapping keys stay the text that was written (``yes:`` is the key "yes", not True),
    so every key in the data matches the key in the line index.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # An explicit tag (!!int abc, !!timestamp 2020-02-30) makes PyYAML's constructors raise
        # plain Python errors; give them the node's position like every other YAML error.
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"värdet kan inte läsas ({type(exc).__name__}: {exc})", node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):  # !!map x, !!set [1]
            raise yaml.constructor.ConstructorError(None, None, "här väntades en mappning", node.start_mark)
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "en nyckel måste vara text, inte en lista eller mappning", key_node.start_mark
                )
            mapping[key_node.value] = self.construct_object(value_node, deep=deep)
        return mapping


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _index(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[tuple[int, str]]) -> None:
    """Record the 1-based line of every value (and every key, under path + ('<key>',))."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # reported when the document is constructed
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append((line, f"nyckeln '{key}' förekommer två gånger (första på rad {seen[key]})"))
            seen[key] = line
            lines[(*path, key, "<key>")] = line
            _index(value_node, (*path, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines, problems)


def _line_for(lines: dict[Path_, int], loc: Path_, *, key: bool = False) -> int:
    if key and (*loc, "<key>") in lines:
        return lines[(*loc, "<key>")]
    if key and loc and (*loc[:-1], "<key>") in lines:
        # A missing key: point at the mapping's own key ("agreement:"), not its first child.
        return lines[(*loc[:-1], "<key>")]
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return 1


def _where(loc: Path_) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "dokumentet"


_PYDANTIC_SV = {
    "missing": "nyckeln saknas",
    "extra_forbidden": "okänd nyckel",
    "date_from_datetime_parsing": "ogiltigt datum (ska vara ÅÅÅÅ-MM-DD)",
    "date_parsing": "ogiltigt datum (ska vara ÅÅÅÅ-MM-DD)",
    "date_type": "ska vara ett datum ÅÅÅÅ-MM-DD",
    "value_error": "",
    "string_pattern_mismatch": "ogiltigt värde",
    "int_type": "ska vara ett heltal",
    "int_parsing": "ska vara ett heltal",
    "float_parsing": "ska vara ett tal",
    "float_type": "ska vara ett tal",
    "string_type": "ska vara text",
    "list_type": "ska vara en lista",
    "dict_type": "ska vara en mappning (nyckel: värde)",
    "model_type": "ska vara en mappning (nyckel: värde)",
    "literal_error": "ogiltigt värde",
    "too_short": "får inte vara tom",
    "string_too_short": "får inte vara tom",
    "greater_than_equal": "är för litet",
    "less_than_equal": "är för stort",
}


def _message(err: Any) -> str:
    kind = err["type"]
    loc: Path_ = tuple(err["loc"])
    field = _where(loc)
    if kind == "extra_forbidden":
        return f"okänd nyckel '{loc[-1]}'"
    if kind == "missing":
        return f"{field}: nyckeln saknas"
    if kind == "value_error":
        text = str(err.get("ctx", {}).get("error", err["msg"]))
        if "email" in err["msg"].lower():
            return f"{field}: ogiltig e-postadress {err.get('input')!r}"
        return f"{field}: {text}"
    if kind == "string_pattern_mismatch":
        if loc and loc[-1] == "due":
            return f"{field}: ogiltig månad-dag {err.get('input')!r} (ska vara MM-DD)"
        return f"{field}: ogiltigt id {err.get('input')!r} (gemener, siffror och bindestreck)"
    if kind in ("literal_error",):
        expected = err.get("ctx", {}).get("expected", "")
        return f"{field}: ogiltigt värde {err.get('input')!r} (tillåtna: {expected})"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = err.get("ctx", {}).get("ge", err.get("ctx", {}).get("le"))
        cmp = "minst" if kind == "greater_than_equal" else "högst"
        return f"{field}: värdet {err.get('input')!r} ska vara {cmp} {bound}"
    if kind in ("int_type", "int_parsing", "float_parsing", "float_type") and loc and loc[-1] == "target":
        return f"{field}: målvärdet {err.get('input')!r} är inte ett tal"
    sv = _PYDANTIC_SV.get(kind)
    if sv:
        return f"{field}: {sv}" + (f" ({err.get('input')!r})" if kind.endswith(("type", "parsing")) else "")
    return f"{field}: {err['msg']}"


def _cross_check(a: Agreement, add: Any) -> None:
    """Checks that span several parts of the file; add(loc, message, key=False)."""

    def dupes(items: list[Any], loc: Path_, what: str) -> None:
        first: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.id in first:
                add((*loc, i, "id"), f"{what} '{item.id}' finns redan ({_where((*loc, first[item.id]))})")
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
            add(("areas", ai, "efforts", ei, "id"), f"insatsen '{e.id}' finns redan ({_where(seen[e.id])})")
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


def _yaml_problem(exc: yaml.YAMLError, filename: str) -> Problem:
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    # An unclosed bracket or quote is noticed lines later; the context mark is where it opened.
    mark = context or problem
    line = mark.line + 1 if mark else 1
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = getattr(exc, "context", None)
    return Problem(file=filename, line=line, message=f"ogiltig YAML: {reason}" + (f" ({where})" if where else ""))


def parse_agreement(text: str, filename: str = "<text>") -> Agreement:
    """Parse and validate agreement YAML; raise AgreementFileError with every problem."""
    try:
        return _parse(text, filename)
    except RecursionError:
        # Thousands of nested brackets, or an alias that contains itself (a: &a [*a]).
        raise AgreementFileError(
            [
                Problem(
                    file=filename,
                    line=1,
                    message="ogiltig YAML: för djupt nästlad eller ett alias som pekar på sig självt",
                )
            ]
        ) from None


def _parse(text: str, filename: str) -> Agreement:
    problems: list[Problem] = []
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise AgreementFileError([_yaml_problem(exc, filename)]) from None
    if node is None:
        raise AgreementFileError([Problem(file=filename, line=1, message="filen är tom")])
    lines: dict[Path_, int] = {}
    dup: list[tuple[int, str]] = []
    _index(node, (), lines, dup)
    for dup_line, message in dup:
        problems.append(Problem(file=filename, line=dup_line, message=message))
    try:
        data = _Loader("").construct_document(node)
    except yaml.YAMLError as exc:
        raise AgreementFileError([*problems, _yaml_problem(exc, filename)]) from None
    if not isinstance(data, dict):
        raise AgreementFileError([Problem(file=filename, line=1, message="ska vara en mappning (nyckel: värde)")])
    try:
        agreement = Agreement.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = _line_for(lines, loc, key=err["type"] in ("extra_forbidden", "missing"))
            problems.append(Problem(file=filename, line=line, message=_message(err)))
        raise AgreementFileError(problems) from None

    def add(loc: Path_, message: str) -> None:
        key = bool(loc) and loc[-1] == "<key>"
        line = lines.get(loc) if key else _line_for(lines, loc)
        problems.append(Problem(file=filename, line=line or _line_for(lines, loc[:-1]), message=message))

    _cross_check(agreement, add)
    if problems:
        raise AgreementFileError(problems)
    return agreement


def load_agreement(path: str | Path) -> Agreement:
    """Read and validate an agreement file from disk."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AgreementFileError([Problem(file=str(path), line=0, message="filen finns inte")]) from None
    except UnicodeDecodeError as exc:
        raise AgreementFileError(
            [Problem(file=str(path), line=text_line(p, exc.start), message="filen är inte UTF-8")]
        ) from None
    except OSError as exc:
        raise AgreementFileError([Problem(file=str(path), line=0, message=f"kan inte läsas: {exc.strerror}")]) from None
    return parse_agreement(text, str(path))


def text_line(path: Path, offset: int) -> int:
    return path.read_bytes()[:offset].count(b"\n") + 1
