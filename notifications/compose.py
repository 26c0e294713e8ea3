"""From claimed outbox rows to mails: which notices go out together, rendered and built.

Nothing here touches the outbox's state: notifications.dispatcher claims, sends and
marks. A broken template or a refused header fails only the notices of that mail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from engine.models import OutboxRow
from notifications import grouped
from notifications import message as mime
from notifications.attachments import calendar_attachment, prepare_calendar
from notifications.context import LinkMaker, contexts
from notifications.links import base_url_for
from notifications.mailers import Outgoing
from notifications.render import render, render_subject
from notifications.settings import SenderSettings, Settings
from rules.model import OutboxState

# (address, issued) -> the recipient's personal link to all their follow-ups (notifications.links).
InboxLink = Callable[[str, datetime], str | None]


@dataclass
class Prepared:
    ids: list[int]
    outgoing: Outgoing | None
    error: str = ""
    # Held rows (a calendar CANCEL) that ride along: never sent alone (notifications.dispatcher._mark).
    riders: frozenset[int] = frozenset()
    # Only riders, their mail gone (its notices withdrawn): they wait for the next one.
    orphan: bool = False


@dataclass
class Group:
    """Notices that go out as one mail: one notice, or everything due for one address."""

    rows: list[OutboxRow] = field(default_factory=list)
    contexts: list[dict[str, Any]] = field(default_factory=list)
    riders: list[tuple[OutboxRow, dict[str, Any]]] = field(default_factory=list)
    inbox_url: str | None = None


def plan(
    session: Session,
    rows: list[OutboxRow],
    settings: Settings,
    link: LinkMaker | None,
    now: datetime | None = None,
    inbox: InboxLink | None = None,
) -> list[Group]:
    """The batch's template contexts (one set of queries for all rows) and its mails: no rendering yet.

    With ``settings.digest`` (the default) the notices of one address (rules.model.group_key)
    are one mail; the dispatcher's claim has already taken all of that address's due ones.
    """
    if not rows:
        return []
    ctx = contexts(session, rows, link=link, now=now)
    # Each event's SEQUENCE, stamped through the session: the dispatcher commits it.
    prepare_calendar(session, rows, ctx, now or max(r.send_at for r in rows))
    base = base_url_for(settings)
    for c in ctx.values():
        c["overdue_url"] = f"{base}/forsenat" if base else None
        c["accessibility_url"] = f"{base}/tillganglighet" if base else None  # every HTML mail's footer
        # The commitment's page: a deviation's button in the grouped mail.
        c["commitment_url"] = f"{base}/atagande/{quote(c['commitment']['id'])}" if base and c["commitment"] else None
    groups: dict[str, Group] = {}
    riders: dict[str, list[OutboxRow]] = {}
    for r in rows:
        if r.state == OutboxState.HELD or r.kind == "calendar_cancel":
            riders.setdefault(r.group_key or "", []).append(r)
            continue
        key = r.group_key if settings.digest and r.group_key else f"#{r.id}"
        group = groups.setdefault(key, Group())
        group.rows.append(r)
        group.contexts.append(ctx[r.id])
    for key, held in riders.items():
        # With one mail per notice, the first mail to the address carries them.
        to = groups.get(key) or next((g for g in groups.values() if g.rows and g.rows[0].group_key == key), None)
        if to is None:
            to = groups.setdefault(f"orphan:{key}", Group())
        to.riders += [(r, ctx[r.id]) for r in held]
    for group in groups.values():
        asks = [r for r in group.rows if r.kind in _ASKS and r.group_key]
        if inbox is not None and asks:
            # Issued at the notices' own time: a mail sent again carries the same link.
            group.inbox_url = inbox(asks[0].group_key or "", min(r.send_at for r in asks))
            for c in group.contexts:
                c["inbox_url"] = group.inbox_url
    return list(groups.values())


# The notices that ask the recipient to report: their mail links to all the recipient's follow-ups.
_ASKS = ("reminder", "overdue")


def build(group: Group, settings: Settings, now: datetime) -> list[Prepared]:
    """Render and build the group's mail; a broken template or a refused header fails that mail only."""
    riders = frozenset(r.id for r, _ in group.riders)
    ids = [r.id for r in group.rows] + sorted(riders)
    if not group.rows:
        return [Prepared(ids=ids, outgoing=None, riders=riders, orphan=True)]
    first, context = group.rows[0], group.contexts[0]
    kind = first.kind
    agreements = _agreements(group.contexts)
    try:
        if len(group.rows) == 1:
            rendered = render(kind, context, templates_dir=settings.templates_dir)
            key = first.key
        else:
            kind = "digest"
            context = digest_context(group.contexts, group.inbox_url, settings.templates_dir)
            rendered = render("digest", context, templates_dir=settings.templates_dir)
            key = "digest:" + ",".join(r.key for r in group.rows)
    except Exception as exc:  # a user's template may fail in any way
        return [Prepared(ids=ids, outgoing=None, error=f"mall: {exc}", riders=riders)]
    attachments = [a for a in [_calendar(group, now)] if a is not None]
    sender, sender_name, reply_to = _sender(settings, agreements, kind)
    try:
        built = mime.build(
            sender=sender,
            sender_name=sender_name,
            recipients=first.recipients,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            # From the settings' address, not the agreement's: a changed sender keeps the Message-ID.
            msg_id=mime.message_id(key, str(settings.sender)),
            sent_at=now,
            kind=kind,
            reply_to=reply_to,
            attachments=attachments,
        )
    except mime.HeaderRefused as exc:
        return [Prepared(ids=ids, outgoing=None, error=str(exc), riders=riders)]
    return [Prepared(ids=ids, outgoing=built, riders=riders)]


def _calendar(group: Group, now: datetime) -> mime.Attachment | None:
    """One .ics with every deadline of the mail's notices and the cancellations riding with it."""
    return calendar_attachment([*zip(group.rows, group.contexts, strict=True), *group.riders], now)


def digest_context(
    group_contexts: list[dict[str, Any]], inbox_url: str | None = None, templates_dir: Path | None = None
) -> dict[str, Any]:
    """The grouped mail's context: the first notice's, with ``group``, ``items`` and ``agreements``.

    ``group``: subject, count, sections (each a title — the förvaltning in a process
    owner's mail, else None — its contact and its entries, notifications.grouped.Item
    as dicts), owner (the mail holds escalations or deviations), asks (it asks the
    recipient to report), links, weekly (the subject lines of the weekly summaries
    folded in), inbox_url (Mina uppföljningar) and overdue_url (the web's review).
    """
    base = group_contexts[0]
    agreements = _agreements(group_contexts)
    listed = [c for c in group_contexts if c["notice"]["kind"] != "weekly_summary"]
    weekly = [
        {
            "agreement": c["agreement"]["title"],
            "subject": render_subject("weekly_summary", c, templates_dir=templates_dir),
        }
        for c in group_contexts
        if c["notice"]["kind"] == "weekly_summary"
    ]
    items = [grouped.item(c, c.get("commitment_url")) for c in listed]
    sections = grouped.as_context(grouped.sections(items))
    flat = [i for s in sections for i in s["entries"]]
    return dict(
        base,
        items=flat,
        agreements=agreements,
        group={
            "subject": grouped.subject(items, listed, weekly=len(weekly)),
            "count": len(items),
            "sections": sections,
            "owner": bool(weekly) or any(i.kind in ("escalation", "deviation") for i in items),
            "asks": any(i.kind in _ASKS for i in items),
            "links": bool(inbox_url) or any(i.url for i in items),
            "weekly": weekly,
            "inbox_url": inbox_url,
            "overdue_url": base["overdue_url"],
        },
    )


def _agreements(group_contexts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The agreements a mail's notices come from, in the order of their first notice, each with its owner."""
    seen: dict[str, dict[str, Any]] = {}
    for c in group_contexts:
        seen.setdefault(c["agreement"]["id"], {**c["agreement"], "owner": c["owner"]})
    return list(seen.values())


def _sender(settings: Settings, agreements: list[dict[str, Any]], kind: str) -> tuple[str, str, str | None]:
    """From, its name and Reply-To: the agreement's own (settings, then its file), else the settings'.

    A mail that mixes agreements comes from the settings' sender and names each process
    owner in its body: no one agreement's owner answers for the others' notices.
    """
    if len(agreements) != 1 or kind == "delivery_failed":
        # A delivery failure comes from the settings' sender: the agreement's own may be what failed.
        return str(settings.sender), settings.sender_name, None if settings.reply_to is None else str(settings.reply_to)
    a = agreements[0]
    own = settings.agreements.get(a["id"]) or SenderSettings()
    file = a.get("mail") or {}
    sender = own.sender or file.get("sender") or settings.sender
    name = own.sender_name or file.get("sender_name") or settings.sender_name
    reply_to = own.reply_to or file.get("reply_to") or a["owner"]["email"]
    return str(sender), str(name), str(reply_to)


def built(groups: list[Group], settings: Settings, now: datetime, into: list[Prepared]) -> Iterator[Outgoing]:
    """The batch's mails, each built when the mailer takes it; every outcome is kept in ``into``.

    Lazy, so that a mail is rendered while the server is busy with the ones already sent:
    built all at once, the server waits for the whole batch to be rendered, then the
    client waits for the server (bench/mail.py).
    """
    for group in groups:
        for p in build(group, settings, now):
            into.append(p)
            if p.outgoing is not None:
                yield p.outgoing


def prepare(
    session: Session, rows: list[OutboxRow], settings: Settings, now: datetime, link: LinkMaker | None
) -> list[Prepared]:
    """Every mail of a batch, built at once (bench/mail.py builds its ceiling's messages with this)."""
    return [p for group in plan(session, rows, settings, link, now) for p in build(group, settings, now)]
