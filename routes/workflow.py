"""Workflow actions: approve, assign (claim), unclaim, complete, revert."""

from __future__ import annotations

from typing import Any

from app.database import write_transaction
from app.extensions import db
from models.part import Part
from models.queries import get_part_or_404
from routes import parts_bp
from routes.responses import ETAG, JSON_WRITE, check_if_match, errors, part_response
from utils.auth import require_api_key
from utils.schemas import ApproveSchema, AssignSchema, CompleteSchema
from utils.wire_schemas import PartSchema


@parts_bp.route("/<int:part_id>/approve", methods=["POST"])
@require_api_key
@parts_bp.arguments(ApproveSchema, required=False, error_status_code=400)
@parts_bp.response(200, PartSchema, headers=ETAG)
@parts_bp.doc(responses=errors(400, 404, 409, 412, *JSON_WRITE, e409="The part is not in review"))
def approve_part(body: dict[str, Any], part_id: int) -> Any:
    """Approve a part in review for CNC, hand or misc fabrication."""
    misc_info = body.get("misc_info")
    reviewer = body.get("reviewer") or (misc_info or {}).get("reviewer")
    with write_transaction():
        part = get_part_or_404(db.session, part_id)
        check_if_match(part)
        part.approve(reviewer, misc_info)
    return part_response(part)


@parts_bp.route("/<int:part_id>/assign", methods=["POST"])
@require_api_key
@parts_bp.arguments(AssignSchema, error_status_code=400)
@parts_bp.response(200, PartSchema, headers=ETAG)
@parts_bp.doc(
    responses=errors(
        400, 404, 409, *JSON_WRITE, e409="Claimed by someone else, or already completed"
    )
)
def assign_part(body: dict[str, Any], part_id: int) -> Any:
    """Claim a part for a person; exactly one of many concurrent claimers wins."""
    with write_transaction():
        part = Part.claim(db.session, part_id, body["assigned"])
    return part_response(part)


@parts_bp.route("/<int:part_id>/unclaim", methods=["POST"])
@require_api_key
@parts_bp.response(200, PartSchema, headers=ETAG)
@parts_bp.doc(responses=errors(404, 409, 412, *JSON_WRITE, e409="The part is not claimed"))
def unclaim_part(part_id: int) -> Any:
    """Give a claimed part back."""
    with write_transaction():
        part = get_part_or_404(db.session, part_id)
        check_if_match(part)
        part.unclaim()
    return part_response(part)


@parts_bp.route("/<int:part_id>/complete", methods=["POST"])
@require_api_key
@parts_bp.arguments(CompleteSchema, required=False, error_status_code=400)
@parts_bp.response(200, PartSchema, headers=ETAG)
@parts_bp.doc(responses=errors(400, 404, 409, 412, *JSON_WRITE, e409="In review or completed"))
def complete_part(body: dict[str, Any], part_id: int) -> Any:
    """Mark a part made; extra miscInfo (e.g. storage) is merged in."""
    with write_transaction():
        part = get_part_or_404(db.session, part_id)
        check_if_match(part)
        part.complete(body.get("misc_info"))
    return part_response(part)


@parts_bp.route("/<int:part_id>/revert", methods=["POST"])
@require_api_key
@parts_bp.response(200, PartSchema, headers=ETAG)
@parts_bp.doc(responses=errors(404, 409, 412, *JSON_WRITE, e409="The part is not completed"))
def revert_part(part_id: int) -> Any:
    """Send a completed part back to its fabrication tab."""
    with write_transaction():
        part = get_part_or_404(db.session, part_id)
        check_if_match(part)
        part.revert()
    return part_response(part)
