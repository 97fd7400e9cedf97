"""The login check the SPA calls when it starts and when a key is typed."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from app.extensions import limiter
from models.types import utcnow
from routes import parts_bp
from utils.auth import require_api_key


def _check_interval() -> str:
    seconds = float(current_app.config["AUTH_CHECK_INTERVAL_SECONDS"])
    return f"1 per {max(1, round(seconds))} second"


@parts_bp.route("/auth/check", methods=["GET"])
@require_api_key
@limiter.limit(_check_interval, deduct_when=lambda response: response.status_code == 200)
def auth_check() -> Any:
    """Say whether the key is valid (repeated within the interval: 429 with retry_after)."""
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
