"""gunicorn inside a benchmark's server process: the documented layouts (deploy.py
prod-gunicorn: one gthread worker of DEFAULT_GUNICORN_THREADS threads, or with Redis limits
deploy.default_workers() of them) on a port the system picks.

The process that runs `serve_gunicorn` becomes the master; the app is built in the forked
worker (no preload), as `gunicorn run_prod:app` does. The master reports its port as soon as
it listens; the caller then waits for a first answer (the worker's boot).
"""

from __future__ import annotations

from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from gunicorn.app.base import BaseApplication

# The benchmark stops its servers with SIGTERM; requests are short, so do not wait 30 s.
GRACEFUL_TIMEOUT_SECONDS = 5


class EmbeddedGunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn with settings from a dict and the app from a factory called in the worker."""

    def __init__(self, build: Callable[[], Any], options: dict[str, Any]) -> None:
        self._build = build
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._build()


def serve_gunicorn(build: Callable[[], Any], host: str, layout: Any, channel: Connection) -> None:
    """Run the master here until SIGTERM, with `layout`'s workers and threads (a
    bench.servers.Layout); send the listening port through `channel`."""

    def when_ready(server: Any) -> None:
        channel.send(server.LISTENERS[0].sock.getsockname()[1])
        channel.close()

    options = {
        "bind": f"{host}:0",
        "workers": layout.workers,
        "worker_class": "gthread",
        "threads": layout.threads,
        "timeout": 120,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "loglevel": "warning",
        "when_ready": when_ready,
    }
    EmbeddedGunicorn(build, options).run()
