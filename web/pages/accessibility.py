"""The accessibility statement (tillgänglighetsredogörelse) at /tillganglighet.

Lagen (2018:1937) om tillgänglighet till digital offentlig service requires one, in the form DIGG
prescribes, reachable without signing in: anyone who cannot use the service must be able to read how
to report it — to a concrete address and phone number or form (the settings' ``accessibility``), with
the supervisory authority's link, and when the statement was last reviewed.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from starlette.responses import Response

from web.http import Ctx, Web, page, render

# The day this release's statement was last reviewed against the service: a release that changes
# what is or is not accessible moves it (and the list of known gaps in accessibility.html).
REVIEWED: Final = date(2026, 12, 2)
# DIGG's page for reporting a public body's digital service that does not meet the law.
DIGG_REPORT: Final = "https://www.digg.se/tdosanmalan"


@page(login=False)
def statement(web: Web, ctx: Ctx) -> Response:
    contact = web.settings.accessibility
    return render(
        web,
        ctx,
        "accessibility.html",
        contact=contact,
        reviewed=contact.reviewed or REVIEWED,
        digg_report=DIGG_REPORT,
    )
