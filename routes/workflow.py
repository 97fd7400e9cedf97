"""Workflow actions: approve, assign (claim), unclaim, complete, revert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, request
from marshmallow import Schema

from app.database import write_transaction
from app.extensions import db
from models.events import recorded
from models.part import Part
from routes import parts_bp
from routes.responses import ETAG, JSON_WRITE, check_if_match, errors, part_response
from routes.services import request_actor
from utils.actor import ACTOR_PARAMETER
from utils.auth import require_api_key
from utils.schemas import ApproveSchema, AssignSchema, CompleteSchema
from utils.wire_schemas import PartSchema

ACTOR = {"parameters": [ACTOR_PARAMETER]}


def transition(part_id: int, action: str, change: Callable[[Part], None]) -> Response:
    """Load the part, honour If-Match, apply one action and record it, all in one commit."""
    actor = request_actor()
    with write_transaction():
        part = Part.for_update(db.session, part_id)
        check_if_match(part)
        with recorded(db.session, part, action, actor):
            change(part)
        # Rendered before the commit: after it, a concurrent DELETE could leave nothing to load.
        response = part_response(part)
    return response


def action_view(action: str, e409: str, body: type[Schema] | None = None) -> Callable[..., Any]:
    """Route, key check, optional body and documented responses of one workflow action."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        view = parts_bp.doc(**ACTOR)(view)
        view = parts_bp.doc(responses=errors(400, 404, 409, 412, *JSON_WRITE, e409=e409))(view)
        view = parts_bp.response(200, PartSchema, headers=ETAG)(view)
        if body is not None:
            view = parts_bp.arguments(body, required=False, error_status_code=400)(view)
        view = require_api_key(view)
        return parts_bp.route(f"/<int:part_id>/{action}", methods=["POST"])(view)

    return decorate


@action_view("approve", "The part is not in review", ApproveSchema)
def approve_part(body: dict[str, Any], part_id: int) -> Any:
    """Approve a part in review for CNC, hand or misc fabrication."""
    misc_info = body.get("misc_info")
    reviewer = body.get("reviewer") or (misc_info or {}).get("reviewer")
    return transition(part_id, "approve", lambda part: part.approve(reviewer, misc_info))


@parts_bp.route("/<int:part_id>/assign", methods=["POST"])
@require_api_key
@parts_bp.arguments(AssignSchema, error_status_code=400)
@parts_bp.response(200, PartSchema, headers=ETAG)
@parts_bp.doc(
    responses=errors(
        400, 404, 409, 412, *JSON_WRITE, e409="Claimed by someone else, or already completed"
    )
)
@parts_bp.doc(**ACTOR)
def assign_part(body: dict[str, Any], part_id: int) -> Any:
    """Claim a part for a person; exactly one of many concurrent claimers wins."""
    actor = request_actor()
    with write_transaction():
        if request.if_match:  # checked under the row's lock; the claim itself decides races
            check_if_match(Part.for_update(db.session, part_id))
        part = Part.claim(db.session, part_id, body["assigned"], actor)
        db.session.flush()  # the hand worker entry, and its updated_at, before rendering
        response = part_response(part)
    return response


@action_view("unclaim", "The part is not claimed")
def unclaim_part(part_id: int) -> Any:
    """Give a claimed part back."""
    return transition(part_id, "unclaim", Part.unclaim)


@action_view("complete", "In review or completed", CompleteSchema)
def complete_part(body: dict[str, Any], part_id: int) -> Any:
    """Mark a part made; extra miscInfo (e.g. storage) is merged in."""
    return transition(part_id, "complete", lambda part: part.complete(body.get("misc_info")))


@action_view("revert", "The part is not completed")
def revert_part(part_id: int) -> Any:
    """Send a completed part back to its fabrication tab."""
    return transition(part_id, "revert", Part.revert)
