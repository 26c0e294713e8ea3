"""The agreement at a glance, the overdue review, and one commitment's page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from starlette.exceptions import HTTPException
from starlette.responses import Response

from engine.api import pages, pages_corrections, pages_dashboard
from engine.api.pages import CommitmentPage, Refused
from rules import lifecycle, texts
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
    offers = pages_corrections.correctable(
        web.engine, data.c.id, who=ctx.me, now=ctx.now, days=web.settings.correction_days
    )
    return render(
        web,
        ctx,
        "commitment.html",
        p=data,
        may_record=data.may_record,
        agreement=data.agreement,
        corrections=offers,
        history=history(data),
        measure_text={m.id: m.text for m in data.measures},
    )


def refused(web: Web, ctx: Ctx) -> Response:
    return message_page(
        web,
        ctx,
        403,
        "Ingen behörighet",
        "Det här åtagandet hör inte till din enhet. "
        "Du ser och rapporterar bara de åtaganden som din enhet ansvarar för.",
    )


@dataclass(frozen=True, kw_only=True)
class HistoryRow:
    at: datetime
    change: str  # "pågående → uppföljd", "version 1 → 2"
    what: str
    by: str
    why: str


def history(p: CommitmentPage) -> list[HistoryRow]:
    """The commitment page's history: its transitions and every correction of a follow-up, in time order."""
    rows = [
        HistoryRow(
            at=h.at,
            change=f"{h.from_state} → {h.to_state}",
            what=texts.name(texts.TRIGGER_NAMES, h.trigger),
            by=h.by,
            why=h.why,
        )
        for h in p.history
    ]
    for f in p.follow_ups:
        versions = [*((e.version, e.recorded_at, e.by) for e in f.earlier), (f.version, f.recorded_at, f.by)]
        for (old, _, _), (new, at, by) in pairwise(versions):
            rows.append(
                HistoryRow(
                    at=at,
                    change=f"version {old} → {new}",
                    what=f"rättelse av uppföljning {f.period}",
                    by=by,
                    why="den tidigare versionen finns kvar under Uppföljningar",
                )
            )
    return sorted(rows, key=lambda r: r.at)
