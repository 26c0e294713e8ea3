"""Each lifecycle state's CSS class and colour, the same in the yearly report and on the web pages.

Planerad blå, pågående orange, uppföljd grön, reviderad lila, avslutad grå.
"""

from __future__ import annotations

from rules import lifecycle

STATE_CLASS: dict[str, str] = {
    lifecycle.PLANERAD: "planerad",
    lifecycle.PAGAENDE: "pagaende",
    lifecycle.UPPFOLJD: "uppfoljd",
    lifecycle.REVIDERAD: "reviderad",
    lifecycle.AVSLUTAD: "avslutad",
}
STATE_COLOUR: dict[str, str] = {
    lifecycle.PLANERAD: "#2563eb",
    lifecycle.PAGAENDE: "#b45309",  # white text 5.0:1; #d97706 was 3.2:1, under AA
    lifecycle.UPPFOLJD: "#15803d",
    lifecycle.REVIDERAD: "#7e22ce",
    lifecycle.AVSLUTAD: "#6b7280",
}


def state_css(state: str) -> str:
    """The CSS class of ``state`` (``st-<class>`` in the stylesheets); a state not in the table looks avslutad."""
    return STATE_CLASS.get(state, "avslutad")
