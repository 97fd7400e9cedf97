"""The leaderboard is kept per parts revision like /stats (issue 13): computed once per
revision, a strong ETag of its bytes, 304 on If-None-Match, and every write that changes a
score shows in the next read; the OpenAPI document says so."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

import routes.stats as stats_views
from app.extensions import db
from utils.parts_cache import PartsCache, Tricks

PATH = "/api/parts/leaderboard"
GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture
def computed(monkeypatch) -> list[int]:
    """How many times the leaderboard was computed (one entry per computation)."""
    calls: list[int] = []
    real: Callable[..., Any] = stats_views.leaderboard

    def counting(session: Any) -> Any:
        calls.append(1)
        return real(session)

    monkeypatch.setattr(stats_views, "leaderboard", counting)
    return calls


@pytest.fixture
def done_by(part_in, call) -> Callable[..., dict[str, Any]]:
    """A hand part claimed by `name` and completed."""

    def factory(name: str, **overrides: Any) -> dict[str, Any]:
        part = part_in("hand", **overrides)
        assert call("POST", f"/{part['id']}/assign", {"assigned": name})[0] == 200
        status, body = call("POST", f"/{part['id']}/complete", {})
        assert status == 200, body
        return body

    return factory


def _board(client: Any, headers: dict[str, str], etag: str | None = None) -> Any:
    extra = {"If-None-Match": etag} if etag else {}
    return client.get(PATH, headers={**headers, **extra})


def test_a_200_carries_a_strong_etag_and_a_match_gets_304(client, auth_headers, done_by):
    done_by("Alice")
    first, again = _board(client, auth_headers), _board(client, auth_headers)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and not etag.startswith("W/")
    assert (again.headers["ETag"], again.data) == (etag, first.data)
    assert first.get_json() == {"leaderboard": [{"name": "Alice", "score": 1}]}
    response = _board(client, auth_headers, etag)
    assert (response.status_code, response.data, response.headers["ETag"]) == (304, b"", etag)


def test_repeated_reads_compute_once_and_each_scoring_write_shows(
    client, auth_headers, call, api_key, done_by, make_part, computed
):
    done_by("Alice")
    old = _board(client, auth_headers)
    assert _board(client, auth_headers).data == old.data and len(computed) == 1
    make_part()  # a write that changes no score: a new revision, the same bytes and ETag
    assert _board(client, auth_headers, old.headers["ETag"]).status_code == 304
    assert len(computed) == 2
    bob = done_by("Bob", amount=2)  # complete
    response = _board(client, auth_headers, old.headers["ETag"])
    assert response.status_code == 200 and response.headers["ETag"] != old.headers["ETag"]
    assert [entry["name"] for entry in response.get_json()["leaderboard"]] == ["Alice", "Bob"]
    assert call("POST", f"/{bob['id']}/revert")[0] == 200  # revert
    assert response.get_json() != _board(client, auth_headers).get_json()
    assert _board(client, auth_headers).data == old.data
    assert call("POST", "/wipe", {"password": api_key})[0] == 200  # wipe
    assert _board(client, auth_headers).get_json() == {"leaderboard": []}


def test_a_delete_shows_in_the_next_read(client, auth_headers, call, done_by):
    part = done_by("Alice")
    assert _board(client, auth_headers).get_json()["leaderboard"] != []
    assert call("DELETE", f"/{part['id']}")[0] == 200
    assert _board(client, auth_headers).get_json() == {"leaderboard": []}


@pytest.fixture
def small_gzip_app(make_app):
    """An app that gzips bodies of 16 bytes and more, with one completed part."""
    app = make_app(COMPRESSION_MIN_BYTES=16)
    client, key = app.test_client(), {"X-API-Key": app.config["SECRET_KEY"]}
    body = {"name": "Bracket", "material": "PLA", "subsystem": "Arm", "type": "hand"}
    part = client.post("/api/parts/", json=body, headers=key).get_json()
    for action, payload in (("approve", {}), ("assign", {"assigned": "Zoë"}), ("complete", {})):
        response = client.post(f"/api/parts/{part['id']}/{action}", json=payload, headers=key)
        assert response.status_code == 200, response.get_json()
    return app


def test_the_gzip_body_carries_the_gzip_etag_and_either_gives_304(small_gzip_app):
    client = small_gzip_app.test_client()
    key = {"X-API-Key": small_gzip_app.config["SECRET_KEY"]}
    plain, packed = _board(client, key), _board(client, {**key, **GZIP})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'
    for etag in (packed.headers["ETag"], plain.headers["ETag"]):
        response = _board(client, {**key, **GZIP}, etag)
        assert (response.status_code, response.data) == (304, b"")


def test_without_the_stats_bodies_trick_the_answers_are_the_same(small_gzip_app):
    client = small_gzip_app.test_client()
    key = {"X-API-Key": small_gzip_app.config["SECRET_KEY"]}
    cached = _board(client, key)
    small_gzip_app.extensions["parts_cache"].close()
    with small_gzip_app.app_context():
        engine = db.engine
    small_gzip_app.extensions["parts_cache"] = PartsCache(
        engine, replace(Tricks(), stats_bodies=False)
    )
    uncached = _board(client, key)
    assert (uncached.headers["ETag"], uncached.data) == (cached.headers["ETag"], cached.data)
    assert _board(client, key, cached.headers["ETag"]).status_code == 304


def test_the_openapi_document_lists_the_etag_and_the_304(make_app):
    spec = make_app().test_client().get("/api/openapi.json").get_json()
    responses = spec["paths"][PATH]["get"]["responses"]
    assert "304" in responses
    assert "ETag" in responses["200"]["headers"]
