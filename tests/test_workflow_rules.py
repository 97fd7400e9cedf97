"""Workflow rules the API cannot bypass (issue 12): create always lands in review, PUT moves no
part between categories, sets only statuses valid where the part is, and moves no claim date;
every request the upstream web app sends (COMPAT, reference 2.3, 2.5, 2.7) still works."""

from __future__ import annotations

import pytest

PARTS = "/api/parts/"


@pytest.mark.parametrize(
    "body",
    [
        {"category": "completed", "status": "Completed", "assigned": "Padder", "type": "hand"},
        {"category": "cnc", "status": "In Progress", "claimedDate": "2025-01-01T00:00:00Z"},
        {"category": "review", "status": "Pending"},  # what the upstream form sends
        {"category": "misc", "status": "Reviewed", "type": "misc"},
    ],
)
def test_create_always_lands_in_review_pending_unclaimed_date(call, body):
    status, part = call("POST", "/", {"material": "Al", "subsystem": "Arm", **body})
    assert status == 201
    assert (part["category"], part["status"], part["claimedDate"]) == ("review", "Pending", None)
    assert call("GET", "/stats")[1]["by_category"]["completed"] == 0


def test_hand_part_created_with_an_assignee_keeps_it_but_counts_nowhere(call):
    body = {"material": "Al", "subsystem": "Arm", "type": "hand", "assigned": "Ada"}
    status, part = call("POST", "/", {**body, "category": "completed"})
    assert status == 201 and (part["assigned"], part["category"]) == ("Ada", "review")
    assert call("GET", "/leaderboard")[1] == {"leaderboard": []}


ALLOWED_BY_CATEGORY = {
    "review": {"Pending"},
    "cnc": {"Pending", "Reviewed", "In Progress", "Already Started"},
    "hand": {"Pending", "Reviewed", "In Progress", "Already Started"},
    "misc": {"Pending", "Reviewed", "In Progress", "Already Started", "Completed"},
    "completed": {"Completed"},
}
STATUSES = ["Pending", "Reviewed", "In Progress", "Already Started", "Completed"]


@pytest.mark.parametrize("category", list(ALLOWED_BY_CATEGORY))
@pytest.mark.parametrize("status", STATUSES)
def test_put_status_only_to_a_status_valid_in_the_category(part_in, call, fetch, category, status):
    part = part_in(category)
    before = fetch(part["id"])
    code, body = call("PUT", f"/{part['id']}", {"status": status})
    if status in ALLOWED_BY_CATEGORY[category] or status == before["status"]:
        assert code == 200 and (body["status"], body["category"]) == (status, category)
        return
    assert code == 409, body
    assert set(body["allowed_statuses"]) == ALLOWED_BY_CATEGORY[category]
    assert "update" in body["allowed_actions"]
    assert fetch(part["id"]) == before


@pytest.mark.parametrize("target", ["review", "cnc", "hand", "misc", "completed"])
def test_put_never_moves_a_part_between_categories(part_in, call, fetch, target):
    part = part_in("hand")
    code, body = call("PUT", f"/{part['id']}", {"category": target})
    if target == "hand":  # unchanged: nothing to refuse
        assert code == 200
        return
    assert code == 409 and body["error"] == "category is changed only by the workflow actions"
    assert body["allowed_actions"] == ["update", "assign", "complete"]
    assert fetch(part["id"])["category"] == "hand"


def test_put_cannot_hand_a_completed_part_to_someone_else(part_in, call, fetch):
    part = part_in("completed", type="hand")
    before = fetch(part["id"])
    code, body = call("PUT", f"/{part['id']}", {"assigned": "Padder"})
    assert code == 409 and body["allowed_actions"] == ["update", "revert"]
    assert fetch(part["id"]) == before


def test_refused_workflow_actions_name_the_allowed_ones(part_in, act):
    part = part_in("review")
    status, body = act(part["id"], "complete", {})
    assert status == 409
    assert (body["allowed_actions"], body["allowed_statuses"]) == (
        ["update", "approve", "assign"],
        ["Pending"],
    )


def test_every_upstream_put_still_succeeds(part_in, call):
    """The web app's PUTs (reference 2.5): edit, CNC start, misc done, storage, the flag."""
    cnc = part_in("cnc")
    edit = {"name": "Plate", "material": "Steel", "subsystem": "Arm", "notes": "n", "amount": 3}
    assert call("PUT", f"/{cnc['id']}", {**edit, "type": "cnc"})[0] == 200
    assert call("PUT", f"/{cnc['id']}", {"status": "In Progress"})[1]["status"] == "In Progress"
    misc = part_in("misc")
    done = call("PUT", f"/{misc['id']}", {"status": "Completed"})[1]
    assert (done["category"], done["status"]) == ("misc", "Completed")
    hand = part_in("hand")
    assert call("POST", f"/{hand['id']}/assign", {"assigned": "Ada"})[0] == 200
    claimed = call("GET", f"/{hand['id']}")[1]
    storage = {"miscInfo": {**claimed["miscInfo"], "storage": "Bin 1"}}
    assert call("PUT", f"/{hand['id']}", storage)[0] == 200
    assert call("POST", f"/{hand['id']}/unclaim")[0] == 200
    completed = part_in("completed", type="hand")
    flag = {"miscInfo": {**completed["miscInfo"], "completedIncorrectly": True}}
    assert call("PUT", f"/{completed['id']}", flag)[1]["miscInfo"]["completedIncorrectly"] is True
    assert call("PUT", f"/{completed['id']}", {"miscInfo": None})[0] == 200
    edit_hand = {"name": "Bracket", "assigned": "Bo", "type": "hand"}
    reassigned = call("PUT", f"/{hand['id']}", edit_hand)[1]
    assert reassigned["assigned"] == "Bo" and reassigned["claimedDate"] is not None


def test_put_cannot_pad_hand_workers_or_move_the_completion_time(part_in, call, fetch):
    part = part_in("hand")
    assert call("POST", f"/{part['id']}/assign", {"assigned": "Ada"})[0] == 200
    done = call("POST", f"/{part['id']}/complete", {})[1]
    forged = {
        "handWorkers": [{"name": "Padder", "timestamp": "2026-01-01T00:00:00+00:00"}] * 3,
        "hand_workers": [{"name": "Padder"}],
        "completed_at": "2020-01-01T00:00:00+00:00",
        "storage": "Shelf",
    }
    status, body = call("PUT", f"/{part['id']}", {"miscInfo": forged})
    assert status == 200
    assert body["miscInfo"] == {**done["miscInfo"], "storage": "Shelf"}
    board = call("GET", "/leaderboard")[1]["leaderboard"]
    assert board == [{"name": "Ada", "score": 1}]


def test_put_taking_the_assignee_away_leaves_no_part_in_progress_with_nobody(part_in, call):
    """The edit form's assignee is an edit (issue 12: recorded like a claim); cleared on a
    part being made, the part is Already Started, as unclaim leaves it. It stayed In
    Progress with no one on it."""
    part = part_in("hand")
    assert call("POST", f"/{part['id']}/assign", {"assigned": "alice"})[0] == 200
    reassigned = call("PUT", f"/{part['id']}", {"assigned": "bob"})[1]
    assert (reassigned["assigned"], reassigned["status"]) == ("bob", "In Progress")
    for nobody in (None, ""):
        assert call("POST", f"/{part['id']}/assign", {"assigned": "carol"})[0] in (200, 409)
        status, body = call("PUT", f"/{part['id']}", {"assigned": nobody})
        assert status == 200, body
        assert (body["assigned"], body["status"]) == (None, "Already Started")
        assert body["claimedDate"] is None
    cnc = part_in("cnc")
    started = call("PUT", f"/{cnc['id']}", {"status": "In Progress"})[1]
    assert started["assigned"] is None  # CNC "start": nobody was on it, the status stays
    assert call("PUT", f"/{cnc['id']}", {"notes": "n"})[1]["status"] == "In Progress"


@pytest.mark.parametrize("blank", ["\u3164", "\u115f", "\uffa0", "\u2800", "A\u034f"])
def test_a_name_that_draws_nothing_is_refused(part_in, call, blank):
    part = part_in("hand")
    status, body = call("POST", f"/{part['id']}/assign", {"assigned": blank})
    assert status == 400 and "invisible" in str(body), body
    assert call("GET", f"/{part['id']}")[1]["assigned"] is None


def test_an_approved_part_nobody_started_moves_with_its_type(part_in, call):
    """The type picks the tab: changed after approval, the part follows it (it stayed in the
    CNC tab as a misc part); once started or made it keeps its type."""
    part = part_in("cnc")
    moved = call("PUT", f"/{part['id']}", {"type": "hand", "notes": "lathe is down"})
    assert moved[0] == 200, moved
    assert (moved[1]["type"], moved[1]["category"], moved[1]["status"]) == (
        "hand",
        "hand",
        "Reviewed",
    )
    assert call("POST", f"/{part['id']}/assign", {"assigned": "Ada"})[0] == 200
    status, body = call("PUT", f"/{part['id']}", {"type": "cnc"})
    assert status == 409 and body["error"] == "A part already started keeps its type"
    done = call("POST", f"/{part['id']}/complete", {})[1]
    status, body = call("PUT", f"/{part['id']}", {"type": "cnc"})
    assert status == 409 and "revert" in body["allowed_actions"], body
    assert call("GET", f"/{part['id']}")[1]["type"] == done["type"] == "hand"
    in_review = part_in("review")
    edited = call("PUT", f"/{in_review['id']}", {"type": "misc"})[1]
    assert (edited["type"], edited["category"]) == ("misc", "review")


def test_a_part_created_with_its_worker_is_claimed_when_they_claim_it(call):
    """The upstream form's hand part with an assignee starts unclaimed (issue 12); its
    worker's own claim dates it, so its completion time counts. The claim changed only the
    status, and the date stayed null for good."""
    body = {"material": "Al", "subsystem": "Arm", "type": "hand", "assigned": "Lee"}
    status, part = call("POST", "/", body)
    assert status == 201 and part["claimedDate"] is None
    assert call("POST", f"/{part['id']}/approve", {})[0] == 200
    claimed = call("POST", f"/{part['id']}/assign", {"assigned": "Lee"})[1]
    assert (claimed["assigned"], claimed["status"]) == ("Lee", "In Progress")
    assert claimed["claimedDate"] is not None
    assert call("POST", f"/{part['id']}/complete", {})[0] == 200
    detailed = call("GET", "/stats/detailed")[1]
    assert detailed["average_completion_time_hours"] is not None
