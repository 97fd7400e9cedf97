"""The web app's pre-compressed files: name.gz sent with Content-Encoding to clients that accept
gzip, the plain file otherwise, and the plain file when the build wrote no .gz."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from app.spa import PRECOMPRESSED_SUFFIXES

GZIP = {"Accept-Encoding": "gzip, deflate, br"}
SHIPPED_DIST = Path(__file__).resolve().parents[1] / "dist"
SCRIPT = b"export const board = () => 'parts';\n" * 40
PAGE = b"<!doctype html><html><body><div id=app></div>" + b"<p>Aerie</p>" * 40 + b"</body></html>"


def fetch(client, path, headers=None, method="GET"):
    """Request and close: file responses hold an open file until closed."""
    with client.open(path, method=method, headers=headers or {}) as response:
        response.data  # noqa: B018 - read before the file closes
        return response


def vary(response) -> str:
    return ", ".join(response.headers.getlist("Vary"))


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A build as frontend/precompress.js writes it, plus a file it wrote no .gz for."""
    folder = tmp_path / "built"
    (folder / "assets").mkdir(parents=True)
    for relative, body in (("index.html", PAGE), ("assets/index-3f2a9c.js", SCRIPT)):
        (folder / relative).write_bytes(body)
        (folder / f"{relative}.gz").write_bytes(gzip.compress(body, mtime=0))
    (folder / "assets" / "index-77aa01.css").write_text("body{margin:0}" * 30)
    return folder


@pytest.fixture
def client(make_app, dist):
    return make_app(FRONTEND_DIST=str(dist)).test_client()


@pytest.mark.parametrize(
    ("path", "plain", "cache"),
    [
        ("/assets/index-3f2a9c.js", SCRIPT, "immutable"),
        ("/", PAGE, "no-cache"),
        ("/parts/42/edit", PAGE, "no-cache"),  # a client route: index.html
    ],
)
def test_gzip_client_gets_the_gz_file_with_the_plain_files_headers(client, path, plain, cache):
    identity, packed = fetch(client, path), fetch(client, path, GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain == identity.data
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain)
    assert packed.headers["Content-Type"] == identity.headers["Content-Type"]
    assert packed.headers["Cache-Control"] == identity.headers["Cache-Control"]
    assert cache in packed.headers["Cache-Control"]
    assert packed.headers["ETag"] != identity.headers["ETag"]
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
        assert packed.headers[header] == identity.headers[header]
    assert "Accept-Encoding" in vary(packed) and "Accept-Encoding" in vary(identity)


@pytest.mark.parametrize("accept", ["", "identity", "gzip;q=0", "*;q=0", "br"])
def test_clients_refusing_gzip_get_the_plain_file(client, accept):
    response = fetch(client, "/assets/index-3f2a9c.js", {"Accept-Encoding": accept})
    assert response.headers.get("Content-Encoding") is None
    assert response.data == SCRIPT


def test_head_and_range_get_the_plain_file(client):
    head = fetch(client, "/assets/index-3f2a9c.js", GZIP, method="HEAD")
    assert head.headers.get("Content-Encoding") is None
    assert int(head.headers["Content-Length"]) == len(SCRIPT)
    ranged = fetch(client, "/assets/index-3f2a9c.js", {**GZIP, "Range": "bytes=0-9"})
    assert (ranged.status_code, ranged.data) == (206, SCRIPT[:10])
    assert ranged.headers.get("Content-Encoding") is None


def test_file_without_gz_falls_back_to_the_plain_file(client, dist):
    response = fetch(client, "/assets/index-77aa01.css", GZIP)
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") is None
    assert response.data == (dist / "assets" / "index-77aa01.css").read_bytes()
    assert response.mimetype == "text/css"


def test_a_build_copied_without_any_gz_files_is_served_plain(client, dist):
    for packed in dist.rglob("*.gz"):
        packed.unlink()
    for path, body in (("/", PAGE), ("/assets/index-3f2a9c.js", SCRIPT)):
        response = fetch(client, path, GZIP)
        assert (response.status_code, response.data) == (200, body)
        assert response.headers.get("Content-Encoding") is None


def test_gz_revalidates_with_its_own_etag(client):
    etag = fetch(client, "/assets/index-3f2a9c.js", GZIP).headers["ETag"]
    again = fetch(client, "/assets/index-3f2a9c.js", {**GZIP, "If-None-Match": etag})
    assert (again.status_code, again.data) == (304, b"")


def test_shipped_build_has_a_matching_gz_for_every_script_style_and_page():
    """dist/ is committed with the .gz files frontend/precompress.js writes."""
    texts = [p for p in SHIPPED_DIST.rglob("*") if p.suffix in PRECOMPRESSED_SUFFIXES]
    assert any(p.suffix == ".js" for p in texts) and (SHIPPED_DIST / "index.html") in texts
    for plain in texts:
        packed = plain.with_name(plain.name + ".gz")
        if plain.suffix in (".js", ".css", ".html"):
            assert packed.is_file(), plain
        if packed.is_file():
            assert gzip.decompress(packed.read_bytes()) == plain.read_bytes(), plain
            assert packed.stat().st_size < plain.stat().st_size
