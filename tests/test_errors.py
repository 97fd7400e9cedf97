"""Every error is JSON with an `error` key, the right status and never a 500 for bad input."""

import pytest


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/nothing", 404),
        ("POST", "/api/nothing/here", 404),
        ("GET", "/api/parts/abc", 404),
        ("PATCH", "/api/parts/1", 405),
        ("DELETE", "/api/parts/", 405),
        ("PUT", "/api/parts/stats", 405),
    ],
)
def test_http_errors_are_json(make_app, method, path, status):
    app = make_app()
    response = app.test_client().open(
        path, method=method, headers={"X-API-Key": app.config["SECRET_KEY"]}
    )
    assert response.status_code == status
    assert response.is_json
    assert response.get_json()["error"]


def test_405_lists_allowed_methods(make_app):
    app = make_app()
    response = app.test_client().patch("/api/parts/1")
    assert response.status_code == 405
    assert {"GET", "PUT", "DELETE"} <= set(response.headers["Allow"].split(", "))


def test_body_over_max_content_length_is_413_json(make_app):
    app = make_app(UPLOAD_MAX_BYTES=1024)
    response = app.test_client().post(
        "/api/parts/",
        data=b"{" + b" " * 4096 + b"}",
        content_type="application/json",
        headers={"X-API-Key": app.config["SECRET_KEY"]},
    )
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"


def test_deeply_nested_json_is_400_not_500(make_app):
    app = make_app()
    body = "[" * 100_000 + "]" * 100_000
    response = app.test_client().post(
        "/api/parts/",
        data=body,
        content_type="application/json",
        headers={"X-API-Key": app.config["SECRET_KEY"]},
    )
    assert response.status_code == 400
    assert response.is_json


@pytest.mark.provokes_500
def test_unexpected_exception_is_generic_500_with_request_id(make_app, caplog):
    app = make_app()

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 500
    body = response.get_json()
    assert body == {
        "error": "Internal server error",
        "code": "internal_error",
        "request_id": "req-123",
    }
    assert "secret internals" not in response.get_data(as_text=True)
    assert any("req-123" in record.getMessage() for record in caplog.records)


def test_request_id_is_echoed_or_generated(make_app):
    client = make_app().test_client()
    assert (
        client.get("/health", headers={"X-Request-ID": "abc-1"}).headers["X-Request-ID"] == "abc-1"
    )
    generated = client.get("/health", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert generated and generated != "bad id!"


def test_default_rate_limit_answers_429_json_with_retry_after(make_app):
    app = make_app(RATELIMIT_DEFAULT="3 per minute")
    client = app.test_client()
    headers = {"X-API-Key": app.config["SECRET_KEY"]}
    statuses = [client.get("/api/parts/stats", headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/parts/stats", headers=headers)
    assert limited.get_json()["error"] == "Rate limited"
    assert int(limited.headers["Retry-After"]) >= 1


def test_health_and_spa_are_exempt_from_default_limit(make_app):
    app = make_app(RATELIMIT_DEFAULT="2 per minute")
    client = app.test_client()
    assert all(client.get("/health").status_code == 200 for _ in range(5))
    assert all(client.get("/some/page").status_code != 429 for _ in range(5))
