"""Hostile JSON bodies (huge numbers, deep nesting, garbage) are a 400 JSON error, never a 500."""

from __future__ import annotations

import io
import json

import pytest

from app.security import MAX_JSON_BODY_DEPTH
from tests.helpers import field_error
from utils.auth import JSON_BODY_MAX_BYTES
from utils.fields import MAX_MISC_INFO_DEPTH, exceeds_depth

HUGE_NUMBER = "9" * 5000
# Every endpoint that reads a JSON body; "{id}" is a part in the hand tab.
BODY_ENDPOINTS = [
    ("POST", "/api/parts/"),
    ("PUT", "/api/parts/{id}"),
    ("POST", "/api/parts/{id}/approve"),
    ("POST", "/api/parts/{id}/assign"),
    ("POST", "/api/parts/{id}/complete"),
]
TOO_DEEP = {"error": "JSON nested too deeply", "code": "invalid_body", "max_depth": 64}


def nested(depth: int, kind: str = "array") -> str:
    """A JSON text of `depth` nested arrays or objects."""
    if kind == "array":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def body_with(key: str, raw_value: str) -> str:
    """A valid create body plus one field whose JSON text is given raw."""
    return f'{{"material": "Al", "subsystem": "Drive", "assigned": "Ann", "{key}": {raw_value}}}'


def send(client, method: str, path: str, raw: str | bytes, headers: dict[str, str]):
    return client.open(
        path, method=method, data=raw, content_type="application/json", headers=headers
    )


def snapshot(client, auth_headers) -> list[dict]:
    response = client.get("/api/parts/", headers=auth_headers)
    assert response.status_code == 200
    return response.get_json()["parts"]


@pytest.fixture
def hand_part(part_in):
    return part_in("hand")


@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no-key"])
@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
def test_body_with_5000_digit_number_returns_400_and_changes_nothing(
    client, auth_headers, hand_part, method, path, with_key
):
    before = snapshot(client, auth_headers)
    raw = body_with("amount", HUGE_NUMBER)
    response = send(
        client, method, path.format(id=hand_part["id"]), raw, auth_headers if with_key else {}
    )
    assert response.status_code == 400
    assert response.is_json
    assert response.get_json() == {
        "error": "Invalid JSON body",
        "code": "invalid_body",
        "details": "Numbers may have at most 4300 digits",
    }
    assert snapshot(client, auth_headers) == before


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("depth", [MAX_JSON_BODY_DEPTH + 1, 960, 990, 100_000])
@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
def test_body_nested_too_deep_returns_400_and_changes_nothing(
    client, auth_headers, hand_part, method, path, depth, kind
):
    before = snapshot(client, auth_headers)
    # Deep under a key no schema reads: the depth anywhere in the body is refused.
    raw = body_with("ignored", nested(depth, kind))
    response = send(client, method, path.format(id=hand_part["id"]), raw, auth_headers)
    assert response.status_code == 400
    assert response.get_json() == TOO_DEEP
    assert snapshot(client, auth_headers) == before


@pytest.mark.parametrize("depth", [MAX_JSON_BODY_DEPTH + 1, 100_000])
def test_body_nested_too_deep_without_key_returns_400(client, depth):
    response = send(client, "POST", "/api/parts/", nested(depth), {})
    assert response.status_code == 400
    assert response.get_json() == TOO_DEEP


def post_streamed(client, headers: dict[str, str], body: str):
    """POST a body chunked, without Content-Length, as a WSGI server that dechunks hands it."""
    return client.post(
        "/api/parts/",
        input_stream=io.BytesIO(body.encode()),
        content_type="application/json",
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize("over", [1, 4096])
def test_streamed_body_over_the_cap_is_413_not_a_cut_body(client, auth_headers, over):
    """A chunked body has no length to refuse up front; Werkzeug stops reading at the cap
    without a word, and the cut body read as broken JSON (400 "Unterminated string")."""
    head = '{"material": "Al", "subsystem": "Drive", "notes": "'
    body = head + "x" * (JSON_BODY_MAX_BYTES - len(head) - 2 + over) + '"}'
    response = post_streamed(client, auth_headers, body)
    assert response.status_code == 413, response.get_json()
    assert response.get_json()["max_bytes"] == JSON_BODY_MAX_BYTES
    assert snapshot(client, auth_headers) == []


def test_streamed_body_at_the_cap_is_read_whole(client, auth_headers):
    head = '{"material": "Al", "subsystem": "Drive", "miscInfo": {"pad": "'
    body = head + "x" * (JSON_BODY_MAX_BYTES - len(head) - 3) + '"}}'
    assert len(body) == JSON_BODY_MAX_BYTES
    response = post_streamed(client, auth_headers, body)
    # Read whole: what answers is the body's own rule (miscInfo's 64 KB cap), not the cap.
    assert (response.status_code, response.get_json()["field"]) == (400, "miscInfo")


def test_streamed_body_without_length_is_checked_too(client, auth_headers):
    body = body_with("amount", HUGE_NUMBER)
    response = post_streamed(client, auth_headers, body)
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_body"
    assert snapshot(client, auth_headers) == []


@pytest.mark.parametrize(
    ("raw", "details"),
    [
        ("{bad", "Expecting property name enclosed in double quotes (line 1, column 2)"),
        ('{"material": "Al"', "Expecting ',' delimiter (line 1, column 18)"),
        (b'{"material": "\xff"}', "The body is not valid UTF-8 text"),
    ],
)
@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no-key"])
def test_malformed_body_returns_400_saying_where(client, auth_headers, raw, details, with_key):
    response = send(client, "POST", "/api/parts/", raw, auth_headers if with_key else {})
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "Invalid JSON body",
        "code": "invalid_body",
        "details": details,
    }
    assert snapshot(client, auth_headers) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/parts/"), ("PUT", "/api/parts/{id}"), ("POST", "/api/parts/{id}/approve")],
)
@pytest.mark.parametrize("depth", [MAX_MISC_INFO_DEPTH + 1, MAX_JSON_BODY_DEPTH - 2])
def test_misc_info_nested_deeper_than_limit_returns_400_and_changes_nothing(
    client, auth_headers, make_part, method, path, depth
):
    part = make_part()
    before = snapshot(client, auth_headers)
    misc_info = json.loads(nested(depth, "object"))
    body = {"material": "Al", "subsystem": "Drive", "miscInfo": misc_info}
    response = send(client, method, path.format(id=part["id"]), json.dumps(body), auth_headers)
    expected = f"misc_info must be nested at most {MAX_MISC_INFO_DEPTH} levels deep"
    assert field_error(response) == ("miscInfo", expected)
    assert snapshot(client, auth_headers) == before


def test_misc_info_at_depth_limit_is_stored_whole(client, auth_headers, make_part):
    misc_info = json.loads(nested(MAX_MISC_INFO_DEPTH, "object"))
    part = make_part(miscInfo=misc_info)
    stored = client.get(f"/api/parts/{part['id']}", headers=auth_headers).get_json()
    assert stored["miscInfo"] == misc_info
    # Its creation event nests it three levels deeper (MariaDB's JSON type refuses > 32).
    history = client.get(f"/api/parts/{part['id']}/history", headers=auth_headers).get_json()
    created = history["events"][-1]
    assert created["details"]["changes"]["miscInfo"]["to"] == misc_info


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        (1, 0, False),
        ({}, 1, False),
        ({}, 0, True),
        ([[1], {"a": [2]}], 3, False),
        ([[1], {"a": [2]}], 2, True),
        (json.loads(nested(500)), 499, True),
        (json.loads(nested(500)), 500, False),
    ],
)
def test_exceeds_depth_counts_the_outermost_as_level_one(value, limit, expected):
    assert exceeds_depth(value, limit) is expected
