"""The list endpoints without a query string skip webargs and answer as if it had parsed one."""

from __future__ import annotations

from typing import Any

import pytest

from routes import parts_bp
from routes.parts import LIST_QUERY


def _answer(client: Any, path: str, headers: dict[str, str]) -> tuple[int, bytes, str | None]:
    response = client.get(path, headers=headers)
    return response.status_code, response.get_data(), response.headers.get("ETag")


def test_the_defaults_are_what_webargs_loads_from_an_empty_query(app):
    with app.test_request_context("/api/parts/"):
        parsed = parts_bp.ARGUMENTS_PARSER.parse(LIST_QUERY, location="query")
    assert parsed == LIST_QUERY.load({})
    assert parsed["sort_by"] == "created_at" and parsed["sort_order"] == "desc"


@pytest.mark.parametrize("path", ["/api/parts/", "/api/parts/categories/review"])
def test_no_query_answers_like_a_parsed_query(client, auth_headers, make_part, path):
    for name in ("Plate", "Gear", "Spacer"):
        make_part(name=name)
    plain = _answer(client, path, auth_headers)
    # An unknown parameter is dropped by the schema: webargs parses and loads the defaults.
    parsed = _answer(client, path + "?unknown=1", auth_headers)
    assert plain[0] == 200
    assert plain == parsed
    assert [part["name"] for part in client.get(path, headers=auth_headers).json["parts"]] == [
        "Spacer",
        "Gear",
        "Plate",
    ]


def test_webargs_runs_only_for_a_query_string(client, auth_headers, monkeypatch):
    parsed: list[Any] = []
    parser = parts_bp.ARGUMENTS_PARSER
    original = parser.parse

    def counting(*args: Any, **kwargs: Any) -> Any:
        parsed.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(parser, "parse", counting)
    assert client.get("/api/parts/", headers=auth_headers).status_code == 200
    assert parsed == []
    assert client.get("/api/parts/?limit=1", headers=auth_headers).status_code == 200
    assert len(parsed) == 1
    response = client.get("/api/parts/?limit=x", headers=auth_headers)
    assert response.status_code == 400
    assert response.json["code"] == "validation_error"


def test_no_query_still_needs_the_key(client):
    response = client.get("/api/parts/")
    assert response.status_code == 401
    assert response.json["code"] == "unauthorized"


def test_the_list_documents_its_query_parameters(client):
    operation = client.get("/api/openapi.json").json["paths"]["/api/parts/"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"sort_by", "sort_order", "limit", "offset", "after", "search"} <= names
