"""What the first page load costs: the board's files only, the 3D viewer when first needed."""

from __future__ import annotations

import gzip
import re
from urllib.parse import urlparse

from playwright.sync_api import expect

from tests.browser.conftest import DIST, sign_in

FIRST_LOAD_BUDGET = 250 * 1024  # compressed bytes, the 3D viewer excluded (issue 11)


def test_first_load_fits_the_budget_and_the_viewer_loads_only_when_needed(desktop_page, board):
    page = desktop_page
    assets: list[str] = []
    page.on(
        "request",
        lambda r: assets.append(urlparse(r.url).path) if "/api/" not in r.url else None,
    )
    sign_in(page, board)
    expect(page.get_by_role("button", name="Open Drive Gear")).to_be_visible()
    first = [path for path in assets if path.startswith("/assets/") or path == "/"]
    assert not [path for path in first if "viewer" in path], first
    assert len([p for p in first if p.endswith((".js", ".css"))]) >= 2, first
    files = [DIST / ("index.html" if path == "/" else path.lstrip("/")) for path in set(first)]
    compressed = sum(len(gzip.compress(f.read_bytes(), 9)) for f in files)
    assert compressed <= FIRST_LOAD_BUDGET, f"first load {compressed} bytes gzipped: {files}"

    page.get_by_role("link", name=re.compile(r"^CNC \(")).click()
    page.get_by_role("button", name="Open Controller Mounting Plate").click()
    expect(page.get_by_role("button", name="Fit to view")).to_be_visible(timeout=30_000)
    assert [path for path in assets if re.match(r"/assets/viewer-.*\.js$", path)]
