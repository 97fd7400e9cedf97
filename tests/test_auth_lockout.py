"""Wrong-key lockout is exact under concurrency: N failures allowed, never more."""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import LiveServer

ATTEMPTS = 200
LIMIT = 30  # the default AUTH_FAILURE_LIMIT, "30 per minute"


def _get(server: LiveServer, headers: dict[str, str]) -> tuple[int, dict[str, Any], str | None]:
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("GET", "/api/parts/stats", headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read()), response.getheader("Retry-After")
    finally:
        connection.close()


def _burst(server: LiveServer) -> list[tuple[int, dict[str, Any], str | None]]:
    """ATTEMPTS wrong keys at once, from 16 client threads against 8 server threads."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(_get, server, {"X-API-Key": f"guess-{n}"}) for n in range(ATTEMPTS)]
        return [future.result(timeout=120) for future in futures]


class SlowCounter(Counter):
    """The memory storage's counters, read late: it reads its count back after its lock."""

    def get(self, key: Any, default: Any = None) -> Any:
        time.sleep(0.002)
        return super().get(key, default)


@pytest.fixture
def slow_storage(monkeypatch):
    """Every limiter storage answer arrives 2 ms late, as from a Redis across a network.

    A separate check and count race whenever answers take time; the latency makes that
    race show on every run instead of now and then.
    """

    def add_latency(storage: Any) -> None:
        for name in ("get", "incr"):
            original = getattr(storage, name)

            def slow(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                answer = _original(*args, **kwargs)
                time.sleep(0.002)
                return answer

            monkeypatch.setattr(storage, name, slow)
        if isinstance(getattr(storage, "storage", None), Counter):
            monkeypatch.setattr(storage, "storage", SlowCounter(storage.storage))

    return add_latency


def _assert_exact_lockout(app, slow_storage) -> None:
    from app.extensions import limiter

    slow_storage(limiter.storage_for(app))
    with LiveServer(app, threads=8) as server:
        results = _burst(server)
        after = _get(server, {"X-API-Key": app.config["SECRET_KEY"]})
    statuses = Counter(status for status, _body, _retry in results)
    assert statuses == {401: LIMIT, 429: ATTEMPTS - LIMIT}
    for status, body, retry_after in results:
        if status == 401:
            assert body["error"] == "Invalid API key"
        else:
            assert body["code"] == "rate_limited"
            assert retry_after is not None and 1 <= int(retry_after) <= 60
    # The lockout holds for the right key too, so guessing cannot go on.
    assert after[0] == 429


def test_concurrent_wrong_keys_get_exactly_the_limit_of_401s_in_memory(make_app, slow_storage):
    app = make_app()
    assert app.config["AUTH_FAILURE_LIMIT"] == f"{LIMIT} per minute"
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    _assert_exact_lockout(app, slow_storage)


def test_concurrent_wrong_keys_get_exactly_the_limit_of_401s_with_redis(
    make_app, redis_settings, slow_storage
):
    app = make_app(**redis_settings)
    _assert_exact_lockout(app, slow_storage)


def test_missing_key_does_not_count_as_a_failure(make_app):
    app = make_app(AUTH_FAILURE_LIMIT="2 per minute")
    client = app.test_client()
    for _ in range(5):
        assert client.get("/api/parts/stats").status_code == 401
    right = client.get("/api/parts/stats", headers={"X-API-Key": app.config["SECRET_KEY"]})
    assert right.status_code == 200
