"""The parts blueprint; its feature modules attach their views to it."""

from flask_smorest import Blueprint

parts_bp = Blueprint(
    "parts", __name__, description="Parts: CRUD, workflow, statistics, files and auth."
)

# The modules register their views on parts_bp when imported.
from flask import request  # noqa: E402

from routes import auth, files, history, onshape, parts, stats, views, workflow  # noqa: E402,F401
from routes.guard import check_api_key, check_key_if_required, enforce_default_limit  # noqa: E402
from utils.auth import JSON_BODY_MAX_BYTES  # noqa: E402
from utils.errors import PayloadTooLargeError, UnsupportedMediaTypeError  # noqa: E402

# Endpoints whose bodies are multipart uploads rather than JSON.
MULTIPART_ENDPOINTS = {"parts.upload_file", "parts.upload_views"}


parts_bp.before_request(enforce_default_limit)


@parts_bp.before_request
def _require_json_bodies() -> None:
    """A body on a JSON endpoint must be small JSON: else 415 or 413, never a guess."""
    if request.endpoint in MULTIPART_ENDPOINTS:
        return
    # Uploads keep UPLOAD_MAX_BYTES; here reading past the JSON limit fails with a 413,
    # also for a streamed body that announced no length.
    request.max_content_length = JSON_BODY_MAX_BYTES
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding")
    if has_body and not request.is_json:
        raise UnsupportedMediaTypeError(
            "Request body must be JSON (Content-Type: application/json)"
        )
    if (request.content_length or 0) > JSON_BODY_MAX_BYTES:
        # The key first, from header or query (the body is too large to look in): a client
        # without it gets the usual 401 and a wrong key counts as a failed attempt.
        check_api_key()
        raise PayloadTooLargeError("Request body too large", max_bytes=JSON_BODY_MAX_BYTES)


# Last: the key check of views marked with @require_api_key runs after the limit and the
# body checks, and before the view parses its arguments (a missing key is a 401, not a 400).
parts_bp.before_request(check_key_if_required)
