"""What the shop floor met in an audit: where a part was left when it is claimed again, every
tab on a phone, a refused file that leaves no part behind, and two sign-ins in a row."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import sign_in

FILES = Path(__file__).with_name("files")


def test_claiming_a_stored_part_says_where_to_fetch_it(page, board):
    sign_in(page, board)
    part = board.part_named("Drive Gear")
    assert board.api("PUT", f"/{part['id']}", {"miscInfo": {"storage": "Shelf UI-3"}})[0] == 200
    assert board.api("POST", f"/{part['id']}/approve", {})[0] == 200
    page.get_by_role("link", name=re.compile(r"^CNC \(")).click()
    page.get_by_role("button", name="Claim Drive Gear", exact=True).click()
    dialog = page.get_by_role("dialog", name="Claim part")
    stored = dialog.get_by_role("region", name="Stored location")
    expect(stored).to_contain_text("Retrieve the part from this location: Shelf UI-3")
    dialog.get_by_label("Your name").fill("Sam")
    dialog.get_by_role("button", name="Claim", exact=True).click()
    expect(dialog).to_have_count(0)
    assert board.part_named("Drive Gear")["assigned"] == "Sam"


def test_a_part_never_stored_has_no_location_in_its_claim(page, board):
    sign_in(page, board)
    part = board.part_named("Drive Gear")
    assert board.api("POST", f"/{part['id']}/approve", {})[0] == 200
    page.get_by_role("link", name=re.compile(r"^CNC \(")).click()
    page.get_by_role("button", name="Claim Drive Gear", exact=True).click()
    dialog = page.get_by_role("dialog", name="Claim part")
    expect(dialog.get_by_label("Your name")).to_be_visible()
    expect(dialog.get_by_role("region", name="Stored location")).to_have_count(0)


def test_every_tab_is_on_a_phone_screen(page, board):
    sign_in(page, board)
    tabs = page.get_by_role("navigation", name="Sections").get_by_role("link")
    expect(tabs).to_have_count(7)
    width = page.viewport_size["width"]
    for index in range(7):
        box = tabs.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
        assert box["height"] >= 44
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width


def test_the_skip_link_is_a_full_touch_target(page, board):
    sign_in(page, board)
    skip = page.get_by_role("link", name="Skip to content")
    skip.focus()  # the first Tab stop of a fresh page; shown only while focused
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["height"] >= 44, box


def _fill_new_part(page, name: str):
    page.get_by_role("button", name="Add part").click()
    form = page.get_by_role("dialog", name="Add part")
    form.get_by_label("Name").fill(name)
    form.get_by_role("combobox", name="Material", exact=True).fill("PLA")
    form.get_by_role("combobox", name="Subsystem").fill("Arm")
    return form


def test_a_file_the_server_would_refuse_is_refused_before_the_part_is_added(page, board):
    sign_in(page, board)
    form = _fill_new_part(page, "Readme Part")
    form.get_by_label("STEP or PDF file").set_input_files(FILES / "README.md")
    form.get_by_role("button", name="Add part").click()
    expect(form.get_by_role("alert")).to_contain_text("README.md is not a STEP or PDF file")
    # A .step file that is not one: its header is checked too.
    form.get_by_label("STEP or PDF file").set_input_files(
        {"name": "bracket.step", "mimeType": "application/step", "buffer": b"solid bracket\n"}
    )
    form.get_by_role("button", name="Add part").click()
    expect(form.get_by_role("alert")).to_contain_text("bracket.step is not a valid STEP")
    assert board.api("GET", "/?search=Readme")[1]["total"] == 0  # nothing was added
    form.get_by_label("STEP or PDF file").set_input_files(FILES / "cube_and_cylinder.step")
    _added_once(page, board, form, "Add part", "Readme Part", "cube_and_cylinder.step")


def _added_once(page, board, form, button: str, name: str, file_name: str) -> None:
    """Press `button`: the part's details open, and it exists once, holding the file."""
    form.get_by_role("button", name=button).click()
    expect(page.get_by_role("dialog", name=name)).to_be_visible()
    status, body = board.api("GET", f"/?search={name}")
    assert status == 200 and body["total"] == 1
    assert body["parts"][0]["file"] == file_name


def test_a_part_added_without_its_file_says_so_and_a_retry_adds_no_second(page, board_factory):
    # Over the upload limit (the sample part's 49 KB STEP is within it): the server's 413.
    board = board_factory(UPLOAD_MAX_BYTES=64_000)
    sign_in(page, board)
    form = _fill_new_part(page, "Cube Part")
    large = b"ISO-10303-21;\n/* " + b"x" * 100_000 + b" */\n"
    form.get_by_label("STEP or PDF file").set_input_files(
        {"name": "large.step", "mimeType": "application/step", "buffer": large}
    )
    form.get_by_role("button", name="Add part").click()
    alert = form.get_by_role("alert")
    expect(alert).to_contain_text("Cube Part was added without its file.")
    expect(alert).to_contain_text("Retry upload, or Cancel to keep the part without a file")
    small = b"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n"
    form.get_by_label(re.compile("file")).set_input_files(
        {"name": "small.step", "mimeType": "application/step", "buffer": small}
    )
    _added_once(page, board, form, "Retry upload", "Cube Part", "small.step")


def test_a_sign_in_right_after_another_waits_instead_of_calling_the_key_wrong(page, board_factory):
    board = board_factory(AUTH_CHECK_INTERVAL_SECONDS=2)
    # Another device at this address has just signed in: the page's check is asked too soon.
    assert board.api("GET", "/auth/check")[0] == 200
    page.goto(board.url)
    page.get_by_label("API key").fill(board.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Review")).to_be_visible(timeout=8_000)
    expect(page.get_by_role("alert")).to_have_count(0)
