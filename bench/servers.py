"""The two servers under test, each in its own process: our app and a bare Flask app.

Both run under waitress with the same settings; the bare app serves bytes fetched once from
ours, so any difference is what our app does around the body.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
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
    """One body as our app sends it: the bytes and the ETag value (unquoted)."""

    body: bytes
    etag: str


def our_settings(database_url: str, folder: str) -> dict[str, Any]:
    """Overrides for create_app('testing', ...) pointing at the benchmark database."""
    return {
        "DATABASE_URL": database_url,
        "UPLOAD_FOLDER": os.path.join(folder, "uploads"),
        "FRONTEND_DIST": os.path.join(folder, "dist"),
        "RATELIMIT_DEFAULT": BENCH_RATE_LIMIT,
    }


def bare_app(parts_list: Served, parts: dict[int, Served]) -> Flask:
    """The least Flask can do for the same two URLs: fixed bytes, ETag, conditional GET."""
    app = Flask("bare")

    def send(served: Served) -> Response:
        response = Response(served.body, mimetype="application/json")
        response.set_etag(served.etag)
        return response.make_conditional(request)

    @app.get("/api/parts/")
    def all_parts() -> Response:
        return send(parts_list)

    @app.get("/api/parts/<int:part_id>")
    def one_part(part_id: int) -> Response:
        return send(parts[part_id])

    return app


def _serve(app: Any, channel: Connection) -> None:
    # With more clients than threads waitress queues requests by design; say so only once.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = waitress.create_server(app, host=HOST, port=0, threads=THREADS)
    channel.send(server.effective_port)
    channel.close()
    server.run()


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


def _serve_ours(settings: dict[str, Any], trick: str | None, channel: Connection) -> None:
    from app import create_app
    from app.startup import start_serving

    app = start_serving(create_app("testing", settings))
    _serve(without_trick(app, trick) if trick else app, channel)


def _serve_bare(parts_list: Served, parts: dict[int, Served], channel: Connection) -> None:
    _serve(bare_app(parts_list, parts), channel)


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

    def stop(self) -> None:
        """End this server's process (only the one we started)."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(10)


def start_ours(settings: dict[str, Any], trick: str | None = None) -> ServerProcess:
    """Our app, built by the factory in the server process (with one speed trick off)."""
    name = f"ours without {trick}" if trick else "ours"
    return ServerProcess(name, _serve_ours, settings, trick)


def start_bare(parts_list: Served, parts: dict[int, Served]) -> ServerProcess:
    """The bare app holding the bytes our app sent."""
    return ServerProcess("bare", _serve_bare, parts_list, parts)
