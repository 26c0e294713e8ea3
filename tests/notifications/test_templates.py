"""The mails people read: every kind of notice, rendered from the real Borås agreement.

Each sample context below is what the dispatcher builds for one notice (the contract is
in the brief for notifications/render.py): a Borås commitment, its responsible unit,
BråB as the process owner. The tests state what every mail must say and how it must
behave: one-line subjects with Swedish dates, escaped HTML, strict variables, user
templates that override ours by file name.
"""

from __future__ import annotations

import html as html_lib
import os
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from engine.agreement import load_agreement
from notifications.compose import digest_context
from notifications.render import (
    KINDS,
    TemplateError,
    _inlined_environment,
    antal_dagar,
    datum,
    datumtid,
    environment,
    render,
)

ROOT = Path(__file__).resolve().parents[2]
BORAS = load_agreement(ROOT / "config" / "boras-2015.yaml")


# -- building contexts from the agreement file ---------------------------------------


def unit(unit_id: str) -> dict[str, Any]:
    u = BORAS.unit(unit_id)
    return {"name": u.name, "email": u.email}


def party_name(party_id: str) -> str:
    return next(p.name for p in BORAS.parties if p.id == party_id)


def commitment(effort_id: str, party: str, state: str = "pågående") -> dict[str, Any]:
    """One commitment of the Borås plan, as the dispatcher hands it to the templates."""
    for area, effort, p, spec in BORAS.commitments():
        if effort.id == effort_id and p == party:
            return {
                "id": f"{BORAS.id}.{effort.id}.{party}",
                "text": spec.text,
                "party": party,
                "party_name": party_name(party),
                "effort_title": effort.title,
                "area_title": area.title,
                "area_number": area.number,
                "timeframe_text": effort.timeframe.text,
                "state": state,
                "measures": [
                    {"id": m.id, "text": m.text, "kind": m.kind, "target": m.target}
                    for m in effort.measures
                    if not m.parties or party in m.parties
                ],
            }
    raise LookupError(f"{effort_id}/{party}")


def responsible(effort_id: str, party: str) -> dict[str, Any]:
    effort = next(e for _, e in BORAS.efforts() if e.id == effort_id)
    return unit(effort.commitments[party].responsible)


OWNER = unit(BORAS.agreement.process_owner)  # BråB
AGREEMENT = {
    "id": BORAS.id,
    "title": BORAS.agreement.title,
    "termination_clause": BORAS.agreement.termination_clause,
    "change_clause": BORAS.agreement.change_clause,
    "mail": {},
    "escalation_after_days": 14,
}
MBU_POLIS = commitment("mbu", "polis")  # "Utbildning två gånger per år" → target 2
KOMMUNPOLIS = unit("kommunpolis")


def notice(kind: str, key: str, **fields: Any) -> dict[str, Any]:
    base = dict.fromkeys(("period", "due", "days_left", "days_late", "offset_days", "revision", "repeat", "week"))
    return {"kind": kind, "key": key, **base, **fields}


def context(kind: str, key: str, recipient: str, **parts: Any) -> dict[str, Any]:
    """A full context: every key of the contract present, the optional ones empty unless given."""
    ctx: dict[str, Any] = {
        "notice": notice(kind, key),
        "agreement": AGREEMENT,
        "commitment": None,
        "unit": None,
        "owner": OWNER,
        "followup_url": None,
        "change": None,
        "deviation": None,
        "revision_items": [],
        "failed": [],
        "items": [],
        "agreements": [],
        "recipient": {"email": recipient},
        "review": None,
        "overdue_url": None,
        "accessibility_url": None,
        "inbox_url": None,
    }
    ctx.update(parts)
    return ctx


def revision_items() -> list[dict[str, Any]]:
    """Every commitment of the plan; MBU (polis) has a follow-up for 2026, the rest none."""
    items = []
    for area, effort, party, _ in BORAS.commitments():
        latest = None
        if (effort.id, party) == ("mbu", "polis"):
            # The values by the measure's words, as notifications.context gives them.
            said = next(m.text for m in effort.measures if m.id == "utbildningar")
            latest = {"period": 2026, "comment": "En utbildning ställdes in.", "values": {said: 1}}
        items.append(
            {
                "id": f"{BORAS.id}.{effort.id}.{party}",
                "effort_title": effort.title,
                "area_title": area.title,
                "party": party,
                "party_name": party_name(party),
                "unit_name": unit(effort.commitments[party].responsible)["name"],
                "state": "uppföljd" if latest else "pågående",
                "latest": latest,
            }
        )
    return items


CHANGE = {
    "party": "polis",
    "party_name": party_name("polis"),
    "other_party_name": party_name("kommun"),
    "text": "Lokalpolisområdet omorganiseras och kommunpolisen delas med Bollebygd från 1 maj.",
    "by": "Kommunpolis, lokalpolisområde Borås",
    "recorded_at": datetime(2027, 3, 1, 7, 0, tzinfo=UTC),  # 08:00 in Stockholm
    "effective": "2027-05-01",
    "reason": None,
    "commitments": [
        {
            "id": "boras.mbu.polis",
            "effort_title": MBU_POLIS["effort_title"],
            "party": "polis",
            "party_name": party_name("polis"),
        }
    ],
}

TERMINATION = {
    "party": "kommun",
    "party_name": party_name("kommun"),
    "other_party_name": party_name("polis"),
    "text": "Överenskommelsen ersätts av en ny med fast giltighetstid.",
    "by": "Ulf Olsson, kommunstyrelsens ordförande",
    "recorded_at": datetime(2027, 3, 1, 13, 30, tzinfo=UTC),
    "effective": "2027-06-30",
    "reason": "Ny överenskommelse 2027–2029",
    "commitments": [
        {"id": i["id"], "effort_title": i["effort_title"], "party": i["party"], "party_name": i["party_name"]}
        for i in revision_items()
    ],
}


def sample(kind: str) -> dict[str, Any]:
    """A realistic context for each kind of notice."""
    if kind == "reminder":
        return context(
            kind,
            "reminder:boras.mbu.polis:2026:-30",
            KOMMUNPOLIS["email"],
            notice=notice(
                kind, "reminder:boras.mbu.polis:2026:-30", period=2026, due="2027-03-31", days_left=30, offset_days=-30
            ),
            commitment=MBU_POLIS,
            unit=KOMMUNPOLIS,
        )
    if kind == "overdue":
        return context(
            kind,
            "overdue:boras.mbu.polis:2026:1",
            KOMMUNPOLIS["email"],
            notice=notice(
                kind, "overdue:boras.mbu.polis:2026:1", period=2026, due="2027-03-31", days_late=15, repeat=1
            ),
            commitment=MBU_POLIS,
            unit=KOMMUNPOLIS,
        )
    if kind == "escalation":
        return context(
            kind,
            "escalation:boras.mbu.polis:2026",
            OWNER["email"],
            notice=notice(kind, "escalation:boras.mbu.polis:2026", period=2026, due="2027-03-31", days_late=14),
            commitment=MBU_POLIS,
            unit=KOMMUNPOLIS,
        )
    if kind == "revision_kickoff":
        return context(
            kind,
            "revision_kickoff:boras:4",
            OWNER["email"],
            notice=notice(kind, "revision_kickoff:boras:4", revision=4, due="2027-12-14"),
            revision_items=revision_items(),
        )
    if kind == "revision_overdue":
        return context(
            kind,
            "revision_overdue:boras:4:0",
            OWNER["email"],
            notice=notice(kind, "revision_overdue:boras:4:0", revision=4, due="2027-12-14", days_late=1),
        )
    if kind == "change_notice":
        return context(kind, "change_notice:boras:1", OWNER["email"], change=CHANGE)
    if kind == "termination_notice":
        return context(kind, "termination_notice:boras", unit("kommunpolis")["email"], change=TERMINATION)
    if kind == "deviation":
        return context(
            kind,
            "deviation:boras.mbu.polis:2026:utbildningar",
            OWNER["email"],
            notice=notice(kind, "deviation:boras.mbu.polis:2026:utbildningar", period=2026),
            commitment=MBU_POLIS,
            unit=KOMMUNPOLIS,
            deviation={"measure": "utbildningar", "text": MBU_POLIS["measures"][0]["text"], "value": 1, "target": 2.0},
        )
    if kind == "digest":
        return digest_context([sample(k) for k in ("reminder", "deviation")])
    if kind == "invite":
        invite = {
            "url": "https://samverkan.boras.se/inbjudan/eyJ1Ijo3fQ.x",
            "name": "Frida Fritid",
            "role_sv": "enhetskontakt",
            "scope": "Fritids- och folkhälsoförvaltningen",
            "by": "Anna Andersson <anna.andersson@boras.example>",
            "new_user": True,
            "expires": datetime(2027, 3, 8, 9, tzinfo=UTC),
        }
        return context(kind, "invite:7:abc", "frida@boras.example", invite=invite)
    if kind == "delivery_failed":
        failed = [
            {
                "key": "reminder:boras.mbu.polis:2026:-30",
                "kind": "reminder",
                "recipients": [KOMMUNPOLIS["email"]],
                "error": "550 5.1.1 <kommunpolis@polisen.example>: Recipient address rejected: User unknown",
            }
        ]
        return context(kind, "delivery_failed:2027-03-02", OWNER["email"], failed=failed)
    if kind == "weekly_summary":
        late = {
            "commitment": "boras.mbu.polis",
            "agreement": "boras",
            "party": "polis",
            "party_name": party_name("polis"),
            "unit": "kommunpolis",
            "unit_name": KOMMUNPOLIS["name"],
            "unit_email": KOMMUNPOLIS["email"],
            "effort": MBU_POLIS["effort_title"],
            "period": 2026,
            "due": "2027-03-31",
            "days_late": 20,
            "reminders_sent": 3,
            "overdue_sent": 2,
            "escalated": True,
        }
        review = {
            "now": "2027-04-19T08:00:00+02:00",
            "follow_ups": [late],
            "revisions": [],
            "undeliverable": [],
            "deviations": [],
            "flagged": [
                {
                    "commitment": "boras.mbu.kommun",
                    "party": "kommun",
                    "party_name": party_name("kommun"),
                    "effort": "MBU",
                    "reason": "Budgeten dras in",
                }
            ],
        }
        return context(
            kind,
            "weekly_summary:boras:2027-W16",
            OWNER["email"],
            notice=notice(kind, "weekly_summary:boras:2027-W16", week="2027-W16"),
            review=review,
        )
    raise LookupError(kind)


# -- every kind ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_a_subject_a_text_and_an_html_part(kind: str) -> None:
    mail = render(kind, sample(kind))
    assert mail.subject and mail.text.strip() and mail.html.strip()
    assert mail.html.lstrip().startswith("<!DOCTYPE html>") and 'lang="sv"' in mail.html
    assert 'name="viewport"' in mail.html  # readable on a phone


@pytest.mark.parametrize("kind", KINDS)
def test_a_date_in_a_mail_reads_as_swedish_prose_never_iso(kind: str) -> None:
    mail = render(kind, sample(kind))
    for part in (mail.subject, mail.text, mail.html):
        assert not re.findall(r"\b\d{4}-\d{2}-\d{2}\b", part), kind


@pytest.mark.parametrize("kind", KINDS)
def test_a_mail_links_the_accessibility_statement_when_the_webs_address_is_known(kind: str) -> None:
    url = "https://samverkan.boras.se/tillganglighet"
    mail = render(kind, sample(kind) | {"accessibility_url": url})
    assert f'<a href="{url}"' in mail.html and "tillgänglighetsredogörelsen</a>" in mail.html
    assert url in mail.text
    without = render(kind, sample(kind))
    assert "tillganglighet" not in without.html and "tillganglighet" not in without.text


@pytest.mark.parametrize("kind", KINDS)
def test_the_subject_is_a_single_line(kind: str) -> None:
    subject = render(kind, sample(kind)).subject
    assert "\n" not in subject and "\r" not in subject
    assert subject == subject.strip() and "  " not in subject
    assert len(subject) <= 200


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "reminder",
            "Påminnelse: uppföljning 2026 av MBU – Människan bakom uniformen "
            "(Polismyndigheten, lokalpolisområde Borås) senast 31 mars 2027",
        ),
        (
            "overdue",
            "Försenad uppföljning 2026: MBU – Människan bakom uniformen "
            "(Polismyndigheten, lokalpolisområde Borås) – 15 dagar sen",
        ),
        ("escalation", "MBU – Människan bakom uniformen"),
        ("revision_kickoff", "Revidering 4 av samverkansöverenskommelsen inleds – senast 14 december 2027"),
        ("revision_overdue", "Revidering 4 är försenad – sista dag var 14 december 2027"),
        ("change_notice", "Ändrade förutsättningar meddelade av Polismyndigheten, lokalpolisområde Borås"),
        ("termination_notice", "Borås Stad säger upp samverkansöverenskommelsen från 30 juni 2027"),
        (
            "deviation",
            "Avvikelse: MBU – Människan bakom uniformen (Polismyndigheten, lokalpolisområde Borås) 2026 – "
            "Utbildning två gånger per år: antal genomförda utbildningar 1 av målet 2",
        ),
        ("digest", "1 avvikelse och 1 uppföljning att lämna – senast 31 mars 2027"),
        ("delivery_failed", "1 meddelande kunde inte levereras"),
    ],
)
def test_the_subject_says_what_and_by_when_in_swedish(kind: str, expected: str) -> None:
    assert expected in render(kind, sample(kind)).subject


@pytest.mark.parametrize("kind", KINDS)
def test_every_mail_says_whom_to_ask_and_who_sent_it(kind: str) -> None:
    mail = render(kind, sample(kind))
    for part in (mail.text, mail.html):
        assert OWNER["email"] in part
        assert OWNER["name"] in part
    assert f"samverkan för {AGREEMENT['title']}" in mail.text


@pytest.mark.parametrize("kind", KINDS)
def test_a_mail_renders_when_the_optional_values_are_missing(kind: str) -> None:
    ctx = sample(kind)
    ctx["notice"] = notice(kind, ctx["notice"]["key"])  # no period, due date, days or revision number
    ctx["unit"] = None
    ctx["followup_url"] = None
    if ctx["change"] is not None:
        ctx["change"] = {**ctx["change"], "effective": None, "reason": None, "commitments": []}
    mail = render(kind, ctx)
    assert "None" not in mail.subject + mail.text + mail.html


# -- what the follow-up mails say ----------------------------------------------------


def test_a_reminder_lists_every_measure_with_its_target() -> None:
    ctx = sample("reminder")
    ctx["commitment"] = commitment("alkoholservering", "kommun")
    mail = render("reminder", ctx)
    for part in (mail.text, mail.html):
        for text in ("Antal utbildningar", "Antal deltagare", "Antal genomförda tillsyner."):
            assert text in part
        assert "målet är minst 1" in part
        assert "kort kommentar" in part


def test_targets_are_whole_numbers_when_they_are_whole() -> None:
    mail = render("reminder", sample("reminder"))
    assert "Utbildning två gånger per år: antal genomförda utbildningar (ange ett antal; målet är minst 2)" in mail.text
    assert "2.0" not in mail.text + mail.html


def test_a_reminder_says_by_when_and_what_the_commitment_is() -> None:
    mail = render("reminder", sample("reminder"))
    assert "senast 31 mars 2027, om 30 dagar" in mail.text
    assert MBU_POLIS["text"] in mail.text and MBU_POLIS["text"] in mail.html
    assert "boras.mbu.polis" in mail.text


def test_the_follow_up_link_is_shown_only_when_there_is_one() -> None:
    without = render("reminder", sample("reminder"))
    assert "http" not in without.text and "Registrera uppföljningen här" not in without.text
    ctx = sample("reminder")
    ctx["followup_url"] = "https://samverkan.boras.example/f/abc123"
    with_link = render("reminder", ctx)
    assert "https://samverkan.boras.example/f/abc123" in with_link.text
    assert 'href="https://samverkan.boras.example/f/abc123"' in with_link.html


def test_an_overdue_notice_says_how_late_and_that_brab_is_told() -> None:
    mail = render("overdue", sample("overdue"))
    assert "15 dagar sen" in mail.text and "31 mars 2027" in mail.text
    assert "processägaren, Brottsförebyggande rådet i Borås (BråB), besked" in mail.text


def test_an_escalation_names_the_late_unit_and_suggests_contacting_it() -> None:
    mail = render("escalation", sample("escalation"))
    assert "Kommunpolis, lokalpolisområde Borås har inte registrerat uppföljningen för 2026" in mail.text
    assert "14 dagar sen" in mail.text
    assert "Kontakta Kommunpolis, lokalpolisområde Borås direkt, kommunpolis@polisen.example" in mail.text
    assert "mailto:kommunpolis@polisen.example" in mail.html


def test_a_deviation_shows_the_value_against_the_target() -> None:
    mail = render("deviation", sample("deviation"))
    assert "Rapporterat värde: 1" in mail.text and "Mål: minst 2" in mail.text


# -- revision ------------------------------------------------------------------------


def test_the_revision_kickoff_lists_every_commitment_it_is_given() -> None:
    ctx = sample("revision_kickoff")
    mail = render("revision_kickoff", ctx)
    assert len(ctx["revision_items"]) == 30
    for item in ctx["revision_items"]:
        assert item["id"] in mail.text and item["id"] in mail.html
    assert "(30 st.)" in mail.text


def test_the_revision_kickoff_shows_each_state_and_latest_follow_up() -> None:
    mail = render("revision_kickoff", sample("revision_kickoff"))
    assert "Status: uppföljd" in mail.text and "Status: pågående" in mail.text
    assert "Senaste uppföljning: 2026" in mail.text and f"{MBU_POLIS['measures'][0]['text']}: 1" in mail.text
    # What a person reads names the party, the unit and the measure; the ids stay with the commitment's id.
    assert "(Polismyndigheten, lokalpolisområde Borås)" in mail.text and "(polis)" not in mail.text
    assert f"Ansvarig enhet: {KOMMUNPOLIS['name']}" in mail.text and "- utbildningar:" not in mail.text
    assert "Kommentar: En utbildning ställdes in." in mail.text
    assert mail.text.count("ingen uppföljning registrerad") == 29
    assert "senast 14 december 2027" in mail.text


# -- events: changed conditions and termination --------------------------------------


def test_a_change_notice_says_who_when_what_and_quotes_the_agreement() -> None:
    mail = render("change_notice", sample("change_notice"))
    assert "Meddelat av: Kommunpolis, lokalpolisområde Borås" in mail.text
    assert "1 mars 2027 kl. 08:00" in mail.text
    assert CHANGE["text"] in mail.text
    assert "MBU – Människan bakom uniformen (Polismyndigheten, lokalpolisområde Borås)" in mail.text
    assert "(polis)" not in mail.text and "(polis)" not in mail.html
    assert "nästa revidering" in mail.text
    quote = "Om förutsättningar för att följa överenskommelsen förändras ska den andra parten meddelas."
    assert quote in mail.text and quote in mail.html


def test_a_termination_says_when_and_what_ends_and_quotes_the_agreement() -> None:
    mail = render("termination_notice", sample("termination_notice"))
    assert "Uppsägningen gäller från 30 juni 2027." in mail.text
    assert "Skäl: Ny överenskommelse 2027–2029" in mail.text
    assert "Alla åtaganden i överenskommelsen avslutas den 30 juni 2027." in mail.text
    assert "inga fler påminnelser" in mail.text
    for part in (mail.text, mail.html):  # Borås's file has the clause
        assert "Vardera part har rätt att säga upp överenskommelsen." in part


def test_a_termination_whose_message_is_its_reason_says_it_once() -> None:
    ctx = sample("termination_notice")
    ctx["change"] = {**TERMINATION, "text": "Ny överenskommelse 2027–2029", "reason": "Ny överenskommelse 2027–2029"}
    mail = render("termination_notice", ctx)
    assert mail.text.count("Ny överenskommelse 2027–2029") == 1
    assert mail.html.count("Ny överenskommelse 2027–2029") == 1


@pytest.mark.parametrize(
    ("kind", "key"), [("termination_notice", "termination_clause"), ("change_notice", "change_clause")]
)
def test_the_event_mails_quote_the_files_own_clause_only_when_it_has_one(kind: str, key: str) -> None:
    ctx = sample(kind)
    ctx["agreement"] = {**AGREEMENT, key: "Parterna får <b>när som helst</b> ändra sig."}
    mail = render(kind, ctx)
    assert "Överenskommelsen anger: ”Parterna får <b>när som helst</b> ändra sig.”" in mail.text
    assert "”Parterna får &lt;b&gt;när som helst&lt;/b&gt; ändra sig.”" in mail.html
    assert "Vardera part" not in mail.text + mail.html and "ska den andra parten meddelas" not in mail.text
    ctx["agreement"] = {**AGREEMENT, key: None}
    mail = render(kind, ctx)
    assert "Överenskommelsen anger" not in mail.text + mail.html
    assert "Vardera part" not in mail.text + mail.html and "ska den andra parten meddelas" not in mail.text


# -- digest and delivery failures ----------------------------------------------------


def test_a_grouped_mail_names_each_items_insats_agreement_ask_and_date() -> None:
    ctx = sample("digest")
    mail = render("digest", ctx)
    assert len(ctx["items"]) == 2
    for item in ctx["items"]:
        for said in (item["effort"], item["agreement"], item["asked"], item["when"]):
            assert said in mail.text
            assert html_lib.escape(said, quote=False) in mail.html


def test_a_delivery_failure_lists_key_kind_recipients_and_server_answer() -> None:
    mail = render("delivery_failed", sample("delivery_failed"))
    assert "reminder:boras.mbu.polis:2026:-30" in mail.text
    assert "påminnelse (reminder)" in mail.text
    assert "Mottagare: kommunpolis@polisen.example" in mail.text
    assert "550 5.1.1 <kommunpolis@polisen.example>" in mail.text
    assert "550 5.1.1 &lt;kommunpolis@polisen.example&gt;" in mail.html


# -- what a person typed is data -----------------------------------------------------


def test_html_escapes_text_a_person_typed_and_plain_text_keeps_it_verbatim() -> None:
    typed = '<script>alert(1)</script> & "x"'
    ctx = sample("change_notice")
    ctx["change"] = {**CHANGE, "text": typed}
    mail = render("change_notice", ctx)
    assert typed in mail.text
    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;x&#34;" in mail.html


def test_template_syntax_in_typed_text_is_shown_literally_never_evaluated() -> None:
    ctx = sample("change_notice")
    ctx["change"] = {**CHANGE, "text": "Resultat: {{ 7*7 }} {% if true %}ja{% endif %}"}
    mail = render("change_notice", ctx)
    assert "Resultat: {{ 7*7 }} {% if true %}ja{% endif %}" in mail.text
    assert "Resultat: {{ 7*7 }} {% if true %}ja{% endif %}" in mail.html
    assert "Resultat: 49" not in mail.text + mail.html

    kickoff = sample("revision_kickoff")
    mbu = next(i for i in kickoff["revision_items"] if i["latest"])
    mbu["latest"] = {**mbu["latest"], "comment": "{{ 7*7 }}"}
    assert "Kommentar: {{ 7*7 }}" in render("revision_kickoff", kickoff).text


# -- strictness and errors -----------------------------------------------------------


def test_a_missing_variable_is_an_error_naming_the_template() -> None:
    ctx = sample("reminder")
    del ctx["commitment"]
    with pytest.raises(TemplateError, match=r"reminder\.subject\.txt") as caught:
        render("reminder", ctx)
    assert caught.value.template == "reminder.subject.txt"


def test_a_missing_key_inside_a_value_is_an_error_too() -> None:
    ctx = sample("reminder")
    ctx["commitment"] = {k: v for k, v in MBU_POLIS.items() if k != "measures"}
    with pytest.raises(TemplateError, match="measures"):
        render("reminder", ctx)


def test_a_kind_without_templates_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"okänt_slag\.subject\.txt.*finns inte"):
        render("okänt_slag", sample("reminder"))


def test_a_user_template_with_a_syntax_error_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "reminder.txt").write_text("Hej {{ unit.name \n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"reminder\.txt.*rad 1"):
        render("reminder", sample("reminder"), templates_dir=tmp_path)


# -- a user's own templates ----------------------------------------------------------


def test_a_user_template_overrides_ours_by_file_name_and_the_rest_falls_back(tmp_path: Path) -> None:
    (tmp_path / "reminder.subject.txt").write_text(
        "Dags att rapportera {{ notice.period }} – {{ commitment.effort_title }}\n", encoding="utf-8"
    )
    ours = render("reminder", sample("reminder"))
    theirs = render("reminder", sample("reminder"), templates_dir=tmp_path)
    assert theirs.subject == "Dags att rapportera 2026 – MBU – Människan bakom uniformen"
    assert theirs.text == ours.text
    assert theirs.html == ours.html


def test_a_subject_over_several_lines_becomes_one_line_and_is_capped(tmp_path: Path) -> None:
    (tmp_path / "reminder.subject.txt").write_text("Första raden\r\n   andra\traden\n" + "x" * 300, encoding="utf-8")
    subject = render("reminder", sample("reminder"), templates_dir=tmp_path).subject
    assert subject.startswith("Första raden andra raden x")
    assert len(subject) == 200 and "\n" not in subject and "\r" not in subject


# -- partials pasted in, for speed: the same text ------------------------------------


def _as_written(kind: str, ctx: dict[str, Any], templates_dir: Path | None = None) -> list[str]:
    env = environment(templates_dir)
    return [env.get_template(f"{kind}{part}").render(ctx) for part in (".subject.txt", ".txt", ".html")]


def _pasted(kind: str, ctx: dict[str, Any], templates_dir: Path | None = None) -> list[str]:
    env = _inlined_environment(templates_dir)
    return [env.get_template(f"{kind}{part}").render(ctx) for part in (".subject.txt", ".txt", ".html")]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("variant", ["full", "sparse"])
def test_pasting_the_partials_in_renders_exactly_what_including_them_does(kind: str, variant: str) -> None:
    ctx = sample(kind)
    if variant == "sparse":
        ctx["notice"] = notice(kind, ctx["notice"]["key"])
        ctx["unit"] = None
        ctx["commitment"] = ctx["commitment"] and {**ctx["commitment"], "measures": []}
    assert _pasted(kind, ctx) == _as_written(kind, ctx)
    source = _inlined_environment().loader.get_source(_inlined_environment(), f"{kind}.html")[0]  # type: ignore[union-attr]
    assert "{% include" not in source  # every one of our partials is pasted


def test_a_users_own_partial_is_pasted_and_an_edit_to_it_is_picked_up(tmp_path: Path) -> None:
    footer = tmp_path / "_footer.txt"
    footer.write_text("-- \nHälsningar {{ owner.name }}\n", encoding="utf-8")
    assert render("reminder", sample("reminder"), templates_dir=tmp_path).text.endswith(f"Hälsningar {OWNER['name']}\n")
    footer.write_text("-- \nVänliga hälsningar {{ owner.name }}\n", encoding="utf-8")
    later = footer.stat().st_mtime + 5
    os.utime(footer, (later, later))
    assert render("reminder", sample("reminder"), templates_dir=tmp_path).text.endswith(
        f"Vänliga hälsningar {OWNER['name']}\n"
    )


def test_a_partial_with_a_scope_of_its_own_is_included_not_pasted(tmp_path: Path) -> None:
    (tmp_path / "_footer.txt").write_text("{% set who = owner.name %}\n-- \n{{ who }}\n", encoding="utf-8")
    (tmp_path / "reminder.txt").write_text('{% include "_footer.txt" %}\n{{ who | default("ingen") }}\n')
    ctx = sample("reminder")
    assert _pasted("reminder", ctx, tmp_path) == _as_written("reminder", ctx, tmp_path)
    assert render("reminder", ctx, templates_dir=tmp_path).text == f"-- \n{OWNER['name']}\ningen\n"


def test_an_error_in_a_users_partial_names_the_partial_and_its_line(tmp_path: Path) -> None:
    (tmp_path / "_footer.txt").write_text("-- \nFrågor?\n{{ owner.telefon }}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"_footer\.txt.*rad 3.*telefon"):
        render("reminder", sample("reminder"), templates_dir=tmp_path)


# -- filters -------------------------------------------------------------------------


def test_dates_are_written_the_swedish_way() -> None:
    assert datum(date(2027, 3, 31)) == "31 mars 2027"
    assert datum("2027-12-14") == "14 december 2027"
    assert datumtid(datetime(2027, 3, 1, 7, 0, tzinfo=UTC)) == "1 mars 2027 kl. 08:00"  # winter: UTC+1
    assert datumtid(datetime(2027, 7, 1, 6, 0, tzinfo=UTC)) == "1 juli 2027 kl. 08:00"  # summer: UTC+2


def test_days_are_counted_in_swedish() -> None:
    assert antal_dagar(1) == "1 dag"
    assert antal_dagar(3) == "3 dagar"


def test_an_include_tag_inside_raw_stays_text(tmp_path: Path) -> None:
    (tmp_path / "reminder.txt").write_text('{% raw %}\n{% include "_footer.txt" %}\n{% endraw %}\n', encoding="utf-8")
    ctx = sample("reminder")
    assert _pasted("reminder", ctx, tmp_path) == _as_written("reminder", ctx, tmp_path)
    assert render("reminder", ctx, templates_dir=tmp_path).text.strip() == '{% include "_footer.txt" %}'


def test_an_instant_in_a_mail_is_shown_in_the_agreements_own_time_zone() -> None:
    stockholm = render("change_notice", sample("change_notice"))
    assert "1 mars 2027 kl. 08:00" in stockholm.text
    ctx = sample("change_notice")
    ctx["agreement"] = dict(ctx["agreement"], timezone="Europe/Helsinki")  # one hour ahead of Stockholm
    helsinki = render("change_notice", ctx)
    assert "1 mars 2027 kl. 09:00" in helsinki.text and "kl. 08:00" not in helsinki.text


# -- the two parts say the same ------------------------------------------------------


class _Visible(HTMLParser):
    """The text a reader sees in the HTML part, with the addresses its links go to."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("title", "style"):
            self._skip += 1
        href = dict(attrs).get("href") or ""
        self.parts.append(" " + href.removeprefix("mailto:") + " ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("title", "style"):
            self._skip -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _words(text: str) -> list[str]:
    # A sentence's last word keeps no full stop: "brab@boras.example." is the address.
    return [w.rstrip(".:,;?!") for w in re.findall(r"[\w@.:/?=&%+-]+", text)]


@pytest.mark.parametrize("kind", [*KINDS, "digest-with-links"])
def test_the_plain_text_and_html_parts_carry_the_same_words(kind: str) -> None:
    if kind == "digest-with-links":
        reminder = sample("reminder")
        reminder["followup_url"] = "https://samverkan.boras.example/uppfoljning/abc.def"
        mail = render("digest", digest_context([reminder, sample("escalation")], "https://s.example/mina/xyz"))
    else:
        mail = render(kind, sample(kind))
    seen = _Visible()
    seen.feed(mail.html)
    html_words = set(_words(" ".join(seen.parts)))
    # The plain part's own markup: its signature line and its headings' rules.
    text_words = [w for w in _words(mail.text) if w not in ("--", "==", "=", "-", "")]
    missing = sorted({w for w in text_words if w not in html_words})
    assert missing == []
