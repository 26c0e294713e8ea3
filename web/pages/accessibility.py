"""The accessibility statement (tillgänglighetsredogörelse) at /tillganglighet.

Lagen (2018:1937) om tillgänglighet till digital offentlig service requires one, in the form DIGG
prescribes, reachable without signing in: anyone who cannot use the service must be able to read how
to report it.
"""

from __future__ import annotations

from starlette.responses import Response

from web.http import Ctx, Web, page, render


@page(login=False)
def statement(web: Web, ctx: Ctx) -> Response:
    return render(web, ctx, "accessibility.html")
