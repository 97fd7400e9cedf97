"""The health check: no key, no rate limit, and it really asks the database."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

health_bp = Blueprint("health", __name__)
log = logging.getLogger("aerie.health")


@health_bp.route("/health", methods=["GET"])
def health():
    """200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.exception("health check: database unreachable")
        db.session.rollback()
        response = jsonify({"status": "unhealthy", "database": "unreachable"})
        response.status_code = 503
        return response
    return jsonify({"status": "healthy", "database": "ok"})
