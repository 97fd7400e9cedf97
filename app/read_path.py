"""The hot read path's speed tricks, wired in one place: the parts cache and no cookie session.

Each trick's measured gain is in BENCHMARKS.md ("Each speed trick on its own").
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from models.base import db
from models.revision import watch_part_writes
from utils.parts_cache import PartsCache


class NoCookieSessions(SecureCookieSessionInterface):
    """Never reads or writes a session cookie: Flask hands views a null session."""

    def open_session(self, app: Flask, request: Any) -> None:  # type: ignore[override]
        return None


def register_read_path(app: Flask) -> None:
    """The app's parts cache (app.extensions["parts_cache"]), the flush listener that
    invalidates it, and no cookie session (an API with a key header keeps none)."""
    watch_part_writes()
    with app.app_context():
        engine = db.engine
    app.extensions["parts_cache"] = PartsCache(engine)
    app.session_interface = NoCookieSessions()
