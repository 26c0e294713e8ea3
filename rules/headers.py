"""Text that may stand in a mail header: one definition for the file checks and the mail builder.

A title, a unit or party name and a sender name end up in a Subject or a From. CR or LF
would start a new header; Python 3.11.7 and 3.12.1 also write an RFC 2047 encoded word
(``=?utf-8?q?Hej=0D=0ABcc=3A_x=40evil?=``) out as a real header line (CVE-2024-6923,
docs/libraries.md), so the opener ``=?`` is refused too, with every other control
character. The agreement file is checked with this when it is read (engine.agreement),
so a notice is not first accepted and then refused at every delivery attempt.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f]")


def header_problem(value: str) -> str | None:
    """Why ``value`` cannot stand in a mail header (Swedish), or None when it can."""
    if "\r" in value or "\n" in value:
        return "innehåller radbrytning"
    if "=?" in value:
        return "innehåller en kodad ord-sekvens '=?'"
    if _CONTROL.search(value):
        return "innehåller styrtecken"
    return None
