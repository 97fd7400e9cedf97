"""Part history: every change is an event with its time and actor, newest first, written in the
change's own transaction, kept after the part is deleted."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from io import BytesIO
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from models.events import PartEvent
from models.part import Part

PARTS = "/api/parts/"
# What the upstream web app sends when a user adds a CNC part (COMPAT, reference 2.3).
UI_CREATE = {
    "type": "cnc",
    "material": "6061 Aluminum",
    "materialThickness": '1/4"',
    "subsystem": "Drivetrain",
    "amount": 2,
    "status": "Pending",
    "notes": "",
    "onshapeUrl": "",
    "category": "review",
    "name": "Gearbox plate",
    "file": "plate.pdf",
}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def send(client, auth_headers):
    """One request as `actor` (None: no X-Actor header); returns (status, body)."""

    def request(method: str, path: str, actor: str | None, body: Any = None) -> tuple[int, Any]:
        headers = {**auth_headers, **({"X-Actor": actor} if actor is not None else {})}
        kwargs = {} if body is None else {"json": body}
        response = client.open(f"{PARTS}{path}", method=method, headers=headers, **kwargs)
        return response.status_code, response.get_json()

    return request


def history(send, part_id: int, **params: Any) -> dict[str, Any]:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    status, body = send("GET", f"{part_id}/history?{query}", None)
    assert status == 200, body
    return body


def event_count(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(PartEvent)).scalar_one()


def test_upstream_full_flow_is_recorded_step_by_step_with_its_actors(send, client, auth_headers):
    status, part = send("POST", "", "Rita", UI_CREATE)
    assert status == 201 and (part["category"], part["status"]) == ("review", "Pending")
    pid = part["id"]
    upload = client.post(
        f"{PARTS}{pid}/upload",
        data={"file": (__import__("io").BytesIO(PDF), "plate.pdf")},
        headers={**auth_headers, "X-Actor": "Rita"},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201
    steps = [
        ("POST", f"{pid}/approve", "Mentor Sam", {"miscInfo": {"reviewer": "Mentor Sam"}}),
        ("PUT", f"{pid}", "Cody", {"status": "In Progress"}),
        ("POST", f"{pid}/assign", "Cody", {"assigned": "Cody"}),
        ("PUT", f"{pid}", "Cody", {"miscInfo": {"reviewer": "Mentor Sam", "storage": "Bin 3"}}),
        ("POST", f"{pid}/unclaim", "Cody", None),
        ("POST", f"{pid}/complete", "Dana", {"miscInfo": {"storage": "Cart 2"}}),
        ("POST", f"{pid}/revert", "Mentor Sam", None),
        ("DELETE", f"{pid}", "Mentor Sam", None),
    ]
    for method, path, actor, body in steps:
        status, answer = send(method, path, actor, body)
        assert status == 200, (path, answer)
    events = history(send, pid)["events"]
    done = [(event["action"], event["actor"]) for event in reversed(events)]
    assert done == [
        ("create", "Rita"),
        ("upload", "Rita"),
        ("approve", "Mentor Sam"),
        ("update", "Cody"),
        ("claim", "Cody"),
        ("update", "Cody"),
        ("unclaim", "Cody"),
        ("complete", "Dana"),
        ("revert", "Mentor Sam"),
        ("delete", "Mentor Sam"),
    ]
    changes = [event["details"].get("changes", {}) for event in reversed(events)]
    assert changes[0]["category"] == {"from": None, "to": "review"}
    approve = next(e for e in events if e["action"] == "approve")["details"]["changes"]
    assert approve["category"] == {"from": "review", "to": "cnc"}
    assert approve["status"] == {"from": "Pending", "to": "Reviewed"}
    deleted = events[0]["details"]["fields"]
    assert (deleted["name"], deleted["category"]) == ("Gearbox plate", "cnc")
    assert [event["id"] for event in events] == sorted((e["id"] for e in events), reverse=True)
    assert all(datetime.fromisoformat(event["at"]).utcoffset() is not None for event in events)


def test_a_new_file_over_an_old_one_is_recorded_as_a_replacement(send, client, auth_headers):
    part = send("POST", "", None, {"material": "Al", "subsystem": "Arm"})[1]
    for content in (PDF, PDF + b"%v2\n"):
        response = client.post(
            f"{PARTS}{part['id']}/upload",
            data={"file": (BytesIO(content), "plate.pdf")},
            headers={**auth_headers, "X-Actor": "Rita"},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201
    replace, upload = history(send, part["id"])["events"][:2]
    assert (upload["action"], replace["action"]) == ("upload", "replace")
    assert replace["details"]["sha256"] != upload["details"]["sha256"]
    assert (replace["details"]["file"], replace["actor"]) == ("plate.pdf", "Rita")


def test_history_survives_deletion_and_deleted_lists_only_deleted_parts(send, make_part):
    kept, gone = make_part(name="Kept"), make_part(name="Gone")
    assert send("DELETE", f"{gone['id']}", "Ann")[0] == 200
    assert send("GET", f"{gone['id']}", None)[0] == 404
    assert [e["action"] for e in history(send, gone["id"])["events"]] == ["delete", "create"]
    status, body = send("GET", "history?deleted=true", None)
    assert status == 200
    assert {event["part"]["id"] for event in body["events"]} == {gone["id"]}
    assert body["total"] == 2
    status, everything = send("GET", "history", None)
    assert {event["part"]["id"] for event in everything["events"]} == {kept["id"], gone["id"]}
    assert everything["events"][0]["part"] == {"id": gone["id"], "uuid": gone["uuid"]}


def test_wipe_records_a_delete_for_every_part(send, make_part, api_key):
    parts = [make_part(name=f"P{n}") for n in range(3)]
    status, _ = send("POST", "wipe", "Lead", {"password": api_key})
    assert status == 200
    status, body = send("GET", "history?deleted=true", None)
    deletes = [e for e in body["events"] if e["action"] == "delete"]
    assert sorted(e["part"]["id"] for e in deletes) == sorted(p["id"] for p in parts)
    assert {(e["actor"], e["details"]["wipe"]) for e in deletes} == {("Lead", True)}
    # Each keeps what the part was, as a single delete does (its content as the wire names it).
    by_id = {e["part"]["id"]: e["details"]["fields"] for e in deletes}
    for part in parts:
        assert by_id[part["id"]]["name"] == part["name"]
        assert by_id[part["id"]]["partId"] == part["partId"]
        assert by_id[part["id"]]["subsystem"] == part["subsystem"]


def test_history_pages_like_the_parts_list(send, make_part):
    part = make_part()
    for n in range(5):
        assert send("PUT", f"{part['id']}", "Ed", {"notes": f"note {n}"})[0] == 200
    first = history(send, part["id"], limit=2)
    second = history(send, part["id"], limit=2, offset=2)
    assert (first["total"], first["limit"], first["offset"]) == (6, 2, 0)
    assert [e["details"]["changes"]["notes"]["to"] for e in first["events"]] == ["note 4", "note 3"]
    assert [e["details"]["changes"]["notes"]["to"] for e in second["events"]] == [
        "note 2",
        "note 1",
    ]
    assert history(send, part["id"], limit=0)["limit"] == 1000


@pytest.mark.parametrize("path", ["999999/history", "2147483648/history"])
def test_history_of_a_part_that_never_existed_is_404(send, path):
    status, body = send("GET", path, None)
    assert (status, body["code"]) == (404, "not_found")


def test_without_x_actor_the_actor_is_api_and_names_are_trimmed_utf8(client, auth_headers, send):
    status, part = send("POST", "", None, {"material": "Al", "subsystem": "Arm"})
    assert status == 201
    headers = {**auth_headers, "X-Actor": "  Łukasz 🦊 ".encode().decode("latin-1")}
    response = client.put(f"{PARTS}{part['id']}", json={"notes": "x"}, headers=headers)
    assert response.status_code == 200
    actors = [event["actor"] for event in history(send, part["id"])["events"]]
    assert actors == ["Łukasz 🦊", "api"]


def test_unchanged_put_records_nothing_and_refused_change_records_nothing(app, send, part_in):
    part = part_in("cnc", notes="same")
    before = event_count(app)
    assert send("PUT", f"{part['id']}", "Ed", {"notes": "same"})[0] == 200
    assert send("PUT", f"{part['id']}", "Ed", {"category": "completed"})[0] == 409
    assert send("POST", f"{part['id']}/revert", "Ed")[0] == 409
    assert event_count(app) == before


def test_put_of_the_assignee_is_recorded_as_a_claim(send, part_in):
    part = part_in("hand")
    status, body = send("PUT", f"{part['id']}", "Lead", {"assigned": "Ada", "notes": "go"})
    assert status == 200 and body["claimedDate"] is not None
    newest = history(send, part["id"])["events"][:2]
    by_action = {event["action"]: event["details"] for event in newest}
    assert by_action["claim"]["changes"]["assigned"] == {"from": None, "to": "Ada"}
    assert by_action["claim"]["via"] == "update"
    assert by_action["update"]["changes"]["notes"] == {"from": None, "to": "go"}
    assert "assigned" not in by_action["update"]["changes"]
    assert send("PUT", f"{part['id']}", "Lead", {"assigned": None})[0] == 200
    assert history(send, part["id"])["events"][0]["action"] == "unclaim"


@pytest.mark.provokes_500
def test_a_failing_event_write_leaves_no_change(app, send, part_in, monkeypatch):
    """Never a change without its event: the event's failure rolls the change back."""
    import models.events

    part = part_in("cnc")
    before = event_count(app)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(models.events, "record_event", broken)
    status, body = send("PUT", f"{part['id']}", "Ed", {"notes": "lost"})
    monkeypatch.undo()
    assert (status, body["error"]) == (500, "Internal server error")
    with app.app_context():
        assert db.session.get(Part, part["id"]).notes is None
    assert event_count(app) == before


def delete_after_commit(monkeypatch: Any, module: Any, part_id: int) -> None:
    """Make `module`'s write_transaction delete the part right after its commit: the DELETE
    of another request landing between the commit and the rendering of the answer."""
    real = module.write_transaction

    @contextmanager
    def deleted_after_commit(*args: Any, **kwargs: Any) -> Any:
        with real(*args, **kwargs) as session:
            yield session
        with db.engine.begin() as connection:
            connection.execute(text("DELETE FROM parts WHERE id = :id"), {"id": part_id})

    monkeypatch.setattr(module, "write_transaction", deleted_after_commit)


def test_a_part_deleted_just_after_a_change_commits_still_gets_its_answer(
    app, send, part_in, monkeypatch
):
    """The answer is rendered inside the transaction: a DELETE landing between the commit and
    the rendering (seen in the soak as a 500) cannot take the part away from it."""
    import routes.workflow

    part = part_in("cnc")
    delete_after_commit(monkeypatch, routes.workflow, part["id"])
    status, body = send("PUT", f"{part['id']}", "Ed", {"notes": "last words"})
    assert (status, body["notes"], body["id"]) == (200, "last words", part["id"])


def test_a_part_deleted_just_after_an_upload_commits_still_gets_its_answer(
    app, client, auth_headers, make_part, monkeypatch
):
    """POST /upload renders its answer inside the transaction too, and removes what the
    upload displaced by the uuid it read there (the soak's one 500 was this race)."""
    import routes.files

    part = make_part()
    delete_after_commit(monkeypatch, routes.files, part["id"])
    response = client.post(
        f"{PARTS}{part['id']}/upload",
        data={"file": (BytesIO(PDF), "plate.pdf")},
        headers=auth_headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["filename"] == "plate.pdf"
