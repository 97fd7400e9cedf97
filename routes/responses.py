"""Small response helpers shared by the views."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request

from models.part import Part
from utils.errors import ApiError


def part_etag(part: Part) -> str:
    """A validator that changes whenever the part's row changes."""
    stamp = part.updated_at.timestamp() if part.updated_at else 0
    return f"{part.id}-{int(stamp * 1_000_000)}"


def part_response(part: Part, status: int = 200) -> Response:
    """A part as JSON with its ETag."""
    response = jsonify(part.to_dict())
    response.status_code = status
    response.set_etag(part_etag(part))
    return response


def check_if_match(part: Part) -> None:
    """Honour If-Match on writes: 412 when the client edited an older version."""
    if request.if_match and not request.if_match.contains(part_etag(part)):
        if not request.if_match.star_tag:
            raise ApiError(
                "The part changed since you loaded it; reload and try again",
                status_code=412,
                code="precondition_failed",
            )


def json_bytes(body: bytes, etag: str) -> Response:
    """Pre-serialised JSON with a conditional-GET validator."""
    response = current_app.response_class(body, mimetype="application/json")
    response.set_etag(etag)
    # Only a conditional request can turn into a 304; the check is not free on hot paths.
    if request.if_none_match or request.if_modified_since:
        return response.make_conditional(request)
    return response


def message(text: str, **extra: Any) -> Response:
    """A plain confirmation body."""
    return jsonify({"message": text, **extra})


def multipart_body(*fields: str) -> dict[str, Any]:
    """OpenAPI requestBody for a multipart form of binary file fields."""
    properties = {name: {"type": "string", "format": "binary"} for name in fields}
    schema = {"type": "object", "properties": properties}
    return {"requestBody": {"content": {"multipart/form-data": {"schema": schema}}}}
