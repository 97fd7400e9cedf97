"""The login check the SPA calls when it starts and when a key is typed."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from models.types import utcnow
from routes import parts_bp
from routes.guard import enforce_auth_check_interval
from routes.responses import errors
from utils.auth import require_api_key
from utils.wire_schemas import AuthCheckSchema


@parts_bp.route("/auth/check", methods=["GET"])
@require_api_key
@parts_bp.response(200, AuthCheckSchema)
@parts_bp.doc(responses=errors(e429="Checked again within AUTH_CHECK_INTERVAL_SECONDS"))
def auth_check() -> Any:
    """Say whether the key is valid (repeated within the interval: 429 with retry_after)."""
    enforce_auth_check_interval()  # after the key check: a wrong key is a 401, never a 429
    response = jsonify(
        {
            "status": "authenticated",
            "message": "API key is valid",
            "timestamp": utcnow().isoformat(),
        }
    )
    response.headers["Cache-Control"] = "no-cache, no-store, must-revalidate"
    response.headers["Pragma"] = "no-cache"
    response.headers["Expires"] = "0"
    return response
