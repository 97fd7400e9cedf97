"""The list endpoints: envelope, filter, search, sort, paging and the per-revision cache."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.conftest import build_app
from tests.part_rows import set_columns

PARTS = "/api/parts/"


def listing(client, auth_headers, **params):
    response = client.get(PARTS, query_string=params, headers=auth_headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(body) -> list[int]:
    return [part["id"] for part in body["parts"]]


def test_list_envelope_has_exactly_parts_total_limit_offset(client, auth_headers, make_part):
    part = make_part()
    body = listing(client, auth_headers)
    assert set(body) == {"parts", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"]) == (1, None, 0)
    assert body["parts"] == [client.get(f"{PARTS}{part['id']}", headers=auth_headers).get_json()]


def test_list_without_params_returns_every_part_newest_first(client, auth_headers, make_part):
    created = [make_part(name=f"Part {n}")["id"] for n in range(12)]
    body = listing(client, auth_headers)
    assert ids(body) == created[::-1]
    assert body["total"] == 12


def test_list_page_size_is_capped_but_no_params_still_returns_all(test_database, tmp_path):
    app = build_app(test_database, tmp_path, PARTS_MAX_PAGE_SIZE=5)
    try:
        client, headers = app.test_client(), {"X-API-Key": app.config["SECRET_KEY"]}
        for n in range(7):
            body = {"name": f"P{n}", "material": "Al", "subsystem": "Drive"}
            assert client.post(PARTS, json=body, headers=headers).status_code == 201
        everything = listing(client, headers)
        assert (len(everything["parts"]), everything["total"]) == (7, 7)
        capped = listing(client, headers, limit=100)
        assert (len(capped["parts"]), capped["limit"], capped["total"]) == (5, 5, 7)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_list_filters_by_category(client, auth_headers, make_part, part_in):
    review = make_part()
    cnc = part_in("cnc")
    assert ids(listing(client, auth_headers, category="cnc")) == [cnc["id"]]
    assert ids(listing(client, auth_headers, category="review")) == [review["id"]]
    assert listing(client, auth_headers, category="nowhere") == {
        "parts": [],
        "total": 0,
        "limit": None,
        "offset": 0,
    }
    assert len(listing(client, auth_headers, category="")["parts"]) == 2


def test_category_path_forces_the_category(client, auth_headers, make_part, part_in):
    make_part()
    hand = part_in("hand")
    response = client.get(
        f"{PARTS}categories/hand", query_string={"category": "review"}, headers=auth_headers
    )
    assert response.status_code == 200
    assert ids(response.get_json()) == [hand["id"]]
    response = client.get(f"{PARTS}categories/completed", headers=auth_headers)
    assert response.get_json()["parts"] == []


@pytest.mark.parametrize(
    ("field", "stored", "query"),
    [
        ("name", "Drive GEAR", "gear"),
        ("notes", "Needs Deburring", "DEBURR"),
        ("subsystem", "Elevator", "elev"),
        ("assigned", "Grace Hopper", "hopper"),
        ("material", "Polycarbonate", "CARBON"),
        ("partId", "ELV-77", "elv-7"),
    ],
)
def test_search_matches_each_field_case_insensitively(
    client, auth_headers, make_part, field, stored, query
):
    other = make_part(name="Plain", notes="plain", subsystem="Drive", material="Al")
    target = make_part(**({} if field == "partId" else {field: stored}))
    if field == "partId":
        client.put(f"{PARTS}{target['id']}", json={"partId": stored}, headers=auth_headers)
    body = listing(client, auth_headers, search=query)
    assert ids(body) == [target["id"]] and body["total"] == 1
    assert other["id"] not in ids(body)


def test_search_ignores_case_beyond_ascii(client, auth_headers, make_part):
    make_part(name="Plain")
    target = make_part(name="ÜBERROLLBÜGEL Ø12")
    assert ids(listing(client, auth_headers, search="überrollbügel ø")) == [target["id"]]


def test_search_does_not_match_status(client, auth_headers, make_part):
    make_part()
    assert listing(client, auth_headers, search="Pending")["total"] == 0


@pytest.mark.parametrize("wildcard", ["%", "_"])
def test_search_wildcards_are_literal(client, auth_headers, make_part, wildcard):
    make_part(name="Plain bracket")
    literal = make_part(name=f"Bracket 50{wildcard} scale")
    assert ids(listing(client, auth_headers, search=wildcard)) == [literal["id"]]
    assert ids(listing(client, auth_headers, search=f"50{wildcard}")) == [literal["id"]]


def test_search_escape_character_is_literal(client, auth_headers, make_part):
    make_part(name="Plain")
    slashed = make_part(name="Plate 1/4")
    assert ids(listing(client, auth_headers, search="1/4")) == [slashed["id"]]
    assert listing(client, auth_headers, search="/")["total"] == 1


SORTS = [
    ("name", "name", ["Alpha", "Bravo", "Charlie"]),
    ("status", "status", ["Completed", "In Progress", "Pending"]),
    ("assigned", "assigned", ["Ada", "Grace", "Linus"]),
]


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
@pytest.mark.parametrize(("sort_by", "key", "values"), SORTS)
def test_sort_by_field_and_order(
    app, client, auth_headers, make_part, sort_by, key, values, sort_order
):
    for value in (values[1], values[2], values[0]):
        if key == "status":  # a new part is always Pending (issue 12): set the others directly
            set_columns(app, make_part()["id"], status=value)
        else:
            make_part(**{key: value})
    body = listing(client, auth_headers, sort_by=sort_by, sort_order=sort_order)
    expected = values if sort_order == "asc" else values[::-1]
    assert [part[key] for part in body["parts"]] == expected


@pytest.mark.parametrize("sort_by", ["name", "assigned"])
def test_sort_by_text_ignores_case_on_every_database(client, auth_headers, make_part, sort_by):
    for value in ("charlie", "Delta", "alpha", "Bravo"):
        make_part(**{sort_by: value})
    body = listing(client, auth_headers, sort_by=sort_by, sort_order="asc")
    assert [part[sort_by] for part in body["parts"]] == ["alpha", "Bravo", "charlie", "Delta"]


@pytest.mark.parametrize("sort_order", ["asc", "desc", "DESC"])
def test_sort_nulls_come_last_either_way(client, auth_headers, make_part, sort_order):
    nobody = make_part(assigned=None)
    make_part(assigned="Ada")
    make_part(assigned="Linus")
    body = listing(client, auth_headers, sort_by="assigned", sort_order=sort_order)
    assert ids(body)[-1] == nobody["id"]


@pytest.mark.parametrize("sort_by", ["created_at", "createdAt"])
@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_sort_by_creation_time(client, auth_headers, make_part, sort_by, sort_order):
    created = [make_part(name=name)["id"] for name in ("Zulu", "Alpha", "Mike")]
    body = listing(client, auth_headers, sort_by=sort_by, sort_order=sort_order)
    assert ids(body) == (created if sort_order == "asc" else created[::-1])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort_by": "to_dict"}, "sort_by"),
        ({"sort_by": "nonsense"}, "sort_by"),
        ({"sort_order": "sideways"}, "sort_order"),
        ({"limit": -1}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "two"}, "offset"),
        ({"offset": 2**31}, "offset"),
        ({"offset": 10**20}, "offset"),
        ({"search": "a\x00b"}, "search"),
        ({"category": "\x00"}, "category"),
    ],
)
def test_list_bad_query_parameter_returns_400(client, auth_headers, make_part, params, field):
    make_part()
    response = client.get(PARTS, query_string=params, headers=auth_headers)
    assert response.status_code == 400
    assert response.is_json and response.get_json()["field"] == field


def test_category_path_with_nul_returns_400(client, auth_headers, make_part):
    make_part()
    response = client.get(f"{PARTS}categories/%00", headers=auth_headers)
    assert response.status_code == 400 and response.get_json()["field"] == "category"


def test_huge_limit_is_capped_to_the_page_size(app, client, auth_headers, make_part):
    make_part()
    body = listing(client, auth_headers, limit=10**20)
    assert (body["limit"], body["total"]) == (app.config["PARTS_MAX_PAGE_SIZE"], 1)


def test_limit_and_offset_page_after_counting(client, auth_headers, make_part):
    created = [make_part(name=f"P{n}")["id"] for n in range(5)]
    body = listing(client, auth_headers, limit=2, offset=1, sort_order="asc")
    assert ids(body) == created[1:3]
    assert (body["total"], body["limit"], body["offset"]) == (5, 2, 1)
    assert listing(client, auth_headers, limit=2, offset=10)["parts"] == []


def test_offset_without_limit_skips_parts(client, auth_headers, make_part):
    created = [make_part(name=f"P{n}")["id"] for n in range(4)]
    body = listing(client, auth_headers, offset=1, sort_order="asc")
    assert ids(body) == created[1:]
    assert (body["total"], body["limit"], body["offset"]) == (4, None, 1)


def test_limit_zero_returns_every_part(client, auth_headers, make_part):
    for n in range(3):
        make_part(name=f"P{n}")
    body = listing(client, auth_headers, limit=0)
    assert (len(body["parts"]), body["limit"]) == (3, None)


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_paging_identical_names_has_no_duplicates_or_gaps(
    client, auth_headers, make_part, sort_order
):
    created = {make_part(name="Same")["id"] for _ in range(7)}
    for part_id in sorted(created)[:3]:
        # Edited rows move in PostgreSQL's heap: scan order is then not id order.
        client.put(f"{PARTS}{part_id}", json={"notes": "edited"}, headers=auth_headers)
    seen: list[int] = []
    for offset in range(0, 8, 2):
        page = listing(
            client, auth_headers, sort_by="name", sort_order=sort_order, limit=2, offset=offset
        )
        seen += ids(page)
    assert len(seen) == len(set(seen)) == 7 and set(seen) == created
    assert seen == sorted(seen, reverse=sort_order == "desc")


def _create(client, auth_headers, part):
    body = {"material": "Al", "subsystem": "Arm", "name": "New", "type": "cnc"}
    created = client.post(PARTS, json=body, headers=auth_headers).get_json()
    # A new part starts in review (issue 12); approved, it joins the CNC parts listed here.
    return client.post(f"{PARTS}{created['id']}/approve", json={}, headers=auth_headers)


def _update(client, auth_headers, part):
    return client.put(f"{PARTS}{part['id']}", json={"name": "Renamed"}, headers=auth_headers)


def _delete(client, auth_headers, part):
    return client.delete(f"{PARTS}{part['id']}", headers=auth_headers)


def _claim(client, auth_headers, part):
    return client.post(
        f"{PARTS}{part['id']}/assign", json={"assigned": "Ada"}, headers=auth_headers
    )


def _unclaim(client, auth_headers, part):
    return client.post(f"{PARTS}{part['id']}/unclaim", headers=auth_headers)


@pytest.mark.parametrize("write", [_create, _update, _delete, _claim, _unclaim])
@pytest.mark.parametrize("params", [{}, {"category": "cnc"}, {"search": "a"}])
def test_list_reflects_a_write_immediately(client, auth_headers, part_in, write, params):
    # A CNC part: claiming it changes no miscInfo, so only the claim itself can bust the cache.
    part = part_in("cnc", name="Bracket", assigned="Grace" if write is _unclaim else None)
    before = client.get(PARTS, query_string=params, headers=auth_headers)
    etag = before.headers["ETag"]
    cached = client.get(PARTS, query_string=params, headers={**auth_headers, "If-None-Match": etag})
    assert cached.status_code == 304
    assert write(client, auth_headers, part).status_code in (200, 201)
    after = client.get(PARTS, query_string=params, headers={**auth_headers, "If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    change = {_create: 1, _delete: -1}.get(write, 0)
    assert after.get_json()["total"] == before.get_json()["total"] + change
    fresh = client.get(f"{PARTS}{part['id']}", headers=auth_headers)
    expected = [fresh.get_json()] if fresh.status_code == 200 else []
    assert [p for p in after.get_json()["parts"] if p["id"] == part["id"]] == expected


def test_list_cache_is_bounded_in_bytes():
    from models.queries import PartQuery
    from utils.body_stores import ListBodies, RenderedList

    cache = ListBodies(size=10, max_bytes=250)
    for n in range(5):
        cache.put((n, PartQuery()), RenderedList(body=b"x" * 100, etag=str(n)))
    kept = [n for n in range(5) if cache.get((n, PartQuery())) is not None]
    assert kept == [3, 4]
