"""Serves the built web UI from dist/, with an index.html fallback for client-side routes."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, send_from_directory
from werkzeug.security import safe_join

from app.extensions import limiter

spa_bp = Blueprint("spa", __name__)
HASHED_ASSET_MAX_AGE = 365 * 24 * 3600
MISSING_DIST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Aerie Part Management</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>Aerie Part Management</h1>
<p>The API is running, but the web interface has not been built: there is no
<code>dist/index.html</code> on this server.</p>
<p>Build the frontend into <code>dist/</code>, or use the API directly
(<a href="{docs}">API documentation</a>).</p>
</body></html>
"""


def _not_found() -> Response:
    response = jsonify({"error": "Not found", "code": "not_found"})
    response.status_code = 404
    return response


def _send(dist: Path, relative: str) -> Response:
    response = send_from_directory(dist, relative, max_age=0)
    if relative.startswith("assets/"):
        # Vite puts a content hash in every asset name: the bytes never change.
        response.cache_control.public = True
        response.cache_control.max_age = HASHED_ASSET_MAX_AGE
        response.cache_control.immutable = True
    else:
        response.cache_control.no_cache = True
    return response


@spa_bp.route("/", defaults={"path": ""}, methods=["GET"])
@spa_bp.route("/<path:path>", methods=["GET"])
@limiter.exempt
def serve(path: str) -> Response:
    """A file from dist/, else index.html; /api/* is never the SPA's."""
    base = current_app.config["BASE_PATH"].lstrip("/")
    if base:
        if path != base and not path.startswith(base + "/"):
            return redirect(f"/{base}/") if path == "" else _not_found()
        path = path[len(base) + 1 :]
    if path == "api" or path.startswith("api/"):
        return _not_found()
    dist = Path(current_app.config["FRONTEND_DIST"])
    candidate = safe_join(str(dist), path) if path else None
    if candidate and Path(candidate).is_file():
        return _send(dist, path)
    if (dist / "index.html").is_file():
        return _send(dist, "index.html")
    docs = current_app.config["BASE_PATH"] + "/api/docs"
    page = MISSING_DIST_PAGE.replace("{docs}", docs)
    return Response(page, status=503, mimetype="text/html")


def register_spa(app: Flask) -> None:
    """Registered last, so every real route wins over the catch-all."""
    app.register_blueprint(spa_bp)
