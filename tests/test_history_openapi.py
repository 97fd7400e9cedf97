"""The OpenAPI document tells the truth about history: its endpoints, the X-Actor header on
every write that records an event, and the 409 of a refused PUT."""

from __future__ import annotations

import pytest

RECORDING_WRITES = [
    ("/api/parts/", "post"),
    ("/api/parts/{part_id}", "put"),
    ("/api/parts/{part_id}", "delete"),
    ("/api/parts/{part_id}/approve", "post"),
    ("/api/parts/{part_id}/assign", "post"),
    ("/api/parts/{part_id}/unclaim", "post"),
    ("/api/parts/{part_id}/complete", "post"),
    ("/api/parts/{part_id}/revert", "post"),
    ("/api/parts/wipe", "post"),
    ("/api/parts/{part_id}/upload", "post"),
]


@pytest.fixture
def spec(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.mark.parametrize(("path", "method"), RECORDING_WRITES)
def test_every_recording_write_documents_x_actor_and_its_400(spec, path, method):
    operation = spec["paths"][path][method]
    headers = [p for p in operation["parameters"] if p["in"] == "header"]
    assert [p["name"] for p in headers] == ["X-Actor"]
    assert headers[0]["schema"]["maxLength"] == 100 and headers[0]["required"] is False
    assert "400" in operation["responses"]


def test_history_endpoints_document_their_page_and_errors(spec):
    one = spec["paths"]["/api/parts/{part_id}/history"]["get"]
    every = spec["paths"]["/api/parts/history"]["get"]
    assert {"200", "400", "404"} <= set(one["responses"]) and "404" not in every["responses"]
    query = {p["name"] for p in every["parameters"] if p["in"] == "query"}
    assert query == {"limit", "offset", "deleted"}
    page = spec["components"]["schemas"]["HistoryPage"]
    assert set(page["required"]) == {"events", "total", "limit", "offset"}


def test_refused_put_is_a_documented_409(spec):
    responses = spec["paths"]["/api/parts/{part_id}"]["put"]["responses"]
    assert "allowed_actions" in responses["409"]["description"]
