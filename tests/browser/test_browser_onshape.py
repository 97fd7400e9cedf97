"""Onshape in the browser, against the fake Onshape the backend tests use: the Settings
panel's states, the whole connect flow (Connect → Onshape's sign-in → callback → back in the
app), a STEP import converted to a 3D model, a drawing refresh, and refusals in words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, sign_in
from tests.onshape_fake import (
    CLIENT_ID,
    CLIENT_SECRET,
    DOC,
    DRAWING,
    FORBIDDEN_DOC,
    STUDIO,
    WORKSPACE,
    FakeOnshape,
)

STUDIO_LINK = f"https://cad.onshape.com/documents/{DOC}/w/{WORKSPACE}/e/{STUDIO}"
DRAWING_LINK = f"https://cad.onshape.com/documents/{DOC}/w/{WORKSPACE}/e/{DRAWING}"
FORBIDDEN_LINK = f"https://cad.onshape.com/documents/{FORBIDDEN_DOC}/w/{WORKSPACE}/e/{STUDIO}"


@pytest.fixture
def fake_onshape() -> Iterator[FakeOnshape]:
    fake = FakeOnshape().start()
    yield fake
    fake.stop()


def _onshape_board(board_factory: Any, fake: FakeOnshape, base_path: str = "") -> Any:
    """A server whose Onshape is the fake; its callback is where the browser reaches it."""
    board = board_factory(
        base_path,
        ONSHAPE_CLIENT_ID=CLIENT_ID,
        ONSHAPE_CLIENT_SECRET=CLIENT_SECRET,
        ONSHAPE_REDIRECT_URI="http://127.0.0.1/set-below",
        ONSHAPE_OAUTH_BASE_URL=fake.url,
        ONSHAPE_API_BASE_URL=fake.url + "/",
        ONSHAPE_POLL_SECONDS=0.01,
        ONSHAPE_WAIT_SECONDS=0.0,  # every export answers 202 first: the app must poll
        MODEL_WAIT_SECONDS=1,
    )
    board.app.config["ONSHAPE_REDIRECT_URI"] = board.url + "api/parts/auth/onshape/callback"
    return board


def _api(board: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """The API over HTTP, as another client (works under any BASE_PATH)."""
    response = requests.request(
        method,
        board.url + "api/parts" + path,
        json=body,
        headers={"X-API-Key": board.key},
        timeout=30,
    )
    return response.status_code, response.json()


def _create(board: Any, name: str, part_type: str, link: str) -> int:
    body = {
        "name": name,
        "type": part_type,
        "material": "Al",
        "subsystem": "Arm",
        "onshapeUrl": link,
    }
    status, part = _api(board, "POST", "/", body)
    assert status == 201, part
    return part["id"]


def _connect_without_the_browser(board: Any) -> None:
    status, body = _api(board, "GET", "/auth/onshape/connect")
    assert status == 200, body
    answer = requests.get(body["authorization_url"], allow_redirects=False, timeout=10)
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    back = requests.get(
        board.url + "api/parts/auth/onshape/callback",
        params=query,
        allow_redirects=False,
        timeout=10,
    )
    assert back.headers["Location"].endswith("?onshape_connected=true"), back.headers


def _open_settings(page: Any) -> Any:
    page.get_by_role("button", name="Settings", exact=True).click()
    return page.get_by_role("dialog", name="Settings")


def test_connect_in_the_browser_import_a_step_model_and_disconnect(
    page, board_factory, fake_onshape
):
    board = _onshape_board(board_factory, fake_onshape, "/pms")
    part_id = _create(board, "Arm Plate", "cnc", STUDIO_LINK)
    sign_in(page, board)
    settings = _open_settings(page)
    expect(settings.get_by_role("status")).to_contain_text("Not connected")
    assert axe_violations(page) == []
    settings.get_by_role("button", name="Connect Onshape").click()

    # The fake signs in and allows; the callback sends the browser back into the app.
    expect(page.get_by_role("status").filter(has_text="Onshape is connected")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/pms/(#/review)?$"))
    assert _api(board, "GET", "/auth/onshape/status")[1]["user"]["name"] == "Ada Student"
    settings = _open_settings(page)
    expect(settings.get_by_role("status")).to_contain_text(
        "Connected as Ada Student (ada@example.org)"
    )
    expect(settings.get_by_role("button", name="Disconnect")).to_be_visible()
    assert axe_violations(page) == []
    settings.get_by_role("button", name="Close").click()

    page.get_by_role("button", name="Open Arm Plate").click()
    details = page.get_by_role("dialog", name="Arm Plate")
    details.get_by_role("button", name="Import STEP from Onshape").click()
    expect(details.get_by_role("status").filter(has_text="Imported")).to_be_visible(timeout=60_000)
    expect(details.get_by_role("button", name="Fit to view")).to_be_visible(timeout=90_000)
    part = _api(board, "GET", f"/{part_id}")[1]
    assert part["file"].endswith(".step") and part["modelStatus"] == "ready"
    events = details.get_by_role("list", name="Changes, newest first")
    expect(events).to_contain_text("onshape exported the STEP model from Onshape")
    expect(events).to_contain_text("3D model ready")
    assert axe_violations(page) == []
    page.keyboard.press("Escape")

    settings = _open_settings(page)
    settings.get_by_role("button", name="Disconnect").click()
    expect(settings).to_contain_text("Disconnect Onshape for everyone")
    settings.get_by_role("button", name="Disconnect Onshape").click()
    expect(settings.get_by_role("status").first).to_contain_text("Not connected")
    assert _api(board, "GET", "/auth/onshape/status")[1]["connected"] is False
    settings.get_by_role("button", name="Close").click()

    page.get_by_role("button", name="Open Arm Plate").click()
    details = page.get_by_role("dialog", name="Arm Plate")
    details.get_by_role("button", name="Import STEP from Onshape").click()
    alert = details.get_by_role("alert")
    expect(alert).to_contain_text("Onshape is not connected")
    expect(alert).to_contain_text("Settings → Connect Onshape")  # the server's words, our names
    details.get_by_role("button", name="Open Settings").click()
    expect(
        page.get_by_role("dialog", name="Settings").get_by_role("button", name="Connect Onshape")
    ).to_be_visible()


def test_a_drawing_is_refreshed_and_refusals_are_explained(page, board_factory, fake_onshape):
    board = _onshape_board(board_factory, fake_onshape)
    hand = _create(board, "Side Rail", "hand", DRAWING_LINK)
    _create(board, "Top Rail", "hand", DRAWING_LINK)
    locked = _create(board, "Locked Bracket", "cnc", FORBIDDEN_LINK)
    _connect_without_the_browser(board)
    sign_in(page, board)

    page.get_by_role("link", name=re.compile(r"^Review \(")).click()
    page.get_by_role("button", name="Open Side Rail").click()
    details = page.get_by_role("dialog", name="Side Rail")
    details.get_by_role("button", name="Refresh drawing from Onshape").click()
    expect(details.get_by_role("status").filter(has_text="exporting the drawing")).to_be_visible()
    expect(details.get_by_role("status").filter(has_text="drawing was exported")).to_be_visible(
        timeout=30_000
    )
    assert _api(board, "GET", f"/{hand}")[1]["file"].endswith(".pdf")
    expect(details.get_by_role("button", name="Open PDF")).to_be_visible()

    page.keyboard.press("Escape")

    # Onshape answers 429: the refusal in words, not a silent spinner.
    fake_onshape.state.faults.append(("/currentmicroversion", 429, {"Retry-After": "120"}))
    page.get_by_role("button", name="Open Top Rail").click()
    details = page.get_by_role("dialog", name="Top Rail")
    details.get_by_role("button", name="Refresh drawing from Onshape").click()
    expect(details.get_by_role("alert")).to_contain_text("Onshape asked us to slow down")
    page.keyboard.press("Escape")

    page.get_by_role("button", name="Open Locked Bracket").click()
    details = page.get_by_role("dialog", name="Locked Bracket")
    details.get_by_role("button", name="Import STEP from Onshape").click()
    expect(details.get_by_role("alert")).to_contain_text(
        "the connected Onshape account may not open this document"
    )
    assert _api(board, "GET", f"/{locked}")[1]["file"] is None
    assert axe_violations(page) == []


def test_settings_say_when_onshape_is_not_set_up(page, board):
    sign_in(page, board)
    settings = _open_settings(page)
    expect(settings.get_by_role("status")).to_contain_text("Onshape is not set up on this server")
    expect(settings.get_by_role("button", name="Connect Onshape")).to_have_count(0)
    assert axe_violations(page) == []


def test_coming_back_from_onshape_with_an_error_says_why_and_cleans_the_address(page, board):
    sign_in(page, board)
    page.goto(board.url + "?onshape_error=access_denied#/cnc")
    message = page.get_by_role("status").filter(has_text="Onshape was not connected")
    expect(message).to_contain_text("access was not allowed at Onshape")
    expect(page).to_have_url(board.url + "#/cnc")
    page.reload()
    expect(page.get_by_role("button", name="Open Controller Mounting Plate")).to_be_visible()
    expect(message).to_have_count(0)


def test_an_old_link_that_is_no_document_link_is_explained(page, board):
    from sqlalchemy import update

    from app.extensions import db
    from models.part import Part

    part_id = board.part_named("Drive Gear")["id"]
    with board.app.app_context():  # an old row: today's rule refuses this link on a write
        old = "https://cad.onshape.com/documents/not-a-document"
        db.session.execute(update(Part).where(Part.id == part_id).values(onshape_url=old))
        db.session.commit()
    sign_in(page, board)
    page.get_by_role("button", name="Open Drive Gear").click()
    details = page.get_by_role("dialog", name="Drive Gear")
    details.get_by_role("button", name="Import STEP from Onshape").click()
    alert = details.get_by_role("alert")
    expect(alert).to_contain_text("This part's Onshape link cannot be exported")
    expect(alert).to_contain_text("not an Onshape document link")
