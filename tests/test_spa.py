"""The built UI from dist/: files, index.html fallback, cache headers, BASE_PATH boundaries."""

import re
from pathlib import Path

import pytest


def fetch(client, path):
    """GET and close: file responses hold an open file until closed."""
    with client.get(path) as response:
        response.data  # noqa: B018 - read before the file closes
        return response


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    folder = tmp_path / "built"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<html>SPA</html>")
    (folder / "assets" / "index-3f2a9c.js").write_text("console.log('app')")
    (folder / "favicon.svg").write_text("<svg/>")
    return folder


def test_index_served_at_root_with_no_cache(make_app, dist):
    response = fetch(make_app(FRONTEND_DIST=str(dist)).test_client(), "/")
    assert response.status_code == 200
    assert b"SPA" in response.data
    assert "no-cache" in response.headers["Cache-Control"]


def test_hashed_asset_is_immutable(make_app, dist):
    response = fetch(make_app(FRONTEND_DIST=str(dist)).test_client(), "/assets/index-3f2a9c.js")
    assert response.status_code == 200
    directives = {d.strip() for d in response.headers["Cache-Control"].split(",")}
    # no-cache beside them would make every load revalidate the file all the same.
    assert directives == {"public", "max-age=31536000", "immutable"}


def test_unknown_client_route_falls_back_to_index(make_app, dist):
    response = fetch(make_app(FRONTEND_DIST=str(dist)).test_client(), "/parts/42/edit")
    assert response.status_code == 200
    assert b"SPA" in response.data


def test_a_missing_asset_is_a_404_not_the_index_page(make_app, dist):
    """A page of an older build asks for a script this build does not have: index.html as
    JavaScript fails in the browser with a parse error; a 404 says what happened."""
    response = fetch(make_app(FRONTEND_DIST=str(dist)).test_client(), "/assets/index-0ld.js")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_path_traversal_does_not_escape_dist(make_app, dist, tmp_path):
    (tmp_path / "secret.txt").write_text("top secret")
    response = fetch(make_app(FRONTEND_DIST=str(dist)).test_client(), "/../secret.txt")
    assert b"top secret" not in response.data


@pytest.mark.parametrize(
    "path", ["/api/unknown", "/api/", "/api/parts/abc", "/API/parts/1", "/Api/"]
)
def test_api_paths_never_fall_through_to_spa(make_app, dist, path):
    response = fetch(make_app(FRONTEND_DIST=str(dist)).test_client(), path)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not found"


def test_missing_dist_gives_clear_page_not_500(make_app, tmp_path):
    response = fetch(make_app(FRONTEND_DIST=str(tmp_path / "nowhere")).test_client(), "/parts")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "<code>nowhere/index.html</code> is\nmissing" in page
    assert str(tmp_path) not in page  # the page is public: no server path
    assert "npm ci &amp;&amp; npm run build" in page and "FRONTEND_DIST" in page


def test_shipped_web_app_loads_only_its_own_relative_assets():
    """dist/ is the built frontend: relative asset URLs (any BASE_PATH), no inline script."""
    dist = Path(__file__).resolve().parents[1] / "dist"
    page = (dist / "index.html").read_text()
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts and all('src="./assets/' in tag for tag in scripts)
    for asset in re.findall(r'(?:src|href)="\./(assets/[^"]+)"', page):
        assert (dist / asset).is_file(), asset
    assert "https://" not in page  # nothing from a CDN: the shop may be offline


def test_post_to_spa_path_is_405_json(make_app, dist):
    response = make_app(FRONTEND_DIST=str(dist)).test_client().post("/some/page")
    assert response.status_code == 405
    assert response.is_json


class TestBasePath:
    @pytest.fixture
    def client(self, make_app, dist):
        self.app = make_app(FRONTEND_DIST=str(dist), BASE_PATH="/pms/")
        return self.app.test_client()

    def test_api_lives_under_base_path(self, client):
        headers = {"X-API-Key": self.app.config["SECRET_KEY"]}
        assert client.get("/pms/api/parts/", headers=headers).status_code == 200
        assert client.get("/api/parts/", headers=headers).status_code == 404

    def test_spa_and_assets_under_base_path(self, client):
        assert b"SPA" in fetch(client, "/pms/").data
        assert b"SPA" in fetch(client, "/pms/any/route").data
        assert fetch(client, "/pms/assets/index-3f2a9c.js").status_code == 200

    def test_prefix_without_boundary_does_not_match(self, client):
        assert client.get("/pmsx/").status_code == 404
        assert client.get("/pmsx/assets/index-3f2a9c.js").status_code == 404

    def test_root_redirects_to_base_path(self, client):
        response = client.get("/")
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/pms/")

    def test_health_at_root_and_under_base_path(self, client):
        assert client.get("/health").status_code == 200
        assert client.get("/pms/health").status_code == 200

    def test_docs_under_base_path(self, client):
        assert client.get("/pms/api/openapi.json").status_code == 200
