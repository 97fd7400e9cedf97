"""Revert undoes a completion: completed_at goes, the part counts as completed nowhere, and a
later completion is timed afresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.part_rows import set_columns

EMPTY_DISTRIBUTION = dict.fromkeys(
    ("< 1 hour", "1-4 hours", "4-8 hours", "8-24 hours", "> 24 hours"), 0
)


def _ok(call, method: str, path: str, body: Any = None) -> dict[str, Any]:
    status, answer = call(method, path, body)
    assert status == 200, answer
    return answer


def test_revert_removes_completed_at_and_keeps_the_rest_of_misc_info(part_in, call):
    part = part_in("hand", miscInfo={"reviewer": "Rita"})
    done = _ok(call, "POST", f"/{part['id']}/complete", {"miscInfo": {"storage": "Shelf B"}})
    assert "completed_at" in done["miscInfo"]
    reverted = _ok(call, "POST", f"/{part['id']}/revert")
    assert reverted["miscInfo"] == {"reviewer": "Rita", "storage": "Shelf B"}
    assert _ok(call, "GET", f"/{part['id']}")["miscInfo"] == reverted["miscInfo"]


def test_revert_of_part_whose_only_misc_info_was_completed_at_leaves_none(part_in, call):
    part = part_in("completed", type="cnc")
    assert set(part["miscInfo"]) == {"completed_at"}
    assert _ok(call, "POST", f"/{part['id']}/revert")["miscInfo"] is None


def test_reverted_part_counts_as_completed_nowhere(part_in, call):
    part = part_in("hand", amount=3)
    _ok(call, "POST", f"/{part['id']}/assign", {"assigned": "Alice"})
    _ok(call, "POST", f"/{part['id']}/complete", {})
    _ok(call, "POST", f"/{part['id']}/revert")
    summary = _ok(call, "GET", "/stats")
    assert summary["by_category"]["completed"] == summary["by_status"]["completed"] == 0
    detailed = _ok(call, "GET", "/stats/detailed")
    assert (detailed["completed_parts"], detailed["by_status"]["completed"]) == (0, 0)
    assert detailed["completion_time_distribution"] == EMPTY_DISTRIBUTION
    assert detailed["average_completion_time_hours"] is None
    assert detailed["top_contributors"] == []
    assert _ok(call, "GET", "/leaderboard") == {"leaderboard": []}


def test_completion_after_revert_is_stamped_afresh(part_in, call):
    part = part_in("completed", type="cnc")
    first = datetime.fromisoformat(part["miscInfo"]["completed_at"])
    _ok(call, "POST", f"/{part['id']}/revert")
    again = _ok(call, "POST", f"/{part['id']}/complete", {})
    assert datetime.fromisoformat(again["miscInfo"]["completed_at"]) > first


def test_completion_time_uses_the_current_completion_only(app, part_in, call):
    """Done wrongly half an hour after the claim, reverted, done again ten hours in."""
    part = part_in("hand")
    _ok(call, "POST", f"/{part['id']}/assign", {"assigned": "Alice"})
    claimed = datetime.now(UTC) - timedelta(hours=10)
    set_columns(app, part["id"], claimed_date=claimed)  # the API never backdates a claim
    done = _ok(call, "POST", f"/{part['id']}/complete", {})
    early = (claimed + timedelta(minutes=30)).isoformat()
    set_columns(app, part["id"], misc_info={**done["miscInfo"], "completed_at": early})
    assert _ok(call, "GET", "/stats/detailed")["completion_time_distribution"]["< 1 hour"] == 1
    _ok(call, "POST", f"/{part['id']}/revert")
    # Issue 12: a PUT may no longer move the part back to completed; only complete does.
    back = {"category": "completed", "status": "Completed"}
    status, refused = call("PUT", f"/{part['id']}", back)
    assert status == 409
    assert refused["allowed_actions"] == ["update", "assign", "unclaim", "complete"]
    _ok(call, "POST", f"/{part['id']}/complete", {})
    detailed = _ok(call, "GET", "/stats/detailed")
    assert detailed["completion_time_distribution"] == {**EMPTY_DISTRIBUTION, "8-24 hours": 1}
    assert detailed["average_completion_time_hours"] == pytest.approx(10, abs=0.05)


def test_revert_drops_the_made_incorrectly_flag_so_the_remade_part_scores(part_in, call):
    part = part_in("hand", miscInfo={"reviewer": "Rita"})
    _ok(call, "POST", f"/{part['id']}/assign", {"assigned": "Alice"})
    done = _ok(call, "POST", f"/{part['id']}/complete", {"miscInfo": {"storage": "Shelf B"}})
    flag = {"miscInfo": {**done["miscInfo"], "completedIncorrectly": True}}
    _ok(call, "PUT", f"/{part['id']}", flag)
    assert _ok(call, "GET", "/leaderboard")["leaderboard"][0]["score"] == -1
    reverted = _ok(call, "POST", f"/{part['id']}/revert")
    assert "completedIncorrectly" not in reverted["miscInfo"]
    assert (reverted["miscInfo"]["reviewer"], reverted["miscInfo"]["storage"]) == (
        "Rita",
        "Shelf B",
    )
    _ok(call, "POST", f"/{part['id']}/complete", {})
    assert _ok(call, "GET", "/leaderboard")["leaderboard"][0]["score"] == 1
