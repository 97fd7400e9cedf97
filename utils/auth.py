"""API-key authentication: where the key may come from and how it is compared.

Wrong keys are counted by utils.rate_limits (the wrong-key lockout). The request and the
settings are handed in by the caller (routes.guard); nothing here reads Flask's globals.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any, TypeVar

from werkzeug.wrappers import Request

from utils.errors import AuthenticationError
from utils.rate_limits import ClientLimits

F = TypeVar("F", bound=Callable[..., Any])
# The largest JSON body the API reads (and searches for a key). JSON requests are small (a
# part with its 64 KB miscInfo at most); uploads are multipart and have their own limit.
JSON_BODY_MAX_BYTES = 1024 * 1024
KEY_REQUIRED_DETAILS = (
    "Provide X-API-Key header, api_key query parameter, or api_key in request body"
)


def keys_match(given: object, expected: str | None) -> bool:
    """Constant-time comparison; an unset expected key (or a non-string) matches nothing."""
    if not isinstance(given, str) or not given or not expected:
        return False
    # surrogatepass: a lone surrogate (valid JSON, "\\ud800") is just a wrong key, never a crash.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def json_body_is_small(request: Request) -> bool:
    """Whether the body announces a length within JSON_BODY_MAX_BYTES (chunked: unknown)."""
    length = request.content_length
    return length is not None and length <= JSON_BODY_MAX_BYTES


def provided_api_key(request: Request) -> str | None:
    """The key from the header, else the query string, else a small JSON body (POST/PUT)."""
    header = request.headers.get("X-API-Key")
    if header:
        return header
    query = request.args.get("api_key")
    if query:
        return query
    # A client without a key must not make us read (let alone parse) a large body: a
    # 200 MB JSON array costs gigabytes of memory before we could say 401.
    if request.method in ("POST", "PUT") and request.is_json and json_body_is_small(request):
        body = request.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("api_key"), str) and body["api_key"]:
            return body["api_key"]
    return None


def check_api_key(
    given: str | None, expected: str | None, limits: ClientLimits, failure_limit: str
) -> None:
    """Raise unless `given` is the expected key; wrong keys count against `failure_limit`."""
    if given and not keys_match(given, expected):
        limits.count_wrong_key(failure_limit)  # 429 for the attempt that finds none left
        raise AuthenticationError("Invalid API key", details="The provided API key is not valid")
    limits.refuse_if_locked_out(failure_limit)
    if not given:
        raise AuthenticationError("API key required", details=KEY_REQUIRED_DETAILS)


def require_api_key(view: F) -> F:
    """Mark a view as needing the key: the parts blueprint checks it before the view runs
    (routes.guard), after the rate limit and the body checks."""
    view.requires_api_key = True  # type: ignore[attr-defined]
    return view


def requires_api_key(view: Callable[..., Any] | None) -> bool:
    """Whether require_api_key marked this view (or a view that wraps it)."""
    return bool(getattr(view, "requires_api_key", False))
