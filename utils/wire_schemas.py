"""Response shapes of the API for the OpenAPI document: parts, results, and the one Error body.

Request validation lives in utils.schemas, the statistics bodies in utils.stats_schemas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from marshmallow import INCLUDE, Schema, fields

from models.states import MODEL_STATUSES, ModelStatus
from utils.schema_base import (
    MISC_INFO_DOC,
    PART_ID_DOC,
    SNAKE_ALIASES,
    THICKNESS_DOC,
    TIMESTAMP_DOC,
    URL_DOC,
)


def _out(
    field: type[fields.Field], description: str, *, enum: Iterable[str] = (), **kwargs: Any
) -> fields.Field:
    """A response key that is always sent (required); nullable where allow_none."""
    metadata: dict[str, Any] = {"description": description}
    if enum:
        metadata["enum"] = list(enum)
    return field(required=True, metadata=metadata, **kwargs)


def _stamp(description: str, *, allow_none: bool = False) -> fields.Field:
    """A UTC timestamp key (ISO 8601), always sent."""
    about = {"format": "date-time", "description": description}
    return fields.String(required=True, allow_none=allow_none, metadata=about)


# A part as every part-returning endpoint emits it (Part.to_dict): every key, always.
PartSchema = Schema.from_dict(
    {
        "id": _out(fields.Integer, "Primary key"),
        "uuid": _out(fields.String, "Random UUID, never changes"),
        "partId": _out(
            fields.String, "Human part number (first 8 characters of uuid unless renamed)"
        ),
        "type": _out(fields.String, "cnc, hand or misc", allow_none=True),
        "name": _out(fields.String, "Name", allow_none=True),
        "material": _out(fields.String, "Material", allow_none=True),
        "materialThickness": _out(fields.String, 'Free text, e.g. 1/4"', allow_none=True),
        "subsystem": _out(fields.String, "Subsystem", allow_none=True),
        "assigned": _out(fields.String, "Who is making it", allow_none=True),
        "status": _out(fields.String, "Workflow status"),
        "category": _out(fields.String, "Workflow tab: review, cnc, hand, misc or completed"),
        "miscInfo": _out(fields.Dict, "Free-form JSON object", allow_none=True),
        "notes": _out(fields.String, "Notes", allow_none=True),
        "file": _out(fields.String, "Display name of the uploaded file", allow_none=True),
        "onshapeUrl": _out(fields.String, "Onshape link", allow_none=True),
        "claimedDate": _stamp("When claimed (UTC)", allow_none=True),
        "createdAt": _stamp("UTC"),
        "updatedAt": _stamp("UTC"),
        "amount": _out(fields.Integer, "How many to make (at least 1)"),
        "modelStatus": _out(fields.String, "3D model", enum=MODEL_STATUSES),
        "modelError": _out(fields.String, "Why the conversion failed", allow_none=True),
    },
    name="PartSchema",
)


class PartListSchema(Schema):
    """The list envelope."""

    parts = _out(fields.List, "This page of parts", cls_or_instance=fields.Nested(PartSchema))
    total = _out(fields.Integer, "Parts matching the filters, before paging")
    limit = _out(fields.Integer, "The page size applied; null: no limit", allow_none=True)
    offset = _out(fields.Integer, "Parts skipped")


class MessageSchema(Schema):
    """A plain confirmation."""

    message = _out(fields.String, "What happened")


class WipeResultSchema(MessageSchema):
    """The wipe's confirmation."""

    count = _out(fields.Integer, "Parts deleted")


class AuthCheckSchema(Schema):
    """GET /auth/check with a valid key."""

    status = fields.String(required=True, metadata={"enum": ["authenticated"]})
    message = _out(fields.String, "API key is valid")
    timestamp = _stamp("Now (UTC)")


class ConversionSchema(Schema):
    """A STEP upload's GLB conversion."""

    status = fields.String(required=True, metadata={"enum": list(MODEL_STATUSES)})
    success = _out(fields.Boolean, "true ready, false failed, null not finished", allow_none=True)
    error = _out(fields.String, "Why it failed", allow_none=True)


class UploadResultSchema(Schema):
    """POST /upload: the stored file (no server paths)."""

    message = _out(fields.String, "File uploaded successfully")
    filename = _out(fields.String, "Display name")
    file_size = _out(fields.Integer, "Bytes")
    sha256 = _out(fields.String, "Hex SHA-256 of the content")
    conversion = fields.Nested(
        ConversionSchema, metadata={"description": "STEP files only: the 3D model conversion"}
    )


class ViewsSchema(Schema):
    """GET /views: the manifest of stored previews."""

    views = fields.Dict(
        required=True,
        allow_none=True,
        metadata={"description": "{files: {index: {filename, timestamp}}, updated_at}; null: none"},
    )


class ViewsUploadSchema(Schema):
    """POST /views: the manifest after storing the previews."""

    success = fields.Boolean(required=True, metadata={"enum": [True]})
    views = _out(fields.Dict, "{files: {index: {filename, timestamp}}, updated_at}")


class ModelPendingSchema(Schema):
    """GET /model while the GLB is being made (202, with Retry-After)."""

    status = fields.String(required=True, metadata={"enum": [ModelStatus.PENDING.value]})
    message = _out(fields.String, "The 3D model is being prepared")


class ErrorSchema(Schema):
    """The one error body of every error (ours, Werkzeug's, the limiter's, crashes).

    `error` is the message clients show; `code` is for programs. Other keys appear where
    they help, and a client must ignore keys it does not know.
    """

    class Meta:
        unknown = INCLUDE  # documented as additionalProperties: true

    error = _out(fields.String, "Human-readable message (the web app shows it)")
    code = _out(fields.String, "Machine-readable code, e.g. validation_error, not_found")
    details = fields.Raw(metadata={"description": "More about the error (usually text)"})
    field = fields.String(metadata={"description": "The request field at fault (validation)"})
    errors = fields.Dict(metadata={"description": "Every field's messages (validation)"})
    message = fields.String(metadata={"description": "Advice, e.g. how long to wait (429)"})
    retry_after = fields.Float(metadata={"description": "Seconds to wait (429)"})
    max_bytes = fields.Integer(
        allow_none=True, metadata={"description": "The body size limit that was exceeded (413)"}
    )
    request_id = fields.String(
        allow_none=True, metadata={"description": "Quote it when reporting a crash (500)"}
    )
    assigned = fields.String(
        allow_none=True, metadata={"description": "Who holds the part (409 on assign)"}
    )


_PART_ALIASES = ("material_thickness", "misc_info", "onshape_url", "claimed_date")


def _alias_rules(*snakes: str) -> dict[str, Any]:
    """Each snake_case key obeys its camelCase key's rules, unless the camelCase key is sent."""
    docs = {
        "material_thickness": {**THICKNESS_DOC, "nullable": True},
        "misc_info": {**MISC_INFO_DOC, "nullable": True},
        "onshape_url": {**URL_DOC, "nullable": True},
        "claimed_date": {**TIMESTAMP_DOC, "nullable": True},
        "part_id": PART_ID_DOC,
    }
    rules = [
        {"anyOf": [{"required": [SNAKE_ALIASES[snake]]}, {"properties": {snake: docs[snake]}}]}
        for snake in snakes
    ]
    return {"allOf": rules}


def openapi_options() -> dict[str, Any]:
    """API_SPEC_OPTIONS: the key's security schemes, and what marshmallow cannot say.

    A new dict per app: apispec merges the generated document into it.
    """
    key_schemes = {
        "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "ApiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key"},
    }
    return {
        "info": {
            "description": "Every /api/parts route needs the API key: the X-API-Key header, "
            "the api_key query parameter or (POST/PUT JSON bodies) a top-level api_key. "
            "Errors are JSON: {error, code, ...}; validation errors are 400."
        },
        "security": [{"ApiKeyHeader": []}, {"ApiKeyQuery": []}],
        "components": {
            "securitySchemes": key_schemes,
            "schemas": {
                "PartCreate": _alias_rules(*_PART_ALIASES),
                # PUT refuses an empty object ("No data provided"); any key at all is enough.
                "PartUpdate": {"minProperties": 1, **_alias_rules(*_PART_ALIASES, "part_id")},
                "Approve": _alias_rules("misc_info"),
                "Complete": _alias_rules("misc_info"),
            },
        },
    }
