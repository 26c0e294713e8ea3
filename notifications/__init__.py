"""Notifications: templates, the outbox and the mailers (built in a later issue)."""
