"""*Mina uppföljningar*: the page behind a recipient's own link in a reminder mail.

``/mina/{token}`` needs no sign-in: the token (notifications.links, an inbox token)
names an address, and the page lists every follow-up the units with that address may
record now, across agreements (``engine.api.pages_mine``). Each item leads to the
ordinary follow-up form behind a fresh follow-up link, issued now, with ``?mina=`` so
that the form leads back here once it is recorded (web.pages.followup).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from engine.api import pages_corrections, pages_mine
from notifications.links import PATH, LinkExpired, LinkInvalid, LinkNotYetValid, make_token, read_inbox_token
from web.http import Ctx, Web, page, render
from web.pages.followup import early_link, expired_link, invalid_link


@page(login=False, csrf=False)
def mine(web: Web, ctx: Ctx) -> Response:
    token = ctx.request.path_params["token"]
    try:
        claim = read_inbox_token(web.secret, token, now=ctx.now, lifetime=web.lifetime)
    except LinkNotYetValid as early:
        return early_link(web, ctx, early.issued)
    except LinkInvalid:
        return invalid_link(web, ctx)
    except LinkExpired as exc:
        owners = pages_mine.process_owners_for(web.engine, exc.claim.email)
        whom = " eller ".join(f"{o.name} ({o.email})" for o in owners) or "processägaren"
        return expired_link(web, ctx, whom, "uppföljningarna")
    shown = pages_mine.my_follow_ups(web.engine, claim.email, now=ctx.now)
    back = quote(token, safe="")
    rows = [
        (item, f"{PATH}{make_token(web.secret, item.commitment, item.period, ctx.now)}?mina={back}")
        for item in shown.items
    ]
    # What the recipient reported and may still correct: the same fresh link opens the correction form.
    fixable = [
        (item, f"{PATH}{make_token(web.secret, item.commitment, item.period, ctx.now)}?mina={back}")
        for item in pages_corrections.my_correctable(
            web.engine, claim.email, now=ctx.now, days=web.settings.correction_days
        )
    ]
    return render(web, ctx, "mine.html", mine=shown, rows=rows, fixable=fixable)
