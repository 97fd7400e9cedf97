"""Serves the built web UI from dist/, with an index.html fallback for client-side routes."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, redirect, request, send_from_directory
from markupsafe import escape
from werkzeug.exceptions import NotFound
from werkzeug.routing import PathConverter
from werkzeug.security import safe_join

from app.compression import GZIP, accepts_gzip

spa_bp = Blueprint("spa", __name__)
HASHED_ASSET_MAX_AGE = 365 * 24 * 3600
# The build (frontend/precompress.js) writes name.gz beside each of these when it is smaller.
PRECOMPRESSED_SUFFIXES = frozenset({".js", ".css", ".html", ".svg", ".json"})
MISSING_DIST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Aerie Part Management</title></head>
<body>
<h1>Aerie Part Management</h1>
<p>The API is running, but there is no web app here: <code>{dist}/index.html</code> is
missing.</p>
<p>The web app is built from <code>frontend/</code> in this project: run
<code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code> (it writes <code>dist/</code>),
or point the <code>FRONTEND_DIST</code> setting at another build.</p>
<p>Meanwhile, use the API directly (<a href="{docs}">API documentation</a>).</p>
</body></html>
"""


def _send(dist: Path, relative: str) -> Response:
    response = _send_encoded(dist, relative)
    if relative.startswith("assets/"):
        # Vite puts a content hash in every asset name: the bytes never change.
        # send_from_directory(max_age=0) said no-cache: with it, browsers revalidate anyway.
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = HASHED_ASSET_MAX_AGE
        response.cache_control.immutable = True
    else:
        response.cache_control.no_cache = True
    return response


def _send_encoded(dist: Path, relative: str) -> Response:
    """The build's name.gz with Content-Encoding and the plain file's Content-Type, when the
    client accepts gzip; the plain file otherwise (and for HEAD and Range requests, and a
    dist/ built without .gz files)."""
    gzipped = relative + ".gz"
    if Path(relative).suffix not in PRECOMPRESSED_SUFFIXES or not (dist / gzipped).is_file():
        return send_from_directory(dist, relative, max_age=0)
    if request.method == "HEAD" or "Range" in request.headers or not accepts_gzip(request):
        response = send_from_directory(dist, relative, max_age=0)
    else:
        mimetype = mimetypes.guess_type(relative)[0] or "application/octet-stream"
        response = send_from_directory(dist, gzipped, max_age=0, mimetype=mimetype)
        response.headers["Content-Encoding"] = GZIP
    response.vary.add("Accept-Encoding")
    return response


class SpaPathConverter(PathConverter):
    """A path that is never the API's: `api` and `api/...` are left to the API's own rules.

    So a wrong method on an API path is a 405 naming the right ones, and an unknown API
    path a JSON 404, instead of the catch-all's GET rule deciding either.
    """

    regex = r"(?!(?i:api)(?:/|$))[^/].*?"  # /API/parts/1 too: a JSON 404, not the web app


@spa_bp.route("/", defaults={"path": ""}, methods=["GET"])
@spa_bp.route("/<spa_path:path>", methods=["GET"])
def serve(path: str) -> Response:
    """A file from dist/, else index.html: the client routes everything else."""
    dist = Path(current_app.config["FRONTEND_DIST"])
    candidate = safe_join(str(dist), path) if path else None
    if candidate and Path(candidate).is_file():
        return _send(dist, path)
    if path.startswith("assets/"):
        # A build's file that is not here (a page of an older build asking for its script):
        # a 404, not index.html as JavaScript, which the browser fails on with a parse error.
        raise NotFound()
    if (dist / "index.html").is_file():
        return _send(dist, "index.html")
    docs = current_app.config["BASE_PATH"] + "/api/docs"
    # The folder's own name only: the page is public, the server's paths are not.
    page = MISSING_DIST_PAGE.replace("{docs}", docs).replace("{dist}", escape(dist.name))
    return Response(page, status=503, mimetype="text/html")


def redirect_to_base_path() -> Response:
    """The root of a server whose app lives under BASE_PATH."""
    return redirect(current_app.config["BASE_PATH"] + "/")


def register_spa(app: Flask) -> None:
    """The SPA's rules live under BASE_PATH; every other path there is a 404."""
    app.url_map.converters["spa_path"] = SpaPathConverter
    base = app.config["BASE_PATH"]
    app.register_blueprint(spa_bp, url_prefix=base or None)
    if base:
        app.add_url_rule("/", endpoint="spa_root", view_func=redirect_to_base_path)
