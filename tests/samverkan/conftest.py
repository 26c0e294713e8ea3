"""The composition root's tests: the CLI, ``run`` and ``serve``, end to end.

They use the mail tests' SMTP server (``smtp_server``) and the web tests' Borås
with users (``boras_due``, ``kit``) and their autouse fixtures, shared from those
conftests rather than copied, so the two stay one definition each.
"""

from __future__ import annotations

from tests.notifications.conftest import smtp_server
from tests.web.conftest import _cheap_password_hashes, _no_secret_from_the_environment, boras_due, kit

__all__ = [
    "_cheap_password_hashes",
    "_no_secret_from_the_environment",
    "boras_due",
    "kit",
    "smtp_server",
]
