"""Write docs/screenshots/: every screen at phone (390×844) and desktop (1440×900) sizes.

Run from the project folder: `.venv/bin/python -m tests.browser.screenshots`. It starts the
server the browser tests use (sample parts, real STEP conversion) on 127.0.0.1 and stops it.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import Any

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


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        application = _make_app(Path(tmp), "")
        start_background(application)
        with LiveServer(application) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            board = type(
                "Board", (), {"url": server.url + "/", "key": application.config["SECRET_KEY"]}
            )
            for size, viewport in SIZES.items():
                context = browser.new_context(viewport=viewport, color_scheme="light")
                _screens(context.new_page(), board, size)
                context.close()
            context = browser.new_context(viewport=PHONE, color_scheme="dark")
            _dark_screens(context.new_page(), board)
            context.close()
            browser.close()
        application.extensions["conversion_runner"].stop()
    print(f"screenshots written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
