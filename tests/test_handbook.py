"""docs/handbok.md, the process owner's handbook: its pictures and the pages it names exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HANDBOOK = (DOCS / "handbok.md").read_text(encoding="utf-8")


def test_every_picture_in_the_handbook_is_committed_and_small() -> None:
    pictures = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", HANDBOOK)
    assert len(pictures) >= 8
    for picture in pictures:
        path = DOCS / picture
        assert path.is_file(), picture
        # The report example is the report's own page at print size; the screenshots are kept small.
        assert picture == "report-example.png" or path.stat().st_size < 300_000, picture


def test_every_page_the_handbook_names_is_a_page_of_the_web() -> None:
    named = set(re.findall(r"\(`(/[^`]*)`", HANDBOOK))
    assert {"/", "/forsenat", "/enheter", "/anvandare", "/rapport", "/revision", "/parter"} <= named
    routes = set(re.findall(r'Route\("([^"]+)"', (ROOT / "web" / "app.py").read_text(encoding="utf-8")))
    assert named <= routes, named - routes
