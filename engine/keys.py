"""The one secret that signs session cookies and mail links.

``SAMVERKAN_SECRET`` (at least 32 characters) wins; without it a random secret is made
once and kept in the database (table ``web_secrets``), so links in mails already sent
stay valid across restarts and every instance on a shared PostgreSQL signs alike.
Purposes are kept apart by itsdangerous salts, never by separate secrets.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from engine import db
from engine.models import WebSecret
from rules.errors import InvalidValue

ENV = "SAMVERKAN_SECRET"
NAME = "signing"
MIN_LENGTH = 32


def load_secret(engine: Engine, *, environ: dict[str, str] | None = None) -> str:
    """The signing secret: from the environment, else from the database (made on first use)."""
    env = os.environ if environ is None else environ
    given = env.get(ENV)
    if given is not None:
        if len(given.strip()) < MIN_LENGTH:
            raise InvalidValue(ENV, f"ska vara minst {MIN_LENGTH} tecken långt (t.ex. från 'openssl rand -hex 32')")
        return given.strip()
    with db.transaction(engine) as session:
        found = session.scalar(select(WebSecret.value).where(WebSecret.name == NAME))
    if found is not None:
        return found
    try:
        with db.transaction(engine) as session:
            session.add(WebSecret(name=NAME, value=secrets.token_urlsafe(48), created_at=datetime.now(UTC)))
    except IntegrityError:
        pass  # another instance made it first: use theirs
    with db.transaction(engine) as session:
        value = session.scalar(select(WebSecret.value).where(WebSecret.name == NAME))
    assert value is not None
    return value
