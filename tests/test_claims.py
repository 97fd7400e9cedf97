"""Claiming parts (assign) and giving them back (unclaim), alone and under contention."""

from __future__ import annotations

import http.client
import json
import threading
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers import field_error

CLAIMERS = 24


def aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None and parsed.utcoffset() is not None, value
    return parsed


@pytest.mark.parametrize("category", ["review", "cnc", "hand", "misc"])
def test_assign_claims_part_with_claimed_date_and_in_progress(part_in, act, fetch, category):
    part = part_in(category)
    status, body = act(part["id"], "assign", {"assigned": "Alice"})
    assert status == 200
    assert (body["assigned"], body["status"]) == ("Alice", "In Progress")
    assert body["category"] == category
    claimed = aware(body["claimedDate"])
    assert abs((claimed - aware(body["updatedAt"])).total_seconds()) < 5
    assert fetch(part["id"]) == body


def test_assign_trims_the_name(part_in, act):
    part = part_in("hand")
    status, body = act(part["id"], "assign", {"assigned": "  Alice  "})
    assert status == 200 and body["assigned"] == "Alice"


def test_assign_hand_part_records_hand_worker_with_offset_timestamp(part_in, act):
    part = part_in("hand")
    _, body = act(part["id"], "assign", {"assigned": "Alice"})
    (worker,) = body["miscInfo"]["handWorkers"]
    assert worker["name"] == "Alice"
    assert aware(worker["timestamp"]) == aware(body["claimedDate"])


@pytest.mark.parametrize("category", ["cnc", "misc"])
def test_assign_non_hand_part_records_no_hand_workers(part_in, act, category):
    part = part_in(category)
    _, body = act(part["id"], "assign", {"assigned": "Alice"})
    assert "handWorkers" not in (body["miscInfo"] or {})


def test_hand_workers_keep_every_claim_in_order(part_in, act):
    part = part_in("hand", miscInfo={"finish": "deburr"})
    for name in ("Alice", "Bob", "Alice"):
        assert act(part["id"], "assign", {"assigned": name})[0] == 200
        assert act(part["id"], "unclaim")[0] == 200
    _, body = act(part["id"], "assign", {"assigned": "Cleo"})
    workers = body["miscInfo"]["handWorkers"]
    assert [w["name"] for w in workers] == ["Alice", "Bob", "Alice", "Cleo"]
    stamps = [aware(w["timestamp"]) for w in workers]
    assert stamps == sorted(stamps)
    assert body["miscInfo"]["finish"] == "deburr"


@pytest.mark.parametrize(
    "body", [{}, {"assigned": ""}, {"assigned": "   "}, {"assigned": None}, {"name": "Alice"}]
)
def test_assign_without_a_name_returns_400_and_leaves_the_row(
    part_in, client, auth_headers, fetch, body
):
    part = part_in("hand")
    before = fetch(part["id"])
    response = client.post(f"/api/parts/{part['id']}/assign", json=body, headers=auth_headers)
    assert field_error(response) == ("assigned", "Assigned user required")
    assert fetch(part["id"]) == before


def test_assign_without_body_returns_400_not_500(part_in, client, auth_headers):
    part = part_in("hand")
    response = client.post(f"/api/parts/{part['id']}/assign", headers=auth_headers)
    assert field_error(response) == ("assigned", "Assigned user required")


def test_assign_part_claimed_by_someone_else_returns_409_and_keeps_the_holder(part_in, act, fetch):
    part = part_in("hand")
    act(part["id"], "assign", {"assigned": "Alice"})
    before = fetch(part["id"])
    status, body = act(part["id"], "assign", {"assigned": "Bob"})
    assert status == 409
    assert body["error"] == "Part is already claimed by Alice"
    assert body["code"] == "conflict" and body["assigned"] == "Alice"
    assert fetch(part["id"]) == before


def test_assign_again_by_the_same_person_is_harmless(part_in, act, fetch):
    part = part_in("hand")
    _, first = act(part["id"], "assign", {"assigned": "Alice"})
    status, again = act(part["id"], "assign", {"assigned": "Alice"})
    assert status == 200
    assert (again["assigned"], again["status"]) == ("Alice", "In Progress")
    assert again["claimedDate"] == first["claimedDate"]
    assert again["miscInfo"]["handWorkers"] == first["miscInfo"]["handWorkers"]
    assert fetch(part["id"]) == again


@pytest.mark.parametrize("holder", [None, "Alice"])
def test_assign_completed_part_returns_409_and_leaves_the_row(part_in, act, fetch, holder):
    part = part_in("hand")
    if holder:
        act(part["id"], "assign", {"assigned": holder})
    act(part["id"], "complete", {})
    before = fetch(part["id"])
    status, body = act(part["id"], "assign", {"assigned": "Alice"})
    assert status == 409
    assert body["error"] == "A completed part cannot be claimed" and body["code"] == "conflict"
    assert fetch(part["id"]) == before


def test_assign_unknown_part_returns_404(act):
    status, body = act(424242, "assign", {"assigned": "Alice"})
    assert status == 404 and body["error"] == "Part not found"


def test_unclaim_then_another_person_may_claim(part_in, act):
    part = part_in("hand")
    act(part["id"], "assign", {"assigned": "Alice"})
    _, released = act(part["id"], "unclaim")
    assert (released["assigned"], released["claimedDate"]) == (None, None)
    assert released["status"] == "Already Started"
    status, body = act(part["id"], "assign", {"assigned": "Bob"})
    assert status == 200 and body["assigned"] == "Bob" and body["status"] == "In Progress"


def test_unclaim_of_unclaimed_part_returns_409_and_leaves_the_row(part_in, act, fetch):
    part = part_in("hand")
    act(part["id"], "assign", {"assigned": "Alice"})
    act(part["id"], "unclaim")
    before = fetch(part["id"])
    status, body = act(part["id"], "unclaim")
    assert status == 409 and body["error"] == "This part is not claimed by anyone"
    assert fetch(part["id"]) == before


def test_unclaim_unknown_part_returns_404(act):
    status, body = act(424242, "unclaim")
    assert status == 404 and body["error"] == "Part not found"


def _claim_over_http(
    url: str,
    key: str,
    part_id: int,
    name: str,
    barrier: threading.Barrier,
    results: dict[str, tuple[int, Any]],
) -> None:
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    body = json.dumps({"assigned": name})
    # The server closes each connection itself, so none is left open when it stops.
    headers = {"Content-Type": "application/json", "X-API-Key": key, "Connection": "close"}
    try:
        connection.connect()
        barrier.wait(timeout=30)
        connection.request("POST", f"/api/parts/{part_id}/assign", body, headers)
        response = connection.getresponse()
        raw = response.read()
        results[name] = (response.status, json.loads(raw) if raw else None)
    except Exception as error:  # reported as a result and asserted below
        results[name] = (-1, repr(error))
    finally:
        connection.close()


@pytest.mark.parametrize("category", ["hand", "cnc"])
def test_concurrent_claims_over_http_have_exactly_one_winner(
    live_server, part_in, fetch, api_key, category
):
    part = part_in(category)
    barrier = threading.Barrier(CLAIMERS)
    results: dict[str, tuple[int, Any]] = {}
    names = [f"worker-{i:02d}" for i in range(CLAIMERS)]
    threads = [
        threading.Thread(
            target=_claim_over_http,
            args=(live_server.url, api_key, part["id"], name, barrier, results),
        )
        for name in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert sorted(results) == names, "a claimer never answered"
    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200] + [409] * (CLAIMERS - 1), results
    (winner,) = [name for name, (status, _) in results.items() if status == 200]
    for name, (status, body) in results.items():
        if status == 409:
            assert body["error"] == f"Part is already claimed by {winner}", (name, body)
    row = fetch(part["id"])
    assert (row["assigned"], row["status"]) == (winner, "In Progress")
    assert results[winner][1]["assigned"] == winner
    if category == "hand":
        assert [w["name"] for w in row["miscInfo"]["handWorkers"]] == [winner]


def test_assign_by_differently_cased_name_is_someone_else(part_in, act, fetch):
    """Names are compared exactly on every database (the leaderboard counts them so)."""
    part = part_in("hand")
    act(part["id"], "assign", {"assigned": "Alice"})
    before = fetch(part["id"])
    status, body = act(part["id"], "assign", {"assigned": "alice"})
    assert status == 409 and body["error"] == "Part is already claimed by Alice"
    assert fetch(part["id"]) == before
