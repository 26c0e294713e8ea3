"""The project's errors: one base class, each subclass keeps its context.

Every error a person can cause (a bad file, an unknown id, an illegal move) is a
``SamverkanError``; the CLI turns it into one Swedish line and exit code 2.
Anything else is a bug and is allowed to show a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class SamverkanError(Exception):
    """Base of every error caused by input rather than by a bug."""

    def lines(self) -> list[str]:
        """The error as the lines a person reads (Swedish)."""
        return [str(self)]


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One problem found in an agreement file, with where it is."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class AgreementFileError(SamverkanError):
    """An agreement file that cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class TransitionNotAllowed(SamverkanError):
    """A lifecycle move that the table does not allow from the current state."""

    def __init__(self, commitment: str, trigger: str, state: str) -> None:
        self.commitment = commitment
        self.trigger = trigger
        self.state = state
        super().__init__(f"åtagande {commitment}: övergången '{trigger}' är inte tillåten från tillståndet '{state}'")


class UnknownTrigger(SamverkanError):
    def __init__(self, trigger: str, known: tuple[str, ...]) -> None:
        self.trigger = trigger
        super().__init__(f"okänd övergång '{trigger}' (giltiga: {', '.join(known)})")


class UnknownState(SamverkanError):
    def __init__(self, state: str, known: tuple[str, ...]) -> None:
        self.state = state
        super().__init__(f"okänt tillstånd '{state}' (giltiga: {', '.join(known)})")


class NotFound(SamverkanError):
    """An id (commitment, unit, party, agreement) that the database does not hold."""

    def __init__(self, what: str, key: str, hint: str = "") -> None:
        self.what = what
        self.key = key
        super().__init__(f"okänt {what} '{key}'" + (f" ({hint})" if hint else ""))


class InvalidValue(SamverkanError):
    """A value a person gave (an option, a form field, a setting) that cannot be used.

    ``field`` names the value in the engine's own words (``by``, ``period``, ``agreement``;
    a setting by its key or variable, ``SAMVERKAN_LINK_DAYS``). Each edge says it in its
    own: the CLI as ``--by`` or ``ÅTAGANDE`` (samverkan.cli.common.spell), the web as the
    form field next to which the message is shown. ``message`` is the Swedish text alone.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class DatabaseNotReady(SamverkanError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"databasen {url}: {reason}")


class SimulationStuck(SamverkanError):
    """``simulate`` found the engine unable to move past an instant (a bug or an impossible file)."""

    def __init__(self, agreement: str, at: str) -> None:
        self.agreement = agreement
        self.at = at
        super().__init__(f"simuleringen av överenskommelsen {agreement} kommer inte vidare från {at}")
