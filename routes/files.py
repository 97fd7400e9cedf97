"""Files of a part: upload, download, inline view, the 3D model and the hand-fab drawing."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request

from app.database import write_transaction
from app.extensions import db
from models.events import record_upload
from models.part import Part
from models.queries import get_part_or_404
from models.states import ModelStatus, PartType
from routes import parts_bp
from routes.onshape import DRAWING_EXPORT_RESPONSES, drawing_from_onshape
from routes.responses import (
    check_if_match,
    errors,
    files,
    multipart_body,
    send_stored,
    upload_errors,
)
from routes.services import notify_runner, request_actor, storage, upload_rules
from utils.actor import ACTOR_PARAMETER
from utils.auth import require_api_key
from utils.errors import BadRequestError
from utils.model_schemas import ModelQuerySchema
from utils.model_variants import served_model, wanted_variant
from utils.part_files import (
    attach_upload,
    download_name,
    finish_replacement,
    stored_file,
    upload_summary,
)
from utils.part_models import ready_model, retry_after_seconds
from utils.wire_schemas import ModelPendingSchema, UploadResultSchema

# GET /model says which variant it sent (the asked one may not be stored).
MODEL_VARIANT_HEADER = {
    "Model-Variant": {
        "description": "The variant sent: raw, quantized or meshopt",
        "schema": {"type": "string", "enum": ["raw", "quantized", "meshopt"]},
    }
}
# What /download and /file send: the upload's type (MIME_TYPES in utils.part_files).
STORED_TYPES = ("application/step", "application/pdf", "application/octet-stream")


@parts_bp.route("/<int:part_id>/upload", methods=["POST"])
@require_api_key
@parts_bp.doc(**multipart_body("file"))
@parts_bp.response(201, UploadResultSchema)
@parts_bp.doc(
    responses=upload_errors(
        e400="No file in the form, or an empty file name",
        e415="Not a STEP, STP or PDF file, or its content does not match its type",
    )
)
@parts_bp.doc(parameters=[ACTOR_PARAMETER])
def upload_file(part_id: int) -> Any:
    """Attach a STEP, STP or PDF file; STEP files are converted to GLB in the background."""
    # Receive the whole body first: a slow phone must not hold a database write lock.
    upload, actor = request.files.get("file"), request_actor()
    with write_transaction():
        # Locked, as every write: a concurrent PUT, upload or DELETE waits for this one.
        part = Part.for_update(db.session, part_id)
        check_if_match(part)
        replaced = attach_upload(db.session, part, upload, upload_rules())
        record_upload(db.session, part, actor, replaced=replaced.old_path is not None)
        # Rendered before the commit: a DELETE landing right after it must not turn this
        # answer into a 500 (the part could no longer be reloaded).
        response = jsonify(upload_summary(part))
        part_uuid = part.uuid
    finish_replacement(db.session, storage(), part_uuid, replaced)
    notify_runner()
    response.status_code = 201
    return response


def _send_stored(part_id: int, *, attachment: bool) -> Any:
    part = get_part_or_404(db.session, part_id)
    path, mimetype = stored_file(storage(), part)
    return send_stored(
        path,
        mimetype=mimetype,
        as_attachment=attachment,
        download_name=download_name(part),
        etag=part.file_sha256,
    )


@parts_bp.route("/<int:part_id>/download", methods=["GET"])
@require_api_key
@parts_bp.doc(responses=errors(404, 416) | files(200, *STORED_TYPES))
def download_file(part_id: int) -> Any:
    """The uploaded file as an attachment under its original name (Range and ETag work)."""
    return _send_stored(part_id, attachment=True)


@parts_bp.route("/<int:part_id>/file", methods=["GET"])
@require_api_key
@parts_bp.doc(responses=errors(404, 416) | files(200, *STORED_TYPES))
def view_file(part_id: int) -> Any:
    """The uploaded file inline (the browser's PDF preview)."""
    return _send_stored(part_id, attachment=False)


@parts_bp.route("/<int:part_id>/model", methods=["GET"])
@require_api_key
@parts_bp.arguments(ModelQuerySchema, location="query", as_kwargs=False, error_status_code=400)
@parts_bp.doc(responses=errors(400, 404, 416, e404="No such part, or it has no STEP file"))
@parts_bp.doc(responses=files(200, "model/gltf-binary", headers=MODEL_VARIANT_HEADER))
@parts_bp.alt_response(
    202,
    schema=ModelPendingSchema,
    description="Still converting: ask again after Retry-After seconds",
    headers={"Retry-After": {"description": "Seconds", "schema": {"type": "integer"}}},
    success=True,
)
@parts_bp.doc(responses=errors(422, e422="The conversion failed (details says why)"))
def get_model(args: dict[str, Any], part_id: int) -> Any:
    """The GLB for the 3D viewer (variants: README); 202 while converting, 422 if it failed."""
    part = get_part_or_404(db.session, part_id)
    wait = float(current_app.config["MODEL_WAIT_SECONDS"])
    runner = current_app.extensions["conversion_runner"]
    if ready_model(db.session, part, runner, storage(), wait) is None:
        return _model_pending(wait)
    wanted = wanted_variant(args.get("variant"), args["compression"])
    model = served_model(storage(), part.model_key, wanted)
    response = send_stored(model.path, mimetype="model/gltf-binary", etag=model.etag)
    response.headers["Model-Variant"] = model.variant
    return response.make_conditional(request)


def _model_pending(wait: float) -> Response:
    response = jsonify({"status": ModelStatus.PENDING, "message": "The 3D model is being prepared"})
    response.status_code = 202
    response.headers["Retry-After"] = str(retry_after_seconds(wait))
    return response


@parts_bp.route("/<int:part_id>/drawing", methods=["GET"])
@require_api_key
@parts_bp.doc(responses=files(200, "application/pdf") | DRAWING_EXPORT_RESPONSES)
@parts_bp.doc(
    responses=errors(
        400, 404, 416,
        e400="Not a hand-fab part; or refresh=true and onshapeUrl is no Onshape document link",
        e404="No such part, or no PDF and no Onshape link",
    )
)  # fmt: skip
def get_drawing(part_id: int) -> Any:
    """A hand-fab part's PDF drawing: the stored one, else (or with refresh=true) from Onshape."""
    part = get_part_or_404(db.session, part_id)
    if part.type != PartType.HAND:
        raise BadRequestError("Drawing downloads are only available for hand fab parts")
    refresh = request.args.get("refresh", "").lower() == "true"
    if refresh or part.file_ext != "pdf":
        pending = drawing_from_onshape(part, refresh)  # routes/onshape.py
        if pending is not None:
            return pending
        part = get_part_or_404(db.session, part_id)
    path, _mimetype = stored_file(storage(), part)
    return send_stored(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=download_name(part),
        etag=part.file_sha256,
    )
