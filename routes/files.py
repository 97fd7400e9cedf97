"""Files of a part: upload, download, inline view, the 3D model and the hand-fab drawing."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request, send_file

from app.database import write_transaction
from app.extensions import db
from models.queries import get_part_or_404
from routes import parts_bp
from routes.responses import multipart_body
from utils.auth import require_api_key
from utils.errors import BadRequestError, NotFoundError
from utils.part_files import attach_upload, finish_replacement, stored_file, upload_summary
from utils.part_models import model_response


@parts_bp.route("/<int:part_id>/upload", methods=["POST"])
@require_api_key
@parts_bp.doc(**multipart_body("file"))
def upload_file(part_id: int) -> Any:
    """Attach a STEP, STP or PDF file; STEP files are converted to GLB in the background."""
    # Receive the whole body first: a slow phone must not hold a database write lock.
    upload = request.files.get("file")
    with write_transaction():
        part = get_part_or_404(db.session, part_id)
        replaced = attach_upload(db.session, part, upload)
    finish_replacement(db.session, part, replaced)
    current_app.extensions["conversion_runner_notify"]()
    response = jsonify(upload_summary(part))
    response.status_code = 201
    return response


def _send_stored(part_id: int, *, attachment: bool) -> Any:
    part = get_part_or_404(db.session, part_id)
    path, mimetype = stored_file(part)
    return send_file(
        path,
        mimetype=mimetype,
        as_attachment=attachment,
        download_name=part.file,
        conditional=True,
        etag=part.file_sha256,
        max_age=0,
    )


@parts_bp.route("/<int:part_id>/download", methods=["GET"])
@require_api_key
def download_file(part_id: int) -> Any:
    """The uploaded file as an attachment under its original name (Range and ETag work)."""
    return _send_stored(part_id, attachment=True)


@parts_bp.route("/<int:part_id>/file", methods=["GET"])
@require_api_key
def view_file(part_id: int) -> Any:
    """The uploaded file inline (the browser's PDF preview)."""
    return _send_stored(part_id, attachment=False)


@parts_bp.route("/<int:part_id>/model", methods=["GET"])
@require_api_key
def get_model(part_id: int) -> Any:
    """The GLB for the 3D viewer; 202 while converting, 422 if the conversion failed."""
    return model_response(part_id)


@parts_bp.route("/<int:part_id>/drawing", methods=["GET"])
@require_api_key
def get_drawing(part_id: int) -> Any:
    """A hand-fab part's PDF drawing (fetching from Onshape is not available yet)."""
    part = get_part_or_404(db.session, part_id)
    if part.type != "hand":
        raise BadRequestError("Drawing downloads are only available for hand fab parts")
    if request.args.get("refresh", "").lower() == "true" or part.file_ext != "pdf":
        raise NotFoundError("No drawing available for this part")
    path, _mimetype = stored_file(part)
    return send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=part.file,
        conditional=True,
        etag=part.file_sha256,
        max_age=0,
    )
