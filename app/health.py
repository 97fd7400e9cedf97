"""The health check: no key, no rate limit, and it really asks the database."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db, limiter

health_bp = Blueprint("health", __name__)
log = logging.getLogger("aerie.health")


@health_bp.route("/health", methods=["GET"])
def health():
    """200 when the database and a shared rate-limit storage answer, 503 when either does
    not: every API request needs both (a load balancer takes this host out meanwhile)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.exception("health check: database unreachable")
        db.session.rollback()
        return _unhealthy({"database": "unreachable"})
    if not _rate_limits_answer():
        return _unhealthy({"database": "ok", "rate_limits": "unreachable"})
    return jsonify({"status": "healthy", "database": "ok"})


def _rate_limits_answer() -> bool:
    if str(current_app.config["RATELIMIT_STORAGE_URI"]) == "memory://":
        return True  # in this process: nothing to reach
    try:
        return limiter.check(current_app)
    except Exception:  # noqa: BLE001 - whatever the storage raised, it did not answer
        log.exception("health check: rate-limit storage unreachable")
        return False


def _unhealthy(services: dict[str, str]):
    response = jsonify({"status": "unhealthy", **services})
    response.status_code = 503
    return response
