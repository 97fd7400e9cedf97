"""Approve, complete, revert and unclaim: allowed moves, refused moves, the UI's life cycles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.part_rows import set_columns

VIEWS_MANIFEST = {
    "files": {"0": {"filename": "view_0.png", "timestamp": "2026-01-05T10:00:00+00:00"}},
    "updated_at": "2026-01-05T10:00:00+00:00",
}


@pytest.fixture
def put(client, auth_headers):
    def update(part_id: int, body: dict[str, Any]) -> dict[str, Any]:
        response = client.put(f"/api/parts/{part_id}", json=body, headers=auth_headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return update


def aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no offset"
    return parsed


@pytest.mark.parametrize(
    ("part_type", "category"), [("cnc", "cnc"), ("hand", "hand"), ("misc", "misc"), (None, "hand")]
)
def test_approve_moves_review_part_to_its_type_tab_as_reviewed(make_part, act, part_type, category):
    part = make_part(type=part_type)
    status, body = act(part["id"], "approve", {})
    assert status == 200
    assert (body["category"], body["status"], body["type"]) == (category, "Reviewed", part_type)
    assert body["assigned"] is None and body["claimedDate"] is None


def test_approve_without_body_is_accepted(make_part, act, fetch):
    part = make_part(type="misc")
    status, body = act(part["id"], "approve")
    assert status == 200
    assert fetch(part["id"])["category"] == "misc"


def test_approve_merges_misc_info_and_takes_top_level_reviewer(make_part, act):
    part = make_part(type="misc", miscInfo={"serviceMethod": "Laser vendor", "finish": "raw"})
    status, body = act(part["id"], "approve", {"reviewer": "Rita", "miscInfo": {"finish": "ano"}})
    assert status == 200
    expected = {"serviceMethod": "Laser vendor", "finish": "ano", "reviewer": "Rita"}
    assert body["miscInfo"] == expected


def test_approve_takes_reviewer_from_misc_info_as_the_ui_sends_it(make_part, act):
    part = make_part(type="hand")
    status, body = act(part["id"], "approve", {"miscInfo": {"tolerance": "0.1", "reviewer": "Sam"}})
    assert status == 200
    assert body["miscInfo"] == {"tolerance": "0.1", "reviewer": "Sam"}


def test_approve_accepts_snake_case_misc_info(make_part, act):
    part = make_part(type="cnc")
    status, body = act(part["id"], "approve", {"misc_info": {"reviewer": "Kim"}})
    assert status == 200 and body["miscInfo"] == {"reviewer": "Kim"}


REFUSALS = [
    (
        "cnc",
        "approve",
        "Only parts in review can be approved; this part is already approved for CNC",
    ),
    (
        "hand",
        "approve",
        "Only parts in review can be approved; this part is already approved for hand fabrication",
    ),
    (
        "misc",
        "approve",
        "Only parts in review can be approved; this part is already approved as a misc part",
    ),
    (
        "completed",
        "approve",
        "Only parts in review can be approved; this part is already completed",
    ),
    ("review", "complete", "A part still in review cannot be completed; approve it first"),
    ("completed", "complete", "This part is already completed"),
    ("review", "revert", "Part is not completed"),
    ("cnc", "revert", "Part is not completed"),
    ("hand", "revert", "Part is not completed"),
    ("misc", "revert", "Part is not completed"),
    ("review", "unclaim", "This part is not claimed by anyone"),
    ("cnc", "unclaim", "This part is not claimed by anyone"),
    ("hand", "unclaim", "This part is not claimed by anyone"),
    ("misc", "unclaim", "This part is not claimed by anyone"),
    ("completed", "unclaim", "This part is not claimed by anyone"),
]


@pytest.mark.parametrize(("category", "action", "message"), REFUSALS)
def test_refused_transition_returns_409_and_leaves_the_row_unchanged(
    part_in, act, fetch, category, action, message
):
    part = part_in(category, miscInfo={"note": "keep"})
    before = fetch(part["id"])
    status, body = act(part["id"], action, {})
    assert status == 409
    assert body["error"] == message and body["code"] == "conflict"
    assert fetch(part["id"]) == before


def test_unclaim_of_a_completed_part_returns_409_and_keeps_who_made_it(part_in, act, fetch):
    part = part_in("hand")
    act(part["id"], "assign", {"assigned": "Kim"})
    _, completed = act(part["id"], "complete", {})
    status, body = act(part["id"], "unclaim")
    assert status == 409, body
    assert body["error"] == "A completed part cannot be unclaimed; revert it first"
    assert "unclaim" not in body["allowed_actions"] and "revert" in body["allowed_actions"]
    after = fetch(part["id"])
    assert after == completed
    assert (after["assigned"], after["status"], after["category"]) == (
        "Kim",
        "Completed",
        "completed",
    )


@pytest.mark.parametrize("action", ["approve", "assign", "unclaim", "complete", "revert"])
def test_workflow_action_on_unknown_part_returns_404(act, action):
    status, body = act(987654, action, {"assigned": "Alice"})
    assert status == 404
    assert body["error"] == "Part not found"


@pytest.mark.parametrize("category", ["cnc", "hand", "misc"])
def test_complete_stamps_completed_at_and_merges_misc_info(part_in, act, category):
    part = part_in(category, miscInfo={"reviewer": "Rita", "storage": "old"})
    status, body = act(part["id"], "complete", {"miscInfo": {"storage": "Shelf B"}})
    assert status == 200
    assert (body["category"], body["status"]) == ("completed", "Completed")
    info = body["miscInfo"]
    assert info["reviewer"] == "Rita" and info["storage"] == "Shelf B"
    assert abs((aware(info["completed_at"]) - aware(body["updatedAt"])).total_seconds()) < 5


def test_complete_keeps_assignee_and_claimed_date(part_in, act):
    part = part_in("hand")
    _, claimed = act(part["id"], "assign", {"assigned": "Alice"})
    status, body = act(part["id"], "complete", {})
    assert status == 200
    assert body["assigned"] == "Alice" and body["claimedDate"] == claimed["claimedDate"]


@pytest.mark.parametrize(
    ("part_type", "category", "status"),
    [
        ("cnc", "cnc", "In Progress"),
        ("misc", "misc", "Reviewed"),
        ("hand", "hand", "In Progress"),
        (None, "hand", "In Progress"),
    ],
)
def test_revert_sends_completed_part_back_to_its_tab(part_in, act, part_type, category, status):
    part = part_in("completed", type=part_type)
    code, body = act(part["id"], "revert")
    assert code == 200
    assert (body["category"], body["status"]) == (category, status)


def test_unclaim_of_in_progress_part_is_already_started(part_in, act):
    part = part_in("hand")
    act(part["id"], "assign", {"assigned": "Alice"})
    status, body = act(part["id"], "unclaim")
    assert status == 200
    assert (body["status"], body["category"]) == ("Already Started", "hand")
    assert (body["assigned"], body["claimedDate"]) == (None, None)


def test_unclaim_of_claimed_part_not_in_progress_is_pending(part_in, act, put):
    part = part_in("hand")
    put(part["id"], {"assigned": "Alice", "status": "Reviewed"})
    status, body = act(part["id"], "unclaim")
    assert status == 200
    assert (body["status"], body["assigned"], body["category"]) == ("Pending", None, "hand")


def _prepared(part_in, act, action: str) -> dict[str, Any]:
    """A part in the state from which `action` is allowed."""
    part = part_in("review" if action == "approve" else "hand")
    if action == "unclaim":
        act(part["id"], "assign", {"assigned": "Alice"})
    if action == "revert":
        act(part["id"], "complete", {})
    return part


@pytest.mark.parametrize("action", ["approve", "assign", "unclaim", "complete", "revert"])
def test_every_workflow_action_moves_updated_at(part_in, act, fetch, action):
    part = _prepared(part_in, act, action)
    before = fetch(part["id"])
    status, body = act(part["id"], action, {"assigned": "Bob"} if action == "assign" else {})
    assert status == 200
    assert aware(body["updatedAt"]) > aware(before["updatedAt"])
    assert body["createdAt"] == before["createdAt"]
    assert fetch(part["id"])["updatedAt"] == body["updatedAt"]


def test_ui_cnc_life_cycle(make_part, act, put, fetch):
    part = make_part(type="cnc", category="review", status="Pending", amount=2)
    _, approved = act(part["id"], "approve", {})
    assert (approved["category"], approved["status"]) == ("cnc", "Reviewed")
    started = put(part["id"], {"status": "In Progress"})
    assert (started["category"], started["status"]) == ("cnc", "In Progress")
    ui_body = {"miscInfo": {**(started["miscInfo"] or {}), "storage": "Cart 2"}}
    status, done = act(part["id"], "complete", ui_body)
    assert status == 200
    assert (done["category"], done["status"], done["miscInfo"]["storage"]) == (
        "completed",
        "Completed",
        "Cart 2",
    )
    assert fetch(part["id"]) == done


def test_ui_hand_life_cycle_assign_unclaim_assign_complete(make_part, act, put):
    part = make_part(type="hand")
    _, approved = act(part["id"], "approve", {"miscInfo": {"finish": "deburr", "reviewer": "Rita"}})
    assert (approved["category"], approved["status"]) == ("hand", "Reviewed")
    _, claimed = act(part["id"], "assign", {"assigned": "Alice"})
    assert (claimed["status"], claimed["assigned"]) == ("In Progress", "Alice")
    put(part["id"], {"miscInfo": {**claimed["miscInfo"], "storage": "Bin 3"}})
    _, released = act(part["id"], "unclaim")
    assert (released["status"], released["assigned"]) == ("Already Started", None)
    _, reclaimed = act(part["id"], "assign", {"assigned": "Bob"})
    assert (reclaimed["status"], reclaimed["assigned"]) == ("In Progress", "Bob")
    status, done = act(part["id"], "complete", {"miscInfo": {**reclaimed["miscInfo"]}})
    assert status == 200
    assert (done["category"], done["status"], done["assigned"]) == ("completed", "Completed", "Bob")
    info = done["miscInfo"]
    assert [w["name"] for w in info["handWorkers"]] == ["Alice", "Bob"]
    assert (info["storage"], info["reviewer"], info["finish"]) == ("Bin 3", "Rita", "deburr")


def test_ui_misc_put_status_completed_stays_in_misc(make_part, act, put, fetch):
    part = make_part(type="misc", miscInfo={"serviceMethod": "Powder coat shop"})
    act(part["id"], "approve", {})
    done = put(part["id"], {"status": "Completed"})
    assert (done["category"], done["status"]) == ("misc", "Completed")
    assert fetch(part["id"])["miscInfo"] == {"serviceMethod": "Powder coat shop"}


def test_ui_completed_revert_then_complete_again(part_in, act):
    part = part_in("completed", type="cnc")
    _, reverted = act(part["id"], "revert")
    assert (reverted["category"], reverted["status"]) == ("cnc", "In Progress")
    status, again = act(part["id"], "complete", {})
    assert status == 200 and again["category"] == "completed"


def test_ui_flag_completed_incorrectly_and_clear_it_with_put(part_in, put):
    part = part_in("completed", type="hand")
    flagged = put(part["id"], {"miscInfo": {**part["miscInfo"], "completedIncorrectly": True}})
    assert flagged["miscInfo"]["completedIncorrectly"] is True
    assert flagged["miscInfo"]["completed_at"] == part["miscInfo"]["completed_at"]
    cleared = put(part["id"], {"miscInfo": None})
    # Issue 12: the server's own keys survive a PUT (the completion time here).
    assert cleared["miscInfo"] == {"completed_at": part["miscInfo"]["completed_at"]}
    assert cleared["category"] == "completed"


def test_part_with_views_manifest_can_be_completed_and_flagged(app, part_in, act, put, fetch):
    """BUG-M1: the UI re-sends the whole miscInfo, views.files nested three levels deep."""
    part = part_in("cnc")
    set_columns(app, part["id"], misc_info={**(part["miscInfo"] or {}), "views": VIEWS_MANIFEST})
    stored = fetch(part["id"])
    ui_body = {"miscInfo": {**stored["miscInfo"], "storage": "A1"}}
    status, done = act(part["id"], "complete", ui_body)
    assert status == 200, done
    assert done["miscInfo"]["views"] == VIEWS_MANIFEST and done["miscInfo"]["storage"] == "A1"
    flagged = put(part["id"], {"miscInfo": {**done["miscInfo"], "completedIncorrectly": True}})
    assert flagged["miscInfo"]["views"] == VIEWS_MANIFEST
    assert flagged["miscInfo"]["completedIncorrectly"] is True


FORGED = {
    "handWorkers": [{"name": "Mallory", "timestamp": "2026-01-01T00:00:00+00:00"}],
    "hand_workers": "x",
    "completed_at": "yesterday",
    "views": 5,
}


def test_server_owned_misc_info_keys_sent_by_a_client_are_never_stored(
    part_in, act, put, fetch, make_part
):
    created = make_part(type="hand", miscInfo={**FORGED, "finish": "raw"})
    assert created["miscInfo"] == {"finish": "raw"}
    status, approved = act(created["id"], "approve", {"miscInfo": FORGED, "reviewer": "Rita"})
    assert status == 200 and approved["miscInfo"] == {"finish": "raw", "reviewer": "Rita"}
    status, claimed = act(created["id"], "assign", {"assigned": "Eve"})
    (eve,) = claimed["miscInfo"]["handWorkers"]
    status, done = act(created["id"], "complete", {"miscInfo": {**FORGED, "storage": "B2"}})
    assert status == 200, done
    info = done["miscInfo"]
    assert (info["handWorkers"], info["storage"]) == ([eve], "B2")
    assert (
        info["completed_at"] != "yesterday" and "views" not in info and "hand_workers" not in info
    )
    assert put(created["id"], {"miscInfo": {**info, **FORGED}})["miscInfo"] == info
    assert fetch(created["id"])["miscInfo"] == info
