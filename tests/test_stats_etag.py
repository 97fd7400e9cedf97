"""/stats and /stats/detailed carry a strong ETag made once per kept body (issue 13): a poll
with If-None-Match is answered 304 until a write changes the statistics, with the plain ETag
and with the gzip body's one, and the OpenAPI document says so."""

from __future__ import annotations

import gzip
from dataclasses import replace

import pytest

from app.extensions import db
from utils.parts_cache import PartsCache, Tricks

PATHS = ["/api/parts/stats", "/api/parts/stats/detailed"]
GZIP = {"Accept-Encoding": "gzip"}
BRACKET = {"name": "Bracket", "material": "PLA", "subsystem": "Arm", "type": "hand"}


@pytest.fixture(params=PATHS, ids=["stats", "detailed"])
def path(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def small_gzip_app(make_app):
    """An app that gzips the statistics (one part's are a few hundred bytes) and holds a part."""
    app = make_app(COMPRESSION_MIN_BYTES=64)
    headers = {"X-API-Key": app.config["SECRET_KEY"]}
    assert app.test_client().post("/api/parts/", json=BRACKET, headers=headers).status_code == 201
    return app


def test_a_200_carries_a_strong_etag_of_its_body(client, auth_headers, make_part, path):
    make_part()
    first = client.get(path, headers=auth_headers)
    again = client.get(path, headers=auth_headers)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and not etag.startswith("W/")
    assert (again.headers["ETag"], again.data) == (etag, first.data)


def test_if_none_match_with_the_etag_gives_304_and_no_body(client, auth_headers, make_part, path):
    make_part()
    etag = client.get(path, headers=auth_headers).headers["ETag"]
    response = client.get(path, headers={**auth_headers, "If-None-Match": etag})
    assert (response.status_code, response.data) == (304, b"")
    assert response.headers["ETag"] == etag


def test_a_write_changes_the_etag_and_the_old_one_gets_the_new_body(
    client, auth_headers, make_part, path
):
    make_part()
    old = client.get(path, headers=auth_headers)
    make_part(name="Spacer")
    response = client.get(path, headers={**auth_headers, "If-None-Match": old.headers["ETag"]})
    assert response.status_code == 200
    assert response.headers["ETag"] != old.headers["ETag"]
    assert response.data != old.data
    current = {**auth_headers, "If-None-Match": response.headers["ETag"]}
    assert client.get(path, headers=current).status_code == 304


def test_the_gzip_body_carries_the_gzip_etag_and_either_gives_304(small_gzip_app, path):
    client = small_gzip_app.test_client()
    key = {"X-API-Key": small_gzip_app.config["SECRET_KEY"]}
    plain, packed = client.get(path, headers=key), client.get(path, headers={**key, **GZIP})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'
    for etag in (packed.headers["ETag"], plain.headers["ETag"]):
        response = client.get(path, headers={**key, **GZIP, "If-None-Match": etag})
        assert (response.status_code, response.data) == (304, b"")
        assert response.headers.get("Content-Encoding") is None


def test_a_gzip_etag_of_an_older_revision_gets_the_new_gzip_body(small_gzip_app, path):
    client = small_gzip_app.test_client()
    key = {"X-API-Key": small_gzip_app.config["SECRET_KEY"]}
    old = client.get(path, headers={**key, **GZIP}).headers["ETag"]
    assert client.post("/api/parts/", json=BRACKET, headers=key).status_code == 201
    response = client.get(path, headers={**key, **GZIP, "If-None-Match": old})
    assert (response.status_code, response.headers["Content-Encoding"]) == (200, "gzip")
    assert response.headers["ETag"] != old
    assert gzip.decompress(response.data) == client.get(path, headers=key).data


def test_without_the_stats_bodies_trick_the_etag_and_304_are_the_same(small_gzip_app, path):
    """The benchmark's uncached statistics answer exactly what the cached ones do."""
    client = small_gzip_app.test_client()
    key = {"X-API-Key": small_gzip_app.config["SECRET_KEY"]}
    cached = client.get(path, headers=key)
    small_gzip_app.extensions["parts_cache"].close()
    with small_gzip_app.app_context():
        engine = db.engine
    uncached_cache = PartsCache(engine, replace(Tricks(), stats_bodies=False))
    small_gzip_app.extensions["parts_cache"] = uncached_cache
    uncached = client.get(path, headers=key)
    assert (uncached.headers["ETag"], uncached.data) == (cached.headers["ETag"], cached.data)
    again = client.get(path, headers={**key, "If-None-Match": cached.headers["ETag"]})
    assert again.status_code == 304


def test_the_openapi_document_lists_the_etag_and_the_304(make_app, path):
    spec = make_app().test_client().get("/api/openapi.json").get_json()
    responses = spec["paths"][path]["get"]["responses"]
    assert "304" in responses
    assert "ETag" in responses["200"]["headers"]
