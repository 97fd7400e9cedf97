"""What the views take from the app: the services the factory built, and the settings the pure
helpers in utils/ are given explicitly."""

from __future__ import annotations

from flask import current_app, request

from utils.actor import ACTOR_HEADER, actor_from_values
from utils.part_files import UploadRules
from utils.parts_cache import PartsCache
from utils.storage import Storage


def parts_cache() -> PartsCache:
    """This app's parts cache (app.read_path builds it)."""
    return current_app.extensions["parts_cache"]


def storage() -> Storage:
    """This app's file store under UPLOAD_FOLDER."""
    return current_app.extensions["storage"]


def upload_rules() -> UploadRules:
    """Where an upload goes and what it may be, from the settings of this request's app."""
    return UploadRules.of(current_app)


def notify_runner() -> None:
    """Wake the conversion runner: work is waiting (a message only, harmless if none runs)."""
    current_app.extensions["conversion_runner_notify"]()


def request_actor() -> str:
    """Who makes this request's change: its X-Actor header (read in views, after the key
    check), else "api"; 400 for a refused name."""
    return actor_from_values(request.headers.getlist(ACTOR_HEADER))
