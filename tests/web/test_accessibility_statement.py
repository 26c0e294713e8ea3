"""The accessibility statement at /tillganglighet, in the form DIGG prescribes: whom to tell (the
settings' contact), the supervisory authority's link, and when it was last reviewed."""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from starlette.testclient import TestClient

from engine.clock import FixedClock
from notifications.settings import AccessibilitySettings, Settings, load_settings
from web.app import create_app


def _statement(engine: Engine, clock: FixedClock, kit: Any, settings: Settings) -> str:
    with TestClient(create_app(engine, settings, clock, secret=kit.SECRET)) as client:
        page = client.get("/tillganglighet")  # no sign-in: anyone must be able to read it
    assert page.status_code == 200
    return html.unescape(page.text)


def test_the_statement_names_the_contact_the_authority_and_the_review_date(
    boras_due: Engine, clock: FixedClock, kit: Any, tmp_path: Path
) -> None:
    contact = AccessibilitySettings(
        email="tillganglighet@boras.se",
        phone="033-35 70 00",
        form_url="https://www.boras.se/kontakt",
        reviewed=date(2027, 1, 15),
    )
    text = _statement(boras_due, clock, kit, Settings(mail_dir=tmp_path, accessibility=contact))
    assert 'href="mailto:tillganglighet@boras.se"' in text and "Telefon: " in text
    assert 'href="tel:033357000"' in text and "033-35 70 00" in text
    assert 'href="https://www.boras.se/kontakt"' in text
    assert 'href="https://www.digg.se/tdosanmalan"' in text and "Myndigheten för digital förvaltning" in text
    assert 'granskades senast den <span id="granskad">15 januari 2027</span>' in text


def test_without_settings_the_statement_gives_the_placeholder_address_and_this_releases_review(
    boras_due: Engine, clock: FixedClock, kit: Any, tmp_path: Path
) -> None:
    text = _statement(boras_due, clock, kit, Settings(mail_dir=tmp_path))
    assert 'href="mailto:tillganglighet@samverkan.example"' in text
    assert "Telefon" not in text and "Kontaktformuläret" not in text
    assert 'granskades senast den <span id="granskad">2 december 2026</span>' in text


def test_the_contact_is_read_from_the_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("accessibility:\n  email: tillganglighet@boras.se\n  phone: 033-35 70 00\n", encoding="utf-8")
    read = load_settings(path).accessibility
    assert (read.email, read.phone, read.form_url) == ("tillganglighet@boras.se", "033-35 70 00", None)
