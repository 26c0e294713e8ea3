"""The web: the process owner's dashboard and the one-click follow-up from a reminder mail.

``web.app.create_app`` builds the Starlette application from ``web.http`` (the page
decorator, CSRF, rendering, security headers) and the pages in ``web.pages``, one
module per group; ``web.forms`` reads the follow-up form. ``notifications.links`` makes
and reads the signed follow-up links that the dispatcher puts in reminder, overdue and
escalation mails (it imports no web framework, so the dispatcher can use it);
``samverkan serve`` runs the app with uvicorn (``samverkan.serve``). docs/web.md tells how.
"""
