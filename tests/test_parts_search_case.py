"""Search folds case of the term and the columns in the database, beyond ASCII too."""

from __future__ import annotations

PARTS = "/api/parts/"


def _found(client, auth_headers, term: str) -> list[int]:
    response = client.get(PARTS, query_string={"search": term}, headers=auth_headers)
    assert response.status_code == 200
    return [part["id"] for part in response.get_json()["parts"]]


def test_search_term_in_capitals_beyond_ascii_finds_lower_case_text(
    client, auth_headers, make_part
):
    make_part(name="Plain")
    target = make_part(name="überrollbügel ø12")
    assert _found(client, auth_headers, "ÜBERROLLBÜGEL Ø") == [target["id"]]


def test_search_with_wildcards_and_escape_together_is_literal(client, auth_headers, make_part):
    make_part(name="Plain 50 x 14")
    literal = make_part(notes="ratio 50%_1/4 exact")
    assert _found(client, auth_headers, "50%_1/4") == [literal["id"]]
