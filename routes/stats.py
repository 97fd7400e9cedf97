"""Statistics, the leaderboard and the wipe."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from app.database import write_transaction
from app.extensions import db
from models.maintenance import wipe_all_parts
from models.stats import detailed_stats, leaderboard, summary_stats
from routes import parts_bp
from routes.responses import JSON_WRITE, errors, message
from utils.auth import keys_match, require_api_key
from utils.errors import ForbiddenError
from utils.part_files import storage
from utils.schemas import WipeSchema
from utils.stats_schemas import DetailedStatsSchema, LeaderboardSchema, StatsSchema
from utils.wire_schemas import WipeResultSchema


# The views return jsonify'd bodies; the response schemas document them (keys, units).
@parts_bp.route("/stats", methods=["GET"])
@require_api_key
@parts_bp.response(200, StatsSchema)
@parts_bp.doc(responses=errors())
def get_stats() -> Any:
    """Parts (records) by category, status and assignment; each adds up to total."""
    return jsonify(summary_stats(db.session))


@parts_bp.route("/stats/detailed", methods=["GET"])
@require_api_key
@parts_bp.response(200, DetailedStatsSchema)
@parts_bp.doc(responses=errors())
def get_detailed_stats() -> Any:
    """Units (sums of amount) by category, status and type; completion times in hours."""
    return jsonify(detailed_stats(db.session))


@parts_bp.route("/leaderboard", methods=["GET"])
@require_api_key
@parts_bp.response(200, LeaderboardSchema)
@parts_bp.doc(responses=errors())
def get_leaderboard() -> Any:
    """Who completed the most parts."""
    return jsonify({"leaderboard": leaderboard(db.session)})


@parts_bp.route("/wipe", methods=["POST"])
@require_api_key
@parts_bp.arguments(WipeSchema, required=False, error_status_code=400)
@parts_bp.response(200, WipeResultSchema)
@parts_bp.doc(responses=errors(400, 403, *JSON_WRITE, e400="The body is not a JSON object"))
def wipe_parts(body: dict[str, Any]) -> Any:
    """Delete every part and every file; the API key is the password."""
    if not keys_match(body.get("password"), current_app.config["SECRET_KEY"]):
        raise ForbiddenError("Incorrect password")
    with write_transaction():
        count = wipe_all_parts(db.session)
    # Files only after the rows are gone for good: a failed commit must keep them.
    storage().remove_everything()
    return message("All parts and files wiped successfully", count=count)
