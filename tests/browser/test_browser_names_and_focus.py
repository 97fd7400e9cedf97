"""What a keyboard user and a test by role and name meet: focus back on the opener when a
dialog closes, fields and card headings named exactly by their labels, filters that stay
visible across tabs, charts in the workflow's order, shared leaderboard ranks."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import sign_in


def test_closing_a_dialog_gives_focus_back_to_the_button_that_opened_it(desktop_page, board):
    page = desktop_page
    sign_in(page, board)
    add = page.get_by_role("button", name="Add part")
    add.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Add part")).to_be_visible()
    page.keyboard.press("Escape")
    expect(add).to_be_focused()

    opener = page.get_by_role("button", name="Open Drive Gear")
    opener.focus()
    page.keyboard.press("Enter")
    page.get_by_role("dialog", name="Drive Gear").get_by_role("button", name="Close").click()
    expect(opener).to_be_focused()

    # The part leaves this tab when it is approved: the board itself gets focus, not <body>.
    page.get_by_role("button", name="Approve Drive Gear").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Approve part")
    dialog.get_by_role("button", name="Approve").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("button", name="Open Drive Gear")).to_have_count(0)
    expect(page.locator("#content")).to_be_focused()


def test_fields_and_card_headings_are_named_exactly_by_their_labels(page, board):
    sign_in(page, board)
    expect(page.get_by_role("heading", name="Drive Gear", exact=True)).to_be_visible()
    page.get_by_role("button", name="Add part").click()
    dialog = page.get_by_role("dialog", name="Add part")
    # Required fields show a mark beside the label, which is not part of their name.
    for label in ("Name", "Amount"):
        expect(dialog.get_by_label(label, exact=True)).to_have_count(1)
    expect(dialog.get_by_role("textbox", name="Name", exact=True)).to_be_visible()


def test_a_filter_from_another_tab_stays_shown_and_can_be_cleared(page, board):
    sign_in(page, board)
    page.get_by_role("link", name=re.compile(r"^Hand fab")).click()
    page.get_by_role("combobox", name="Subsystem").select_option("Climber")
    page.get_by_role("link", name=re.compile(r"^CNC \(")).click()
    # No CNC part is on the climber: the filter still says so instead of a blank box.
    expect(page.get_by_role("combobox", name="Subsystem")).to_have_value("Climber")
    expect(page.get_by_text("No parts here match the filters.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(page.get_by_role("combobox", name="Subsystem")).to_have_value("")
    expect(page.get_by_role("button", name="Open Controller Mounting Plate")).to_be_visible()


def test_charts_follow_the_workflow_and_tied_scores_share_a_rank(desktop_page, board):
    page = desktop_page
    sign_in(page, board)
    page.get_by_role("link", name="Stats").click()
    tabs = page.get_by_role("figure", name="Units by tab").get_by_role("rowheader")
    expect(tabs).to_have_text(["Review", "CNC", "Hand fab", "Misc", "Completed"])
    times = page.get_by_role("figure", name="Time from claim to done").get_by_role("rowheader")
    expect(times.first).to_have_text("< 1 hour")
    expect(times.last).to_have_text("> 24 hours")

    page.get_by_role("link", name="Leaderboard").click()
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(3)  # the header and two makers with one part each
    ranks = [rows.nth(i).get_by_role("cell").first.inner_text() for i in (1, 2)]
    assert ranks == ["1", "1"]


def test_a_misc_parts_vendor_is_shown_and_a_wrong_wipe_key_is_named_as_such(desktop_page, board):
    page = desktop_page
    sign_in(page, board)
    page.get_by_role("link", name=re.compile(r"^Misc \(")).click()
    page.get_by_role("button", name="Open Timing Belt 60T").click()
    details = page.get_by_role("dialog", name="Timing Belt 60T")
    expect(details.get_by_role("definition").filter(has_text="WCP")).to_be_visible()
    details.get_by_role("button", name="Close").click()

    page.get_by_role("link", name="Stats").click()
    page.get_by_role("button", name="Wipe all parts…").click()
    wipe = page.get_by_role("dialog", name="Wipe for a new season")
    wipe.get_by_label('Type "wipe all parts" to confirm').fill("wipe all parts")
    wipe.get_by_label("API key").fill("not-the-key")
    wipe.get_by_role("button", name="Wipe everything").click()
    expect(wipe.get_by_role("alert")).to_have_text(
        "That API key is not right. Nothing was deleted."
    )
    assert board.part_named("Timing Belt 60T")  # nothing was deleted


def test_sign_in_and_out_put_focus_where_the_work_is(page, board):
    page.goto(board.url)
    key = page.get_by_label("API key")
    key.fill("not-the-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That API key is not valid")
    # The refusal is tied to the field, and focus is back in it to type the key again.
    expect(key).to_have_attribute("aria-invalid", "true")
    assert "login-error" in (key.get_attribute("aria-describedby") or "")
    expect(key).to_be_focused()
    key.fill(board.key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Open Drive Gear")).to_be_visible()
    page.wait_for_function("() => document.activeElement.id === 'content'")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_focused()


def test_the_history_names_tabs_and_helpers_as_the_board_does(desktop_page, board):
    page = desktop_page
    sign_in(page, board)
    page.get_by_role("button", name="Approve Drive Gear").click()
    page.get_by_role("dialog", name="Approve part").get_by_role("button", name="Approve").click()
    page.get_by_role("link", name=re.compile(r"^CNC \(")).click()
    page.get_by_role("button", name="Open Drive Gear").click()
    history = page.get_by_role("dialog", name="Drive Gear")
    expect(history.get_by_text("tab: Review → CNC", exact=True)).to_be_visible()
