"""On Redis a request to a keyed view counts its default limits and reads its wrong-key
counts in one round trip (utils.rate_limits.COUNT_AND_READ). The counters are limits' own
keys with limits' own semantics: the same answers as counting in memory, and limits reads
what the script wrote."""

from __future__ import annotations

from typing import Any

import pytest
from limits import parse

from utils.limit_leases import lease_size
from utils.rate_limits import counters_of

STATS = "/api/parts/stats"


@pytest.fixture(params=["memory", "redis"])
def storage(request) -> dict[str, str]:
    """The rate-limit settings of either storage (Redis skipped without it, failed in CI)."""
    return {} if request.param == "memory" else request.getfixturevalue("redis_settings")


def _get(app: Any, key: str | None = None) -> Any:
    headers = {"X-API-Key": key} if key else {}
    return app.test_client().get(STATS, headers=headers)


def _default_scope(app: Any) -> tuple[str, ...]:
    with app.test_request_context(STATS):
        from flask import request

        endpoint = request.url_rule.endpoint
    return (app.config["RATELIMIT_KEY_PREFIX"], "default", endpoint, "127.0.0.1")


def _commands_sent(app: Any, monkeypatch) -> list[tuple[str, int]]:
    """Every command this app's Redis client sends from now on, with how many keys an
    EVALSHA names (0 for other commands)."""
    client = counters_of(app).storage.get_connection()
    real, sent = client.execute_command, []

    def counting(*args: Any, **options: Any) -> Any:
        name = str(args[0]).upper()
        sent.append((name, int(args[2]) if name == "EVALSHA" else 0))
        return real(*args, **options)

    monkeypatch.setattr(client, "execute_command", counting)
    return sent


def test_a_keyed_request_is_one_round_trip_on_redis(make_app, redis_settings, monkeypatch):
    """A limit counted hit by hit (under 200 per window, utils.limit_leases): the default
    limit's key and the wrong-key counter's in one script (limits alone: EVALSHA of its
    incr_expire with one key, then a GET)."""
    app = make_app(RATELIMIT_DEFAULT="150 per minute", **redis_settings)
    key = app.config["SECRET_KEY"]
    assert _get(app, key).status_code == 200  # loads the script into Redis once
    sent = _commands_sent(app, monkeypatch)
    assert _get(app, key).status_code == 200
    assert sent == [("EVALSHA", 2)]


def test_a_keyed_request_on_a_lease_only_reads_on_redis(make_app, redis_settings, monkeypatch):
    """The default 3000 per minute is leased: a request served from the reservation reads the
    wrong-key count (one MGET, no script, no write); one in `size` reserves the next hits."""
    app = make_app(**redis_settings)
    key = app.config["SECRET_KEY"]
    size = lease_size(parse(app.config["RATELIMIT_DEFAULT"]).amount)
    assert _get(app, key).status_code == 200  # reserves, loads the script once
    sent = _commands_sent(app, monkeypatch)
    for _ in range(size):
        assert _get(app, key).status_code == 200
    assert sent.count(("MGET", 0)) == size
    assert [command for command in sent if command != ("MGET", 0)] == [("EVALSHA", 1)]


def test_a_view_without_the_key_reads_no_failures(make_app, redis_settings, monkeypatch):
    app = make_app(**redis_settings)
    # Onshape's OAuth callback is the one parts route a browser reaches without the key.
    callback = "/api/parts/auth/onshape/callback"
    # Loads limits' script into Redis once: on a Redis that never ran it (a fresh machine)
    # the first EVALSHA is answered NOSCRIPT and followed by SCRIPT LOAD and a retry.
    assert app.test_client().get(callback).status_code < 500
    sent = _commands_sent(app, monkeypatch)
    # The first request reserved a lease of hits (utils.limit_leases): the next ones are
    # served from it, then one request reserves the next lease.
    size = lease_size(parse(app.config["RATELIMIT_DEFAULT"]).amount)
    assert size > 1
    for _ in range(size):
        assert app.test_client().get(callback).status_code < 500
    assert sent == [("EVALSHA", 1)]  # the default limit's reservation alone


def test_wrong_keys_lock_out_the_right_key_the_same_on_both(make_app, storage):
    app = make_app(AUTH_FAILURE_LIMIT="2 per minute", **storage)
    key = app.config["SECRET_KEY"]
    assert _get(app, "wrong-key-1").status_code == 401
    assert _get(app, key).status_code == 200  # one failure left
    assert _get(app, "wrong-key-2").status_code == 401
    locked = _get(app, key)
    assert locked.status_code == 429 and 1 <= int(locked.headers["Retry-After"]) <= 60


def test_the_default_limit_counts_in_limits_own_windows(make_app, storage):
    app = make_app(RATELIMIT_DEFAULT="2 per minute; 100 per hour", **storage)
    key = app.config["SECRET_KEY"]
    statuses = [_get(app, key).status_code for _ in range(5)]
    assert statuses == [200, 200, 429, 429, 429]
    windows, scope = counters_of(app).windows, _default_scope(app)
    # A spent first limit stops the count, as one hit after another would: the hour saw 2.
    assert windows.get_window_stats(parse("100 per hour"), *scope)[1] == 98
    assert windows.get_window_stats(parse("2 per minute"), *scope)[1] == 0
    refused = _get(app, key)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
