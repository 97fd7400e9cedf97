"""The three rate limits: today's exact 429 bodies, one storage per app, nothing else limited."""

from __future__ import annotations

import time

import pytest

from app.extensions import limiter
from tests.helpers import get_closed
from utils.rate_limits import SweptMemoryStorage

STATS = "/api/parts/stats"
CHECK = "/api/parts/auth/check"


def _limited_body(response) -> dict:
    assert response.status_code == 429
    body = response.get_json()
    # The header is the body's float rounded up to whole seconds, at least one.
    header = int(response.headers["Retry-After"])
    assert header >= 1 and body["retry_after"] <= header < body["retry_after"] + 1.01
    return body


def test_default_limit_429_body_is_todays(make_app):
    app = make_app(RATELIMIT_DEFAULT="1 per minute")
    client, key = app.test_client(), {"X-API-Key": app.config["SECRET_KEY"]}
    assert client.get(STATS, headers=key).status_code == 200
    body = _limited_body(client.get(STATS, headers=key))
    assert set(body) == {"error", "code", "message", "retry_after"}
    assert (body["error"], body["code"]) == ("Rate limited", "rate_limited")
    assert 0 < body["retry_after"] <= 60
    assert body["message"] == f"Please wait {body['retry_after']:.1f} seconds before trying again"


def test_auth_check_429_body_is_todays(make_app):
    app = make_app(AUTH_CHECK_INTERVAL_SECONDS=5)
    client, key = app.test_client(), {"X-API-Key": app.config["SECRET_KEY"]}
    assert client.get(CHECK, headers=key).status_code == 200
    body = _limited_body(client.get(CHECK, headers=key))
    assert set(body) == {"error", "code", "message", "retry_after"}
    assert (body["error"], body["code"]) == ("Rate limited", "rate_limited")
    assert 0 < body["retry_after"] <= 5
    assert body["message"].startswith("Please wait ")
    assert body["message"].endswith(" seconds before checking authentication again")


def test_lockout_429_body_is_todays_for_wrong_right_and_missing_keys(make_app):
    app = make_app(AUTH_FAILURE_LIMIT="1 per minute")
    client = app.test_client()
    assert client.get(STATS, headers={"X-API-Key": "guess"}).status_code == 401
    for headers in ({"X-API-Key": "guess"}, {"X-API-Key": app.config["SECRET_KEY"]}, {}):
        body = _limited_body(client.get(STATS, headers=headers))
        assert set(body) == {"error", "code", "retry_after"}
        assert body["error"] == "Too many failed API key attempts; try again later"
        assert body["code"] == "rate_limited"
        assert 1 <= body["retry_after"] <= 60


@pytest.mark.parametrize(("interval", "second_check"), [(0, 200), (0.4, 429), (1, 429)])
def test_an_auth_check_interval_of_0_is_none_and_a_fraction_is_a_second(
    make_app, interval, second_check
):
    app = make_app(AUTH_CHECK_INTERVAL_SECONDS=interval)
    client, key = app.test_client(), {"X-API-Key": app.config["SECRET_KEY"]}
    assert client.get(CHECK, headers=key).status_code == 200
    assert client.get(CHECK, headers=key).status_code == second_check


def test_auth_check_interval_counts_only_successful_checks(make_app):
    app = make_app(AUTH_CHECK_INTERVAL_SECONDS=60)
    client = app.test_client()
    for _ in range(3):
        assert client.get(CHECK, headers={"X-API-Key": "typo"}).status_code == 401
    assert client.get(CHECK).status_code == 401
    right = {"X-API-Key": app.config["SECRET_KEY"]}
    assert client.get(CHECK, headers=right).status_code == 200
    assert client.get(CHECK, headers=right).status_code == 429


@pytest.mark.parametrize(
    "path", ["/health", "/", "/some/page", "/api/docs/assets/swagger-ui.css", "/api/openapi.json"]
)
def test_pages_outside_the_parts_api_are_never_limited(make_app, path):
    app = make_app(RATELIMIT_DEFAULT="1 per minute")
    client = app.test_client()
    assert all(get_closed(client, path, {}).status_code != 429 for _ in range(4))


def test_each_app_counts_in_its_own_storage(make_app):
    first = make_app(RATELIMIT_DEFAULT="1 per minute")
    second = make_app(RATELIMIT_DEFAULT="1 per minute")
    assert limiter.storage_for(first) is not limiter.storage_for(second)
    for app in (first, second):
        key = {"X-API-Key": app.config["SECRET_KEY"]}
        assert app.test_client().get(STATS, headers=key).status_code == 200


def test_limits_are_kept_under_the_key_prefix(make_app):
    app = make_app(RATELIMIT_KEY_PREFIX="shop-7", AUTH_FAILURE_LIMIT="5 per minute")
    app.test_client().get(STATS, headers={"X-API-Key": "guess"})
    keys = list(limiter.storage_for(app).storage)
    assert keys and all("shop-7" in key for key in keys)


def test_memory_storage_always_answers_the_start_up_check(make_app):
    assert limiter.check(make_app()) is True


def test_memory_storage_starts_no_thread_per_hit(make_app):
    # limits' own memory storage starts a new 10 ms timer thread once the last has ended:
    # a request every 11 ms would start one each. Ours keeps one sweeper for 5 s.
    app = make_app()
    storage = limiter.storage_for(app)
    assert isinstance(storage, SweptMemoryStorage)
    client, key = app.test_client(), {"X-API-Key": app.config["SECRET_KEY"]}
    timers = []
    for _ in range(30):
        assert client.get(STATS, headers=key).status_code == 200
        if not any(timer is storage.timer for timer in timers):
            timers.append(storage.timer)
        time.sleep(0.011)
    assert len(timers) <= 2  # the one the library starts when built, then ours


def test_memory_storage_sweep_drops_expired_windows(make_app):
    app = make_app(RATELIMIT_DEFAULT="1 per second")
    storage = limiter.storage_for(app)
    client, key = app.test_client(), {"X-API-Key": app.config["SECRET_KEY"]}
    assert client.get(STATS, headers=key).status_code == 200
    assert client.get(STATS, headers=key).status_code == 429
    assert list(storage.storage)
    time.sleep(1.1)
    storage._sweep()
    assert not list(storage.storage)
    assert client.get(STATS, headers=key).status_code == 200
