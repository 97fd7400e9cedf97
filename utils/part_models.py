"""GET /model: serve the GLB, wait a little for a pending conversion, or say why not."""

from __future__ import annotations

import math
import time
from typing import Any

from flask import current_app, jsonify, request, send_file

from app.extensions import db
from models.conversion import requeue_job
from models.part import Part
from models.queries import get_part_or_404
from utils.errors import NotFoundError, UnprocessableError
from utils.part_files import STEP_EXTENSIONS, storage

POLL_SECONDS = 0.25


def _wait_while_pending(part_id: int, deadline: float) -> Part:
    """Re-read the part until its model leaves pending or the deadline passes. A job that
    finishes in this process wakes the wait at once; one in another worker is seen within
    POLL_SECONDS."""
    runner = current_app.extensions["conversion_runner"]
    part = get_part_or_404(db.session, part_id)
    while part.model_status == "pending" and time.monotonic() < deadline:
        runner.wait_for_finish(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
        # A new transaction each time: MariaDB's repeatable read would show the old row.
        db.session.rollback()
        part = get_part_or_404(db.session, part_id)
    return part


def model_response(part_id: int) -> Any:
    """200 GLB, 202 pending (Retry-After), 404 no STEP, 422 failed."""
    part = get_part_or_404(db.session, part_id)
    if part.file_ext not in STEP_EXTENSIONS or not part.model_key:
        raise NotFoundError("This part has no STEP file to show in 3D")
    wait = float(current_app.config["MODEL_WAIT_SECONDS"])
    part = _wait_while_pending(part_id, time.monotonic() + wait)
    if part.model_status == "failed":
        raise UnprocessableError("Model conversion failed", details=part.model_error)
    path = storage().model_path(part.model_key)
    if part.model_status == "ready" and not path.is_file():
        requeue_job(db.session, part.model_key)
        db.session.commit()
        current_app.extensions["conversion_runner_notify"]()
        part.model_status = "pending"
    if part.model_status != "ready":
        retry = max(1, math.ceil(min(wait, 5.0)))
        response = jsonify({"status": "pending", "message": "The 3D model is being prepared"})
        response.status_code = 202
        response.headers["Retry-After"] = str(retry)
        return response
    response = send_file(
        path, mimetype="model/gltf-binary", conditional=True, etag=part.model_key, max_age=0
    )
    return response.make_conditional(request)
