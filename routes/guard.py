"""The request-bound half of the key check and the rate limits: reads the request and the
settings, and hands them to utils.auth and utils.rate_limits.

`guard_request` is the parts blueprint's one before-request hook: the default limit, the
JSON body rules, then the key of the views @require_api_key marks, with one ClientLimits.
"""

from __future__ import annotations

from flask import current_app, request

from utils import auth
from utils.auth import JSON_BODY_MAX_BYTES
from utils.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from utils.rate_limits import ClientLimits, counters_of

# Endpoints whose bodies are multipart uploads rather than JSON.
MULTIPART_ENDPOINTS = frozenset({"parts.upload_file", "parts.upload_views"})


def client_limits() -> ClientLimits:
    """This request's client (ProxyFix's address when proxies are trusted) in this app."""
    prefix = str(current_app.config["RATELIMIT_KEY_PREFIX"])
    return ClientLimits(counters_of(current_app), prefix, request.remote_addr or "127.0.0.1")


def guard_request() -> None:
    """Count the request against RATELIMIT_DEFAULT (per endpoint; 429 once spent), refuse
    bodies the JSON endpoints cannot take, then check the key before the view parses its
    arguments (a missing key is a 401, not a 400)."""
    limits, needs_key = client_limits(), key_required()
    # For a view that needs the key, the wrong-key counts come with the hit (Redis: one trip).
    failures = str(current_app.config["AUTH_FAILURE_LIMIT"]) if needs_key else ""
    limits.enforce_default(
        str(current_app.config["RATELIMIT_DEFAULT"]), request.endpoint or "", failures
    )
    require_json_bodies(limits)
    if needs_key:
        check_api_key(limits)


def enforce_auth_check_interval() -> None:
    """One /auth/check per AUTH_CHECK_INTERVAL_SECONDS."""
    client_limits().enforce_auth_check_interval(current_app.config["AUTH_CHECK_INTERVAL_SECONDS"])


def check_api_key(limits: ClientLimits) -> None:
    """401 unless the request carries the configured key; wrong keys are rate limited."""
    auth.check_api_key(
        auth.provided_api_key(request),
        current_app.config.get("SECRET_KEY"),
        limits,
        str(current_app.config["AUTH_FAILURE_LIMIT"]),
    )


def require_json_bodies(limits: ClientLimits) -> None:
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
        check_api_key(limits)
        raise PayloadTooLargeError("Request body too large", max_bytes=JSON_BODY_MAX_BYTES)


def key_required() -> bool:
    """Whether this request's view is marked with utils.auth.require_api_key. Flask answers
    an automatic OPTIONS (a CORS preflight) without running the view: no key there."""
    rule = request.url_rule
    if request.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
        return False
    return auth.requires_api_key(current_app.view_functions.get(request.endpoint or ""))
