"""How many password checks the web makes: failures per account and per address, and at once.

Every password check (signing in, the current password when changing it) goes through
``SignInThrottle.check``:

* Failures are counted per account (the e-mail as typed, lower-cased, known or not, so
  a lock says nothing about which addresses exist) and per client address, in fixed
  windows of the app's clock (``Web.clock``), so tests and ``serve --from`` move time
  rather than wait. The counts live in ``limits``' in-memory storage; a window is a key
  of its own (``limits`` reads the wall clock inside, which the app must not, so the
  window is chosen here and the storage's own expiry only forgets old windows).
* An attempt is counted before its check and uncounted when the password was right, so
  concurrent guesses cannot overshoot the limit, a successful sign-in never counts,
  and a right password during a lock-out waits like a wrong one: a locked attempt is
  refused (429) before any password is checked, at no cost.
* At most ``concurrent_checks`` checks run at once (each argon2 check takes 64 MiB);
  one more waits up to ``wait_seconds`` for a turn, then is refused (503) uncounted.

One instance keeps its counts in memory; several instances each count on their own
(see the report for what sharing them would take).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from starlette.requests import Request

from engine.clock import Clock
from rules.errors import InvalidValue
from rules.texts import DEFAULT_ZONE

T = TypeVar("T")
# A counted window: its storage key, the key's expiry (seconds), its limit and when it ends.
Counted = tuple[str, int, RateLimitItem, datetime]

ACCOUNT_ENV = "SAMVERKAN_SIGNIN_PER_ACCOUNT"
ADDRESS_ENV = "SAMVERKAN_SIGNIN_PER_ADDRESS"
BUSY_RETRY_SECONDS = 5
_EMAIL_MAX = 320  # a key per typed address: never longer than an address can be


def rate(text: str, where: str) -> RateLimitItem:
    """One limit in ``limits``' notation (``5/15 minutes``), or one Swedish line naming ``where``."""
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        raise InvalidValue(where, f"'{text[:60]}' är ingen gräns (t.ex. 5/15 minutes eller 20/hour)")
    return items[0]


@dataclass(frozen=True)
class SignInLimits:
    """How many failed password checks an account and an address may make, and how many run at once."""

    per_account: str = "5/15 minutes"
    per_address: str = "20/15 minutes"
    concurrent_checks: int = 2
    wait_seconds: float = 5.0
    account: RateLimitItem = field(init=False, repr=False, compare=False)
    address: RateLimitItem = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "account", rate(self.per_account, "per_account"))
        object.__setattr__(self, "address", rate(self.per_address, "per_address"))
        if self.concurrent_checks < 1:
            raise InvalidValue("concurrent_checks", "ska vara minst 1")
        if not 0 <= self.wait_seconds <= 60:
            raise InvalidValue("wait_seconds", "ska vara 0–60 sekunder")

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> SignInLimits:
        env = os.environ if environ is None else environ
        account = env.get(ACCOUNT_ENV, cls.per_account)
        address = env.get(ADDRESS_ENV, cls.per_address)
        rate(account, ACCOUNT_ENV)
        rate(address, ADDRESS_ENV)
        return cls(per_account=account, per_address=address)


class Throttled(Exception):
    """The check was not made: the account or address is locked until ``until``, or all turns were taken."""

    def __init__(self, *, until: datetime | None, retry_after: int) -> None:
        super().__init__(retry_after)
        self.until = until  # None: busy, not locked
        self.retry_after = retry_after


class SignInThrottle:
    def __init__(self, limits: SignInLimits, clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        self._storage = MemoryStorage()
        self._turns = threading.BoundedSemaphore(limits.concurrent_checks)

    def check(self, account: str, address: str, verify: Callable[[], T | None]) -> T | None:
        """``verify()``'s answer (None: a wrong password) if allowed now; else Throttled."""
        now = self.clock.now()
        counted = [
            self._window(self.limits.account, "konto", account.strip().lower()[:_EMAIL_MAX], now),
            self._window(self.limits.address, "adress", address, now),
        ]
        # Counted before the check (every key, no short cut), so concurrent guesses cannot overshoot.
        over = [end for key, expiry, item, end in counted if self._storage.incr(key, expiry) > item.amount]
        if over:
            self._uncount(counted)
            until = max(over)
            raise Throttled(until=until, retry_after=max(1, math.ceil((until - now).total_seconds())))
        if not self._turns.acquire(timeout=self.limits.wait_seconds):
            self._uncount(counted)
            raise Throttled(until=None, retry_after=BUSY_RETRY_SECONDS)
        try:
            answer = verify()
        except BaseException:
            self._uncount(counted)
            raise
        finally:
            self._turns.release()
        if answer is not None:
            self._uncount(counted)
        return answer

    def _window(self, item: RateLimitItem, kind: str, who: str, now: datetime) -> Counted:
        span = item.get_expiry()
        start = math.floor(now.timestamp() / span) * span
        end = datetime.fromtimestamp(start + span, UTC)
        # Kept a window's length in real time after its first failure, which outlasts the window
        # on any clock that runs at the wall clock's pace (the system clock, serve --from).
        return item.key_for(kind, who, str(start)), span, item, end

    def _uncount(self, counted: list[Counted]) -> None:
        for key, _expiry, _item, _end in counted:
            self._storage.decr(key)


def client_address(request: Request) -> str:
    """The client's address as uvicorn gives it (behind a trusted proxy: from X-Forwarded-For)."""
    return request.client.host if request.client is not None else "okänd"


def throttle_of(request: Request) -> SignInThrottle:
    found = request.app.state.sign_in
    assert isinstance(found, SignInThrottle)
    return found


def retry_text(exc: Throttled) -> str:
    """What the refusal page says: when to try again, in Swedish time."""
    if exc.until is None:
        return (
            "Just nu prövas många inloggningar samtidigt. Vänta några sekunder och försök igen. "
            "Försöket har inte räknats."
        )
    minutes = max(1, math.ceil(exc.retry_after / 60))
    at = exc.until.astimezone(DEFAULT_ZONE).strftime("%H:%M")
    return (
        "Det har gjorts för många misslyckade inloggningsförsök för kontot eller från din adress. "
        f"Försök igen kl. {at} (om {minutes} {'minut' if minutes == 1 else 'minuter'}). "
        "Har du glömt lösenordet, be processägaren om ett nytt."
    )
