"""The hot read path's speed tricks, wired in one place: the parts cache, no cookie session
and Flask's async check answered once per function.

Each trick's measured gain is in BENCHMARKS.md ("Each speed trick on its own").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from models.base import db
from models.revision import watch_part_writes
from utils.host_bodies import host_bodies_for
from utils.parts_cache import PartsCache


class NoCookieSessions(SecureCookieSessionInterface):
    """Never reads or writes a session cookie: Flask hands views a null session."""

    def open_session(self, app: Flask, request: Any) -> None:  # type: ignore[override]
        return None


# More functions than any app registers as hooks and views; past it, ask Flask every time.
SYNC_FUNCTIONS_MAX = 4096


class KnownSyncFunctions:
    """Flask.ensure_sync, remembering which functions are plain `def`s.

    Flask (and flask-smorest's view wrappers) ask it for every hook and view of every request,
    about 14 times for one part, and each answer is an inspect.iscoroutinefunction call
    (about 11 µs a request, BENCHMARKS.md "Scale"). Whether a function is a coroutine
    function never changes, so a sync one is handed back at once; async ones still go to
    Flask every time (their wrapper is Flask's business).
    """

    def __init__(self, ensure_sync: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        self._ensure_sync = ensure_sync
        self._sync: set[Callable[..., Any]] = set()

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if func in self._sync:
                return func
        except TypeError:  # an unhashable callable: nothing to remember it by
            return self._ensure_sync(func)
        checked = self._ensure_sync(func)
        if checked is func and len(self._sync) < SYNC_FUNCTIONS_MAX:
            self._sync.add(func)
        return checked


def register_read_path(app: Flask) -> None:
    """The app's parts cache (app.extensions["parts_cache"]), the flush listener that
    invalidates it, no cookie session (an API with a key header keeps none), and
    ensure_sync's answers kept per function."""
    watch_part_writes()
    with app.app_context():
        engine = db.engine
    host_bodies = host_bodies_for(str(app.config["HOST_BODIES_FOLDER"]))
    app.extensions["parts_cache"] = PartsCache(engine, host_bodies=host_bodies)
    app.session_interface = NoCookieSessions()
    app.ensure_sync = KnownSyncFunctions(app.ensure_sync)  # type: ignore[method-assign]
