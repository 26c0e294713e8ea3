"""The follow-up form: an engine refusal is shown beside the field it names, or above the form."""

from __future__ import annotations

import pytest

from engine.api.pages import Measure
from rules.errors import InvalidValue, TransitionNotAllowed
from web.forms import empty_form, refused

MEASURES = [Measure(id="utbildningar", text="Antal utbildningar", kind="count", target=2)]


@pytest.mark.parametrize(("field", "shown_at"), [("comment", "kommentar"), ("hours", "timmar"), ("by", "namn")])
def test_a_refused_value_the_form_has_a_field_for_is_shown_beside_it(field: str, shown_at: str) -> None:
    form = empty_form(MEASURES)
    refused(form, InvalidValue(field, "får inte vara tomt"), "Får inte vara tomt")
    assert form.errors == {shown_at: "Får inte vara tomt"} and form.message is None and form.invalid


def test_a_refusal_about_the_period_or_the_state_is_about_the_whole_form() -> None:
    whole = (InvalidValue("period", "kan lämnas från 2027-01-01"), TransitionNotAllowed("x", "follow_up", "planerad"))
    for exc in whole:
        form = empty_form(MEASURES)
        refused(form, exc, "Kan inte registreras")
        assert form.errors == {} and form.message == "Kan inte registreras"
