"""JSON bodies and the key: never read a large body without a key, 413 for one with a key."""

from __future__ import annotations

import http.client
import io
import json

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.conftest import LiveServer
from tests.memory_probe import MB, CountingBody, json_array_chunks, peak_rss_growth
from utils.auth import JSON_BODY_MAX_BYTES

ATTACK_SIZE = 199 * MB
KEY_REQUIRED = {
    "error": "API key required",
    "code": "unauthorized",
    "details": "Provide X-API-Key header, api_key query parameter, or api_key in request body",
}
JSON_ENDPOINTS = [
    ("POST", "/api/parts/"),
    ("PUT", "/api/parts/1"),
    ("POST", "/api/parts/1/approve"),
    ("POST", "/api/parts/wipe"),
]


def _send(client, method: str, path: str, body: CountingBody, headers=None):
    return client.open(
        path,
        method=method,
        content_type="application/json",
        headers=headers or {},
        # Not input_stream: the test client would seek through the body to measure it.
        environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": str(body.size)},
    )


def _part_count(client, key: str) -> int:
    response = client.get("/api/parts/", headers={"X-API-Key": key})
    assert response.status_code == 200
    return len(response.get_json()["parts"])


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
def test_unauthenticated_199mb_json_body_returns_401_without_reading_it(make_app, method, path):
    client = make_app().test_client()
    body = CountingBody(ATTACK_SIZE)
    response, growth = peak_rss_growth(lambda: _send(client, method, path, body))
    assert response.status_code == 401
    assert response.get_json() == KEY_REQUIRED
    assert body.bytes_read == 0
    assert growth < 20 * MB


def test_key_inside_body_over_the_limit_is_not_looked_for(make_app):
    app = make_app()
    client = app.test_client()
    padding = "x" * JSON_BODY_MAX_BYTES
    raw = json.dumps({"api_key": app.config["SECRET_KEY"], "name": padding}).encode()
    response = client.post("/api/parts/", data=raw, content_type="application/json")
    assert response.status_code == 401
    assert response.get_json() == KEY_REQUIRED
    assert _part_count(client, app.config["SECRET_KEY"]) == 0


def test_key_inside_body_at_the_limit_still_authenticates(make_app):
    app = make_app()
    client = app.test_client()
    fields = {"api_key": app.config["SECRET_KEY"], "material": "Al", "subsystem": "Drive"}
    raw = json.dumps(fields).encode()
    raw = raw[:-1] + b" " * (JSON_BODY_MAX_BYTES - len(raw)) + b"}"
    assert len(raw) == JSON_BODY_MAX_BYTES
    response = client.post("/api/parts/", data=raw, content_type="application/json")
    assert response.status_code == 201, response.get_json()
    assert _part_count(client, app.config["SECRET_KEY"]) == 1


@pytest.mark.parametrize("size", [JSON_BODY_MAX_BYTES + 1, ATTACK_SIZE])
def test_authenticated_json_body_over_limit_returns_413_before_parsing(make_app, size):
    app = make_app()
    client = app.test_client()
    body = CountingBody(size)
    response = _send(client, "POST", "/api/parts/", body, {"X-API-Key": app.config["SECRET_KEY"]})
    assert response.status_code == 413
    assert response.get_json() == {
        "error": "Request body too large",
        "code": "payload_too_large",
        "max_bytes": JSON_BODY_MAX_BYTES,
    }
    assert body.bytes_read == 0
    assert _part_count(client, app.config["SECRET_KEY"]) == 0


def test_oversize_json_body_with_wrong_key_counts_as_a_failed_attempt(make_app):
    app = make_app(AUTH_FAILURE_LIMIT="1 per minute")
    client = app.test_client()
    wrong = {"X-API-Key": "guess"}
    first = _send(client, "POST", "/api/parts/", CountingBody(2 * MB), wrong)
    second = _send(client, "POST", "/api/parts/", CountingBody(2 * MB), wrong)
    assert first.status_code == 401
    assert first.get_json()["error"] == "Invalid API key"
    assert second.status_code == 429


def test_upload_endpoint_keeps_the_upload_limit(make_app):
    app = make_app(UPLOAD_MAX_BYTES=4 * MB)
    client = app.test_client()
    key = {"X-API-Key": app.config["SECRET_KEY"]}
    part = client.post("/api/parts/", json={"material": "Al", "subsystem": "Drive"}, headers=key)
    pdf = FileStorage(io.BytesIO(b"%PDF-1.4\n" + b"0" * (2 * MB)), "big.pdf")
    # Encoded up front: the test client's own encoder leaves a temporary file open.
    boundary, raw = encode_multipart({"file": pdf})
    response = client.post(
        f"/api/parts/{part.get_json()['id']}/upload",
        data=raw,
        headers=key,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["file_size"] == 2 * MB + 9


def _post_streamed(server: LiveServer, size: int, headers: dict[str, str]):
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        headers = {"Content-Type": "application/json", "Content-Length": str(size), **headers}
        connection.request("POST", "/api/parts/", body=json_array_chunks(size), headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_unauthenticated_199mb_body_over_waitress_returns_401_with_little_memory(make_app):
    app = make_app()
    with LiveServer(app) as server:
        (status, body), growth = peak_rss_growth(lambda: _post_streamed(server, ATTACK_SIZE, {}))
    assert status == 401
    assert body == KEY_REQUIRED
    assert growth < 20 * MB
    assert _part_count(app.test_client(), app.config["SECRET_KEY"]) == 0


def test_authenticated_oversize_body_over_waitress_returns_413(make_app):
    app = make_app()
    key = {"X-API-Key": app.config["SECRET_KEY"]}
    with LiveServer(app) as server:
        status, body = _post_streamed(server, 2 * MB, key)
    assert status == 413
    assert body["code"] == "payload_too_large" and body["max_bytes"] == JSON_BODY_MAX_BYTES
    assert _part_count(app.test_client(), app.config["SECRET_KEY"]) == 0
