"""The pages, one module per group; each page is a ``(Web, Ctx) -> Response`` under web.http's ``page``."""
