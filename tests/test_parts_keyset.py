"""Keyset pages (`after`, models/keyset.py): walking a list page by page gives exactly the
list in one piece, for every sort field and direction, with NULLs, ties and mixed case."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from app.extensions import db
from models.part import Part
from utils.schemas import SORT_FIELDS

PARTS = "/api/parts/"
NAMES = ["beta", "Alpha", "alpha", None, "Beta", "gamma", None, "ALPHA", "delta", "Gamma", "é"]


@pytest.fixture
def listed(app) -> Any:
    """Parts with ties, NULLs and case differences in the sort keys."""
    with app.app_context():
        for number, name in enumerate(NAMES):
            part = Part(name=name, material="Al" if number % 3 else None, subsystem="Drive")
            part.amount = 1 + number % 3
            part.assigned = None if number % 2 else f"p{number % 4}"
            db.session.add(part)
        db.session.commit()
    return app


def _get(client, headers, **params: Any):
    response = client.get(PARTS, query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response


def _walk(client, headers, size: int, **params: Any) -> list[int]:
    seen: list[int] = []
    after = None
    for _ in range(50):
        page = _get(client, headers, limit=size, **params, **({"after": after} if after else {}))
        seen += [part["id"] for part in page.get_json()["parts"]]
        after = page.headers.get("X-Next-After")
        if after is None:
            return seen
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("sort_by", sorted(set(SORT_FIELDS.values())))
def test_walking_pages_after_each_other_gives_the_whole_list(listed, client, auth_headers, sort_by):
    for order in ("asc", "desc"):
        whole = _get(client, auth_headers, sort_by=sort_by, sort_order=order).get_json()
        expected = [part["id"] for part in whole["parts"]]
        for size in (1, 2, 4):
            walked = _walk(client, auth_headers, size, sort_by=sort_by, sort_order=order)
            assert walked == expected, (sort_by, order, size)


def test_keyset_pages_keep_filters_and_total(listed, client, auth_headers):
    expected = _get(client, auth_headers, search="alp", sort_by="name").get_json()
    first = _get(client, auth_headers, search="alp", sort_by="name", limit=2)
    second = _get(
        client, auth_headers, search="alp", sort_by="name", limit=2,
        after=first.headers["X-Next-After"],
    )  # fmt: skip
    assert first.get_json()["total"] == second.get_json()["total"] == 3
    pages = first.get_json()["parts"] + second.get_json()["parts"]
    assert [p["id"] for p in pages] == [p["id"] for p in expected["parts"]]
    assert "X-Next-After" not in second.headers


def test_last_or_unlimited_page_has_no_token(listed, client, auth_headers):
    assert "X-Next-After" not in _get(client, auth_headers).headers
    assert "X-Next-After" not in _get(client, auth_headers, limit=100).headers


def _token(*items: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(items)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "after",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"not json").decode(),
        _token("name", "asc", "alpha", 1),  # made for another order
        _token("created_at", "desc", "yesterday", 1),
        _token("created_at", "desc", None, 1),
        _token("created_at", "desc", "2026-01-01T00:00:00+00:00", 0),
        _token("created_at", "desc", "2026-01-01T00:00:00+00:00", True),
        _token("created_at", "desc", "2026-01-01T00:00:00+00:00"),
        # Times that leave the datetime range in UTC, and text no database compares.
        _token("created_at", "desc", "0001-01-01T00:00:00+14:00", 1),
        _token("created_at", "desc", "9999-12-31T23:59:59-14:00", 1),
    ],
)
def test_a_foreign_or_broken_token_is_a_400_naming_after(listed, client, auth_headers, after):
    response = client.get(PARTS, query_string={"limit": 2, "after": after}, headers=auth_headers)
    assert response.status_code == 400
    assert response.get_json()["field"] == "after"


@pytest.mark.parametrize("value", ["\ud800", "a\x00b"])
def test_a_token_with_text_no_database_compares_is_a_400(listed, client, auth_headers, value):
    query = {"limit": 2, "sort_by": "name", "sort_order": "desc"}
    after = _token("name", "desc", value, 1)
    response = client.get(PARTS, query_string={**query, "after": after}, headers=auth_headers)
    assert response.status_code == 400
    assert response.get_json()["field"] == "after"


def test_openapi_documents_after_and_the_next_page_header(client):
    spec = client.get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/parts/"]["get"]
    assert "after" in {parameter["name"] for parameter in operation["parameters"]}
    assert "X-Next-After" in operation["responses"]["200"]["headers"]


def test_a_write_moves_the_total_every_sort_and_page_reports(listed, client, auth_headers, call):
    before = _get(client, auth_headers, search="alp", sort_by="name", limit=1).get_json()
    assert call("POST", "/", {"name": "ALPine", "material": "Al", "subsystem": "Arm"})[0] == 201
    after = _get(client, auth_headers, search="alp", sort_by="amount", limit=1).get_json()
    again = _get(client, auth_headers, search="alp", sort_by="name", limit=1).get_json()
    assert after["total"] == again["total"] == before["total"] + 1


@pytest.mark.parametrize("sort_by", ["name", "material", "assigned", "status"])
def test_every_offset_page_is_the_slice_of_the_whole_list(listed, client, auth_headers, sort_by):
    for order in ("asc", "desc"):
        whole = _get(client, auth_headers, sort_by=sort_by, sort_order=order).get_json()["parts"]
        for limit in (1, 3, 5):
            for offset in range(len(whole) + 2):
                page = _get(
                    client, auth_headers, sort_by=sort_by, sort_order=order, limit=limit,
                    offset=offset,
                ).get_json()["parts"]  # fmt: skip
                assert page == whole[offset : offset + limit], (order, limit, offset)
