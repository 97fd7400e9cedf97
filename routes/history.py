"""Part history: every change with its time and actor, newest first; it outlives the part."""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.extensions import db
from models.events import history_page, part_has_history
from models.part import Part
from models.types import MAX_PART_ID
from routes import parts_bp
from routes.responses import errors
from utils.auth import require_api_key
from utils.errors import NotFoundError
from utils.history_schemas import AllHistoryQuerySchema, HistoryPageSchema, HistoryQuerySchema


def history_response(args: dict[str, Any], part_id: int | None, deleted: bool) -> dict[str, Any]:
    """One page of events as the history endpoints answer it."""
    max_page = current_app.config["PARTS_MAX_PAGE_SIZE"]
    limit = min(args.get("limit") or max_page, max_page)
    offset = args.get("offset") or 0
    events, total = history_page(db.session, part_id, deleted, limit, offset)
    body = [event.to_dict() for event in events]
    return {"events": body, "total": total, "limit": limit, "offset": offset}


@parts_bp.route("/<int:part_id>/history", methods=["GET"])
@require_api_key
@parts_bp.arguments(HistoryQuerySchema, location="query", as_kwargs=False, error_status_code=400)
@parts_bp.response(200, HistoryPageSchema)
@parts_bp.doc(responses=errors(400, 404, e404="No such part, now or ever"))
def part_history(args: dict[str, Any], part_id: int) -> Any:
    """The history of one part, newest first (also of a deleted part)."""
    known = 0 < part_id <= MAX_PART_ID and (
        db.session.get(Part, part_id) is not None or part_has_history(db.session, part_id)
    )
    if not known:
        raise NotFoundError("Part not found")
    return history_response(args, part_id, deleted=False)


@parts_bp.route("/history", methods=["GET"])
@require_api_key
@parts_bp.arguments(AllHistoryQuerySchema, location="query", as_kwargs=False, error_status_code=400)
@parts_bp.response(200, HistoryPageSchema)
@parts_bp.doc(responses=errors(400))
def all_history(args: dict[str, Any]) -> Any:
    """The history of every part, newest first; deleted=true: only of deleted parts."""
    return history_response(args, None, deleted=args["deleted"])
