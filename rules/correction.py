"""How long the unit that reported may correct its own follow-up: a pure rule, in local days.

The process owner corrects a recorded follow-up at any time. The responsible unit (signed
in, or through the link in its mail) may correct it itself for ``days`` days after it
was first recorded, counted in the agreement's local dates: recorded on 1 March with 14
days, it may be corrected through 15 March. The window is counted from the first
recording, not the latest correction, so a unit cannot keep it open by correcting again.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_DAYS = 14


def last_day(first_recorded: datetime, days: int, zone: ZoneInfo) -> date:
    """The last local date on which the unit may correct a follow-up first recorded at ``first_recorded``."""
    return first_recorded.astimezone(zone).date() + timedelta(
        days=days
    )  # whole local days: no month or year is involved


def is_open(first_recorded: datetime, days: int, zone: ZoneInfo, now: datetime) -> bool:
    return now.astimezone(zone).date() <= last_day(first_recorded, days, zone)
