"""Every response carries nosniff, no-referrer, frame protection and a policy for its kind."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from pathlib import Path

import pytest

from app.security import API_POLICY, FILE_POLICY, PDF_POLICY, SPA_POLICY
from tests.helpers import get_closed, upload_ok

STEP = (
    b"ISO-10303-21;\nHEADER;\nFILE_NAME('a','',(''),(''),'','','');\nENDSEC;\nEND-ISO-10303-21;\n"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: [sources]}."""
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_common_headers(response, framing: str) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == framing


@pytest.fixture
def site(make_app, tmp_path: Path):
    """(app, client, key headers, part id with a PDF, part id with a STEP and a preview)."""
    dist = tmp_path / "built"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<html>SPA</html>")
    (dist / "assets" / "index-3f2a9c.js").write_text("console.log('app')")
    app = make_app(FRONTEND_DIST=str(dist))
    client = app.test_client()
    headers = {"X-API-Key": app.config["SECRET_KEY"]}
    ids = []
    for data, name in [(PDF, "drawing.pdf"), (STEP, "bracket.step")]:
        body = {"material": "Al", "subsystem": "Drive", "type": "hand"}
        part = client.post("/api/parts/", json=body, headers=headers).get_json()
        upload_ok(client, headers, part["id"], data, name)
        ids.append(part["id"])
    views = client.post(
        f"/api/parts/{ids[1]}/views",
        data={"view_0": (io.BytesIO(PNG), "v.png")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert views.status_code == 200
    return app, client, headers, ids[0], ids[1]


@pytest.mark.parametrize(
    ("method", "path", "keyed", "status"),
    [
        ("GET", "/api/parts/", True, 200),
        ("GET", "/api/parts/{pdf}", True, 200),
        ("GET", "/api/parts/stats", True, 200),
        ("GET", "/api/openapi.json", False, 200),
        ("GET", "/health", False, 200),
        ("GET", "/api/parts/", False, 401),
        ("GET", "/api/nothing", True, 404),
        ("GET", "/api/parts/999999", True, 404),
        ("PUT", "/api/parts/{pdf}/approve", True, 405),
        ("POST", "/some/page", False, 405),
        ("POST", "/api/parts/", True, 400),
    ],
)
def test_json_responses_get_the_api_policy_and_deny_framing(site, method, path, keyed, status):
    _app, client, headers, pdf, _step = site
    response = client.open(
        path.format(pdf=pdf), method=method, headers=headers if keyed else {}, json={}
    )
    assert response.status_code == status
    assert response.is_json
    assert response.headers["Content-Security-Policy"] == API_POLICY
    assert_common_headers(response, "DENY")


@pytest.mark.parametrize("path", ["/", "/parts/42/edit", "/assets/index-3f2a9c.js"])
def test_spa_files_get_the_spa_policy_and_same_origin_framing(site, path):
    _app, client, _headers, _pdf, _step = site
    response = get_closed(client, path, {})
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == SPA_POLICY
    assert_common_headers(response, "SAMEORIGIN")


def test_spa_policy_runs_no_inline_or_foreign_script():
    scripts = directives(SPA_POLICY)["script-src"]
    assert scripts[0] == "'self'"
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "https:", "data:", "blob:"} & set(scripts)
    # WebAssembly for the viewer's meshopt decoder (no eval), and only Font Awesome's folder
    # on cdnjs, which the shipped index.html loads.
    assert scripts[1:] == [
        "'wasm-unsafe-eval'",
        "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/",
    ]
    assert directives(SPA_POLICY)["object-src"] == ["'none'"]
    assert directives(SPA_POLICY)["frame-ancestors"] == ["'self'"]


def test_missing_dist_page_and_base_path_redirect_get_the_spa_policy(make_app, tmp_path):
    client = make_app(FRONTEND_DIST=str(tmp_path / "nowhere"), BASE_PATH="/pms").test_client()
    for path, status in [("/pms/", 503), ("/", 302)]:
        response = client.get(path)
        assert response.status_code == status
        assert response.headers["Content-Security-Policy"] == SPA_POLICY
        assert_common_headers(response, "SAMEORIGIN")


def test_docs_page_allows_exactly_its_inline_script(site):
    _app, client, _headers, _pdf, _step = site
    response = client.get("/api/docs")
    assert response.status_code == 200
    inline = re.findall(r"<script>(.*?)</script>", response.get_data(as_text=True), re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'", f"'sha256-{digest}'"]
    assert policy["default-src"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert_common_headers(response, "DENY")


@pytest.mark.parametrize(
    ("path", "mimetype", "policy"),
    [
        ("/api/parts/{pdf}/file", "application/pdf", PDF_POLICY),
        ("/api/parts/{pdf}/download", "application/pdf", PDF_POLICY),
        ("/api/parts/{pdf}/drawing", "application/pdf", PDF_POLICY),
        ("/api/parts/{step}/file", "application/step", FILE_POLICY),
        ("/api/parts/{step}/download", "application/step", FILE_POLICY),
        ("/api/parts/{step}/views/0", "image/png", FILE_POLICY),
        ("/api/docs/assets/swagger-ui-bundle.js", "text/javascript", FILE_POLICY),
    ],
)
def test_served_files_are_embeddable_by_us_and_never_run_script(site, path, mimetype, policy):
    _app, client, headers, pdf, step = site
    response = get_closed(client, path.format(pdf=pdf, step=step), headers)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.headers["Content-Security-Policy"] == policy
    assert_common_headers(response, "SAMEORIGIN")
    parsed = directives(policy)
    assert parsed["default-src"] == ["'none'"] and "script-src" not in parsed
    assert parsed["frame-ancestors"] == ["'self'"]


def test_stored_bytes_other_than_pdf_are_sandboxed():
    assert "sandbox" in directives(FILE_POLICY)
    # PDFs are not: Safari and older Chromium refuse their viewer in a sandboxed document.
    assert "sandbox" not in directives(PDF_POLICY)


@pytest.mark.provokes_500
def test_crash_responses_carry_the_headers(make_app):
    app = make_app()

    @app.route("/api/boom")
    def boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/api/boom")
    assert response.status_code == 500
    assert response.headers["Content-Security-Policy"] == API_POLICY
    assert_common_headers(response, "DENY")


def test_headers_a_view_sets_are_kept(make_app):
    app = make_app()

    @app.route("/api/embeddable")
    def embeddable():
        return (
            {"ok": True},
            200,
            {
                "Content-Security-Policy": "frame-ancestors https://shop.example",
                "X-Frame-Options": "ALLOWALL",
                "Referrer-Policy": "same-origin",
            },
        )

    response = app.test_client().get("/api/embeddable")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == "frame-ancestors https://shop.example"
    assert response.headers["X-Frame-Options"] == "ALLOWALL"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers.getlist("Content-Security-Policy") == [
        "frame-ancestors https://shop.example"
    ]
