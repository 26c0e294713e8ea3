"""``samverkan serve``: the web app under uvicorn, on a socket bound before it starts.

Binding first turns "the port is taken" into a one-line error (exit 2) instead of
uvicorn's log line and exit 1.
"""

from __future__ import annotations

import signal
import socket
import sys

import uvicorn

from engine.api import queries
from engine.clock import Clock
from engine.db import Database
from notifications.settings import Settings
from rules.errors import InvalidValue
from web.app import create_app

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidValue("port", f"kan inte lyssna på {host}:{port} ({exc.strerror})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(engine: Database, settings: Settings, *, host: str, port: int, clock: Clock | None = None) -> int:
    app = create_app(engine, settings, clock)
    sock = bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    users = queries.user_count(engine)
    print(f"samverkan serve: webben på {url} (Ctrl-C avslutar)", file=sys.stderr, flush=True)
    if not users:
        print(
            "samverkan serve: inga användare ännu; skapa processägaren med "
            "'samverkan user add E-POST --role owner --name NAMN'",
            file=sys.stderr,
            flush=True,
        )
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    server = uvicorn.Server(config)
    # uvicorn stops gracefully on SIGINT/SIGTERM and then raises the signal again for the
    # handler it found; this one lets `serve` end as `run` does: a message and exit 0.
    stopped: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: stopped.append(signum)) for sig in STOP_SIGNALS}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    print("samverkan serve: stoppad", file=sys.stderr, flush=True)
    return 0
