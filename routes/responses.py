"""Small response helpers shared by the views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, jsonify, request, send_file
from werkzeug.http import parse_range_header

from app.compression import offer_gzip
from models.part import Part
from utils.compressed_bodies import gzip_etag
from utils.errors import ApiError
from utils.wire_schemas import ErrorSchema


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
    """Honour If-Match on writes: 412 when the client edited an older version.

    The ETag of a gzipped GET (a part with a large miscInfo) names the same version."""
    wanted = request.if_match
    if not wanted or wanted.star_tag:
        return
    current = part_etag(part)
    if not (wanted.contains(current) or wanted.contains(gzip_etag(current))):
        raise ApiError(
            "The part changed since you loaded it; reload and try again",
            status_code=412,
            code="precondition_failed",
        )


def json_bytes(
    body: bytes, etag: str | None, gzipped: Callable[[int], bytes] | None = None
) -> Response:
    """Pre-serialised JSON with a conditional-GET validator (None: none); `gzipped(level)`
    gives the body's gzip made once (a cached body), for clients that accept it."""
    response = current_app.response_class(body, mimetype="application/json")
    if etag is not None:
        response.set_etag(etag)
    if gzipped is not None:
        offer_gzip(response, gzipped)
    # Only a conditional request can turn into a 304; the check is not free on hot paths.
    if request.if_none_match or request.if_modified_since:
        return response.make_conditional(request)
    return response


def send_stored(path: Any, **options: Any) -> Response:
    """A stored file (send_file, conditional: ETag, If-None-Match, one byte range). A Range
    that is not one byte range (another unit, several ranges, a malformed one) is ignored and
    the whole file sent, as RFC 9110 allows; Werkzeug would answer 416."""
    header = request.headers.get("Range")
    if header is not None:
        ranges = parse_range_header(header)
        if ranges is None or ranges.units != "bytes" or len(ranges.ranges) != 1:
            request.environ.pop("HTTP_RANGE", None)
    return send_file(path, conditional=True, max_age=0, **options)


def message(text: str, **extra: Any) -> Response:
    """A plain confirmation body."""
    return jsonify({"message": text, **extra})


def multipart_body(*fields: str, required: bool = True) -> dict[str, Any]:
    """OpenAPI requestBody for a multipart form of binary file fields: all of them required,
    or (required=False) at least one."""
    properties = {name: {"type": "string", "format": "binary"} for name in fields}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(fields)
    else:
        schema["minProperties"] = 1
    content = {"multipart/form-data": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


# What each error status means for this API; every one has the one Error body.
ERROR_MEANINGS = {
    400: "Invalid input: body, query or path (validation errors are 400, never 422)",
    401: "Missing or wrong API key",
    403: "Refused (wrong wipe password)",
    404: "No such part, or the part has no such file",
    409: "Not allowed in the part's current state",
    412: "If-Match names an older version of the part: reload and retry",
    413: "Body or file too large (max_bytes says the limit)",
    415: "Body is not JSON, or a file of the wrong type",
    416: "Range not satisfiable",
    422: "The file could not be processed (e.g. a failed conversion)",
    429: "Rate limited: wait retry_after seconds (Retry-After header)",
}
# Every API operation: the key (401), the per-client limits (429) and, for anything else
# (a crash: 500 with request_id), the same Error body.
ALWAYS = (401, 429)
# A JSON write may send a body: not JSON is a 415, too large a 413.
JSON_WRITE = (413, 415)
BINARY = {"type": "string", "format": "binary"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ErrorSchema}}}


def errors(*statuses: int, **meanings: str) -> dict[int | str, Any]:
    """OpenAPI responses (for @parts_bp.doc) of the errors a view can answer.

    `meanings` overrides a description by status name, e.g. e409="Already claimed".
    """
    responses: dict[int | str, Any] = {
        status: _error(meanings.get(f"e{status}", ERROR_MEANINGS[status]))
        for status in sorted({*statuses, *ALWAYS})
    }
    responses["default"] = _error("Any other error, e.g. 500 (with request_id)")
    return responses


def _store_unavailable(failure: str) -> dict[int | str, Any]:
    """The 503 of FILE_STORE_URL=s3://… when the bucket fails (FileStoreUnavailableError)."""
    retry_after = {"description": "Seconds", "schema": {"type": "integer"}}
    description = (
        f"The object store (FILE_STORE_URL=s3://…) could not be reached or {failure} "
        "(code file_store_unavailable); retry after Retry-After seconds"
    )
    return {503: {**_error(description), "headers": {"Retry-After": retry_after}}}


FILE_STORE_UNAVAILABLE = _store_unavailable("refused the write: nothing was stored")
FILE_STORE_READ_UNAVAILABLE = _store_unavailable("failed the read")


def upload_errors(**meanings: str) -> dict[int | str, Any]:
    """The errors of a multipart upload: no file (400), no part (404), a stale If-Match (412),
    too large (413), wrong type (415), the object store refused the write (503); `meanings`
    as for errors()."""
    return errors(400, 404, 412, 413, 415, **meanings) | FILE_STORE_UNAVAILABLE


def files(
    status: int, *content_types: str, ranges: bool = True, **extra: Any
) -> dict[int | str, Any]:
    """A file download's responses: the bytes, 304 for a matching ETag, 206 for a Range, and
    503 when an object store cannot send it."""
    body = {content_type: {"schema": BINARY} for content_type in content_types}
    responses: dict[int | str, Any] = {
        status: {"description": "The file", "content": body, **extra},
        304: {"description": "Not modified: If-None-Match matched the ETag"},
    }
    if ranges:
        responses[206] = {"description": "The requested Range of the file", "content": body}
    return responses | FILE_STORE_READ_UNAVAILABLE


# Conditional GETs: the ETag response header, and 304 for a matching If-None-Match.
ETAG = {
    "ETag": {"description": "Validator for If-None-Match / If-Match", "schema": {"type": "string"}}
}
NOT_MODIFIED = {304: {"description": "Not modified: If-None-Match matched the ETag"}}
