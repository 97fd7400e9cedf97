"""The servers under test, each in its own process: our app and a bare Flask app.

Both run under the same server with the same settings (a `Layout`: waitress, or gunicorn's
documented layout); the bare app replays bytes fetched once from ours, so any difference is
what our app does around the body.
"""

from __future__ import annotations

import functools
import http.client
import logging
import multiprocessing
import os
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import waitress
from flask import Flask, Response, request

HOST = "127.0.0.1"
THREADS = 4
START_TIMEOUT_SECONDS = 60
# A benchmark client is one address sending thousands of requests a second: the default
# limit (3000 a minute) would answer 429. The limiter still runs, so its cost is counted.
BENCH_RATE_LIMIT = "100000000 per minute"


@dataclass(frozen=True)
class Served:
    """One body as our app sends it: the bytes, the ETag value (unquoted; "" for none) and
    the Content-Encoding (None: identity)."""

    body: bytes
    etag: str
    encoding: str | None = None


@dataclass(frozen=True)
class Layout:
    """Which server runs an app, with how many threads (per gunicorn gthread worker) and
    gunicorn workers; `limits` is the rate-limit storage ours counts in (None: the default,
    memory://, which deploy.py runs in one worker only)."""

    server: str = "waitress"
    threads: int = THREADS
    workers: int = 1
    limits: str | None = None
    share_list: bool = True  # gunicorn: ours' workers share the whole list (utils.host_bodies)


def _key(path: str, query: bytes) -> str:
    return path + ("?" + query.decode("latin-1") if query else "")


def replay_app(bodies: dict[str, Served], gzipped: dict[str, Served] | None = None) -> Flask:
    """The least Flask can do for the same URLs (path and query, any method): the fixed bytes
    ours sent, with their ETag and conditional GET; the gzip bytes for a client accepting them."""
    app = Flask("bare")
    compressed = gzipped or {}

    @app.route("/", defaults={"path": ""}, methods=["GET", "PUT", "POST"])
    @app.route("/<path:path>", methods=["GET", "PUT", "POST"])
    def replay(path: str) -> Response:
        key = _key(request.path, request.query_string)
        accepts = "gzip" in request.headers.get("Accept-Encoding", "")
        served = (compressed.get(key) if accepts else None) or bodies.get(key)
        if served is None:  # /health, as the readiness probe asks
            return Response(status=404)
        response = Response(served.body, mimetype="application/json")
        if served.encoding:
            response.headers["Content-Encoding"] = served.encoding
            response.headers["Vary"] = "Accept-Encoding"
        if served.etag:
            response.set_etag(served.etag)
        return response.make_conditional(request)

    return app


def our_settings(database_url: str, folder: str) -> dict[str, Any]:
    """Overrides for create_app('testing', ...) pointing at the benchmark database."""
    return {
        "DATABASE_URL": database_url,
        "UPLOAD_FOLDER": os.path.join(folder, "uploads"),
        "FRONTEND_DIST": os.path.join(folder, "dist"),
        "RATELIMIT_DEFAULT": BENCH_RATE_LIMIT,
    }


def bare_app(parts_list: Served, parts: dict[int, Served]) -> Flask:
    """The bare app for the list and single parts (bench_parts_api's two URLs)."""
    bodies = {f"/api/parts/{part_id}": served for part_id, served in parts.items()}
    return replay_app({"/api/parts/": parts_list, **bodies})


def _serve(app: Any, channel: Connection, threads: int = THREADS) -> None:
    # With more clients than threads waitress queues requests by design; say so only once.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = waitress.create_server(app, host=HOST, port=0, threads=threads)
    channel.send(server.effective_port)
    channel.close()
    server.run()


def _run(build: Any, layout: Layout, channel: Connection) -> None:
    """A server process's body: the app from `build` under `layout`'s server."""
    if layout.server == "gunicorn":
        from bench.gunicorn_server import serve_gunicorn
        from utils.host_bodies import make_run_folder, remove_run_folder

        # As gunicorn.conf.py does: a folder of this run where ours' workers share the list.
        folder, master = make_run_folder() if layout.share_list else None, os.getpid()
        os.environ["HOST_BODIES_FOLDER"] = str(folder or "")
        try:
            serve_gunicorn(build, HOST, layout, channel)
        finally:
            if folder is not None and os.getpid() == master:  # a worker's exit unwinds here too
                remove_run_folder(folder)
    else:
        _serve(build(), channel, layout.threads)


# The read path's speed tricks (app.read_path) that bench_tricks turns off one at a time.
TRICKS = ("list_bodies", "part_bodies", "revision_outside_pool", "no_cookie_session")


def without_trick(app: Flask, trick: str) -> Flask:
    """Our app with one speed trick of the read path off (bench_tricks measures each)."""
    from dataclasses import replace

    from flask.sessions import SecureCookieSessionInterface

    from models.base import db
    from utils.parts_cache import PartsCache, Tricks

    if trick == "no_cookie_session":
        app.session_interface = SecureCookieSessionInterface()
        return app
    app.extensions["parts_cache"].close()
    with app.app_context():
        engine = db.engine
    app.extensions["parts_cache"] = PartsCache(engine, replace(Tricks(), **{trick: False}))
    return app


def _build_ours(settings: dict[str, Any], trick: str | None) -> Flask:
    from app import create_app
    from app.startup import start_serving

    # The testing config reads no environment: the master's folder (_run) comes in here.
    shared = {"HOST_BODIES_FOLDER": os.environ.get("HOST_BODIES_FOLDER", "")}
    app = start_serving(create_app("testing", {**settings, **shared}))
    return without_trick(app, trick) if trick else app


class ServerProcess:
    """A waitress server in a spawned process; `port` is known once it listens."""

    def __init__(self, name: str, target: Any, *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        self.name = name
        self.process = context.Process(target=target, args=(*args, sender), daemon=True)
        self.process.start()
        sender.close()
        if not receiver.poll(START_TIMEOUT_SECONDS):
            self.stop()
            raise RuntimeError(f"{name} server did not start")
        self.port: int = receiver.recv()
        receiver.close()

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def pids(self) -> list[int]:
        """This server's processes: the one started, and any it forked (gunicorn's worker)."""
        from bench.soak import descendants

        return descendants(self.pid)

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Until a first answer (any status): a gunicorn master listens before its worker is up."""
        deadline = time.monotonic() + timeout
        while True:
            connection = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
            try:
                connection.request("GET", "/health")
                connection.getresponse().read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} server did not answer") from None
                time.sleep(0.2)
            finally:
                connection.close()

    def stop(self) -> None:
        """End this server's process (only the one we started)."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(10)


def start_ours(
    settings: dict[str, Any], trick: str | None = None, layout: Layout = Layout()
) -> ServerProcess:
    """Our app, built by the factory in the server process (with one speed trick off)."""
    name = f"ours without {trick}" if trick else "ours"
    if layout.limits:
        settings = {**settings, "RATELIMIT_STORAGE_URI": layout.limits}
    return ServerProcess(name, _run, functools.partial(_build_ours, settings, trick), layout)


def start_bare(parts_list: Served, parts: dict[int, Served]) -> ServerProcess:
    """The bare app holding the bytes our app sent."""
    return ServerProcess("bare", _run, functools.partial(bare_app, parts_list, parts), Layout())


def start_replay(
    bodies: dict[str, Served], gzipped: dict[str, Served], layout: Layout
) -> ServerProcess:
    """The bare app replaying `bodies` (and their gzip variants) under `layout`."""
    return ServerProcess("bare", _run, functools.partial(replay_app, bodies, gzipped), layout)
