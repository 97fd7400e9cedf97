"""The parts blueprint; its feature modules attach their views to it."""

from flask_smorest import Blueprint

parts_bp = Blueprint(
    "parts", __name__, description="Parts: CRUD, workflow, statistics, files and auth."
)

# The modules register their views on parts_bp when imported.
from flask import request  # noqa: E402

from routes import auth, files, parts, stats, views, workflow  # noqa: E402,F401
from utils.errors import UnsupportedMediaTypeError  # noqa: E402
from utils.rate_limits import enforce_default_limit  # noqa: E402

# Endpoints whose bodies are multipart uploads rather than JSON.
MULTIPART_ENDPOINTS = {"parts.upload_file", "parts.upload_views"}


parts_bp.before_request(enforce_default_limit)


@parts_bp.before_request
def _require_json_bodies() -> None:
    """A body on a JSON endpoint must be JSON: anything else is a 415, never a guess."""
    if request.method not in ("POST", "PUT", "PATCH") or request.endpoint in MULTIPART_ENDPOINTS:
        return
    has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding")
    if has_body and not request.is_json:
        raise UnsupportedMediaTypeError(
            "Request body must be JSON (Content-Type: application/json)"
        )
