"""What held against the outside attack (issue 14), kept as tests so it keeps holding."""

from __future__ import annotations

from tests.security.conftest import Live


def test_anonymous_pages_redirect_to_sign_in(live: Live) -> None:
    with live.client() as c:
        for path in ("/", "/forsenat", "/revision", "/parter", "/rapport", "/kalender.ics"):
            answer = c.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/logga-in?nasta="), path
