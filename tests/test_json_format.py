"""Every JSON body has one shape: compact, sorted keys, ASCII, one final newline."""

from __future__ import annotations

import json

import pytest

REQUESTS = [
    ("GET", "/api/parts/", None),
    ("GET", "/api/parts/?limit=1", None),
    ("GET", "/api/parts/{id}", None),
    ("PUT", "/api/parts/{id}", {"notes": "Deburr édges"}),
    ("POST", "/api/parts/{id}/approve", {"reviewer": "Ms. Rivera"}),
    ("GET", "/api/parts/stats", None),
    ("GET", "/api/parts/stats/detailed", None),
    ("GET", "/api/parts/leaderboard", None),
    ("GET", "/api/parts/categories/review", None),
    ("GET", "/api/parts/auth/check", None),
    ("GET", "/api/parts/999999", None),
    ("POST", "/api/parts/", {"name": "No material"}),
    ("PUT", "/api/parts/{id}/approve", None),
    ("GET", "/health", None),
    ("GET", "/api/openapi.json", None),  # flask-smorest indented its document
]


def _canonical(body: bytes) -> bytes:
    text = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return (text + "\n").encode("ascii")


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_json_bodies_are_compact_sorted_with_a_final_newline(
    client, auth_headers, make_part, method, path, body
):
    part = make_part(name="Gear ✓")
    kwargs = {} if body is None else {"json": body}
    response = client.open(
        path.format(id=part["id"]), method=method, headers=auth_headers, **kwargs
    )
    assert response.mimetype == "application/json"
    assert response.data == _canonical(response.data)


def test_development_debug_mode_keeps_the_same_shape(make_app):
    application = make_app(FLASK_ENV="testing", DEBUG=True)
    application.debug = True  # what run.py does on a loopback address
    response = application.test_client().get(
        "/api/parts/auth/check", headers={"X-API-Key": application.config["SECRET_KEY"]}
    )
    assert response.status_code == 200
    assert response.data == _canonical(response.data)
