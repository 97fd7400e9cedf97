"""Who is acting (X-Actor from the name given at sign-in or in Settings) and a part's history
in its details, newest first, a page at a time."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import PHONE, axe_violations, sign_in


def _history(board, part_id: int) -> list[dict]:
    status, body = board.api("GET", f"/{part_id}/history")
    assert status == 200, body
    return body["events"]


def test_the_name_given_at_sign_in_is_recorded_and_shown_in_the_history(page, board):
    page.goto(board.url)
    page.get_by_label("API key").fill(board.key)
    page.get_by_label("Your name").fill("Zoë, Team 1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot contain a comma")
    page.get_by_label("Your name").fill("Zoë")
    page.get_by_role("button", name="Sign in").click()
    part_id = board.part_named("Drive Gear")["id"]

    page.get_by_role("button", name="Approve Drive Gear").click()
    dialog = page.get_by_role("dialog", name="Approve part")
    expect(dialog.get_by_label("Reviewer")).to_have_value("Zoë")  # prefilled
    dialog.get_by_role("button", name="Approve").click()
    expect(dialog).to_have_count(0)
    latest = _history(board, part_id)[0]
    assert (latest["action"], latest["actor"]) == ("approve", "Zoë")

    page.get_by_role("link", name=re.compile(r"^CNC \(")).click()
    page.get_by_role("button", name="Claim Drive Gear").click()
    dialog = page.get_by_role("dialog", name="Claim part")
    expect(dialog.get_by_label("Your name")).to_have_value("Zoë")
    dialog.get_by_role("button", name="Claim").click()
    expect(page.locator("li.card", has_text="Drive Gear")).to_contain_text("Assigned to Zoë")
    latest = _history(board, part_id)[0]
    assert (latest["action"], latest["actor"]) == ("claim", "Zoë")
    assert latest["details"]["changes"]["assigned"] == {"from": None, "to": "Zoë"}

    page.get_by_role("button", name="Open Drive Gear").click()
    details = page.get_by_role("dialog", name="Drive Gear")
    events = details.get_by_role("list", name="Changes, newest first").locator(":scope > li")
    expect(events.first).to_contain_text("Zoë claimed")
    expect(events.first).to_contain_text("assigned to: — → Zoë")
    expect(events.nth(1)).to_contain_text("Zoë approved")
    expect(events.nth(1)).to_contain_text("reviewer: — → Zoë")
    expect(events.nth(1)).to_contain_text("tab: Review → CNC")
    assert axe_violations(page) == []


def test_without_a_name_changes_are_recorded_as_api(page, board):
    sign_in(page, board)
    page.get_by_role("button", name="Approve Drive Gear").click()
    page.get_by_role("dialog", name="Approve part").get_by_role("button", name="Approve").click()
    expect(page.get_by_role("button", name="Open Drive Gear")).to_have_count(0)
    latest = _history(board, board.part_named("Drive Gear")["id"])[0]
    assert (latest["action"], latest["actor"]) == ("approve", "api")


def test_the_name_is_changed_in_settings_checked_there_and_sent_with_a_delete(page, board):
    sign_in(page, board)
    page.get_by_role("button", name="Settings").click()
    dialog = page.get_by_role("dialog", name="Settings")
    assert axe_violations(page) == []
    field = dialog.get_by_label("Your name")
    save = dialog.get_by_role("button", name="Save name")
    field.fill("x" * 101)
    save.click()
    expect(dialog.get_by_role("alert")).to_contain_text("at most 100 characters")
    expect(field).to_have_attribute("aria-invalid", "true")
    field.fill("Ms.\u202eRivera")
    save.click()
    expect(dialog.get_by_role("alert")).to_contain_text("invisible marks")
    field.fill("  Łucja 陳 ")
    save.click()
    expect(dialog.get_by_role("status").filter(has_text="recorded as Łucja 陳")).to_be_visible()
    expect(dialog.get_by_role("alert")).to_have_count(0)
    dialog.get_by_role("button", name="Close").click()

    page.reload()  # kept beside the key
    page.get_by_role("button", name="Settings").click()
    expect(page.get_by_role("dialog", name="Settings").get_by_label("Your name")).to_have_value(
        "Łucja 陳"
    )
    page.keyboard.press("Escape")

    part_id = board.part_named("Drive Gear")["id"]
    page.get_by_role("button", name="Open Drive Gear").click()
    page.get_by_role("dialog", name="Drive Gear").get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name="Delete part").get_by_role(
        "button", name="Delete permanently"
    ).click()
    expect(page.get_by_role("button", name="Open Drive Gear")).to_have_count(0)
    latest = _history(board, part_id)[0]
    assert (latest["action"], latest["actor"]) == ("delete", "Łucja 陳")


def test_the_history_is_newest_first_and_shows_more_on_request(desktop_page, board):
    page = desktop_page
    part_id = board.part_named("Drive Gear")["id"]
    for amount in range(2, 27):
        assert board.api("PUT", f"/{part_id}", {"amount": amount})[0] == 200
    total = board.api("GET", f"/{part_id}/history")[1]["total"]
    assert total >= 25
    sign_in(page, board)
    page.get_by_role("button", name="Open Drive Gear").click()
    details = page.get_by_role("dialog", name="Drive Gear")
    events = details.get_by_role("list", name="Changes, newest first").locator(":scope > li")
    expect(events).to_have_count(20)
    expect(events.first).to_contain_text("api changed the part")
    expect(events.first).to_contain_text("amount: 25 → 26")
    expect(events.nth(19)).to_contain_text("amount: 6 → 7")
    more = details.get_by_role("button", name=re.compile(r"^Show more"))
    expect(more).to_have_text(f"Show more ({total - 20} older)")
    more.click()
    expect(events).to_have_count(total)
    expect(events.nth(20)).to_contain_text("amount: 5 → 6")
    expect(more).to_have_count(0)
    assert axe_violations(page) == []

    assert board.api("PUT", f"/{part_id}", {"notes": "Deburr the teeth"})[0] == 200
    expect(events.first).to_contain_text(
        re.compile(r"notes: .* → Deburr the teeth")
    )  # follows the board
    expect(events).to_have_count(total + 1)  # what was shown stays shown


SMALL_TARGETS = """(root) => [...root.querySelectorAll('button, input, select')]
    .filter(el => el.offsetParent !== null)
    .map(el => [el.textContent || el.getAttribute('aria-label') || el.id,
                el.getBoundingClientRect().height])
    .filter(([, height]) => height < 44)"""


def test_settings_and_history_by_keyboard_in_dark_mode_with_44px_targets(browser, board):
    context = browser.new_context(viewport=PHONE, color_scheme="dark")
    try:
        page = context.new_page()
        sign_in(page, board)
        page.get_by_role("button", name="Settings", exact=True).focus()
        page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Settings")
        expect(dialog.get_by_role("button", name="Close")).to_be_focused()
        page.keyboard.press("Tab")
        expect(dialog.get_by_label("Your name")).to_be_focused()
        page.keyboard.type("Kai")
        page.keyboard.press("Enter")
        expect(dialog.get_by_role("status").filter(has_text="recorded as Kai")).to_be_visible()
        assert axe_violations(page) == []
        assert dialog.evaluate(SMALL_TARGETS) == []
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)

        page.get_by_role("button", name="Approve Drive Gear").click()
        page.get_by_role("dialog", name="Approve part").get_by_role(
            "button", name="Approve"
        ).click()
        page.get_by_role("link", name=re.compile(r"^CNC \(")).click()
        page.get_by_role("button", name="Open Drive Gear").focus()
        page.keyboard.press("Enter")
        details = page.get_by_role("dialog", name="Drive Gear")
        expect(details.get_by_role("listitem").filter(has_text="Kai approved")).to_be_visible()
        assert axe_violations(page) == []
        assert details.evaluate(SMALL_TARGETS) == []
    finally:
        context.close()


def test_sign_out_forgets_the_name_so_the_next_person_is_not_recorded_as_the_last(page, board):
    page.goto(board.url)
    page.get_by_label("API key").fill(board.key)
    page.get_by_label("Your name").fill("Zoë")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").click()

    # The next student on this laptop: the form does not offer Zoë, and their change is not hers.
    expect(page.get_by_label("Your name")).to_have_value("")
    page.get_by_label("API key").fill(board.key)
    page.get_by_role("button", name="Sign in").click()
    part_id = board.part_named("Drive Gear")["id"]
    page.get_by_role("button", name="Approve Drive Gear").click()
    dialog = page.get_by_role("dialog", name="Approve part")
    expect(dialog.get_by_label("Reviewer")).to_have_value("")
    dialog.get_by_label("Reviewer").fill("Sam")
    dialog.get_by_role("button", name="Approve").click()
    expect(dialog).to_have_count(0)
    latest = _history(board, part_id)[0]
    assert (latest["action"], latest["actor"]) == ("approve", "api")
