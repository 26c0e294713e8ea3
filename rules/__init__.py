"""Rules: pure functions of (stored state, now, calendar) that return actions."""
