"""The blanket per-client limit on API routes, applied with one storage hit per limit.

Flask-Limiter's default-limit machinery re-evaluates its limits on every request; this
reads the same RATELIMIT_DEFAULT through the same storage (memory or Redis) for a fraction
of the cost, which matters on the shop floor's hottest calls.
"""

from __future__ import annotations

import functools
import threading
import time

from flask import current_app, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage

from app.extensions import limiter
from utils.errors import RateLimitedError

# MemoryStorage.incr reads the counter back after releasing its per-key lock (and may hand
# two threads two locks for a new key), so concurrent hits can misjudge the count; Redis
# counts and reads in one script. Serialising the memory hits makes them exact.
_memory_hit_lock = threading.Lock()


@functools.lru_cache(maxsize=16)
def parsed_limits(text: str) -> tuple[RateLimitItem, ...]:
    """'3000 per minute; 100 per second' → limit items (parsed once per distinct text)."""
    return tuple(parse_many(text)) if text.strip() else ()


def enforce_default_limit() -> None:
    """Count this request against the client's default limits; 429 once one is spent."""
    # Per client and per endpoint, as Flask-Limiter scopes default limits: a phone polling
    # the list does not use up the budget for claiming a part.
    scope = limit_scope("default", request.endpoint or "", get_remote_address())
    for item in parsed_limits(str(current_app.config["RATELIMIT_DEFAULT"])):
        if not limiter.limiter.hit(item, *scope):
            reset_at, _remaining = limiter.limiter.get_window_stats(item, *scope)
            wait = max(reset_at - time.time(), 0.0)
            raise RateLimitedError(
                "Rate limited",
                retry_after=wait,
                advice=f"Please wait {wait:.1f} seconds before trying again",
            )


def limit_scope(*parts: str) -> tuple[str, ...]:
    """Identifiers for a limit, under RATELIMIT_KEY_PREFIX (apps may share one Redis)."""
    return (str(current_app.config["RATELIMIT_KEY_PREFIX"]), *parts)


def hit_exactly(item: RateLimitItem, *scope: str) -> bool:
    """Count one hit; True if it was within the limit, exact under concurrent requests."""
    if isinstance(limiter.storage, MemoryStorage):
        with _memory_hit_lock:
            return limiter.limiter.hit(item, *scope)
    return limiter.limiter.hit(item, *scope)


def seconds_until_reset(item: RateLimitItem, scope: tuple[str, ...]) -> float:
    """How long until the limit's window for `scope` frees up again (at least a second)."""
    reset_at, _remaining = limiter.limiter.get_window_stats(item, *scope)
    return max(reset_at - time.time(), 1.0)
