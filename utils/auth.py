"""API-key authentication: where the key may come from, how it is compared and limited."""

from __future__ import annotations

import functools
import hmac
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request
from flask_limiter.util import get_remote_address

from app.extensions import limiter
from utils.errors import AuthenticationError, RateLimitedError
from utils.rate_limits import limit_scope, parsed_limits

F = TypeVar("F", bound=Callable[..., Any])
KEY_REQUIRED_DETAILS = (
    "Provide X-API-Key header, api_key query parameter, or api_key in request body"
)


def keys_match(given: object, expected: str | None) -> bool:
    """Constant-time comparison; an unset expected key (or a non-string) matches nothing."""
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def provided_api_key() -> str | None:
    """The key from the header, else the query string, else a JSON body (POST/PUT only)."""
    header = request.headers.get("X-API-Key")
    if header:
        return header
    query = request.args.get("api_key")
    if query:
        return query
    if request.method in ("POST", "PUT") and request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("api_key"), str) and body["api_key"]:
            return body["api_key"]
    return None


def _failure_limit() -> Any:
    return parsed_limits(str(current_app.config["AUTH_FAILURE_LIMIT"]))[0]


def _seconds_until_unlocked(client: str) -> float | None:
    """None while the client may still try; else how long it must wait."""
    item, scope = _failure_limit(), limit_scope("auth-failure", client)
    if limiter.limiter.test(item, *scope):
        return None
    reset_at, _remaining = limiter.limiter.get_window_stats(item, *scope)
    return max(reset_at - time.time(), 1.0)


def check_api_key() -> None:
    """Raise unless the request carries the configured key; wrong keys are rate limited."""
    client = get_remote_address()
    wait = _seconds_until_unlocked(client)
    if wait is not None:
        raise RateLimitedError(
            "Too many failed API key attempts; try again later", retry_after=wait
        )
    given = provided_api_key()
    if not given:
        raise AuthenticationError("API key required", details=KEY_REQUIRED_DETAILS)
    if not keys_match(given, current_app.config.get("SECRET_KEY")):
        limiter.limiter.hit(_failure_limit(), *limit_scope("auth-failure", client))
        raise AuthenticationError("Invalid API key", details="The provided API key is not valid")


def require_api_key(view: F) -> F:
    """Decorator: the view runs only for a request with the right key."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_api_key()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
