"""The composition root: the only package that wires every layer together.

``samverkan.cli`` is the command line (``samverkan = samverkan.cli:run``), ``samverkan.run``
the long-running tick-and-deliver loop, ``samverkan.serve`` the web app under uvicorn.
Nothing below this package imports it (docs/architecture.md).
"""
