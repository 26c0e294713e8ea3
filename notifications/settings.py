"""Delivery settings: which mailer, how to reach the SMTP server, retries, grouping, senders.

Read from a YAML file (``--settings FILE`` or ``SAMVERKAN_SETTINGS``); without one the
defaults hold: mail is written as .eml files to ``./outbox`` (the embedded default).
A password is never in the file: ``smtp.password_env`` names the environment variable
that holds it, and ``oidc.client_secret_env`` the one with the single sign-on client secret.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from engine import agreement_yaml
from notifications.message import HeaderRefused, check_header
from rules import correction
from rules.errors import AgreementFileError, InvalidValue, Problem

# A display name longer than this is no name; RFC 5322 would also have to fold it.
MAX_SENDER_NAME = 100


def _display_name(value: str) -> str:
    """A sender name that every mail's From can carry, checked when the settings are read.

    Refused at delivery, it failed every notice for good (notifications.message.check_header
    refuses CR, LF, control characters and an encoded word's '=?').
    """
    try:
        check_header("From", value)
    except HeaderRefused as exc:
        raise ValueError(str(exc)) from None
    if len(value) > MAX_SENDER_NAME:
        raise ValueError(f"högst {MAX_SENDER_NAME} tecken, inte {len(value)}")
    return value


SenderName = Annotated[str, AfterValidator(_display_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmtpSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    # starttls in production: a server that drops STARTTLS is refused, not silently used in clear.
    security: Literal["none", "starttls", "tls"] = "none"
    user: str | None = None
    password_env: str | None = Field(default=None, description="environment variable holding the password")
    timeout_seconds: float = Field(default=30, gt=0)
    connections: int = Field(default=4, ge=1, le=64)
    validate_certs: bool = True

    def password(self) -> str | None:
        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise InvalidValue("smtp.password_env", f"miljövariabeln {self.password_env} är inte satt")
        return value


class SenderSettings(_Strict):
    """One agreement's sender; a key left out falls back to its agreement file, then to the settings."""

    sender: EmailStr | None = None
    sender_name: SenderName | None = None
    reply_to: EmailStr | None = None


# Plain http only to this machine (a provider in a test, or behind a local proxy); anything
# else would carry the authorization code and the id token in clear.
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _provider_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return value
    raise ValueError("ska vara en https://-adress (http:// bara till 127.0.0.1 eller localhost)")


ProviderUrl = Annotated[str, AfterValidator(_provider_url)]
OIDC_SECRET_ENV = "SAMVERKAN_OIDC_CLIENT_SECRET"


def _secret_not_here(value: object) -> None:
    raise ValueError(
        "hemligheten hör inte hemma i filen: lägg den i miljövariabeln som client_secret_env anger "
        f"(standard {OIDC_SECRET_ENV})"
    )


class OidcSettings(_Strict):
    """Sign-in with an OpenID Connect provider (docs/web.md, "Logga in med organisationens konto")."""

    issuer: ProviderUrl
    client_id: str = Field(min_length=1, max_length=200)
    # Default: the issuer's /.well-known/openid-configuration (what Entra ID and most providers serve).
    discovery_url: ProviderUrl | None = None
    client_secret_env: str = Field(default=OIDC_SECRET_ENV, min_length=1)
    # The button reads "Logga in med <label>".
    label: SenderName = "organisationens konto"
    # Which claim of the verified id token is the address matched against the users' e-mail.
    email_claim: Literal["email", "preferred_username", "upn"] = "email"
    # Only to say where the secret goes instead (on its own line); any value is refused.
    client_secret: Annotated[None, BeforeValidator(_secret_not_here)] = Field(default=None, exclude=True, repr=False)

    @property
    def discovery(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def secret(self) -> str:
        value = os.environ.get(self.client_secret_env)
        if not value:
            raise InvalidValue("oidc.client_secret_env", f"miljövariabeln {self.client_secret_env} är inte satt")
        return value


class AccessibilitySettings(_Strict):
    """Whom the accessibility statement (/tillganglighet) tells a reader to report inaccessibility to.

    DIGG's model statement asks for a concrete way to reach the organisation: an address, and a
    phone number or a contact form. The defaults are placeholders, like the sender's, to be set
    before the service goes live (docs/operations.md).
    """

    email: EmailStr = "tillganglighet@samverkan.example"
    phone: str | None = Field(default=None, max_length=40)
    form_url: ProviderUrl | None = None  # a contact form, if the organisation has one
    # When the statement was last reviewed against the service; None: the date the release states.
    reviewed: date | None = None


class Settings(_Strict):
    mailer: Literal["file", "smtp", "console"] = "file"
    mail_dir: Path = Path("outbox")
    sender: EmailStr = "samverkan@samverkan.example"
    sender_name: SenderName = "Samverkan"
    # Reply-To of a digest whose notices come from several agreements (else none); a mail
    # from one agreement is answered by its process owner.
    reply_to: EmailStr | None = None
    templates_dir: Path | None = None
    # One mail per address and send slot (notifications.compose); false: one mail per notice.
    digest: bool = True
    # Per agreement id: its own sender name, From and Reply-To.
    agreements: dict[str, SenderSettings] = Field(default_factory=dict)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    max_attempts: int = Field(default=8, ge=1)
    backoff_seconds: float = Field(default=60, gt=0)
    backoff_max_seconds: float = Field(default=6 * 3600, gt=0)
    batch_size: int = Field(default=200, ge=1)
    # A claim older than this is taken to be from a dispatcher that died before marking.
    lease_seconds: float = Field(default=600, gt=0)
    base_url: str | None = None
    # Single sign-on; without it only the password sign-in is offered.
    oidc: OidcSettings | None = None
    # How many days after a follow-up is first recorded the unit may correct it itself (on
    # the web, through its link); after that only the process owner can (rules.correction).
    correction_days: int = Field(default=correction.DEFAULT_DAYS, ge=0, le=365)
    # Gallring of the outbox (engine.prune, docs/operations.md): ``run`` moves the notices
    # older than this many days into a file of ``outbox_archive_dir`` every night. Off unless
    # set: what is kept, and for how long, is the municipality's decision.
    outbox_archive_dir: Path | None = None
    outbox_keep_days: int | None = Field(default=None, ge=1, le=36500)

    @field_validator("outbox_keep_days")
    @classmethod
    def _needs_a_folder(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("outbox_archive_dir") is None:
            raise ValueError("kräver outbox_archive_dir, mappen där gallringens arkivfiler sparas")
        return value

    # The accessibility statement's contact for reporting inaccessibility (web /tillganglighet).
    accessibility: AccessibilitySettings = Field(default_factory=AccessibilitySettings)


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from ``path``, else ``$SAMVERKAN_SETTINGS``, else the defaults.

    Read as the agreement file is (engine.agreement_yaml): a regular file under its size
    cap, no anchors or aliases, duplicate keys refused, every problem as FILE:LINE in Swedish.
    """
    where = path or os.environ.get("SAMVERKAN_SETTINGS")
    if not where:
        return Settings()
    try:
        data, lines, duplicates = agreement_yaml.load(agreement_yaml.read_text(where), str(where))
    except AgreementFileError as exc:
        raise _first(exc.problems) from None
    if duplicates:
        raise _first(duplicates)
    if data is not None and not isinstance(data, dict):
        raise InvalidValue(f"{where}:1", "ska vara en mappning (nyckel: värde)")
    if data and not set(data) & set(Settings.model_fields):
        # Some other file (a symlink to /etc/shadow reads as a mapping): none of it quoted back.
        raise InvalidValue(
            f"{where}:1",
            "är ingen inställningsfil: den har ingen av samverkans inställningar (t.ex. mailer, sender, smtp)",
        )
    try:
        return Settings.model_validate(data or {})
    except ValidationError as exc:
        # In the agreement file's words, on its line (engine.agreement_yaml): FILE:LINE: message.
        err = exc.errors()[0]
        line = agreement_yaml.line_for(lines, tuple(err["loc"]), key=err["type"] in ("extra_forbidden", "missing"))
        raise InvalidValue(f"{where}:{line}", agreement_yaml.message(err)) from None


def _first(problems: list[Problem]) -> InvalidValue:
    # A setting is one value: the first problem, as FILE:LINE and its message.
    p = min(problems, key=lambda p: p.line)
    return InvalidValue(f"{p.file}:{p.line}", p.message)
