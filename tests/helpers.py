"""Small request helpers shared by the file tests."""

from __future__ import annotations

import io
from typing import Any


def post_upload(
    client: Any, headers: dict[str, str], part_id: int, data: bytes, name: str, field: str = "file"
) -> Any:
    """POST one file as multipart, like the SPA does; returns the response."""
    return client.post(
        f"/api/parts/{part_id}/upload",
        data={field: (io.BytesIO(data), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def upload_ok(client: Any, headers: dict[str, str], part_id: int, data: bytes, name: str) -> Any:
    """Upload and insist on 201; returns the body."""
    response = post_upload(client, headers, part_id, data, name)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def get_closed(client: Any, url: str, headers: dict[str, str]) -> Any:
    """GET and close, so a served file's handle is released (ResourceWarning is an error)."""
    with client.get(url, headers=headers) as response:
        response.get_data()
    return response


def field_error(response: Any) -> tuple[str, str]:
    """(field, message) of a 400 validation error in today's shapes: create (POST /api/parts/)
    says "Validation Error" with the message in `details`; every other endpoint puts the
    message itself in `error`, which is what the web apps show."""
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["code"] == "validation_error", body
    sent = response.request
    if sent.method == "POST" and sent.path.rstrip("/").endswith("/api/parts"):
        assert body["error"] == "Validation Error", body
        message = body["details"]
    else:
        assert "details" not in body, body
        message = body["error"]
    assert message and message != "Validation Error", body
    return body.get("field", ""), message
