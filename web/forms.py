"""The follow-up form as posted: each field read and checked before the engine is asked.

Parsing an HTML form is the web's own business; the values it yields go to
``engine.api.commands.record_follow_up``, which checks them again as it checks the CLI's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.api.pages import Measure, PeriodFollowUp
from rules import hours as hours_rule
from rules import texts
from rules.errors import InvalidValue, SamverkanError

# The engine's name for a value (InvalidValue.field) → the form field it is shown beside.
FIELDS = {"comment": "kommentar", "hours": "timmar", "by": "namn"}
# The fields after the measures, as the error summary names them.
LABELS = {"kommentar": "Kommentar", "timmar": "Nedlagd tid i timmar", "namn": "Ditt namn"}


@dataclass(kw_only=True)
class FormField:
    name: str
    label: str
    kind: str  # count | text
    target: float | None = None
    value: str = ""
    error: str | None = None


@dataclass(kw_only=True)
class FollowUpForm:
    measures: list[FormField]
    comment: str = ""
    hours: str = ""
    name: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None  # an error that belongs to no single field

    @property
    def invalid(self) -> bool:
        return bool(self.errors or self.message or any(m.error for m in self.measures))

    @property
    def labels(self) -> dict[str, str]:
        """Each field's label by name, in the form's order: the error summary's links follow it."""
        return {m.name: m.label for m in self.measures} | LABELS

    @property
    def field_errors(self) -> dict[str, str]:
        """Every field's error by name, the measures' with the others'."""
        return {m.name: m.error for m in self.measures if m.error} | self.errors


def refused(form: FollowUpForm, exc: SamverkanError, text: str) -> None:
    """Show the engine's refusal ``text`` beside the field it is about, or above the form.

    A value the form has a field for gets the message there (aria-describedby points at
    it); anything else (the period, the commitment's state, a measure the plan changed
    meanwhile) is about the whole form.
    """
    name = FIELDS.get(exc.field) if isinstance(exc, InvalidValue) else None
    if name is not None:
        form.errors[name] = text
    else:
        form.message = text


def empty_form(measures: Sequence[Measure]) -> FollowUpForm:
    return FollowUpForm(
        measures=[FormField(name=f"m_{m.id}", label=m.text, kind=m.kind, target=m.target) for m in measures]
    )


def prefilled(measures: Sequence[Measure], done: PeriodFollowUp) -> FollowUpForm:
    """The form filled in with the recorded follow-up's values, to correct them."""
    form = empty_form(measures)
    recorded = {v.measure: v.value for v in done.values}
    for f, m in zip(form.measures, measures, strict=True):
        value = recorded.get(m.id)
        f.value = "" if value is None else str(value)
    form.comment = done.comment
    form.hours = texts.tal(done.hours) if done.hours is not None else ""
    return form


def read_form(
    measures: Sequence[Measure], data: dict[str, str], *, ask_name: bool
) -> tuple[FollowUpForm, dict[str, str], float | None]:
    """The form as posted, each field checked; the values for record_follow_up and the hours."""
    form = empty_form(measures)
    values: dict[str, str] = {}
    for f, m in zip(form.measures, measures, strict=True):
        f.value = data.get(f.name, "").strip()
        if f.kind == "count":
            if not f.value:
                f.error = "Ange ett antal (0 om inget har gjorts)."
            elif not f.value.isdigit():
                f.error = "Ange ett heltal, 0 eller större."
        elif not f.value:
            f.error = "Fyll i det här fältet."
        values[m.id] = f.value
    form.comment = data.get("kommentar", "").strip()
    if not form.comment:
        form.errors["kommentar"] = "Skriv en kort kommentar om hur arbetet har gått."
    form.hours = data.get("timmar", "").strip()
    hours = None
    try:
        hours = hours_rule.parse(form.hours)  # the rule the CLI and the engine ask too
    except InvalidValue:
        form.errors["timmar"] = f"Ange timmar som ett tal {hours_rule.RANGE_TEXT} (t.ex. 12,5), eller lämna tomt."
    if ask_name:
        form.name = data.get("namn", "").strip()
        if not form.name:
            form.errors["namn"] = "Skriv ditt namn, så att det syns vem som rapporterade."
        elif len(form.name) > 200:
            form.errors["namn"] = "Namnet får vara högst 200 tecken."
    return form, values, hours
