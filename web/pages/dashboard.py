"""The agreement at a glance, the overdue review, and one commitment's page."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import Response

from engine.api import pages, pages_dashboard
from engine.api.pages import CommitmentPage, Refused
from rules import lifecycle
from rules.errors import NotFound
from web.http import Ctx, Web, message_page, page, render
from web.pages.extensions import overdue_page


@page()
def dashboard(web: Web, ctx: Ctx) -> Response:
    shown = pages_dashboard.dashboard(web.engine, ctx.me, ctx.now)
    return render(
        web, ctx, "dashboard.html", agreements=shown.agreements, unit_name=shown.unit_name, states=lifecycle.STATES
    )


@page(roles=("owner", "party"))
def overdue(web: Web, ctx: Ctx) -> Response:
    return overdue_page(web, ctx)


def commitment_or_404(web: Web, ctx: Ctx, *, to_record: bool = False) -> CommitmentPage | Refused:
    try:
        return pages.commitment_page(
            web.engine, ctx.request.path_params["cid"], who=ctx.me, now=ctx.now, to_record=to_record
        )
    except NotFound:
        raise HTTPException(404) from None


@page()
def commitment(web: Web, ctx: Ctx) -> Response:
    data = commitment_or_404(web, ctx)
    if isinstance(data, Refused):
        return refused(web, ctx)
    return render(web, ctx, "commitment.html", p=data, may_record=data.may_record, agreement=data.agreement)


def refused(web: Web, ctx: Ctx) -> Response:
    return message_page(
        web,
        ctx,
        403,
        "Ingen behörighet",
        "Det här åtagandet hör inte till din enhet. "
        "Du ser och rapporterar bara de åtaganden som din enhet ansvarar för.",
    )
