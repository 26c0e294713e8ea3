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

from engine import agreement_yaml
from engine.agreement_checks import cross_check
from rules.errors import AgreementFileError, Problem
from rules.headers import header_problem
from rules.texts import DEFAULT_ZONE

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


def _fits_a_header(value: str) -> str:
    # Refused here rather than accepted and then refused at every delivery attempt (rules.headers).
    why = header_problem(value)
    if why is not None:
        raise ValueError(f"{why}; texten står i e-postens rubrikfält (ämne eller avsändare)")
    return value


def _fits_a_subject(value: str) -> str:
    # A measure's text may span lines: the subject it reaches has its whitespace collapsed
    # (notifications.render.one_line), so what is checked is the text on one line.
    _fits_a_header(" ".join(value.split()))
    return value


# Titles and names: one line, and each can reach a Subject or a From.
HeaderText = Annotated[str, Field(min_length=1), AfterValidator(_fits_a_header)]
SubjectText = Annotated[str, Field(min_length=1), AfterValidator(_fits_a_subject)]
# Optional quotations from the agreement, left out of the stored document when absent.
CLAUSES = ("termination_clause", "change_clause")
MonthDay = Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]


class _Strict(BaseModel):
    # Unknown keys are errors: a misspelt key would otherwise silently become a default.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Signatory(_Strict):
    name: HeaderText
    title: HeaderText
    date: CalendarDate | None = None


class Party(_Strict):
    id: Slug
    name: HeaderText
    contact: Slug = Field(description="unit that receives notices addressed to the party")
    signatory: Signatory | None = None


class Unit(_Strict):
    id: Slug
    name: HeaderText
    party: Slug
    email: EmailStr
    contact_name: Annotated[str, AfterValidator(_fits_a_header)] | None = None


class Timeframe(_Strict):
    text: Text
    start: CalendarDate | None = None
    end: CalendarDate | None = None


class Measure(_Strict):
    id: Slug
    text: SubjectText  # a deviation's subject names it
    kind: Literal["count", "text"] = "count"
    target: float | None = Field(default=None, ge=0)
    parties: list[Slug] | None = None

    @field_validator("target", mode="before")
    @classmethod
    def _a_number(cls, value: Any) -> Any:
        # bool is an int in Python, and "2" would be coerced: both are typing mistakes here.
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"målvärdet {agreement_yaml.quote(value)} är inte ett tal")
        return value


class CommitmentSpec(_Strict):
    text: Text
    responsible: Slug
    co_responsible: list[Slug] = Field(default_factory=list)


class Effort(_Strict):
    id: Slug
    title: HeaderText
    timeframe: Timeframe
    measures: list[Measure] = Field(default_factory=list)
    commitments: dict[Slug, CommitmentSpec] = Field(min_length=1)


class Area(_Strict):
    id: Slug
    number: StrictInt = Field(ge=1)
    title: HeaderText
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


class MailHead(_Strict):
    """Who the agreement's mail comes from; each key left out falls back to the delivery settings."""

    sender: EmailStr | None = None
    sender_name: HeaderText | None = None
    reply_to: EmailStr | None = None


class AgreementHead(_Strict):
    id: Slug
    title: HeaderText
    signed: CalendarDate
    valid_from: CalendarDate | None = None
    valid_to: CalendarDate | None = None
    timezone: str = str(DEFAULT_ZONE)  # the file format's default
    process_owner: Slug
    # The agreement's own words, quoted in the termination and changed-conditions mails.
    termination_clause: Text | None = None
    change_clause: Text | None = None
    mail: MailHead | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
            raise ValueError(f"okänd tidszon {agreement_yaml.quote(value)}") from None
        return value

    @property
    def starts(self) -> date:
        return self.valid_from or self.signed

    @model_serializer(mode="wrap")
    def _without_absent_clauses(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A file without a clause stores the same document as before the keys existed, so
        # its config hash is unchanged and `init` does not see a new plan version.
        data: dict[str, Any] = handler(self)
        for key in (*CLAUSES, "mail"):
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


def _not_an_agreement() -> str:
    keys = list(Agreement.model_fields)
    return f"är ingen överenskommelsefil: den har ingen av nycklarna {', '.join(keys[:-1])} och {keys[-1]}"


def parse_agreement(text: str, filename: str = "<text>") -> Agreement:
    """Parse and validate agreement YAML; raise AgreementFileError with every problem."""
    try:
        return _parse(text, filename)
    except RecursionError:
        raise AgreementFileError([Problem(file=filename, line=1, message="ogiltig YAML: för djupt nästlad")]) from None


def _parse(text: str, filename: str) -> Agreement:
    data, lines, problems = agreement_yaml.load(text, filename)
    if data is None:
        raise AgreementFileError([*problems, Problem(file=filename, line=1, message="filen är tom")])
    if not isinstance(data, dict):
        raise AgreementFileError(
            [*problems, Problem(file=filename, line=1, message="ska vara en mappning (nyckel: värde)")]
        )
    if not set(data) & set(Agreement.model_fields):
        # Some other file (a symlink to /etc/shadow reads as a mapping): one line, and none of
        # its content quoted back.
        raise AgreementFileError([*problems, Problem(file=filename, line=1, message=_not_an_agreement())])
    return validate_document(data, lines, filename, problems)


def validate_document(
    data: dict[str, Any], lines: dict[agreement_yaml.Path_, int], filename: str, problems: list[Problem] | None = None
) -> Agreement:
    """A document (parsed YAML, or a stored plan version changed in the web) as an agreement, or
    AgreementFileError with every problem: the schema, then the cross-checks (``lines`` may be empty)."""
    problems = [] if problems is None else problems
    try:
        agreement = Agreement.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = agreement_yaml.line_for(lines, loc, key=err["type"] in ("extra_forbidden", "missing"))
            problems.append(Problem(file=filename, line=line, message=agreement_yaml.message(err)))
        raise AgreementFileError(problems) from None

    def add(loc: agreement_yaml.Path_, message: str) -> None:
        key = bool(loc) and loc[-1] == "<key>"
        line = lines.get(loc) if key else agreement_yaml.line_for(lines, loc)
        problems.append(Problem(file=filename, line=line or agreement_yaml.line_for(lines, loc[:-1]), message=message))

    cross_check(agreement, add)
    if problems:
        raise AgreementFileError(problems)
    return agreement


def load_agreement(path: str | Path) -> Agreement:
    """Read and validate an agreement file from disk (a regular file of at most FILE_MAX bytes)."""
    return parse_agreement(agreement_yaml.read_text(path), str(path))
