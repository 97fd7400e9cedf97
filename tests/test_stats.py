"""Statistics, detailed statistics, the leaderboard and the wipe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.part_rows import completed_row, set_columns

EMPTY_DISTRIBUTION = dict.fromkeys(
    ("< 1 hour", "1-4 hours", "4-8 hours", "8-24 hours", "> 24 hours"), 0
)
# The keys the web app's info modal reads (COMPAT), then the named companions added beside them.
COMPAT_DETAILED_KEYS = {
    "total_parts", "completed_parts", "in_progress_parts", "average_completion_time",
    "completion_time_distribution", "by_type", "by_category", "top_contributors",
}  # fmt: skip
DETAILED_KEYS = COMPAT_DETAILED_KEYS | {
    "counts", "total_units", "part_count", "average_completion_time_hours", "by_status",
}  # fmt: skip
NO_STATUSES = dict.fromkeys(
    ("pending", "reviewed", "in_progress", "already_started", "completed", "other"), 0
)


@pytest.fixture
def hand_part_done_after(app, make_part, call):
    """A hand part claimed by `name`, its claim backdated by `hours` in the database (the API
    refuses to move claimedDate since issue 12), then completed."""

    def factory(name: str, hours: float, amount: int = 1, tz: timezone = UTC) -> dict[str, Any]:
        part = make_part(type="hand", amount=amount)
        assert call("POST", f"/{part['id']}/approve", {})[0] == 200
        assert call("POST", f"/{part['id']}/assign", {"assigned": name})[0] == 200
        claimed = (datetime.now(UTC) - timedelta(hours=hours)).astimezone(tz)
        set_columns(app, part["id"], claimed_date=claimed)
        status, body = call("POST", f"/{part['id']}/complete", {})
        assert status == 200, body
        return body

    return factory


def test_stats_of_empty_database_are_all_zero(call):
    status, body = call("GET", "/stats")
    assert status == 200
    assert body == {
        "counts": "parts",
        "by_category": {"review": 0, "cnc": 0, "hand": 0, "misc": 0, "completed": 0},
        "by_status": NO_STATUSES,
        "assignment": {"assigned": 0, "unassigned": 0},
        "total": 0,
        "total_units": 0,
        "outside_categories": 0,
    }


def test_stats_count_rows_by_category_status_and_assignment(part_in, call):
    part_in("cnc", amount=7)
    hand = part_in("hand")
    call("POST", f"/{hand['id']}/assign", {"assigned": "Alice"})
    part_in("misc")
    part_in("completed", type="cnc")
    other = part_in("hand")
    call("POST", f"/{other['id']}/assign", {"assigned": "Bob"})
    call("POST", f"/{other['id']}/complete", {})
    status, body = call("GET", "/stats")
    assert status == 200
    assert body == {
        "counts": "parts",
        "by_category": {"review": 0, "cnc": 1, "hand": 1, "misc": 1, "completed": 2},
        "by_status": {**NO_STATUSES, "reviewed": 2, "in_progress": 1, "completed": 2},
        "assignment": {"assigned": 2, "unassigned": 3},
        "total": 5,
        "total_units": 11,
        "outside_categories": 0,
    }


def test_stats_by_status_counts_every_status(part_in, make_part, call):
    make_part()
    part_in("cnc")
    hand = part_in("hand")
    call("POST", f"/{hand['id']}/assign", {"assigned": "Alice"})
    call("POST", f"/{hand['id']}/unclaim")
    _, body = call("GET", "/stats")
    assert body["by_status"] == {**NO_STATUSES, "pending": 1, "reviewed": 1, "already_started": 1}
    assert body["by_category"]["review"] == 1 and body["total"] == 3


def test_detailed_stats_of_empty_database(call):
    status, body = call("GET", "/stats/detailed")
    assert status == 200
    assert body == {
        "counts": "units",
        "total_parts": 0,
        "total_units": 0,
        "part_count": 0,
        "completed_parts": 0,
        "in_progress_parts": 0,
        "average_completion_time": None,
        "average_completion_time_hours": None,
        "completion_time_distribution": EMPTY_DISTRIBUTION,
        "by_type": {"cnc": 0, "hand": 0, "misc": 0, "other": 0},
        "by_category": {"review": 0, "cnc": 0, "hand": 0, "misc": 0, "completed": 0},
        "by_status": NO_STATUSES,
        "top_contributors": [],
    }


def test_detailed_stats_weigh_by_amount_after_hand_parts_are_claimed_and_completed(
    hand_part_done_after, part_in, make_part, call
):
    """BUG-D3: completing a claimed hand part must not break this endpoint."""
    hand_part_done_after("Alice", hours=2, amount=2, tz=timezone(timedelta(hours=2)))
    hand_part_done_after("Bob", hours=30)
    hand_part_done_after("Alice", hours=0.5, amount=3)
    hand_part_done_after("Dan", hours=6, amount=2)
    busy = part_in("hand", amount=4)
    call("POST", f"/{busy['id']}/assign", {"assigned": "Carol"})
    part_in("cnc", amount=5)
    make_part(type="misc", amount=1)
    part_in("completed", type="cnc", amount=2)
    status, body = call("GET", "/stats/detailed")
    assert status == 200, body
    assert set(body) == DETAILED_KEYS
    assert (body["total_parts"], body["completed_parts"], body["in_progress_parts"]) == (20, 10, 4)
    assert (body["total_units"], body["part_count"]) == (20, 8)
    assert body["by_type"] == {"cnc": 7, "hand": 12, "misc": 1, "other": 0}
    assert body["by_category"] == {"review": 1, "cnc": 5, "hand": 4, "misc": 0, "completed": 10}
    assert body["by_status"] == {
        **NO_STATUSES, "pending": 1, "reviewed": 5, "in_progress": 4, "completed": 10,
    }  # fmt: skip
    assert body["completion_time_distribution"] == {
        "< 1 hour": 3, "1-4 hours": 2, "4-8 hours": 2, "8-24 hours": 0, "> 24 hours": 1,
    }  # fmt: skip
    # (2h*2 + 30h*1 + 0.5h*3 + 6h*2) / 8 units
    assert body["average_completion_time"] == pytest.approx(47.5 / 8, abs=0.011)
    assert body["average_completion_time_hours"] == body["average_completion_time"]
    assert body["top_contributors"] == [{"name": "Alice", "count": 5}, {"name": "Dan", "count": 2},
                                        {"name": "Bob", "count": 1}]  # fmt: skip


@pytest.mark.parametrize(
    ("hours", "bucket"),
    [(0, "< 1 hour"), (0.99, "< 1 hour"), (1, "1-4 hours"), (3.99, "1-4 hours"),
     (4, "4-8 hours"), (8, "8-24 hours"), (23.99, "8-24 hours"), (24, "> 24 hours"),
     (200, "> 24 hours")],
)  # fmt: skip
def test_detailed_stats_buckets_are_half_open(app, make_part, call, hours, bucket):
    claimed = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    done = (claimed + timedelta(hours=hours)).isoformat()
    part = make_part(type="hand")
    completed_row(app, part["id"], "Eve", claimed, misc_info={"completed_at": done})
    _, body = call("GET", "/stats/detailed")
    assert body["completion_time_distribution"] == {**EMPTY_DISTRIBUTION, bucket: 1}
    assert body["average_completion_time"] == pytest.approx(hours, abs=0.005)


def test_detailed_stats_average_is_null_when_no_part_qualifies(part_in, call):
    part_in("completed", type="cnc", amount=3)
    part_in("completed", type="misc")
    claimed = part_in("hand")
    call("POST", f"/{claimed['id']}/assign", {"assigned": "Alice"})
    status, body = call("GET", "/stats/detailed")
    assert status == 200
    assert body["average_completion_time"] is None
    assert body["completion_time_distribution"] == EMPTY_DISTRIBUTION
    assert (body["completed_parts"], body["in_progress_parts"]) == (4, 1)
    assert body["top_contributors"] == []


def test_detailed_stats_top_contributors_are_the_five_largest(app, make_part, call):
    for name, amount in [("Ann", 1), ("Ben", 6), ("Cy", 3), ("Di", 5), ("Ed", 2), ("Flo", 4)]:
        completed_row(app, make_part(amount=amount)["id"], name)
    gus = make_part(amount=9)
    set_columns(app, gus["id"], category="cnc", status="In Progress", assigned="Gus")
    _, body = call("GET", "/stats/detailed")
    assert body["top_contributors"] == [
        {"name": name, "count": count} for name, count in
        [("Ben", 6), ("Di", 5), ("Flo", 4), ("Cy", 3), ("Ed", 2)]
    ]  # fmt: skip


def _claim_in_turn(call, part_id: int, *names: str) -> None:
    """Each name claims then gives back; the last one keeps the part."""
    for index, name in enumerate(names):
        assert call("POST", f"/{part_id}/assign", {"assigned": name})[0] == 200
        if index < len(names) - 1:
            assert call("POST", f"/{part_id}/unclaim")[0] == 200


def test_leaderboard_scores_assignees_helpers_and_flagged_parts(part_in, call):
    first = part_in("hand", amount=5)
    _claim_in_turn(call, first["id"], "Alice", "Dave")
    second = part_in("hand")
    _claim_in_turn(call, second["id"], "Alice", "Carol", "Alice")
    flagged = part_in("cnc")
    _claim_in_turn(call, flagged["id"], "Erin")
    unfinished = part_in("hand")
    _claim_in_turn(call, unfinished["id"], "Frank")
    third = part_in("hand")
    _claim_in_turn(call, third["id"], "Gina", "Dave")
    for part in (first, second, flagged, third):
        assert call("POST", f"/{part['id']}/complete", {})[0] == 200
    _, done = call("GET", f"/{flagged['id']}")
    flag = {"miscInfo": {**done["miscInfo"], "completedIncorrectly": True}}
    assert call("PUT", f"/{flagged['id']}", flag)[0] == 200
    status, body = call("GET", "/leaderboard")
    assert status == 200
    assert body == {
        "leaderboard": [
            {"name": "Dave", "score": 2},
            {"name": "Alice", "score": 1.5},
            {"name": "Carol", "score": 0.5},
            {"name": "Gina", "score": 0.5},
            {"name": "Erin", "score": -1},
        ]
    }
    assert isinstance(body["leaderboard"][0]["score"], int)


def test_leaderboard_reads_legacy_hand_workers_key(app, part_in, call):
    part = part_in("completed", type="hand", assigned="Zoe")
    legacy = {"hand_workers": [{"name": "Old", "timestamp": "2025-01-01T00:00:00"}]}
    set_columns(app, part["id"], misc_info=legacy)  # old rows; PUT no longer writes the key
    _, body = call("GET", "/leaderboard")
    assert body["leaderboard"] == [{"name": "Zoe", "score": 1}, {"name": "Old", "score": 0.5}]


def test_leaderboard_is_empty_without_completed_parts(part_in, call):
    busy = part_in("hand")
    call("POST", f"/{busy['id']}/assign", {"assigned": "Alice"})
    assert call("GET", "/leaderboard") == (200, {"leaderboard": []})


def _ids(call) -> list[int]:
    status, body = call("GET", "/")
    assert status == 200
    return sorted(part["id"] for part in body["parts"])


def _stored_files(app, part: dict[str, Any]) -> list[Path]:
    """An upload, a preview and a model, where the storage keeps them."""
    store = app.extensions["storage"]
    files = [
        store.file_path(part["uuid"], "ab" * 32, "step"),
        store.view_path(part["uuid"], 0),
        store.model_path("cd" * 32),
    ]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"stored")
    return files


@pytest.mark.parametrize(
    "body", [None, {}, {"password": ""}, {"password": "wrong"}, {"password": "\ud800"}]
)
def test_wipe_with_wrong_or_missing_password_returns_403_and_deletes_nothing(
    app, part_in, call, body
):
    part_in("review")
    kept = _stored_files(app, part_in("completed"))
    before = _ids(call)
    status, error = call("POST", "/wipe", body)
    assert status == 403
    assert error["error"] == "Incorrect password" and error["code"] == "forbidden"
    assert _ids(call) == before and all(path.is_file() for path in kept)


@pytest.mark.parametrize("password", [None, 1234])
def test_wipe_with_non_string_password_returns_403(make_part, call, password):
    make_part()
    status, error = call("POST", "/wipe", {"password": password})
    assert (status, error["error"]) == (403, "Incorrect password")
    assert len(_ids(call)) == 1


def test_wipe_with_right_password_deletes_every_part_and_file(app, part_in, call, api_key):
    parts = [part_in("review"), part_in("hand"), part_in("completed")]
    stored = _stored_files(app, parts[0])
    status, body = call("POST", "/wipe", {"password": api_key})
    assert status == 200
    assert body == {"message": "All parts and files wiped successfully", "count": 3}
    assert _ids(call) == []
    assert call("GET", "/stats")[1]["total"] == 0
    assert not any(path.exists() for path in stored)
    assert not app.extensions["storage"].part_dir(parts[0]["uuid"]).exists()


def test_wipe_leaves_files_being_staged_now_alone(app, part_in, call, api_key):
    # An upload or conversion running during the wipe has its file in tmp/ until it moves it.
    staging = Path(app.config["UPLOAD_FOLDER"]) / "tmp" / "4242" / "upload.part"
    staging.parent.mkdir(parents=True)
    staging.write_bytes(b"ISO-10303-21;")
    part_in("review")
    assert call("POST", "/wipe", {"password": api_key})[0] == 200
    assert staging.read_bytes() == b"ISO-10303-21;"


def test_a_part_added_while_the_wipe_cleans_up_keeps_its_file(
    app, part_in, call, api_key, auth_headers, monkeypatch
):
    """The wipe removes files after its commit; a part added and uploaded in that moment
    (a phone on the board) lost its file with parts/ and models/ removed whole."""
    import io

    import routes.stats

    part_in("review")
    real_owned = routes.stats.files_still_owned
    added = {}

    def a_part_arrives(session):
        client = app.test_client()
        body = {"material": "Al", "subsystem": "Arm", "name": "after the wipe"}
        part = client.post("/api/parts/", json=body, headers=auth_headers).get_json()
        upload = {"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "d.pdf")}
        answer = client.post(f"/api/parts/{part['id']}/upload", data=upload, headers=auth_headers)
        added.update(part=part, status=answer.status_code)
        return real_owned(session)

    monkeypatch.setattr(routes.stats, "files_still_owned", a_part_arrives)
    assert call("POST", "/wipe", {"password": api_key})[0] == 200
    assert added["status"] == 201
    served = app.test_client().get(f"/api/parts/{added['part']['id']}/file", headers=auth_headers)
    assert (served.status_code, served.get_data()) == (200, b"%PDF-1.4\n%%EOF\n")
    served.close()


def test_the_wipe_sweep_keeps_what_rows_and_running_conversions_own(tmp_path):
    from utils.store_sweep import remove_unowned

    for name in ("parts/a/file.step", "parts/b/file.step", "models/ka.glb", "models/kb.glb",
                 "models/kb.quantized.glb", "models/.kc.converting/out.glb"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    remove_unowned(tmp_path, lambda: ({"b"}, {"kb"}))
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == [
        "models/.kc.converting/out.glb",
        "models/kb.glb",
        "models/kb.quantized.glb",
        "parts/b/file.step",
    ]


def test_parts_created_after_a_wipe_never_reuse_ids(make_part, call, api_key):
    old = [make_part()["id"] for _ in range(3)]
    assert call("POST", "/wipe", {"password": api_key})[0] == 200
    new = make_part()["id"]
    assert new > max(old)
    assert _ids(call) == [new]
