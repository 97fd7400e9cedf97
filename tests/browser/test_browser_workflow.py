"""Every workflow step through the UI, and refusals explained in words (409, 412, 429)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, sign_in


def _tab(page, name: str) -> None:
    page.get_by_role("link", name=re.compile(rf"^{name} \(")).click()


def test_a_part_walks_review_to_completed_and_back(page, board):
    sign_in(page, board)
    page.get_by_role("button", name="Approve Drive Gear").click()
    dialog = page.get_by_role("dialog", name="Approve part")
    assert axe_violations(page) == []
    dialog.get_by_label("Reviewer").fill("Ms. Rivera")
    dialog.get_by_role("button", name="Approve").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("button", name="Open Drive Gear")).to_have_count(0)
    part = board.part_named("Drive Gear")
    assert (part["category"], part["miscInfo"]["reviewer"]) == ("cnc", "Ms. Rivera")

    _tab(page, "CNC")
    page.get_by_role("button", name="Claim Drive Gear").click()
    dialog = page.get_by_role("dialog", name="Claim part")
    dialog.get_by_label("Your name").fill("Sam")
    dialog.get_by_role("button", name="Claim").click()
    card = page.locator("li.card", has_text="Drive Gear")
    expect(card).to_contain_text("Assigned to Sam")

    page.get_by_role("button", name="Unclaim Drive Gear").click()
    dialog = page.get_by_role("dialog", name="Unclaim part")
    dialog.get_by_label("Storage location").fill("Cart 2")
    dialog.get_by_role("button", name="Unclaim").click()
    expect(card).to_contain_text("Unassigned")
    expect(card).to_contain_text("Stored: Cart 2")
    part = board.part_named("Drive Gear")
    assert (part["assigned"], part["miscInfo"]["storage"]) == (None, "Cart 2")

    page.get_by_role("button", name="Claim Drive Gear").click()
    dialog = page.get_by_role("dialog", name="Claim part")
    expect(dialog.get_by_label("Your name")).to_have_value("Sam")  # remembered
    dialog.get_by_role("button", name="Claim").click()
    page.get_by_role("button", name="Complete Drive Gear").click()
    dialog = page.get_by_role("dialog", name="Complete part")
    assert axe_violations(page) == []
    dialog.get_by_label("Storage location").fill("Shelf B")
    dialog.get_by_role("button", name="Mark complete").click()
    expect(page.get_by_role("status").filter(has_text="moved to Completed")).to_be_visible()
    part = board.part_named("Drive Gear")
    assert (part["category"], part["miscInfo"]["storage"]) == ("completed", "Shelf B")

    _tab(page, "Completed")
    page.get_by_role("button", name="Revert Drive Gear").click()
    page.get_by_role("dialog", name="Revert part").get_by_role("button", name="Revert").click()
    expect(page.get_by_role("button", name="Open Drive Gear")).to_have_count(0)
    assert board.part_named("Drive Gear")["category"] == "cnc"

    page.get_by_role("link", name="Leaderboard").click()
    expect(page.get_by_role("row", name=re.compile("Bob Johnson"))).to_be_visible()


ONSHAPE = (
    "https://cad.onshape.com/documents/0123456789abcdef01234567"
    "/w/89abcdef0123456789abcdef/e/456789abcdef0123456789ab"
)


def test_add_edit_and_delete_a_part(desktop_page, board):
    page = desktop_page
    sign_in(page, board)
    page.get_by_role("button", name="Add part").click()
    form = page.get_by_role("dialog", name="Add part")
    assert axe_violations(page) == []
    form.get_by_label("Name").fill("Gusset Plate")
    form.get_by_label("Type").select_option("hand")
    form.get_by_role("combobox", name="Material", exact=True).fill("5052 Aluminum")
    form.get_by_label("Material thickness").fill('1/16"')
    form.get_by_label("Subsystem").fill("Chassis")
    form.get_by_label("Amount").fill("6")
    form.get_by_label("Onshape URL").fill(ONSHAPE)
    form.get_by_label("Notes").fill("Deburr")
    form.get_by_role("button", name="Add part").click()
    details = page.get_by_role("dialog", name="Gusset Plate")
    expect(details).to_contain_text('5052 Aluminum, 1/16"')
    expect(details.get_by_role("link", name="Open in Onshape")).to_have_attribute("href", ONSHAPE)
    created = board.part_named("Gusset Plate")
    assert (created["amount"], created["category"], created["type"]) == (6, "review", "hand")

    details.get_by_role("button", name="Edit").click()
    form = page.get_by_role("dialog", name="Edit part")
    expect(form.get_by_label("Name")).to_have_value("Gusset Plate")
    assert axe_violations(page) == []
    form.get_by_label("Amount").fill("8")
    form.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("dialog", name="Gusset Plate")).to_contain_text("8")
    assert board.part_named("Gusset Plate")["amount"] == 8

    page.get_by_role("dialog", name="Gusset Plate").get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete part")
    expect(confirm).to_contain_text("cannot be undone")
    confirm.get_by_role("button", name="Delete permanently").click()
    expect(page.get_by_role("button", name="Open Gusset Plate")).to_have_count(0)
    status, body = board.api("GET", "/?search=Gusset")
    assert status == 200 and body["total"] == 0


def test_a_claim_someone_else_won_is_explained(page, board):
    sign_in(page, board)
    _tab(page, "Hand fab")
    page.get_by_role("button", name="Claim Bumper Frame").click()
    dialog = page.get_by_role("dialog", name="Claim part")
    dialog.get_by_label("Your name").fill("Ana")
    part = board.part_named("Bumper Frame")
    assert board.api("POST", f"/{part['id']}/assign", {"assigned": "Leo"})[0] == 200
    dialog.get_by_role("button", name="Claim").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Not done:")
    expect(dialog.get_by_role("alert")).to_contain_text("Leo")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("li.card", has_text="Bumper Frame")).to_contain_text("Assigned to Leo")
    assert board.part_named("Bumper Frame")["assigned"] == "Leo"


def test_an_edit_over_someone_elses_change_is_refused_with_412_in_words(page, board):
    sign_in(page, board)
    page.get_by_role("button", name="Open Drive Gear").click()
    page.get_by_role("dialog", name="Drive Gear").get_by_role("button", name="Edit").click()
    form = page.get_by_role("dialog", name="Edit part")
    expect(form.get_by_label("Name")).to_have_value("Drive Gear")
    part = board.part_named("Drive Gear")
    assert board.api("PUT", f"/{part['id']}", {"notes": "changed elsewhere"})[0] == 200
    form.get_by_label("Amount").fill("3")
    form.get_by_role("button", name="Save changes").click()
    expect(form.get_by_role("alert")).to_contain_text("Someone else changed this part")
    assert board.part_named("Drive Gear")["amount"] == 1


def test_too_many_requests_is_explained(page, board_factory):
    # The server's own limit: a second key check within 20 s answers 429. The web app waits
    # out a short one itself (test_browser_shop_floor); a long one is explained in words.
    board = board_factory(AUTH_CHECK_INTERVAL_SECONDS=20)
    sign_in(page, board)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API key").fill(board.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r"Too many requests\. Wait \d+ s"))
    # Asked too soon is not a wrong key.
    expect(page.get_by_label("API key")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("button", name="Sign in")).to_be_enabled()


def test_statistics_show_charts_and_wipe_needs_the_typed_phrase(desktop_page, board):
    page = desktop_page
    sign_in(page, board)
    page.get_by_role("link", name="Stats").click()
    expect(page.get_by_role("figure", name="Units by tab")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"^Completed"))).to_have_count(2)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Wipe all parts…").click()
    dialog = page.get_by_role("dialog", name="Wipe for a new season")
    assert axe_violations(page) == []
    wipe = dialog.get_by_role("button", name="Wipe everything")
    dialog.get_by_label("API key").fill(board.key)
    dialog.get_by_label(re.compile("^Type")).fill("wipe some parts")
    expect(wipe).to_be_disabled()
    dialog.get_by_label(re.compile("^Type")).fill("wipe all parts")
    dialog.get_by_label("API key").fill("wrong")
    wipe.click()
    expect(dialog.get_by_role("alert")).to_be_visible()
    assert board.api("GET", "/")[1]["total"] > 0
    dialog.get_by_label("API key").fill(board.key)
    wipe.click()
    expect(page.get_by_role("status").filter(has_text="wiped")).to_be_visible()
    assert board.api("GET", "/")[1]["total"] == 0
    _tab(page, "Review")
    expect(page.get_by_text("No parts here yet.")).to_be_visible()


def _score(board, name: str) -> float:
    rows = board.api("GET", "/leaderboard")[1]["leaderboard"]
    return next(row["score"] for row in rows if row["name"] == name)


def test_a_part_made_incorrectly_can_be_flagged_and_unflagged(page, board):
    sign_in(page, board)
    before = _score(board, "Alex Kim")
    _tab(page, "Completed")
    page.get_by_role("button", name="Open Precision Shaft").click()
    details = page.get_by_role("dialog", name="Precision Shaft")
    flag = details.get_by_role("button", name="Made incorrectly")
    expect(flag).to_have_attribute("aria-pressed", "false")
    flag.click()
    expect(flag).to_have_attribute("aria-pressed", "true")
    expect(details).to_contain_text("Flagged: made incorrectly")
    assert _score(board, "Alex Kim") == before - 2
    part = board.part_named("Precision Shaft")
    assert part["miscInfo"]["storage"] == "Bin 3"  # the rest of miscInfo is kept
    flag.click()
    expect(flag).to_have_attribute("aria-pressed", "false")
    assert _score(board, "Alex Kim") == before


def test_the_uploaded_file_downloads_under_its_name(desktop_page, board):
    page = desktop_page
    sign_in(page, board)
    page.get_by_role("link", name=re.compile(r"^CNC \(")).click()
    page.get_by_role("button", name="Open Controller Mounting Plate").click()
    details = page.get_by_role("dialog", name="Controller Mounting Plate")
    with page.expect_download() as download:
        details.get_by_role("button", name="Download file").click()
    assert download.value.suggested_filename == "mounting_plate.step"
    saved = download.value.path()
    assert saved.read_bytes().startswith(b"ISO-10303-21")
