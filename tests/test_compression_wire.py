"""Compression through a real server (waitress): the bytes on the wire, read from a raw socket."""

from __future__ import annotations

import gzip
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.databases import TestDatabase

SHIPPED_DIST = Path(__file__).resolve().parents[1] / "dist"


@pytest.fixture
def test_database() -> TestDatabase:
    """Compression does not depend on the database: SQLite is enough."""
    return TestDatabase("sqlite", None)


def raw_get(url: str, path: str, **headers: str) -> tuple[dict[str, str], bytes]:
    """One GET over a plain socket: the header fields (lower-case names) and the body bytes
    exactly as the server wrote them."""
    address = urlsplit(url)
    lines = [f"GET {path} HTTP/1.1", f"Host: {address.netloc}", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        received = b"".join(iter(lambda: connection.recv(65536), b""))
    head, _, body = received.partition(b"\r\n\r\n")
    status, *fields = head.decode("latin-1").split("\r\n")
    assert status.startswith("HTTP/1.1 200"), status
    parsed: dict[str, str] = {}
    for field in fields:
        name, _, value = field.partition(":")
        key = name.strip().lower()
        parsed[key] = f"{parsed[key]}, {value.strip()}" if key in parsed else value.strip()
    return parsed, body


def test_list_on_the_wire_is_gzip_with_its_real_length(live_server, make_part, api_key):
    for number in range(20):
        make_part(name=f"Side Plate {number}", notes="pocketed, 1/4 in aluminum " * 4)
    key = {"X_API_Key": api_key}
    plain_headers, plain = raw_get(live_server.url, "/api/parts/", **key)
    headers, body = raw_get(live_server.url, "/api/parts/", Accept_Encoding="gzip", **key)
    assert headers["content-encoding"] == "gzip"
    assert "transfer-encoding" not in headers
    assert int(headers["content-length"]) == len(body)
    assert body[:2] == b"\x1f\x8b" and len(body) * 4 < len(plain)
    assert gzip.decompress(body) == plain
    assert int(plain_headers["content-length"]) == len(plain)
    assert "content-encoding" not in plain_headers
    assert "Accept-Encoding" in headers["vary"] and "Accept-Encoding" in plain_headers["vary"]
    assert headers["etag"] == plain_headers["etag"][:-1] + '-gzip"'


def test_web_app_script_on_the_wire_is_the_builds_gz_file(app, live_server):
    shutil.copytree(SHIPPED_DIST, app.config["FRONTEND_DIST"])
    script = next((SHIPPED_DIST / "assets").glob("viewer-*.js"))
    path = f"/assets/{script.name}"
    headers, body = raw_get(live_server.url, path, Accept_Encoding="gzip, deflate, br")
    assert body == script.with_name(script.name + ".gz").read_bytes()
    assert int(headers["content-length"]) == len(body) < script.stat().st_size / 3
    assert headers["content-encoding"] == "gzip"
    assert headers["content-type"].startswith("text/javascript")
    assert "immutable" in headers["cache-control"]
    plain_headers, plain = raw_get(live_server.url, path)
    assert plain == script.read_bytes() == gzip.decompress(body)
    assert plain_headers["content-type"] == headers["content-type"]
