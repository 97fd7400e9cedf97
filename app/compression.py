"""Response compression: JSON bodies of COMPRESSION_MIN_BYTES or more are sent gzipped to
clients whose Accept-Encoding allows it (the full list: 7 MB at 10k parts, six times smaller).

What is never compressed: HEAD, 304 and every status but 200, Range requests, files (sent
by send_file: STEP, PDF, GLB, the web app's assets, which app.spa serves pre-compressed),
streamed bodies, bodies already encoded and `Cache-Control: no-transform`.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Request, Response, current_app, request

from utils.compressed_bodies import gzip_bytes, gzip_etag
from utils.settings_values import compression_level

GZIP = "gzip"
# The attribute a view sets (offer_gzip) when the body's gzip is made once elsewhere.
_GZIP_SOURCE = "gzip_source"


def accepts_gzip(incoming: Request) -> bool:
    """Accept-Encoding allows gzip (q > 0) and does not prefer identity to it."""
    accepted = incoming.accept_encodings
    quality = accepted.quality(GZIP)
    return quality > 0 and quality >= accepted.quality("identity")


def offer_gzip(response: Response, gzipped: Callable[[int], bytes]) -> Response:
    """Let compress_response take this body's gzip from `gzipped(level)` (a cached body,
    compressed once per parts revision) instead of compressing it for this request."""
    setattr(response, _GZIP_SOURCE, gzipped)
    return response


def _may_vary(response: Response) -> bool:
    """JSON we could send gzipped for some request: caches must key on Accept-Encoding."""
    return (
        response.is_json
        and not response.direct_passthrough
        and "Content-Encoding" not in response.headers
        and not response.is_streamed
    )


def _vary_on_accept_encoding(response: Response) -> None:
    # Most responses have no Vary yet: set it without parsing one into a HeaderSet.
    if "Vary" in response.headers:
        response.vary.add("Accept-Encoding")
    else:
        response.headers["Vary"] = "Accept-Encoding"


def _worth_compressing(response: Response) -> bool:
    """Cheapest tests first: most JSON answers are small, or the client asked for no gzip."""
    length = response.content_length
    if length is None or length < current_app.config["COMPRESSION_MIN_BYTES"]:
        return False
    headers = response.headers
    return (
        response.status_code == 200
        and bool(request.headers.get("Accept-Encoding"))  # without it, nothing is accepted
        and request.method != "HEAD"
        and "Range" not in request.headers
        and "Content-Range" not in headers
        and not ("Cache-Control" in headers and response.cache_control.no_transform)
        and accepts_gzip(request)
    )


def compress_response(response: Response) -> Response:
    """gzip a large JSON body for a client that accepts it; Vary on every JSON response.

    The gzip representation's ETag is the identity one plus "-gzip"; If-None-Match with
    either is answered 304 (the identity one by the view's own conditional check).
    """
    if not _may_vary(response):
        return response
    _vary_on_accept_encoding(response)
    if not _worth_compressing(response):
        return response
    etag, weak = response.get_etag()
    if etag:
        response.set_etag(gzip_etag(etag), weak)
        if request.if_none_match.contains_weak(gzip_etag(etag)):
            return response.make_conditional(request)
    level = current_app.config["COMPRESSION_LEVEL"]
    source = getattr(response, _GZIP_SOURCE, None)
    response.set_data(source(level) if source else gzip_bytes(response.get_data(), level))
    response.headers["Content-Encoding"] = GZIP
    return response


def register_compression(app: Flask) -> None:
    """Compress JSON responses, unless COMPRESSION_LEVEL is 0 (off)."""
    if compression_level(app.config["COMPRESSION_LEVEL"]):
        app.after_request(compress_response)
