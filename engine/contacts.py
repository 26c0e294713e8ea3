"""A unit's name, e-mail or contact person changed in the browser: the next plan version, exactly as an edited file.

The current plan version's document is changed in the one unit, validated as an agreement
file is (the schema and ``cross_check``, so the same refusals apply) and loaded through
``engine.plan.load_plan``, the path ``samverkan init`` takes: the same version number, the
same config hash, the same list of changes. Notices already queued for the old address and
not yet handed to a mail server (pending, held) go to the new one; a notice being sent at
that moment (sending) was already addressed and keeps its address.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import agreement_yaml
from engine.agreement import Agreement, validate_document
from engine.models import AgreementRow, Commitment, OutboxRow, PlanVersion
from engine.plan import load_plan
from rules.errors import AgreementFileError, InvalidValue, NotFound
from rules.headers import header_problem
from rules.model import OutboxState, group_key

_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)
# Not yet handed to a mail server: what a changed address still reaches.
UNSENT = (OutboxState.PENDING, OutboxState.HELD)


@dataclass(frozen=True, kw_only=True)
class ContactChange:
    agreement_id: str
    unit: str
    plan_version: int
    changes: list[str]
    old_name: str
    new_name: str
    old_email: str
    new_email: str
    old_contact_name: str | None
    new_contact_name: str | None
    moved: int  # queued notices now addressed to the new address


def check_name(name: str) -> str:
    """The unit's name as the file would hold it, or InvalidValue("name", …)."""
    name = name.strip()
    if not name:
        raise InvalidValue("name", "ange enhetens namn")
    why = header_problem(name)
    if why is not None:
        raise InvalidValue("name", f"namnet {why}; det står i e-postens rubrikfält")
    return name


def check_contact_name(contact_name: str) -> str | None:
    """The contact person's name as the file would hold it (None: left out), or InvalidValue("contact_name", …)."""
    contact_name = contact_name.strip()
    if not contact_name:
        return None
    why = header_problem(contact_name)
    if why is not None:
        raise InvalidValue("contact_name", f"kontaktpersonens namn {why}; det står i e-postens rubrikfält")
    return contact_name


def check_email(email: str) -> str:
    """The address as the file's schema accepts it (the same validator), or InvalidValue("email", …)."""
    email = email.strip()
    if not email:
        raise InvalidValue("email", "ange enhetens e-postadress")
    try:
        return str(_EMAIL.validate_python(email))
    except ValidationError:
        raise InvalidValue("email", f"{agreement_yaml.quote(email)} är ingen giltig e-postadress") from None


def change_unit(
    session: Session,
    agreement_id: str,
    unit_id: str,
    *,
    name: str,
    email: str,
    by: str,
    now: datetime,
    contact_name: str | None = None,
) -> ContactChange:
    """Give ``unit_id`` a new name, e-mail and contact person as the next plan version; the caller
    owns the transaction. ``contact_name`` None keeps the contact person; empty text removes it."""
    problems: dict[str, InvalidValue] = {}
    checks: list[tuple[str, Callable[[str], object], str]] = [("name", check_name, name), ("email", check_email, email)]
    if contact_name is not None:
        checks.append(("contact_name", check_contact_name, contact_name))
    for key, check, value in checks:
        try:
            check(value)
        except InvalidValue as exc:
            problems[key] = exc
    if problems:
        raise next(iter(problems.values())) if len(problems) == 1 else UnitFormInvalid(problems)
    row = session.get(AgreementRow, agreement_id, with_for_update=True)
    if row is None:
        raise NotFound("överenskommelse", agreement_id)
    current = session.get(PlanVersion, (agreement_id, row.plan_version))
    document = copy.deepcopy(current.document if current is not None else row.document)
    unit = next((u for u in document.get("units", []) if u.get("id") == unit_id), None)
    if unit is None:
        raise NotFound("enhet", unit_id)
    old_name, old_email = str(unit["name"]), str(unit["email"])
    old_contact = unit.get("contact_name")
    unit["name"], unit["email"] = name.strip(), email.strip()
    if contact_name is not None:
        # Left out when empty, as a file without the key: the same document, so the same hash.
        unit.pop("contact_name", None)
        if check_contact_name(contact_name) is not None:
            unit["contact_name"] = contact_name.strip()
    agreement = _validated(document)
    result = load_plan(session, agreement, now=now, by=by)
    new = agreement.unit(unit_id)
    shared = any(u.id != unit_id and str(u.email).lower() == old_email.lower() for u in agreement.units)
    moved = (
        _readdress(session, agreement_id, unit_id if shared else None, old_email, str(new.email))
        if result.changes
        else 0
    )
    return ContactChange(
        agreement_id=agreement_id,
        unit=unit_id,
        plan_version=result.plan_version,
        changes=result.changes,
        old_name=old_name,
        new_name=new.name,
        old_email=old_email,
        new_email=str(new.email),
        old_contact_name=None if old_contact is None else str(old_contact),
        new_contact_name=new.contact_name,
        moved=moved,
    )


class UnitFormInvalid(InvalidValue):
    """More than one field refused at once: each is shown beside its own field."""

    def __init__(self, problems: dict[str, InvalidValue]) -> None:
        self.problems = problems
        super().__init__("unit", "; ".join(p.message for p in problems.values()))


def _validated(document: dict[str, Any]) -> Agreement:
    """The changed document as an agreement, refused as ``init`` would refuse the same file."""
    try:
        return validate_document(document, {}, "planen")
    except AgreementFileError as exc:
        raise InvalidValue("unit", "; ".join(p.message for p in exc.problems)) from None


def _readdress(session: Session, agreement_id: str, only_unit: str | None, old: str, new: str) -> int:
    """Point this agreement's unsent notices for ``old`` at ``new`` (and their grouping with them).

    ``only_unit``: another unit keeps ``old`` (one mailbox for two units), so only the notices
    about this unit's own commitments move; the other unit's stay at the address it still has.
    """
    if old.strip().lower() == new.strip().lower():
        return 0
    moved = 0
    query = select(OutboxRow).where(OutboxRow.agreement_id == agreement_id, OutboxRow.state.in_(UNSENT))
    if only_unit is not None:
        own = select(Commitment.id).where(Commitment.agreement_id == agreement_id, Commitment.responsible == only_unit)
        query = query.where(OutboxRow.commitment_id.in_(own))
    # A worker claiming one of them meanwhile waits (PostgreSQL), so none is sent to the old address.
    rows = session.scalars(query.with_for_update())
    for r in rows:
        recipients = [new if str(a).strip().lower() == old.strip().lower() else a for a in r.recipients]
        if recipients != r.recipients:
            r.recipients = recipients
            r.group_key = group_key(r.kind, recipients)
            moved += 1
    session.flush()
    return moved
