"""From claimed outbox rows to mails: which notices go out together, rendered and built.

Nothing here touches the outbox's state: notifications.dispatcher claims, sends and
marks. A broken template or a refused header fails only the notices of that mail.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.models import OutboxRow
from notifications import message as mime
from notifications.attachments import deadline_attachment
from notifications.context import LinkMaker, contexts
from notifications.mailers import Outgoing
from notifications.render import Rendered, render
from notifications.settings import Settings


@dataclass
class Prepared:
    ids: list[int]
    outgoing: Outgoing | None
    error: str = ""


@dataclass
class Group:
    """Notices that go out as one mail: one notice, or a recipient's digest of one day."""

    rows: list[OutboxRow]
    contexts: list[dict[str, Any]]


def plan(
    session: Session, rows: list[OutboxRow], settings: Settings, link: LinkMaker | None, now: datetime | None = None
) -> list[Group]:
    """The batch's template contexts (one set of queries for all rows) and its mails: no rendering yet."""
    ctx = contexts(session, rows, link=link, now=now)
    groups: dict[tuple[str, ...], Group] = {}
    for r in rows:
        if settings.digest and len(r.recipients) == 1:
            key: tuple[str, ...] = (r.recipients[0], r.send_at.date().isoformat())
        else:
            key = (f"#{r.id}",)
        group = groups.setdefault(key, Group(rows=[], contexts=[]))
        group.rows.append(r)
        group.contexts.append(ctx[r.id])
    return list(groups.values())


def build(group: Group, settings: Settings, now: datetime) -> list[Prepared]:
    """Render and build the group's mail; a broken template or a refused header fails those notices only."""
    singles: list[tuple[OutboxRow, dict[str, Any], Rendered]] = []
    failed: list[Prepared] = []
    for r, context in zip(group.rows, group.contexts, strict=True):
        try:
            singles.append((r, context, render(r.kind, context, templates_dir=settings.templates_dir)))
        except Exception as exc:  # a user's template may fail in any way
            failed.append(Prepared(ids=[r.id], outgoing=None, error=f"mall: {exc}"))
    if not singles:
        return failed
    return [*failed, _mail(singles, settings, now)]


def _agreements(singles: list[tuple[OutboxRow, dict[str, Any], Rendered]]) -> list[dict[str, Any]]:
    """The agreements a digest's notices come from, in the order of their first notice, each with its owner."""
    seen: dict[str, dict[str, Any]] = {}
    for _, c, _ in singles:
        seen.setdefault(c["agreement"]["id"], {**c["agreement"], "owner": c["owner"]})
    return list(seen.values())


def _mail(singles: list[tuple[OutboxRow, dict[str, Any], Rendered]], settings: Settings, now: datetime) -> Prepared:
    first, context, rendered = singles[0]
    ids = [r.id for r, _, _ in singles]
    kind = first.kind
    attachments = []
    reply_to: str | None = context["owner"]["email"]
    if len(singles) > 1:
        kind = "digest"
        agreements = _agreements(singles)
        items = [{"subject": m.subject, "text": m.text, "agreement": c["agreement"]} for _, c, m in singles]
        context = dict(context, items=items, agreements=agreements)
        if len(agreements) > 1:
            # No one agreement's process owner answers for the others' notices: the body names each.
            reply_to = None if settings.reply_to is None else str(settings.reply_to)
        try:
            rendered = render("digest", context, templates_dir=settings.templates_dir)
        except Exception as exc:
            return Prepared(ids=ids, outgoing=None, error=f"mall: {exc}")
        key = "digest:" + ",".join(r.key for r, _, _ in singles)
    else:
        key = first.key
        ics = deadline_attachment(first, context, now)
        if ics is not None:
            attachments.append(ics)
    try:
        built = mime.build(
            sender=str(settings.sender),
            sender_name=settings.sender_name,
            recipients=first.recipients,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            msg_id=mime.message_id(key, str(settings.sender)),
            sent_at=now,
            kind=kind,
            reply_to=reply_to,
            attachments=attachments,
        )
    except mime.HeaderRefused as exc:
        return Prepared(ids=ids, outgoing=None, error=str(exc))
    return Prepared(ids=ids, outgoing=built)


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
    return [p for group in plan(session, rows, settings, link) for p in build(group, settings, now)]
