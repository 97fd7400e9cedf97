"""Part CRUD over HTTP: the wire shape, timestamps, writable keys, 404s and conditional requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.part_rows import set_columns

PARTS = "/api/parts/"
HEX24 = "0123456789abcdef01234567"  # an Onshape id

NULLABLE_TEXT = (
    "type", "name", "material", "materialThickness", "subsystem", "assigned", "notes", "file",
    "onshapeUrl", "claimedDate", "modelError",
)  # fmt: skip
WIRE_TYPES = {
    "id": int,
    "uuid": str,
    "partId": str,
    "status": str,
    "category": str,
    "miscInfo": (dict, type(None)),
    "createdAt": str,
    "updatedAt": str,
    "amount": int,
    "modelStatus": str,
    **dict.fromkeys(NULLABLE_TEXT, (str, type(None))),
}

EVERY_WRITABLE_FIELD = {
    "type": "hand",
    "name": "Drive Gear",
    "material": "7075 Aluminum",
    "materialThickness": '1/4"',
    "subsystem": "Drivetrain",
    "assigned": "Ada",
    "status": "In Progress",
    "category": "hand",
    "miscInfo": {"serviceMethod": "Laser"},
    "notes": "Deburr the edges",
    "file": "gear.step",
    "onshapeUrl": "https://cad.onshape.com/documents/" + "/".join([HEX24, "w", HEX24, "e", HEX24]),
    "claimedDate": "2025-01-02T03:04:05+00:00",
    "amount": 4,
}


def fetch(client, auth_headers, part_id):
    return client.get(f"{PARTS}{part_id}", headers=auth_headers)


def put(client, auth_headers, part, body, if_match=None):
    headers = {**auth_headers, **({"If-Match": if_match} if if_match else {})}
    return client.put(f"{PARTS}{part['id']}", json=body, headers=headers)


def aware(stamp: str) -> datetime:
    value = datetime.fromisoformat(stamp)
    assert value.utcoffset() == timedelta(0), stamp
    return value


def test_create_part_returns_201_with_every_wire_field_typed(client, auth_headers):
    body = {"name": "Drive Gear", "material": "7075", "subsystem": "Drive", "type": "cnc"}
    response = client.post(PARTS, json=body, headers=auth_headers)
    assert response.status_code == 201
    part = response.get_json()
    assert set(part) == set(WIRE_TYPES)
    for key, expected in WIRE_TYPES.items():
        assert isinstance(part[key], expected), (key, part[key])
    assert not isinstance(part["id"], bool) and not isinstance(part["amount"], bool)
    assert len(part["uuid"]) == 36 and part["partId"] == part["uuid"][:8]
    assert (part["category"], part["status"], part["amount"]) == ("review", "Pending", 1)
    assert fetch(client, auth_headers, part["id"]).get_json() == part


def test_create_part_stores_every_writable_field(client, auth_headers):
    response = client.post(PARTS, json=EVERY_WRITABLE_FIELD, headers=auth_headers)
    assert response.status_code == 201
    stored = fetch(client, auth_headers, response.get_json()["id"]).get_json()
    misc_info = stored.pop("miscInfo")
    assert misc_info["serviceMethod"] == "Laser"
    # A hand part created with someone assigned remembers them as a worker.
    assert [worker["name"] for worker in misc_info["handWorkers"]] == ["Ada"]
    # Issue 12: a new part always starts in review, Pending and unclaimed, whatever it says.
    workflow = {"status": "Pending", "category": "review", "claimedDate": None}
    expected = {k: v for k, v in EVERY_WRITABLE_FIELD.items() if k != "miscInfo"} | workflow
    assert {key: stored[key] for key in expected} == expected


def test_create_and_update_accept_snake_case_keys(client, auth_headers):
    body = {
        "material": "Steel",
        "subsystem": "Arm",
        "material_thickness": "3mm",
        "misc_info": {"storage": "Bin 4"},
        "onshape_url": "https://example.com/x",
        "claimed_date": "2025-03-04T05:06:07Z",
    }
    part = client.post(PARTS, json=body, headers=auth_headers).get_json()
    stored = fetch(client, auth_headers, part["id"]).get_json()
    assert (stored["materialThickness"], stored["miscInfo"]) == ("3mm", {"storage": "Bin 4"})
    assert stored["onshapeUrl"] == "https://example.com/x"
    assert stored["claimedDate"] is None  # only a claim sets it (issue 12)
    changes = {"material_thickness": "5mm", "misc_info": {"storage": "Shelf"}, "part_id": "A-1"}
    assert put(client, auth_headers, part, changes).status_code == 200
    stored = fetch(client, auth_headers, part["id"]).get_json()
    assert (stored["materialThickness"], stored["partId"]) == ("5mm", "A-1")
    assert stored["miscInfo"] == {"storage": "Shelf"}


UNKNOWN_KEYS = {
    "id": 987654,
    "uuid": "not-a-uuid",
    "createdAt": "2000-01-01T00:00:00Z",
    "updatedAt": "2000-01-01T00:00:00Z",
    "created_at": "2000-01-01T00:00:00Z",
    "api_key": "ignored-because-the-header-wins",
    "colour": "red",
}


def test_create_and_update_ignore_unknown_and_read_only_keys(client, auth_headers):
    body = {"material": "Al", "subsystem": "Drive", **UNKNOWN_KEYS}
    response = client.post(PARTS, json=body, headers=auth_headers)
    assert response.status_code == 201
    part = response.get_json()
    assert part["id"] != UNKNOWN_KEYS["id"] and part["uuid"] != UNKNOWN_KEYS["uuid"]
    assert not part["createdAt"].startswith("2000") and not part["updatedAt"].startswith("2000")
    assert "colour" not in part and "api_key" not in part
    assert fetch(client, auth_headers, UNKNOWN_KEYS["id"]).status_code == 404
    assert put(client, auth_headers, part, {"name": "Renamed", **UNKNOWN_KEYS}).status_code == 200
    stored = fetch(client, auth_headers, part["id"]).get_json()
    assert stored["name"] == "Renamed"
    assert [stored[key] for key in ("id", "uuid", "createdAt")] == [
        part[key] for key in ("id", "uuid", "createdAt")
    ]


@pytest.mark.parametrize("key", ["partId", "part_id"])
def test_create_part_ignores_client_part_id(client, auth_headers, key):
    body = {"material": "Al", "subsystem": "Drive", key: "MINE-1"}
    response = client.post(PARTS, json=body, headers=auth_headers)
    assert response.status_code == 201
    stored = fetch(client, auth_headers, response.get_json()["id"]).get_json()
    assert stored["partId"] == stored["uuid"][:8]


def test_update_part_renames_part_id_trimmed(client, auth_headers, make_part):
    part = make_part()
    response = put(client, auth_headers, part, {"partId": "  DRV-042 "})
    assert response.status_code == 200
    assert response.get_json()["partId"] == "DRV-042"
    assert fetch(client, auth_headers, part["id"]).get_json()["partId"] == "DRV-042"


def test_timestamps_carry_utc_offset_and_differ_per_part(client, auth_headers, make_part):
    before = datetime.now(UTC)
    first, second = make_part(name="First"), make_part(name="Second")
    after = datetime.now(UTC)
    for part in (first, second):
        created, updated = aware(part["createdAt"]), aware(part["updatedAt"])
        assert before - timedelta(seconds=1) <= created <= after + timedelta(seconds=1)
        assert created <= updated
    assert aware(first["createdAt"]) < aware(second["createdAt"])


def test_assign_sets_claimed_date_with_utc_offset(client, auth_headers, make_part):
    part = make_part(type="hand")
    response = client.post(
        f"{PARTS}{part['id']}/assign", json={"assigned": "Ada"}, headers=auth_headers
    )
    assert response.status_code == 200
    claimed = aware(fetch(client, auth_headers, part["id"]).get_json()["claimedDate"])
    assert abs(datetime.now(UTC) - claimed) < timedelta(minutes=1)


def test_update_part_moves_updated_at_but_not_created_at(client, auth_headers, make_part):
    part = make_part()
    response = put(client, auth_headers, part, {"notes": "changed"})
    assert response.status_code == 200
    stored = fetch(client, auth_headers, part["id"]).get_json()
    assert stored["createdAt"] == part["createdAt"]
    assert aware(stored["updatedAt"]) > aware(part["updatedAt"])


@pytest.mark.parametrize(
    "sent", ["2025-05-06T07:08:09+02:00", "2025-05-06T07:08:09Z", "2025-05-06T07:08:09", None]
)
def test_update_claimed_date_is_refused_409_with_the_allowed_actions(
    client, auth_headers, part_in, sent
):
    """Issue 12: claimedDate changes only by claiming (assign) or giving back (unclaim)."""
    part = part_in("hand")
    client.post(f"{PARTS}{part['id']}/assign", json={"assigned": "Ada"}, headers=auth_headers)
    before = fetch(client, auth_headers, part["id"]).get_json()
    response = put(client, auth_headers, part, {"claimedDate": sent})
    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == "conflict" and "claimedDate" in body["error"]
    assert body["allowed_actions"] == ["update", "assign", "unclaim", "complete"]
    assert fetch(client, auth_headers, part["id"]).get_json() == before


def test_update_claimed_date_unchanged_is_accepted(client, auth_headers, make_part):
    part = make_part()
    response = put(client, auth_headers, part, {"claimedDate": None, "notes": "n"})
    assert response.status_code == 200
    assert response.get_json()["claimedDate"] is None and response.get_json()["notes"] == "n"


def test_update_part_leaves_omitted_fields_and_null_clears(client, auth_headers, make_part):
    part = make_part(notes="keep me", assigned="Ada", file="a.pdf")
    response = put(client, auth_headers, part, {"assigned": None, "file": None})
    assert response.status_code == 200
    stored = fetch(client, auth_headers, part["id"]).get_json()
    assert (stored["assigned"], stored["file"]) == (None, None)
    assert (stored["notes"], stored["name"], stored["material"]) == (
        "keep me",
        part["name"],
        part["material"],
    )


def test_update_part_replaces_misc_info_rather_than_merging(client, auth_headers, make_part):
    part = make_part(miscInfo={"storage": "Bin 1", "serviceMethod": "Laser"})
    response = put(client, auth_headers, part, {"miscInfo": {"storage": "Bin 2"}})
    assert response.status_code == 200
    assert fetch(client, auth_headers, part["id"]).get_json()["miscInfo"] == {"storage": "Bin 2"}
    response = put(client, auth_headers, part, {"miscInfo": None})
    assert response.status_code == 200
    assert fetch(client, auth_headers, part["id"]).get_json()["miscInfo"] is None


def test_update_part_keeps_nested_views_manifest_when_ui_flags_it(
    app, client, auth_headers, make_part
):
    views = {
        "files": {"0": {"filename": "view_0.png", "timestamp": "2025-01-01T00:00:00+00:00"}},
        "updated_at": "2025-01-01T00:00:00+00:00",
    }
    made = make_part()
    set_columns(app, made["id"], misc_info={"views": views})  # as POST …/views stores it
    part = fetch(client, auth_headers, made["id"]).get_json()
    # The UI re-sends the whole miscInfo it holds, plus its own flag (BUG-M1).
    body = {"miscInfo": {**part["miscInfo"], "completedIncorrectly": True, "deep": {"a": [[1]]}}}
    response = put(client, auth_headers, part, body)
    assert response.status_code == 200
    stored = fetch(client, auth_headers, part["id"]).get_json()["miscInfo"]
    assert stored == {"views": views, "completedIncorrectly": True, "deep": {"a": [[1]]}}


@pytest.mark.parametrize("offset", [1000, 2**31, 2**63, 10**20])
@pytest.mark.parametrize(
    ("method", "body"), [("get", None), ("put", {"name": "x"}), ("delete", None)]
)
def test_unknown_part_returns_404(client, auth_headers, make_part, method, body, offset):
    part = make_part()
    unknown = part["id"] + offset  # beyond every integer column too: still a 404, not a 500
    response = getattr(client, method)(f"{PARTS}{unknown}", json=body, headers=auth_headers)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Part not found"
    assert fetch(client, auth_headers, part["id"]).get_json() == part


def test_delete_part_then_get_returns_404(client, auth_headers, make_part):
    part, other = make_part(), make_part(name="Other")
    response = client.delete(f"{PARTS}{part['id']}", headers=auth_headers)
    assert response.status_code == 200
    assert response.get_json()["message"] == "Part deleted successfully"
    assert fetch(client, auth_headers, part["id"]).status_code == 404
    listed = client.get(PARTS, headers=auth_headers).get_json()
    assert [p["id"] for p in listed["parts"]] == [other["id"]]
    assert client.delete(f"{PARTS}{part['id']}", headers=auth_headers).status_code == 404


def test_new_part_never_reuses_a_deleted_id(client, auth_headers, make_part):
    make_part()
    newest = make_part()
    assert client.delete(f"{PARTS}{newest['id']}", headers=auth_headers).status_code == 200
    assert make_part()["id"] > newest["id"]


def test_get_part_with_matching_if_none_match_returns_304(client, auth_headers, make_part):
    part = make_part()
    first = fetch(client, auth_headers, part["id"])
    etag = first.headers["ETag"]
    assert etag
    cached = client.get(f"{PARTS}{part['id']}", headers={**auth_headers, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.get_data() == b""
    put(client, auth_headers, part, {"notes": "new"})
    fresh = client.get(f"{PARTS}{part['id']}", headers={**auth_headers, "If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.get_json()["notes"] == "new"
    assert fresh.headers["ETag"] != etag


def test_update_with_stale_if_match_returns_412(client, auth_headers, make_part):
    part = make_part()
    etag = fetch(client, auth_headers, part["id"]).headers["ETag"]
    current = put(client, auth_headers, part, {"notes": "first"}, if_match=etag)
    assert current.status_code == 200
    stale = put(client, auth_headers, part, {"notes": "second"}, if_match=etag)
    assert stale.status_code == 412
    assert "error" in stale.get_json()
    assert fetch(client, auth_headers, part["id"]).get_json()["notes"] == "first"


def test_collection_without_trailing_slash_redirects_308(client, auth_headers):
    response = client.get("/api/parts", headers=auth_headers)
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/api/parts/")


@pytest.mark.parametrize(
    ("path", "target"),
    [("/api/parts?limit=2", "/api/parts/?limit=2"), ("/api//parts/", "/api/parts/")],
)
def test_slash_redirects_are_json_and_never_name_the_claimed_host(
    client, auth_headers, path, target
):
    response = client.get(path, headers={**auth_headers, "Host": "evil.example"})
    assert response.status_code == 308
    assert response.headers["Location"] == target
    assert response.get_json() == {
        "error": "Moved permanently",
        "code": "moved_permanently",
        "location": target,
    }
    assert "evil.example" not in response.get_data(as_text=True)


def test_unsupported_method_returns_405_json(client, auth_headers, make_part):
    part = make_part()
    response = client.patch(f"{PARTS}{part['id']}", json={"name": "x"}, headers=auth_headers)
    assert response.status_code == 405 and response.get_json()["error"] == "Method not allowed"
    assert fetch(client, auth_headers, part["id"]).get_json() == part


@pytest.mark.parametrize(
    "digits", ["%EF%BC%91", "%D9%A1", "1%EF%BC%90"], ids=["fullwidth", "arabic", "mixed"]
)
@pytest.mark.parametrize("suffix", ["", "/approve", "/history"])
def test_a_part_id_in_other_scripts_digits_is_no_route(
    client, auth_headers, make_part, digits, suffix
):
    """`<int:…>` is ASCII digits: a fullwidth or Arabic-Indic 1 names no part (it did: Python's
    \\d matches every script's digits and int() reads them)."""
    make_part()
    method = client.post if suffix == "/approve" else client.get
    response = method(f"{PARTS}{digits}{suffix}", headers=auth_headers)
    assert (response.status_code, response.get_json()["error"]) == (404, "Not found")
