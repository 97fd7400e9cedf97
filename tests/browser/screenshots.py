"""Write docs/screenshots/: every screen at phone (390×844) and desktop (1440×900) sizes.

Run from the project folder: `.venv/bin/python -m tests.browser.screenshots`. It starts the
server the browser tests use (sample parts, real STEP conversion) on 127.0.0.1, connected to
the tests' fake Onshape (also on 127.0.0.1), and stops both.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from playwright.sync_api import expect, sync_playwright

from app.startup import start_background
from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    ROOT,
    _make_app,
    sign_in,
)
from tests.conftest import LiveServer
from tests.onshape_fake import CLIENT_ID, CLIENT_SECRET, DOC, DRAWING, WORKSPACE, FakeOnshape

OUT = ROOT / "docs" / "screenshots"
SIZES = {"phone": PHONE, "desktop": DESKTOP}


def _shoot(page: Any, name: str, size: str) -> None:
    page.wait_for_timeout(250)  # let the dialog's and the viewer's first frame settle
    page.screenshot(path=str(OUT / f"{name}-{size}.png"))


def _screens(page: Any, board: Any, size: str) -> None:
    page.goto(board.url)
    _shoot(page, "01-sign-in", size)
    sign_in(page, board)
    for index, tab in enumerate(["Review", "CNC", "Hand fab", "Misc", "Completed"], start=2):
        page.get_by_role("link", name=re.compile(rf"^{tab} \(")).click()
        _shoot(page, f"{index:02d}-{tab.lower().replace(' ', '-')}", size)
    page.get_by_role("link", name="Leaderboard").click()
    expect(page.get_by_role("cell", name="Bob Johnson")).to_be_visible()
    _shoot(page, "07-leaderboard", size)
    page.get_by_role("link", name="Stats").click()
    expect(page.get_by_role("figure", name="Units by tab")).to_be_visible()
    _shoot(page, "08-statistics", size)
    page.get_by_role("button", name="Wipe all parts…").click()
    _shoot(page, "09-wipe-confirmation", size)
    page.keyboard.press("Escape")
    page.get_by_role("link", name=re.compile(r"^CNC \(")).click()
    page.get_by_role("button", name="Open Controller Mounting Plate").click()
    details = page.get_by_role("dialog", name="Controller Mounting Plate")
    expect(details.get_by_role("button", name="Fit to view")).to_be_visible(timeout=60_000)
    _shoot(page, "10-part-with-3d-model", size)
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Complete Controller Mounting Plate").click()
    page.get_by_label("Storage location").fill("Shelf B")
    _shoot(page, "11-complete-with-storage", size)
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Add part").click()
    _shoot(page, "12-add-part", size)


def _dark_screens(page: Any, board: Any) -> None:
    """Night mode (the system's dark setting) on a phone: the board and the 3D viewer."""
    sign_in(page, board)
    page.get_by_role("link", name=re.compile(r"^CNC \(")).click()
    _shoot(page, "13-dark-board", "phone")
    page.get_by_role("button", name="Open Controller Mounting Plate").click()
    expect(page.get_by_role("button", name="Fit to view")).to_be_visible(timeout=60_000)
    _shoot(page, "14-dark-part-with-3d-model", "phone")


def _onshape_settings(fake: FakeOnshape) -> dict[str, Any]:
    return {
        "ONSHAPE_CLIENT_ID": CLIENT_ID,
        "ONSHAPE_CLIENT_SECRET": CLIENT_SECRET,
        "ONSHAPE_REDIRECT_URI": "http://127.0.0.1/set-when-served",
        "ONSHAPE_OAUTH_BASE_URL": fake.url,
        "ONSHAPE_API_BASE_URL": fake.url + "/",
        "ONSHAPE_POLL_SECONDS": 0.01,
    }


def _history_for_screens(url: str, key: str) -> None:
    """Connect the fake Onshape, then give Bumper Frame a history by two people: an Onshape
    link and its drawing, and a claim."""
    api = url + "api/parts"

    def call(method: str, path: str, actor: str = "", **kwargs: Any) -> requests.Response:
        headers = {
            "X-API-Key": key,
            **({"X-Actor": actor.encode().decode("latin-1")} if actor else {}),
        }
        return requests.request(method, api + path, headers=headers, timeout=60, **kwargs)

    start = call("GET", "/auth/onshape/connect").json()["authorization_url"]
    back = requests.get(start, allow_redirects=False, timeout=10).headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    requests.get(api + "/auth/onshape/callback", params=query, allow_redirects=False, timeout=10)
    part = next(p for p in call("GET", "/").json()["parts"] if p["name"] == "Bumper Frame")
    link = f"https://cad.onshape.com/documents/{DOC}/w/{WORKSPACE}/e/{DRAWING}"
    call("PUT", f"/{part['id']}", "Ms. Rivera", json={"onshapeUrl": link, "amount": 2})
    while call("GET", f"/{part['id']}/drawing?refresh=true").status_code == 202:
        time.sleep(0.5)
    call("POST", f"/{part['id']}/assign", "Zoë", json={"assigned": "Zoë"})


def _settings_and_history_screens(page: Any, board: Any, size: str) -> None:
    """Settings (your name, Onshape connected) and a part's history with Onshape buttons."""
    sign_in(page, board)
    page.get_by_role("button", name="Settings", exact=True).click()
    settings = page.get_by_role("dialog", name="Settings")
    settings.get_by_label("Your name").fill("Zoë")
    settings.get_by_role("button", name="Save name").click()
    expect(settings).to_contain_text("Connected as Ada Student")
    _shoot(page, "15-settings-name-and-onshape", size)
    page.keyboard.press("Escape")
    page.get_by_role("link", name=re.compile(r"^Hand fab \(")).click()
    page.get_by_role("button", name="Open Bumper Frame").click()
    details = page.get_by_role("dialog", name="Bumper Frame")
    expect(details.get_by_role("listitem").filter(has_text="Zoë claimed")).to_be_visible()
    details.get_by_role("heading", name="History").evaluate(
        "h => h.scrollIntoView({block: 'center'})"
    )
    _shoot(page, "16-part-history-and-onshape", size)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    fake = FakeOnshape().start()
    with tempfile.TemporaryDirectory() as tmp:
        application = _make_app(Path(tmp), "", **_onshape_settings(fake))
        start_background(application)
        with LiveServer(application) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            board = type(
                "Board", (), {"url": server.url + "/", "key": application.config["SECRET_KEY"]}
            )
            callback = board.url + "api/parts/auth/onshape/callback"
            application.config["ONSHAPE_REDIRECT_URI"] = callback
            for size, viewport in SIZES.items():
                context = browser.new_context(viewport=viewport, color_scheme="light")
                _screens(context.new_page(), board, size)
                context.close()
            _history_for_screens(board.url, board.key)
            for size, viewport in SIZES.items():
                context = browser.new_context(viewport=viewport, color_scheme="light")
                _settings_and_history_screens(context.new_page(), board, size)
                context.close()
            context = browser.new_context(viewport=PHONE, color_scheme="dark")
            _dark_screens(context.new_page(), board)
            context.close()
            browser.close()
        application.extensions["conversion_runner"].stop()
    fake.stop()
    print(f"screenshots written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
