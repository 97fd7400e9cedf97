"""Browser-rendered previews of a part's 3D model: view_0 … view_7."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request

from app.database import write_transaction
from app.extensions import db
from models.part import Part
from models.queries import get_part_or_404
from routes import parts_bp
from routes.responses import (
    check_if_match,
    errors,
    files,
    multipart_body,
    send_stored,
    upload_errors,
)
from routes.services import storage
from utils.auth import require_api_key
from utils.errors import NotFoundError
from utils.part_views import save_views, view_file
from utils.wire_schemas import ViewsSchema, ViewsUploadSchema


@parts_bp.route("/<int:part_id>/views", methods=["POST"])
@require_api_key
@parts_bp.doc(**multipart_body(*(f"view_{i}" for i in range(8)), required=False))
@parts_bp.response(200, ViewsUploadSchema)
@parts_bp.doc(
    responses=upload_errors(
        e400="No view_0 … view_7 file in the form",
        e413="A view is larger than the per-view limit, in bytes or in declared pixels",
        e415="A view is not a PNG image",
    )
)
def upload_views(part_id: int) -> Any:
    """Store PNG previews (multipart fields view_0 … view_7); returns the manifest."""
    files = request.files  # the body arrives before the database is touched
    with write_transaction():
        # Locked: the manifest is written into miscInfo, which a concurrent edit also writes.
        part = Part.for_update(db.session, part_id)
        check_if_match(part)
        manifest = save_views(storage(), part, files, int(current_app.config["VIEW_MAX_BYTES"]))
    return jsonify({"success": True, "views": manifest})


@parts_bp.route("/<int:part_id>/views", methods=["GET"])
@require_api_key
@parts_bp.response(200, ViewsSchema)
@parts_bp.doc(responses=errors(404))
def get_views(part_id: int) -> Any:
    """The preview manifest, or null when none are stored."""
    part = get_part_or_404(db.session, part_id)
    return jsonify({"views": (part.misc_info or {}).get("views")})


@parts_bp.route("/<int:part_id>/views/<int:index>", methods=["GET"])
@require_api_key
@parts_bp.doc(responses=errors(404, 416) | files(200, "image/png"))
def get_view(part_id: int, index: int) -> Any:
    """One preview PNG."""
    part = get_part_or_404(db.session, part_id)
    path = view_file(storage(), part, index)
    if path is None:
        raise NotFoundError("View image not found")
    return send_stored(path, mimetype="image/png")
