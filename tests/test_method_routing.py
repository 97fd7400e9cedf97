"""A wrong method on an API path is a 405 naming the right ones; the SPA never claims /api."""

from __future__ import annotations

from pathlib import Path

import pytest

METHOD_NOT_ALLOWED = {"error": "Method not allowed", "code": "method_not_allowed"}
NOT_FOUND = {"error": "Not found", "code": "not_found"}
POST_ONLY = {"OPTIONS", "POST"}
# (method, path under BASE_PATH with "{id}" for a part in review, the methods it allows)
WRONG_METHODS = [
    ("PUT", "/api/parts/{id}/approve", POST_ONLY),
    ("GET", "/api/parts/{id}/approve", POST_ONLY),
    ("DELETE", "/api/parts/{id}/approve", POST_ONLY),
    ("TRACE", "/api/parts/{id}/approve", POST_ONLY),
    ("PUT", "/api/parts/{id}/complete", POST_ONLY),
    ("GET", "/api/parts/{id}/assign", POST_ONLY),
    ("TRACE", "/api/parts/", {"GET", "HEAD", "OPTIONS", "POST"}),
    ("TRACE", "/api/parts/{id}", {"DELETE", "GET", "HEAD", "OPTIONS", "PUT"}),
    ("PATCH", "/api/parts/{id}", {"DELETE", "GET", "HEAD", "OPTIONS", "PUT"}),
    ("PUT", "/api/parts/stats", {"GET", "HEAD", "OPTIONS"}),
    ("POST", "/api/docs", {"GET", "HEAD", "OPTIONS"}),
]


def allowed(response) -> set[str]:
    return {method.strip() for method in response.headers["Allow"].split(",")}


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    folder = tmp_path / "built"
    folder.mkdir()
    (folder / "index.html").write_text("<html>SPA</html>")
    return folder


@pytest.fixture(params=["", "/pms"], ids=["root", "base-path"])
def site(request, make_app, dist):
    """(client, BASE_PATH, key headers, a part in review) with the SPA built."""
    app = make_app(FRONTEND_DIST=str(dist), BASE_PATH=request.param)
    client = app.test_client()
    headers = {"X-API-Key": app.config["SECRET_KEY"]}
    body = {"name": "Bracket", "material": "Al", "subsystem": "Drive", "type": "cnc"}
    created = client.post(f"{request.param}/api/parts/", json=body, headers=headers)
    assert created.status_code == 201
    return client, request.param, headers, created.get_json()


def fetch_part(site_: tuple, part_id: int) -> dict:
    client, base, headers, _part = site_
    response = client.get(f"{base}/api/parts/{part_id}", headers=headers)
    assert response.status_code == 200
    return response.get_json()


@pytest.mark.parametrize(("method", "path", "methods"), WRONG_METHODS)
def test_wrong_method_on_api_route_returns_405_with_allow(site, method, path, methods):
    client, base, headers, part = site
    response = client.open(base + path.format(id=part["id"]), method=method, headers=headers)
    assert response.status_code == 405
    assert allowed(response) == methods
    assert response.get_json() == METHOD_NOT_ALLOWED
    assert fetch_part(site, part["id"]) == part


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/parts/{id}/approve", POST_ONLY),
        ("/api/parts/{id}/revert", POST_ONLY),
        ("/api/parts/wipe", POST_ONLY),
        ("/api/parts/", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("/api/parts/{id}", {"DELETE", "GET", "HEAD", "OPTIONS", "PUT"}),
    ],
)
def test_options_allow_lists_only_the_route_methods(site, path, methods):
    client, base, headers, part = site
    response = client.options(base + path.format(id=part["id"]), headers=headers)
    assert response.status_code == 200
    assert allowed(response) == methods
    assert response.get_data() == b""


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "TRACE"])
@pytest.mark.parametrize(
    "path", ["/api", "/api/", "/api/nothing", "/api/parts/abc", "/api/parts/{id}/nothing"]
)
def test_unknown_api_path_is_404_json_for_any_method(site, method, path):
    client, base, headers, part = site
    response = client.open(base + path.format(id=part["id"]), method=method, headers=headers)
    assert response.status_code == 404
    assert response.get_json() == NOT_FOUND
    assert "Allow" not in response.headers


@pytest.mark.parametrize("path", ["/", "/parts/42/edit", "/apix", "/apix/route", "/parts/api"])
def test_non_api_paths_still_fall_back_to_index(site, path):
    client, base, _headers, _part = site
    with client.get(base + path) as response:
        assert response.status_code == 200
        assert response.get_data() == b"<html>SPA</html>"


def test_wrong_method_on_spa_path_is_405_json(site):
    client, base, _headers, _part = site
    response = client.post(base + "/some/page")
    assert response.status_code == 405
    assert allowed(response) == {"GET", "HEAD", "OPTIONS"}
    assert response.get_json() == METHOD_NOT_ALLOWED


@pytest.mark.parametrize("path", ["/api/parts/1/approve", "/api/parts/", "/some/page", "/pmsx/"])
def test_paths_outside_base_path_are_404_json(make_app, dist, path):
    app = make_app(FRONTEND_DIST=str(dist), BASE_PATH="/pms")
    headers = {"X-API-Key": app.config["SECRET_KEY"]}
    for method in ("GET", "PUT"):
        response = app.test_client().open(path, method=method, headers=headers)
        assert response.status_code == 404
        assert response.get_json() == NOT_FOUND


def test_root_redirects_to_base_path_and_bare_base_path_gains_its_slash(make_app, dist):
    client = make_app(FRONTEND_DIST=str(dist), BASE_PATH="/pms").test_client()
    root = client.get("/")
    assert root.status_code == 302
    assert root.headers["Location"] == "/pms/"
    bare = client.get("/pms")
    assert bare.status_code == 308
    assert bare.headers["Location"].endswith("/pms/")


@pytest.mark.parametrize("path", ["/api/parts/{id}/approve", "/api/parts/"])
def test_cors_preflight_from_allowed_origin_still_answers(make_app, dist, path):
    app = make_app(FRONTEND_DIST=str(dist), CORS_ORIGINS=["https://shop.example"])
    response = app.test_client().options(
        path.format(id=1),
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key, Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "x-api-key" in response.headers["Access-Control-Allow-Headers"].lower()
    assert "POST" in allowed(response)
