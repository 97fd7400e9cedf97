"""gzip of JSON responses: negotiation, Vary, ETags and 304s, what is never compressed, and the
cached list compressed once per parts revision."""

from __future__ import annotations

import gzip
import json
import threading
import time

import pytest
from flask import Response

from app.compression import compress_response
from tests.databases import TestDatabase
from tests.helpers import get_closed, upload_ok
from utils import compressed_bodies
from utils.compressed_bodies import GzipOnce
from utils.settings_values import ConfigError

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


@pytest.fixture
def test_database() -> TestDatabase:
    """Compression does not depend on the database: SQLite is enough."""
    return TestDatabase("sqlite", None)


def vary(response) -> str:
    """Every Vary line (flask-cors adds its own for Origin)."""
    return ", ".join(response.headers.getlist("Vary"))


@pytest.fixture
def parts(make_part):
    """Enough parts for a list body well above COMPRESSION_MIN_BYTES (1 KB)."""
    return [make_part(name=f"Gusset {number}") for number in range(6)]


@pytest.fixture
def get(client, auth_headers):
    def request(path: str = "/api/parts/", **headers: str):
        return client.get(path, headers={**auth_headers, **headers})

    return request


def test_gzip_and_identity_bodies_decode_to_the_same_json(parts, get):
    plain = get()
    packed = get(**GZIP)
    assert plain.headers.get("Content-Encoding") is None
    assert packed.headers["Content-Encoding"] == "gzip"
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 3
    assert int(plain.headers["Content-Length"]) == len(plain.data) > 1024
    assert gzip.decompress(packed.data) == plain.data
    assert json.loads(gzip.decompress(packed.data))["total"] == len(parts)
    assert packed.content_type == plain.content_type == "application/json"


def test_body_is_gzipped_at_the_configured_level(make_app):
    app = make_app(COMPRESSION_LEVEL=1)
    key = {"X-API-Key": app.config["SECRET_KEY"]}
    client = app.test_client()
    for number in range(6):
        body = {"name": f"Rib {number}", "material": "HDPE", "subsystem": "Arm", "type": "cnc"}
        assert client.post("/api/parts/", json=body, headers=key).status_code == 201
    plain = client.get("/api/parts/", headers=key).data
    packed = client.get("/api/parts/", headers={**key, **GZIP}).data
    assert (
        packed == compressed_bodies.gzip_bytes(plain, 1) != compressed_bodies.gzip_bytes(plain, 9)
    )


@pytest.mark.parametrize(
    "accept",
    ["gzip", "*", "gzip;q=0.5", "deflate, gzip, br, zstd", "identity;q=0.5, gzip", "GZIP"],
)
def test_accepting_clients_get_gzip(parts, get, accept):
    assert get(**{"Accept-Encoding": accept}).headers.get("Content-Encoding") == "gzip"


@pytest.mark.parametrize(
    "accept",
    ["", "identity", "gzip;q=0", "*;q=0", "*, gzip;q=0", "br, deflate", "gzip;q=0.5, identity"],
)
def test_refusing_or_identity_preferring_clients_get_the_plain_body(parts, get, accept):
    response = get(**{"Accept-Encoding": accept})
    assert response.headers.get("Content-Encoding") is None
    assert json.loads(response.data)["total"] == len(parts)
    assert "Accept-Encoding" in vary(response)


def test_vary_on_compressed_plain_small_and_not_modified_json(parts, get):
    compressed, plain, small = get(**GZIP), get(), get(f"/api/parts/{parts[0]['id']}", **GZIP)
    not_modified = get(**GZIP, **{"If-None-Match": compressed.headers["ETag"]})
    assert small.headers.get("Content-Encoding") is None  # one part: under 1 KB
    assert not_modified.status_code == 304
    for response in (compressed, plain, small, not_modified):
        assert "Accept-Encoding" in vary(response)


def test_gzip_etag_is_the_identity_etag_with_a_suffix_inside_the_quotes(parts, get):
    plain, packed = get().headers["ETag"], get(**GZIP).headers["ETag"]
    assert plain.startswith('"') and not plain.startswith("W/")
    assert packed == plain[:-1] + '-gzip"'


@pytest.mark.parametrize("which", ["identity", "gzip"])
def test_if_none_match_with_either_etag_gives_304(parts, get, which):
    etag = (get() if which == "identity" else get(**GZIP)).headers["ETag"]
    response = get(**GZIP, **{"If-None-Match": etag})
    assert (response.status_code, response.data) == (304, b"")
    assert response.headers.get("Content-Encoding") is None
    assert response.headers["ETag"] == etag


def test_identity_client_revalidates_with_its_etag(parts, get):
    etag = get().headers["ETag"]
    assert get(**{"If-None-Match": etag}).status_code == 304


def test_gzip_etag_of_an_older_revision_gets_the_new_body(parts, get, make_part):
    old = get(**GZIP).headers["ETag"]
    make_part(name="Late Spacer")
    response = get(**GZIP, **{"If-None-Match": old})
    assert response.status_code == 200
    assert response.headers["ETag"] != old
    assert json.loads(gzip.decompress(response.data))["total"] == len(parts) + 1


def test_if_match_with_a_gzipped_parts_etag_allows_the_write(client, auth_headers, make_part):
    part = make_part(miscInfo={"reviewNotes": "check the bolt pattern " * 80})
    url = f"/api/parts/{part['id']}"
    got = client.get(url, headers={**auth_headers, **GZIP})
    assert got.headers["Content-Encoding"] == "gzip"
    fresh = {**auth_headers, "If-Match": got.headers["ETag"]}
    assert client.put(url, json={"notes": "ok"}, headers=fresh).status_code == 200
    stale = client.put(url, json={"notes": "again"}, headers=fresh)
    assert stale.status_code == 412


def test_head_is_not_compressed_and_states_the_plain_length(parts, client, auth_headers, get):
    response = client.head("/api/parts/", headers={**auth_headers, **GZIP})
    assert response.headers.get("Content-Encoding") is None
    assert int(response.headers["Content-Length"]) == len(get().data)
    assert "Accept-Encoding" in vary(response)


def test_range_request_is_not_compressed(parts, get):
    response = get(**GZIP, Range="bytes=0-99")
    assert response.headers.get("Content-Encoding") is None
    assert json.loads(response.data)["total"] == len(parts)


def test_file_downloads_are_never_compressed(client, auth_headers, make_part):
    pdf = b"%PDF-1.4\n" + b"% padding that gzip would love\n" * 200 + b"%%EOF\n"
    part = make_part()
    upload_ok(client, auth_headers, part["id"], pdf, "drawing.pdf")
    for path in ("download", "file"):
        url = f"/api/parts/{part['id']}/{path}"
        response = get_closed(client, url, {**auth_headers, **GZIP})
        assert (response.status_code, response.data) == (200, pdf)
        assert response.headers.get("Content-Encoding") is None
        assert "Accept-Encoding" not in vary(response)


def test_other_large_json_is_compressed_per_request(client):
    plain = client.get("/api/openapi.json")
    packed = client.get("/api/openapi.json", headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data


LARGE_JSON = b"[" + b"0," * 2000 + b"0]"


@pytest.mark.parametrize(
    ("make", "encoding"),
    [
        (lambda: Response(iter([LARGE_JSON]), mimetype="application/json"), None),
        (
            lambda: Response(
                LARGE_JSON, mimetype="application/json", headers={"Content-Encoding": "br"}
            ),
            "br",
        ),
        (lambda: Response(LARGE_JSON, status=201, mimetype="application/json"), None),
        (
            lambda: Response(
                LARGE_JSON, mimetype="application/json", headers={"Cache-Control": "no-transform"}
            ),
            None,
        ),
        (lambda: Response(LARGE_JSON, mimetype="text/plain"), None),
    ],
    ids=["streamed", "already-encoded", "not-200", "no-transform", "not-json"],
)
def test_responses_the_hook_leaves_alone(app, make, encoding):
    with app.test_request_context("/api/parts/", headers=GZIP):
        response = compress_response(make())
        assert response.headers.get("Content-Encoding") == encoding
        assert b"".join(response.response) == LARGE_JSON


def test_cached_list_is_compressed_once_per_revision(parts, get, make_part, monkeypatch):
    calls: list[int] = []
    real = compressed_bodies.gzip_bytes

    def counting(body: bytes, level: int) -> bytes:
        calls.append(len(body))
        return real(body, level)

    monkeypatch.setattr(compressed_bodies, "gzip_bytes", counting)
    monkeypatch.setattr("app.compression.gzip_bytes", counting)
    bodies = {get(**GZIP).data for _ in range(3)}
    assert len(calls) == 1 and len(bodies) == 1
    make_part(name="New Revision Plate")
    bodies |= {get(**GZIP).data for _ in range(3)}
    assert len(calls) == 2 and len(bodies) == 2


def test_concurrent_first_requests_share_one_compression(monkeypatch):
    calls: list[int] = []
    release, arrived = threading.Event(), threading.Barrier(9)

    def slow(body: bytes, level: int) -> bytes:
        calls.append(level)
        release.wait(5)
        return b"packed"

    def first_request() -> None:
        arrived.wait(5)
        results.append(once.get(b"body", 6))

    monkeypatch.setattr(compressed_bodies, "gzip_bytes", slow)
    once, results = GzipOnce(), []
    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    arrived.wait(5)
    time.sleep(0.2)  # every thread is inside get(): one compresses, seven wait for it
    release.set()
    for thread in threads:
        thread.join(5)
    assert calls == [6] and results == [b"packed"] * 8


def test_level_zero_turns_compression_off(make_app):
    app = make_app(COMPRESSION_LEVEL=0, COMPRESSION_MIN_BYTES=1)
    response = app.test_client().get("/api/openapi.json", headers=GZIP)
    assert response.headers.get("Content-Encoding") is None


@pytest.mark.parametrize("level", [10, -1])
def test_a_level_gzip_does_not_have_is_refused_at_start(make_app, level):
    with pytest.raises(ConfigError, match="COMPRESSION_LEVEL"):
        make_app(COMPRESSION_LEVEL=level)
