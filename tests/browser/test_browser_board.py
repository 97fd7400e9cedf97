"""The board in a real browser: sign-in, tabs, search, filters, sort, live updates, BASE_PATH."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.browser.conftest import PHONE, axe_violations, sign_in


def test_wrong_key_is_refused_in_words_then_the_right_one_opens_the_board(page, board):
    page.goto(board.url)
    assert axe_violations(page) == []
    page.get_by_label("API key").fill("not-the-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That API key is not valid")
    page.get_by_label("API key").fill(board.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name=re.compile(r"^Review \(3\)"))).to_be_visible()
    expect(page.get_by_role("button", name="Open Drive Gear")).to_be_visible()


def test_the_key_is_remembered_and_sign_out_forgets_it(page, board):
    sign_in(page, board)
    page.reload()
    expect(page.get_by_role("button", name="Open Drive Gear")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_each_tab_lists_its_parts_and_passes_axe(page, board):
    sign_in(page, board)
    expected = {
        "Review": "Drive Gear",
        "CNC": "Controller Mounting Plate",
        "Hand fab": "Support Frame",
        "Misc": "NEO Motor",
        "Completed": "Control Panel",
    }
    for tab, part in expected.items():
        page.get_by_role("link", name=re.compile(rf"^{tab} \(")).click()
        expect(page.get_by_role("button", name=f"Open {part}")).to_be_visible()
        expect(page.get_by_role("link", name=re.compile(rf"^{tab} \("))).to_have_attribute(
            "aria-current", "page"
        )
        assert axe_violations(page) == [], tab
    page.get_by_role("link", name="Leaderboard").click()
    expect(page.get_by_role("cell", name="Bob Johnson")).to_be_visible()
    assert axe_violations(page) == []


def test_search_filters_and_sort_narrow_the_tab(page, board):
    sign_in(page, board)
    page.get_by_role("link", name=re.compile(r"^Hand fab")).click()
    cards = page.get_by_role("list", name="Hand fab parts").get_by_role("listitem")
    expect(cards).to_have_count(3)
    page.get_by_role("searchbox", name="Search").fill("jane")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Support Frame")
    page.get_by_role("searchbox", name="Search").fill("")
    page.get_by_label("Subsystem").select_option("Climber")
    expect(cards).to_have_count(1)
    expect(page.get_by_role("status").filter(has_text="parts")).to_have_text("1 of 3 parts")
    page.get_by_label("Subsystem").select_option("")
    page.get_by_label("Material").select_option("Plywood")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Bumper Frame")
    page.get_by_label("Material").select_option("")
    page.get_by_label("Status").select_option("Reviewed")
    expect(cards).to_have_count(1)
    page.get_by_label("Status").select_option("")
    page.get_by_label("Sort by").select_option("name")
    names = cards.locator("h3").all_inner_texts()
    assert names == sorted(names) and len(names) == 3


def test_another_users_change_shows_within_five_seconds_and_other_cards_stay(page, board):
    sign_in(page, board)
    watched = page.locator("li.card", has_text="Intake Roller Plate")
    expect(watched).to_be_visible()
    # Count DOM changes inside a card whose part does not change.
    page.evaluate(
        """() => {
          const card = [...document.querySelectorAll('li.card')]
            .find(li => li.textContent.includes('Intake Roller Plate'));
          window.__mutations = 0;
          new MutationObserver(list => { window.__mutations += list.length; })
            .observe(card, {subtree: true, childList: true, characterData: true, attributes: true});
        }"""
    )
    drive_gear = board.part_named("Drive Gear")
    started = time.monotonic()
    status, _ = board.api("PUT", f"/{drive_gear['id']}", {"notes": "x", "amount": 7})
    assert status == 200
    expect(page.locator("li.card", has_text="Drive Gear")).to_contain_text("× 7", timeout=5000)
    status, created = board.api(
        "POST", "/", {"name": "Arm Spacer", "material": "Delrin", "subsystem": "Arm"}
    )
    assert status == 201
    expect(page.get_by_role("button", name="Open Arm Spacer")).to_be_visible(timeout=5000)
    assert time.monotonic() - started < 10
    assert page.evaluate("() => window.__mutations") == 0
    board.api("DELETE", f"/{created['id']}")
    expect(page.get_by_role("button", name="Open Arm Spacer")).to_have_count(0, timeout=5000)


def test_board_polls_with_etag_and_gets_304_when_nothing_changed(page, board):
    statuses: list[int] = []
    page.on(
        "response",
        lambda r: statuses.append(r.status) if re.search(r"/api/parts/$", r.url) else None,
    )
    sign_in(page, board)
    page.wait_for_timeout(5500)
    assert statuses[0] == 200
    assert statuses.count(304) >= 1, statuses


def test_works_under_a_base_path(page, board_factory):
    board = board_factory("/pms")
    assert board.url.endswith("/pms/")
    sign_in(page, board)
    expect(page.get_by_role("button", name="Open Drive Gear")).to_be_visible()
    page.get_by_role("link", name="Stats").click()
    expect(page.get_by_role("heading", name="Statistics")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/pms/#/stats$"))


def test_keyboard_alone_opens_acts_and_closes(desktop_page, board):
    page = desktop_page
    sign_in(page, board)
    page.get_by_role("button", name="Approve Drive Gear").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Approve part")
    expect(dialog.get_by_label("Reviewer")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    page.get_by_role("button", name="Open Drive Gear").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Drive Gear")).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("link", name=re.compile(r"^CNC \(")).click()
    page.get_by_role("link", name="Skip to content").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "content"
    expect(page).to_have_url(re.compile(r"#/cnc$"))  # the route stays


def test_dark_mode_follows_the_system_and_passes_axe(browser, board):
    context = browser.new_context(viewport=PHONE, color_scheme="dark")
    try:
        page = context.new_page()
        sign_in(page, board)
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(15, 20, 26)"
        assert axe_violations(page) == []
        page.get_by_role("link", name="Stats").click()
        expect(page.get_by_role("figure", name="Units by tab")).to_be_visible()
        assert axe_violations(page) == []
    finally:
        context.close()


def test_touch_targets_are_at_least_44_px(page, board):
    sign_in(page, board)
    small = page.evaluate(
        """() => [...document.querySelectorAll('button, a, input, select')]
          .filter(el => el.offsetParent !== null && !el.classList.contains('skip-link'))
          .map(el => [el.textContent || el.getAttribute('aria-label') || el.id,
                      el.getBoundingClientRect().height])
          .filter(([, height]) => height < 44)"""
    )
    assert small == []
