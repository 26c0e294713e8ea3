"""The mailer a delivery uses, by the settings' ``mailer``: smtp, console, or .eml files (the default)."""

from __future__ import annotations

from notifications.mailers import Mailer
from notifications.mailers.console import ConsoleMailer
from notifications.mailers.file import FileMailer
from notifications.mailers.smtp import SmtpMailer
from notifications.settings import Settings


def make_mailer(settings: Settings) -> Mailer:
    if settings.mailer == "smtp":
        return SmtpMailer(settings.smtp)
    if settings.mailer == "console":
        return ConsoleMailer()
    return FileMailer(settings.mail_dir)
