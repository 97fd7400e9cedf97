"""Statistics, the leaderboard and the wipe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app
from marshmallow import Schema
from sqlalchemy.orm import Session

from app.database import write_transaction
from app.extensions import db
from models.maintenance import files_still_owned, wipe_all_parts
from models.stats import detailed_stats, leaderboard, summary_stats
from routes import parts_bp
from routes.responses import ETAG, JSON_WRITE, NOT_MODIFIED, errors, json_bytes, message
from routes.services import parts_cache, request_actor, storage
from utils.actor import ACTOR_PARAMETER
from utils.auth import keys_match, require_api_key
from utils.errors import ForbiddenError
from utils.schemas import WipeSchema
from utils.stats_schemas import DetailedStatsSchema, LeaderboardSchema, StatsSchema
from utils.wire_schemas import WipeResultSchema

View = TypeVar("View", bound=Callable[..., Any])


def _read_view(
    path: str, schema: type[Schema], conditional: bool = False
) -> Callable[[View], View]:
    """A GET view behind the API key. It returns a JSON body; `schema` documents it
    (keys, units) with the errors every view can answer; `conditional`: it sends an ETag
    and answers a matching If-None-Match with 304."""

    def register(view: View) -> View:
        steps = (
            parts_bp.doc(responses=errors() | (NOT_MODIFIED if conditional else {})),
            parts_bp.response(200, schema, headers=ETAG if conditional else None),
            require_api_key,
            parts_bp.route(path, methods=["GET"]),
        )
        for step in steps:  # innermost first, as a decorator stack is applied
            view = step(view)
        return view

    return register


def _cached_stats(name: str, compute: Callable[[Session], Any]) -> Any:
    """The statistics body of the committed parts revision, its ETag and its gzip (kept until
    the next write): a client polling it gets 304 until something changes."""
    rendered = parts_cache().stats(db.session, name, compute)
    return json_bytes(rendered.body, rendered.etag, rendered.gzipped)


@_read_view("/stats", StatsSchema, conditional=True)
def get_stats() -> Any:
    """Parts (records) by category, status and assignment; each adds up to total."""
    return _cached_stats("summary", summary_stats)


@_read_view("/stats/detailed", DetailedStatsSchema, conditional=True)
def get_detailed_stats() -> Any:
    """Units (sums of amount) by category, status and type; completion times in hours."""
    return _cached_stats("detailed", detailed_stats)


def _leaderboard_body(session: Session) -> dict[str, Any]:
    # Only parts' columns: every write to a part moves the revision that keys the cache.
    return {"leaderboard": leaderboard(session)}


@_read_view("/leaderboard", LeaderboardSchema, conditional=True)
def get_leaderboard() -> Any:
    """Who completed the most parts."""
    return _cached_stats("leaderboard", _leaderboard_body)


@parts_bp.route("/wipe", methods=["POST"])
@require_api_key
@parts_bp.arguments(WipeSchema, required=False, error_status_code=400)
@parts_bp.response(200, WipeResultSchema)
@parts_bp.doc(responses=errors(400, 403, *JSON_WRITE, e400="The body is not a JSON object"))
@parts_bp.doc(parameters=[ACTOR_PARAMETER])
def wipe_parts(body: dict[str, Any]) -> Any:
    """Delete every part and every file (each part's history keeps a delete event); the API
    key is the password."""
    if not keys_match(body.get("password"), current_app.config["SECRET_KEY"]):
        raise ForbiddenError("Incorrect password")
    actor = request_actor()
    with write_transaction():
        count = wipe_all_parts(db.session, actor)
    # Files only after the rows are gone for good: a failed commit must keep them; and not
    # those of a part added since (it could be uploading now).
    storage().remove_everything(lambda: files_still_owned(db.session))
    return message("All parts and files wiped successfully", count=count)
