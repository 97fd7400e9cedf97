"""waitress, stopped gracefully (deploy.py prod / prod-waitress).

On SIGTERM (a service manager's stop) or Ctrl-C the server stops accepting connections, closes
the idle ones, and lets every request it has begun finish: a body still arriving, a view still
running, a response still being sent. After DRAIN_SECONDS whatever is left is cut. waitress's
own stop waited 5 s for running views only, so an upload still arriving, or a GET /model
waiting for its conversion (MODEL_WAIT_SECONDS, 10 s), lost its answer.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from waitress import create_server, wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, MultiSocketServer

# As gunicorn's --graceful-timeout in deploy.py: longer than any wait a view makes.
DRAIN_SECONDS = 30.0
SETTLE_SECONDS = 0.5


def serve_gracefully(app: Any, drain_seconds: float = DRAIN_SECONDS, **settings: Any) -> None:
    """waitress.serve's server and loop, until a stop signal; then the drain."""
    logging.basicConfig()  # as waitress.serve: its own lines ("Serving on …") reach stderr
    server = create_server(app, **settings)
    stop = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda _signum, _frame: stop.set())
    server.print_listen("Serving on http://{}:{}")
    sockets = server.map if isinstance(server, MultiSocketServer) else server._map
    loop = {"map": sockets, "use_poll": server.adj.asyncore_use_poll, "count": 1}
    while not stop.is_set():
        wasyncore.loop(timeout=server.adj.asyncore_loop_timeout, **loop)
    _close_listeners(sockets)
    # What clients sent just before the stop is read first: a request is under way only
    # once its first bytes are read, and a connection with none is closed as idle.
    settle = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < settle:
        wasyncore.loop(timeout=0.05, **loop)
    _close_idle(sockets)
    deadline = time.monotonic() + drain_seconds
    while _requests_under_way(sockets) and time.monotonic() < deadline:
        wasyncore.loop(timeout=0.1, **loop)
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
    wasyncore.close_all(sockets)


def _close_listeners(sockets: dict[int, Any]) -> None:
    """No new connections (the trigger the request threads wake the loop with stays)."""
    for dispatcher in list(sockets.values()):
        if isinstance(dispatcher, BaseWSGIServer):
            wasyncore.dispatcher.close(dispatcher)


def _close_idle(sockets: dict[int, Any]) -> None:
    """Connections kept alive between requests: closed by the loop's next turn."""
    for channel in list(sockets.values()):
        if isinstance(channel, HTTPChannel) and not _under_way(channel):
            channel.will_close = True


def _requests_under_way(sockets: dict[int, Any]) -> bool:
    return any(
        isinstance(channel, HTTPChannel) and _under_way(channel)
        for channel in list(sockets.values())
    )


def _under_way(channel: HTTPChannel) -> bool:
    """A request arriving (headers or body), queued or running, or an answer not yet sent."""
    return bool(channel.request is not None or channel.requests or channel.total_outbufs_len)
