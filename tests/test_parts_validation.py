"""Input validation on create and update: 400 naming the field, and nothing written."""

from __future__ import annotations

import pytest

from tests.helpers import field_error

PARTS = "/api/parts/"
VALID = {"name": "Bracket", "material": "6061 Aluminum", "subsystem": "Drive", "type": "cnc"}

# Wire key → the most characters it may hold (the column length on every database).
LENGTH_LIMITS = {
    "type": None,  # an enum; its length never matters
    "name": 200,
    "material": 200,
    "materialThickness": 50,
    "subsystem": 100,
    "assigned": 100,
    "notes": 10_000,
    "file": 200,
    "onshapeUrl": 500,
}
LIMITED = [key for key, limit in LENGTH_LIMITS.items() if limit]


def part_count(client, auth_headers) -> int:
    response = client.get(PARTS, headers=auth_headers)
    assert response.status_code == 200
    return response.get_json()["total"]


def fetch(client, auth_headers, part_id):
    return client.get(f"{PARTS}{part_id}", headers=auth_headers).get_json()


def assert_field_error(response, field: str) -> str:
    """A 400 naming `field` in today's shape (tests.helpers.field_error); its message."""
    assert response.is_json
    named, message = field_error(response)
    assert named == field
    return message


def create(client, auth_headers, **changes):
    return client.post(PARTS, json={**VALID, **changes}, headers=auth_headers)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type", "laser"),
        ("type", "CNC"),
        ("category", "archive"),
        ("category", "Review"),
        ("status", "Approved"),
        ("status", "pending"),
        ("status", 3),
    ],
)
def test_create_part_outside_enum_returns_400_and_writes_nothing(
    client, auth_headers, field, value
):
    assert_field_error(create(client, auth_headers, **{field: value}), field)
    assert part_count(client, auth_headers) == 0


@pytest.mark.parametrize(
    ("field", "value"), [("type", "laser"), ("category", "archive"), ("status", "Done")]
)
def test_update_part_outside_enum_returns_400_and_changes_nothing(
    client, auth_headers, make_part, field, value
):
    part = make_part()
    response = client.put(f"{PARTS}{part['id']}", json={field: value}, headers=auth_headers)
    assert_field_error(response, field)
    assert fetch(client, auth_headers, part["id"]) == part


@pytest.mark.parametrize("field", LIMITED)
def test_create_part_one_over_length_limit_returns_400_and_writes_nothing(
    client, auth_headers, field
):
    response = create(client, auth_headers, **{field: "x" * (LENGTH_LIMITS[field] + 1)})
    assert_field_error(response, field)
    assert part_count(client, auth_headers) == 0


@pytest.mark.parametrize("field", LIMITED)
def test_create_part_at_length_limit_stores_every_character(client, auth_headers, field):
    # Multi-byte characters: a column sized in bytes, or a non-UTF-8 one, would fail here.
    value = "é" * (LENGTH_LIMITS[field] - 4) + ".pdf"
    if field == "onshapeUrl":  # a link must be one (tests/test_onshape_links.py)
        value = "https://example.com/" + value[20:]
    response = create(client, auth_headers, **{field: value})
    assert response.status_code == 201, response.get_json()
    assert fetch(client, auth_headers, response.get_json()["id"])[field] == value


@pytest.mark.parametrize(("field", "limit"), [("name", 200), ("subsystem", 100), ("partId", 100)])
def test_update_part_over_length_limit_returns_400_and_changes_nothing(
    client, auth_headers, make_part, field, limit
):
    part = make_part()
    response = client.put(
        f"{PARTS}{part['id']}", json={field: "y" * (limit + 1)}, headers=auth_headers
    )
    assert_field_error(response, field)
    assert fetch(client, auth_headers, part["id"]) == part


BAD_AMOUNTS = [
    (0, "Amount must be greater than 0"),
    (-1, "Amount must be greater than 0"),
    ("abc", "Amount must be a number"),
    (1.5, "Amount must be a number"),
    (True, "Amount must be a number"),
    ([2], "Amount must be a number"),
]


@pytest.mark.parametrize(("amount", "details"), BAD_AMOUNTS)
def test_create_part_bad_amount_returns_400_and_writes_nothing(
    client, auth_headers, amount, details
):
    response = create(client, auth_headers, amount=amount)
    assert_field_error(response, "amount")
    assert response.get_json()["details"] == details
    assert part_count(client, auth_headers) == 0


@pytest.mark.parametrize(("amount", "details"), BAD_AMOUNTS)
def test_update_part_bad_amount_returns_400_and_changes_nothing(
    client, auth_headers, make_part, amount, details
):
    part = make_part(amount=2)
    response = client.put(f"{PARTS}{part['id']}", json={"amount": amount}, headers=auth_headers)
    assert assert_field_error(response, "amount") == details
    assert fetch(client, auth_headers, part["id"])["amount"] == 2


@pytest.mark.parametrize(("amount", "stored"), [("3", 3), (None, 1), ("", 1), (7, 7), (2.0, 2)])
def test_create_part_amount_is_coerced(client, auth_headers, amount, stored):
    response = create(client, auth_headers, amount=amount)
    assert response.status_code == 201
    assert fetch(client, auth_headers, response.get_json()["id"])["amount"] == stored


@pytest.mark.parametrize(("amount", "stored"), [("5", 5), (None, 1), ("", 1)])
def test_update_part_amount_is_coerced(client, auth_headers, make_part, amount, stored):
    part = make_part(amount=9)
    response = client.put(f"{PARTS}{part['id']}", json={"amount": amount}, headers=auth_headers)
    assert response.status_code == 200
    assert fetch(client, auth_headers, part["id"])["amount"] == stored


@pytest.mark.parametrize("field", ["material", "subsystem"])
@pytest.mark.parametrize("value", [None, "", "   ", "missing"])
def test_create_part_without_material_or_subsystem_returns_400(client, auth_headers, field, value):
    body = dict(VALID)
    if value == "missing":
        del body[field]
    else:
        body[field] = value
    response = client.post(PARTS, json=body, headers=auth_headers)
    assert_field_error(response, field)
    assert response.get_json()["details"] == f"{field.capitalize()} is required"
    assert part_count(client, auth_headers) == 0


@pytest.mark.parametrize(
    ("field", "value", "details"),
    [
        ("subsystem", "", "Subsystem is required"),
        ("subsystem", "  ", "Subsystem is required"),
        ("subsystem", None, "Subsystem is required"),
        ("partId", " ", "Part ID is required"),
        ("partId", None, "Part ID is required"),
        ("status", None, "Status is required"),
        ("category", None, "Category is required"),
        ("status", "", "Status is required"),
    ],
)
def test_update_part_blanking_a_required_field_returns_400(
    client, auth_headers, make_part, field, value, details
):
    part = make_part()
    response = client.put(f"{PARTS}{part['id']}", json={field: value}, headers=auth_headers)
    assert assert_field_error(response, field) == details
    assert fetch(client, auth_headers, part["id"]) == part


@pytest.mark.parametrize("misc_info", ["text", [1, 2], 5, True])
@pytest.mark.parametrize("key", ["miscInfo", "misc_info"])
def test_misc_info_not_an_object_returns_400(client, auth_headers, make_part, misc_info, key):
    part = make_part()
    response = create(client, auth_headers, **{key: misc_info})
    assert_field_error(response, "miscInfo")
    assert response.get_json()["details"] == "misc_info must be an object"
    response = client.put(f"{PARTS}{part['id']}", json={key: misc_info}, headers=auth_headers)
    assert assert_field_error(response, "miscInfo") == "misc_info must be an object"
    assert part_count(client, auth_headers) == 1
    assert fetch(client, auth_headers, part["id"]) == part


def test_create_part_nested_misc_info_is_persisted(client, auth_headers):
    misc_info = {
        "cutList": {
            "files": {"0": {"filename": "view_0.png", "meta": {"w": 512}}},
            "updated_at": "2025-01-01T00:00:00+00:00",
        },
        "matrix": [[1, 2], [3, {"x": None}]],
        "flag": False,
        "dropped": None,
    }
    response = create(client, auth_headers, miscInfo=misc_info)
    assert response.status_code == 201, response.get_json()
    expected = {key: value for key, value in misc_info.items() if key != "dropped"}
    assert fetch(client, auth_headers, response.get_json()["id"])["miscInfo"] == expected


def test_misc_info_over_size_cap_returns_400_and_writes_nothing(
    client, auth_headers, make_part, app
):
    cap = app.config["MISC_INFO_MAX_BYTES"]
    part = make_part(miscInfo={"storage": "Bin 1"})
    too_big = {"notes": "z" * cap}
    assert_field_error(create(client, auth_headers, miscInfo=too_big), "miscInfo")
    response = client.put(f"{PARTS}{part['id']}", json={"miscInfo": too_big}, headers=auth_headers)
    assert_field_error(response, "miscInfo")
    assert part_count(client, auth_headers) == 1
    assert fetch(client, auth_headers, part["id"])["miscInfo"] == {"storage": "Bin 1"}


def test_misc_info_just_under_size_cap_is_stored_whole(client, auth_headers, app):
    cap = app.config["MISC_INFO_MAX_BYTES"]
    just_fits = {"notes": "z" * (cap - len('{"notes":""}'))}
    response = create(client, auth_headers, miscInfo=just_fits)
    assert response.status_code == 201, response.get_json()
    assert fetch(client, auth_headers, response.get_json()["id"])["miscInfo"] == just_fits


@pytest.mark.parametrize("field", ["name", "material", "notes", "assigned"])
@pytest.mark.parametrize("value", ["nul\x00byte", "lone \ud800 surrogate"])
def test_text_no_database_can_store_returns_400(client, auth_headers, make_part, field, value):
    assert_field_error(create(client, auth_headers, **{field: value}), field)
    part = make_part()
    response = client.put(f"{PARTS}{part['id']}", json={field: value}, headers=auth_headers)
    assert_field_error(response, field)
    assert part_count(client, auth_headers) == 1
    assert fetch(client, auth_headers, part["id"]) == part


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), "\udc00", ["\ud800"]])
def test_misc_info_with_non_json_value_returns_400(client, auth_headers, bad):
    response = create(client, auth_headers, miscInfo={"storage": {"shelf": bad}})
    assert_field_error(response, "miscInfo")
    assert part_count(client, auth_headers) == 0


@pytest.mark.parametrize(
    "bad",
    ["yesterday", "2025-13-01T00:00:00", 12345, "", "0001-01-01T00:00:00+05:00",
     "9999-12-31T23:30:00-05:00"],
)  # fmt: skip
def test_update_claimed_date_invalid_returns_400(client, auth_headers, make_part, bad):
    part = make_part(claimedDate="2025-01-01T00:00:00Z")
    response = client.put(f"{PARTS}{part['id']}", json={"claimedDate": bad}, headers=auth_headers)
    assert_field_error(response, "claimedDate")
    assert fetch(client, auth_headers, part["id"]) == part


JSON = "application/json"
BAD_BODIES = [
    pytest.param({"json": {}}, 400, "No data provided", id="empty-object"),
    pytest.param({"json": []}, 400, "No data provided", id="empty-array"),
    pytest.param({"json": [VALID]}, 400, None, id="array-of-part"),
    pytest.param({"data": "{not json", "content_type": JSON}, 400, None, id="invalid-json"),
    pytest.param({"data": "", "content_type": JSON}, 400, None, id="empty-json-body"),
    pytest.param({}, 400, None, id="no-body"),
    pytest.param({"data": "name=x", "content_type": "text/plain"}, 415, None, id="text"),
    pytest.param({"data": {"material": "Al"}}, 415, None, id="form"),
]


@pytest.mark.parametrize(("kwargs", "status", "error"), BAD_BODIES)
def test_create_part_bad_body_returns_json_error_and_writes_nothing(
    client, auth_headers, kwargs, status, error
):
    response = client.post(PARTS, headers=auth_headers, **kwargs)
    assert response.status_code == status
    assert response.is_json and response.get_json()["error"]
    if error:
        assert response.get_json()["error"] == error
    assert part_count(client, auth_headers) == 0


@pytest.mark.parametrize(("kwargs", "status", "error"), BAD_BODIES)
def test_update_part_bad_body_returns_json_error_and_changes_nothing(
    client, auth_headers, make_part, kwargs, status, error
):
    part = make_part()
    response = client.put(f"{PARTS}{part['id']}", headers=auth_headers, **kwargs)
    assert response.status_code == status
    assert response.is_json and response.get_json()["error"]
    if error:
        assert response.get_json()["error"] == error
    assert fetch(client, auth_headers, part["id"]) == part
