"""GET /model: serve the GLB, wait a little for a pending conversion, or say why not."""

from __future__ import annotations

import math
import time
from typing import Any

from flask import current_app, jsonify, request, send_file

from app.extensions import db
from models.conversion import reconcile_part, requeue_job
from models.part import Part
from models.queries import get_part_or_404
from utils.errors import NotFoundError, UnprocessableError
from utils.part_files import STEP_EXTENSIONS, storage

POLL_SECONDS = 0.25
# Longest Retry-After we suggest: a small model is ready within a few seconds.
RETRY_AFTER_MAX_SECONDS = 5.0


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


def _wait_if_allowed(part: Part, wait: float) -> Part:
    """Wait for a pending model only with one of the MODEL_WAITERS_MAX turns: each waiting
    request holds a server thread, and /health and the rest must still get one."""
    if part.model_status != "pending" or wait <= 0:
        return part
    with current_app.extensions["conversion_runner"].wait_turn() as granted:
        if not granted:
            return part
        return _wait_while_pending(part.id, time.monotonic() + wait)


def _reconciled(part: Part) -> Part:
    """The part after repairing a model state that could not move on by itself."""
    if reconcile_part(db.session, part):
        db.session.commit()
        current_app.extensions["conversion_runner_notify"]()
    return part


def _pending_response(wait: float) -> Any:
    retry = max(1, math.ceil(min(wait, RETRY_AFTER_MAX_SECONDS)))
    response = jsonify({"status": "pending", "message": "The 3D model is being prepared"})
    response.status_code = 202
    response.headers["Retry-After"] = str(retry)
    return response


def model_response(part_id: int) -> Any:
    """200 GLB, 202 pending (Retry-After), 404 no STEP, 422 failed."""
    part = get_part_or_404(db.session, part_id)
    if part.file_ext not in STEP_EXTENSIONS or not part.model_key:
        raise NotFoundError("This part has no STEP file to show in 3D")
    wait = float(current_app.config["MODEL_WAIT_SECONDS"])
    part = _wait_if_allowed(_reconciled(part), wait)
    if part.model_status == "failed":
        raise UnprocessableError("Model conversion failed", details=part.model_error)
    path = storage().model_path(part.model_key)
    if part.model_status == "ready" and not path.is_file():
        requeue_job(db.session, part.model_key)
        db.session.commit()
        current_app.extensions["conversion_runner_notify"]()
        part.model_status = "pending"
    if part.model_status != "ready":
        return _pending_response(wait)
    response = send_file(
        path, mimetype="model/gltf-binary", conditional=True, etag=part.model_key, max_age=0
    )
    return response.make_conditional(request)
