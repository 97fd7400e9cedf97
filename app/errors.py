"""One JSON error body for everything: our errors (rate limits too), Werkzeug's and crashes."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RequestRedirect

from utils.errors import ApiError, RateLimitedError
from utils.service_errors import RETRY_AFTER_SECONDS, unavailable_service

log = logging.getLogger("aerie.errors")

HTTP_MESSAGES = {
    400: ("Bad request", "bad_request"),
    404: ("Not found", "not_found"),
    405: ("Method not allowed", "method_not_allowed"),
    413: ("Request body too large", "payload_too_large"),
    415: ("Unsupported media type", "unsupported_media_type"),
}


def error_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# Today's clients (current-api-behaviour.md 0.3): create answers a bad field with "Validation
# Error" and the message in `details`; every other endpoint puts the message itself in
# `error`, which is what the web apps show.
_SAYS_VALIDATION_ERROR = frozenset({"parts.create_part"})


def _as_clients_expect(body: dict[str, Any]) -> dict[str, Any]:
    """A field's validation body in this endpoint's shape (`field` and `code` stay)."""
    if (
        body.get("code") == "validation_error"
        and "details" in body
        and request.endpoint not in _SAYS_VALIDATION_ERROR
    ):
        body["error"] = body.pop("details")
    return body


def handle_api_error(error: ApiError):
    return error_response(error.status_code, _as_clients_expect(error.to_dict()), error.headers())


def _validation_body(messages: dict[str, Any]) -> dict[str, Any]:
    """Turn webargs/marshmallow messages into today's shape: the first field's message."""
    for _location, errors in messages.items():
        if isinstance(errors, list):
            return {"error": str(errors[0]).rstrip("."), "code": "invalid_body"}
        schema_errors = errors.pop("_schema", None) if isinstance(errors, dict) else None
        for field, field_errors in (errors or {}).items():
            detail = field_errors[0] if isinstance(field_errors, list) else str(field_errors)
            return {
                "error": "Validation Error",
                "code": "validation_error",
                "details": detail,
                "field": field,
                "errors": errors,
            }
        if schema_errors:
            return {"error": str(schema_errors[0]), "code": "validation_error"}
    return {"error": "Validation Error", "code": "validation_error"}


def handle_http_error(error: HTTPException):
    status = error.code or 500
    messages = (getattr(error, "data", None) or {}).get("messages")
    if messages:
        return error_response(400, _as_clients_expect(_validation_body(dict(messages))))
    if status == 429:  # nothing raises Werkzeug's; should anything, it gets the one 429 body
        return handle_api_error(RateLimitedError("Rate limited", retry_after=1.0))
    if status == 500:  # an explicit abort(500) reads like any crash
        return handle_unexpected_error(error)
    message, code = HTTP_MESSAGES.get(status, (error.name, error.name.lower().replace(" ", "_")))
    body: dict[str, Any] = {"error": message, "code": code}
    if status == 413:
        # The limit this request had: JSON endpoints allow less than uploads.
        body["max_bytes"] = request.max_content_length
        length, cap = request.content_length, request.max_content_length
        if length is not None and cap is not None and length <= cap:
            # Within the size: Werkzeug's form limits (parts, a text field's memory) said no.
            parts = request.max_form_parts
            body["error"] = f"Too many form fields (at most {parts}) or a text field too large"
            body["max_form_parts"] = parts
    # Werkzeug's own headers of the error (416: Content-Range: bytes */<length>), not its HTML's.
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return error_response(status, body, headers)


def answer_redirect():
    """Werkzeug's slash redirects (/api/parts → /api/parts/, /api//parts/ → /api/parts/)
    as JSON, with a Location relative to this host: Werkzeug's own is an HTML page naming
    whatever host the Host header claimed. Flask hands routing redirects to no error handler,
    so this runs as the first thing a request that matched no route does."""
    redirect = request.routing_exception
    if not isinstance(redirect, RequestRedirect):
        return None
    target = urlsplit(redirect.new_url)
    location = target.path + (f"?{target.query}" if target.query else "")
    body = {"error": "Moved permanently", "code": "moved_permanently", "location": location}
    return error_response(redirect.code, body, {"Location": location})


def handle_unexpected_error(error: Exception):
    request_id = getattr(g, "request_id", None)
    service = unavailable_service(error)
    if service is not None:
        log.error("the %s is not answering (request %s)", service, request_id, exc_info=error)
        body = {
            "error": f"The server's {service} is not answering; try again shortly",
            "code": "service_unavailable",
            "request_id": request_id,
            "retry_after": RETRY_AFTER_SECONDS,
        }
        return error_response(503, body, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    log.exception("unhandled error (request %s)", request_id)
    return error_response(
        500,
        {"error": "Internal server error", "code": "internal_error", "request_id": request_id},
    )


def register_error_handlers(app: Flask) -> None:
    """Installed after the extensions so ours replace flask-smorest's HTML-free defaults."""
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
    app.before_request(answer_redirect)
