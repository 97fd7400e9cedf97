"""Browser fixtures: Debian's Chromium driven by Playwright against a real server with dist/.

Skipped, with the reason, when /usr/bin/chromium or the playwright package is missing (a
laptop); with CI=true that fails the run instead (CI installs Chromium with
.ci/browser-deps.sh). A failing test keeps a screenshot of
the page; the failure report names the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.database import prepare_schema
from app.extensions import db
from app.startup import start_background

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
CHROMIUM = Path(os.environ.get("AERIE_CHROMIUM", "/usr/bin/chromium"))
AXE_SOURCE = Path(__file__).with_name("axe.min.js")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-angle=swiftshader",  # software WebGL for the three.js viewer
    "--enable-unsafe-swiftshader",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
KEY = "browser-test-key-0123456789abcdef0123456789"


def _missing_reason() -> str | None:
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (apt-get install chromium, or run .ci/browser-deps.sh)"
    if not (DIST / "index.html").is_file():
        return "dist/index.html is missing (cd frontend && npm ci && npm run build)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -r requirements-dev.txt)"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Remember each phase's report on the item, so fixtures can tell a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _missing_reason()
    if reason and os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason}; CI requires the browser tests", pytrace=False)
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Board:
    """A running server with the sample parts, and what a test needs to reach it."""

    def __init__(self, app: Any, url: str) -> None:
        self.app, self.url, self.key = app, url, KEY
        self.server_errors: list[str] = []

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the API directly (another user's action, or a check of the result)."""
        headers = {"X-API-Key": self.key}
        client = self.app.test_client()
        response = client.open(f"/api/parts{path}", method=method, json=body, headers=headers)
        return response.status_code, response.get_json(silent=True)

    def part_named(self, name: str) -> dict[str, Any]:
        _, body = self.api("GET", f"/?search={name}")
        matches = [p for p in body["parts"] if p["name"] == name]
        assert matches, f"no part named {name!r}"
        return matches[0]


def _make_app(tmp_path: Path, base_path: str, **overrides: Any) -> Any:
    from app.sample_data import load_sample_parts

    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'board.db'}",
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "FRONTEND_DIST": str(DIST),
        "SECRET_KEY": KEY,
        "BASE_PATH": base_path,
        "CONVERSION_IN_BACKGROUND": True,
        "CONVERSION_WORKERS": 1,
        "MODEL_WAIT_SECONDS": 1,
        "AUTH_CHECK_INTERVAL_SECONDS": 0,
        "RATELIMIT_DEFAULT": "100000 per minute",
        **overrides,
    }
    application = create_app("testing", settings)
    prepare_schema(application)
    with application.app_context():
        load_sample_parts(db.session)
    return application


@pytest.fixture
def board_factory(tmp_path: Path, browser: Any) -> Iterator[Any]:
    from tests.conftest import LiveServer  # noqa: I001 - the suite's waitress helper

    started: list[tuple[Any, Any, Board]] = []

    def start(base_path: str = "", **overrides: Any) -> Board:
        application = _make_app(tmp_path / f"server{len(started)}", base_path, **overrides)
        start_background(application)
        server = LiveServer(application).__enter__()
        board = Board(application, server.url + base_path + "/")

        def record(response: Any) -> Any:
            from flask import request

            if response.status_code >= 500 and response.status_code != 503:
                board.server_errors.append(f"{request.method} {request.path}")
            return response

        application.after_request(record)
        started.append((application, server, board))
        return board

    yield start
    for application, server, board in started:
        server.__exit__(None, None, None)
        runner = application.extensions.get("conversion_runner")
        if runner is not None and hasattr(runner, "stop"):
            runner.stop()
        with application.app_context():
            db.session.remove()
            db.engine.dispose()
        assert not board.server_errors, f"server answered 5xx: {board.server_errors}"


@pytest.fixture
def board(board_factory: Any) -> Board:
    return board_factory()


def _page_fixture(request: pytest.FixtureRequest, browser: Any, viewport: dict[str, int]):
    context = browser.new_context(viewport=viewport, color_scheme="light")
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}")
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    yield page
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        shots = request.config._tmp_path_factory.mktemp("browser-failures")  # type: ignore[attr-defined]
        shot = shots / f"{request.node.name}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of the failing page: {shot}")
    context.close()
    assert not problems, problems


# The pages ask for board_factory so they close before the servers stop: a server waits
# for its open connections (the browser's keep-alives) before it shuts down.
@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any, board_factory: Any) -> Iterator[Any]:
    """A phone-sized page (the shop floor's device)."""
    yield from _page_fixture(request, browser, PHONE)


@pytest.fixture
def desktop_page(request: pytest.FixtureRequest, browser: Any, board_factory: Any) -> Iterator[Any]:
    yield from _page_fixture(request, browser, DESKTOP)


def sign_in(page: Any, board: Board) -> None:
    page.goto(board.url)
    page.get_by_label("API key").fill(board.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Review").wait_for()


def axe_violations(page: Any) -> list[str]:
    """Serious and critical axe-core findings on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated by the driver, not by a page <script>: the page's CSP still holds.
        page.evaluate(AXE_SOURCE.read_text())
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
