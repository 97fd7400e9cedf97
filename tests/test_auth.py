"""API-key authentication: where the key may come from, refusals, lockout, /auth/check."""

import logging
import time

import pytest

from utils.auth import keys_match

KEYED_ENDPOINT = "/api/parts/stats"


def _parts_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/parts") and rule.endpoint.startswith("parts."):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


# Onshape sends the browser here after sign-in: its single-use state guards it, not the key.
KEYLESS = {"parts.onshape_callback"}


def test_every_parts_route_without_key_returns_401_json(make_app):
    app = make_app()
    client = app.test_client()
    checked = 0
    for rule, method in _parts_rules(app):
        if rule.endpoint in KEYLESS:
            continue
        path = rule.rule.replace("<int:part_id>", "1").replace("<string:category>", "cnc")
        path = path.replace("<int:index>", "0")
        response = client.open(path, method=method)
        assert response.status_code == 401, (method, path, response.get_json())
        assert response.get_json()["error"] == "API key required"
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"headers": {"X-API-Key": "{key}"}}, 200),
        ({"query_string": {"api_key": "{key}"}}, 200),
        ({"headers": {"X-API-Key": "wrong"}}, 401),
        ({"query_string": {"api_key": "wrong"}}, 401),
        ({}, 401),
    ],
    ids=["header", "query", "wrong-header", "wrong-query", "missing"],
)
def test_key_sources_for_get(make_app, kwargs, expected):
    app = make_app()
    key = app.config["SECRET_KEY"]
    filled = {
        name: {k: v.replace("{key}", key) for k, v in value.items()}
        for name, value in kwargs.items()
    }
    response = app.test_client().get(KEYED_ENDPOINT, **filled)
    assert response.status_code == expected
    assert response.is_json


def test_key_in_json_body_accepted_for_post(make_app):
    app = make_app()
    body = {"api_key": app.config["SECRET_KEY"], "material": "Al", "subsystem": "Drive"}
    response = app.test_client().post("/api/parts/", json=body)
    assert response.status_code == 201
    assert "api_key" not in response.get_json()


def test_key_in_body_ignored_for_delete(make_app):
    app = make_app()
    response = app.test_client().delete("/api/parts/1", json={"api_key": app.config["SECRET_KEY"]})
    assert response.status_code == 401


def test_header_wins_over_query(make_app):
    app = make_app()
    response = app.test_client().get(
        KEYED_ENDPOINT,
        headers={"X-API-Key": "wrong"},
        query_string={"api_key": app.config["SECRET_KEY"]},
    )
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "Invalid API key",
        "code": "unauthorized",
        "details": "The provided API key is not valid",
    }


def test_keys_match_is_exact():
    assert keys_match("abc", "abc")
    assert not keys_match("abc", "abcd")
    assert not keys_match("", "")
    assert not keys_match("abc", None)
    assert not keys_match("\ud800", "abc")  # a lone surrogate: valid JSON, not UTF-8


def test_lone_surrogate_key_in_body_is_a_counted_wrong_key(make_app):
    app = make_app(AUTH_FAILURE_LIMIT="1 per minute")
    client = app.test_client()
    body = {"api_key": "\ud800", "material": "Al", "subsystem": "Drive"}
    first = client.post("/api/parts/", json=body)
    assert (first.status_code, first.get_json()["error"]) == (401, "Invalid API key")
    assert client.post("/api/parts/", json=body).status_code == 429


def test_wrong_keys_lock_out_client_with_429_and_retry_after(make_app):
    app = make_app(AUTH_FAILURE_LIMIT="3 per minute")
    client = app.test_client()
    for _ in range(3):
        assert client.get(KEYED_ENDPOINT, headers={"X-API-Key": "guess"}).status_code == 401
    locked = client.get(KEYED_ENDPOINT, headers={"X-API-Key": "guess"})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1
    assert locked.get_json()["retry_after"] > 0
    # While locked out even the right key learns nothing: guessing cannot continue.
    right = client.get(KEYED_ENDPOINT, headers={"X-API-Key": app.config["SECRET_KEY"]})
    assert right.status_code == 429


def test_occasional_typo_does_not_lock_out_with_default_limit(make_app):
    app = make_app()
    client = app.test_client()
    for _ in range(5):
        assert client.get(KEYED_ENDPOINT, headers={"X-API-Key": "typo"}).status_code == 401
    right = client.get(KEYED_ENDPOINT, headers={"X-API-Key": app.config["SECRET_KEY"]})
    assert right.status_code == 200


def test_lockout_is_per_client_address(make_app):
    app = make_app(AUTH_FAILURE_LIMIT="2 per minute")
    client = app.test_client()
    for _ in range(3):
        client.get(
            KEYED_ENDPOINT, headers={"X-API-Key": "x"}, environ_base={"REMOTE_ADDR": "10.0.0.7"}
        )
    other = client.get(
        KEYED_ENDPOINT,
        headers={"X-API-Key": app.config["SECRET_KEY"]},
        environ_base={"REMOTE_ADDR": "10.0.0.8"},
    )
    assert other.status_code == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(make_app):
    app = make_app(AUTH_FAILURE_LIMIT="2 per minute")
    client = app.test_client()
    for n in range(3):
        client.get(KEYED_ENDPOINT, headers={"X-API-Key": "x", "X-Forwarded-For": f"10.9.9.{n}"})
    locked = client.get(KEYED_ENDPOINT, headers={"X-API-Key": "x", "X-Forwarded-For": "10.9.9.99"})
    assert locked.status_code == 429


def test_forwarded_for_used_behind_one_trusted_proxy(make_app):
    app = make_app(AUTH_FAILURE_LIMIT="2 per minute", TRUSTED_PROXY_COUNT=1)
    client = app.test_client()
    for _ in range(3):
        client.get(KEYED_ENDPOINT, headers={"X-API-Key": "x", "X-Forwarded-For": "10.1.1.1"})
    other = client.get(
        KEYED_ENDPOINT,
        headers={"X-API-Key": app.config["SECRET_KEY"], "X-Forwarded-For": "10.1.1.2"},
    )
    assert other.status_code == 200


def test_key_never_logged_even_from_query_string(make_app, caplog):
    app = make_app()
    key = app.config["SECRET_KEY"]
    with caplog.at_level(logging.INFO, logger="aerie"):
        app.test_client().get(KEYED_ENDPOINT, query_string={"api_key": key})
        app.test_client().get(KEYED_ENDPOINT, query_string={"api_key": "wrong-guess"})
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "api_key=[redacted]" in text
    assert key not in text and "wrong-guess" not in text


def test_auth_check_returns_status_and_no_cache_headers(make_app):
    app = make_app()
    response = app.test_client().get(
        "/api/parts/auth/check", headers={"X-API-Key": app.config["SECRET_KEY"]}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "authenticated" and body["message"] == "API key is valid"
    assert body["timestamp"].endswith("+00:00")
    assert response.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    assert response.headers["Pragma"] == "no-cache" and response.headers["Expires"] == "0"


def test_auth_check_repeated_within_interval_returns_429_then_recovers(make_app):
    app = make_app(AUTH_CHECK_INTERVAL_SECONDS=1)
    client = app.test_client()
    headers = {"X-API-Key": app.config["SECRET_KEY"]}
    assert client.get("/api/parts/auth/check", headers=headers).status_code == 200
    limited = client.get("/api/parts/auth/check", headers=headers)
    assert limited.status_code == 429
    body = limited.get_json()
    assert body["error"] == "Rate limited"
    assert 0 < body["retry_after"] <= 1.0
    assert "checking authentication again" in body["message"]
    time.sleep(body["retry_after"] + 0.05)
    assert client.get("/api/parts/auth/check", headers=headers).status_code == 200


def test_auth_check_with_wrong_key_is_401_not_429(make_app):
    app = make_app()
    client = app.test_client()
    for _ in range(3):
        response = client.get("/api/parts/auth/check", headers={"X-API-Key": "nope"})
        assert response.status_code == 401
