"""Marshmallow schemas: request validation, the wire shapes and the OpenAPI document."""

from __future__ import annotations

from functools import partial
from typing import Any

from marshmallow import EXCLUDE, INCLUDE, Schema, ValidationError, fields, pre_load, validate

from models.part import CATEGORIES, MAX_LENGTHS, PART_TYPES, STATUSES
from utils.fields import (
    MAX_AMOUNT,
    Amount,
    DisplayName,
    MiscInfo,
    OptionalText,
    RequiredText,
    UTCTimestamp,
    check_text,
)

# snake_case spellings today's clients also send, mapped to the documented camelCase keys.
SNAKE_ALIASES = {
    "material_thickness": "materialThickness",
    "part_id": "partId",
    "misc_info": "miscInfo",
    "onshape_url": "onshapeUrl",
    "claimed_date": "claimedDate",
}


class _CamelInput(Schema):
    """Accepts camelCase or snake_case keys; unknown keys (id, uuid, api_key…) are ignored."""

    class Meta:
        unknown = EXCLUDE

    # An empty object is "No data provided" where the body is the point of the request.
    require_data = False

    @pre_load
    def _normalise_keys(self, data: Any, **_kwargs: Any) -> Any:
        if not isinstance(data, dict):
            raise ValidationError("Request body must be a JSON object")
        if not data and self.require_data:
            raise ValidationError("No data provided")
        normalised = dict(data)
        for snake, camel in SNAKE_ALIASES.items():
            if snake in normalised:
                # The camelCase key wins; the snake_case one is ignored, as it always was.
                value = normalised.pop(snake)
                normalised.setdefault(camel, value)
        return normalised


def _choice(name: str, choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error=f"{name} must be one of: {', '.join(choices)}")


# OpenAPI descriptions of the custom fields in utils.fields: exactly what they accept, so the
# document is the contract a client (and the fuzzer in .ci/api_fuzz.py) can rely on.
_NO_NUL = "^[^\\x00]*$"
_NOT_BLANK = "^[^\\x00]*\\S[^\\x00]*$"


def _text_doc(max_length: int, *, blank: bool, description: str = "") -> dict[str, Any]:
    """Text (a number is taken as its digits); no NUL; blank means null where allowed."""
    text = {"type": "string", "maxLength": max_length, "pattern": _NO_NUL if blank else _NOT_BLANK}
    if not blank:
        text["minLength"] = 1
    about = description or ("Text; blank means null" if blank else "Text, not blank")
    return {"anyOf": [text, {"type": "number"}], "description": about}


def _enum_doc(choices: tuple[str, ...], *, nullable: bool = True) -> dict[str, Any]:
    # OpenAPI 3.0: a nullable enum lists null among its values.
    return {"type": "string", "enum": [*choices, None] if nullable else list(choices)}


AMOUNT_DOC: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT},
        {"type": "string", "pattern": "^\\s*$", "description": "Blank: 1"},
        {"type": "string", "pattern": "^\\s*\\+?0*([1-9][0-9]{0,5}|1000000)\\s*$"},
    ],
    "description": "How many to make; null or blank means 1",
}
MISC_INFO_DOC: dict[str, Any] = {
    "type": "object",
    "additionalProperties": True,
    "description": "Free-form JSON object (at most 32 levels deep, 64 KB); null values are "
    "dropped and an empty object becomes null",
}
# Dates whose UTC time falls outside years 1-9999 are refused (Python's datetime range).
TIMESTAMP_DOC: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": "^(?!0001-01-01|9999-12-31)",
    "description": "ISO-8601 date-time; no offset means UTC",
}


def _alias(snake: str) -> fields.Field:
    """A snake_case key, documented only: _CamelInput renames it before loading (or drops it
    when the camelCase key is sent too), so this field never receives data. Its constraints
    are in openapi_options (they apply only without the camelCase key)."""
    camel = SNAKE_ALIASES[snake]
    about = f"snake_case alias of {camel}: checked like it; ignored when {camel} is sent too"
    return fields.Raw(data_key=snake, load_only=True, metadata={"description": about})


_THICKNESS_DOC = _text_doc(MAX_LENGTHS["material_thickness"], blank=True)
_URL_DOC = _text_doc(MAX_LENGTHS["onshape_url"], blank=True)


class PartCreateSchema(_CamelInput):
    """Body of POST /api/parts/. partId is generated, never taken from the client."""

    require_data = True

    # Declaration order is the order errors are reported in (today's order).
    material = RequiredText(
        "Material",
        max_length=MAX_LENGTHS["material"],
        metadata=_text_doc(MAX_LENGTHS["material"], blank=False),
    )
    subsystem = RequiredText(
        "Subsystem",
        max_length=MAX_LENGTHS["subsystem"],
        metadata=_text_doc(MAX_LENGTHS["subsystem"], blank=False),
    )
    amount = Amount(metadata=AMOUNT_DOC)
    misc_info = MiscInfo(data_key="miscInfo", metadata=MISC_INFO_DOC)
    type = OptionalText(
        "type",
        max_length=MAX_LENGTHS["type"],
        validate=_choice("type", PART_TYPES),
        metadata=_enum_doc(PART_TYPES),
    )
    name = OptionalText(
        "name", max_length=MAX_LENGTHS["name"], metadata=_text_doc(MAX_LENGTHS["name"], blank=True)
    )
    material_thickness = OptionalText(
        "materialThickness",
        max_length=MAX_LENGTHS["material_thickness"],
        data_key="materialThickness",
        metadata=_THICKNESS_DOC,
    )
    assigned = OptionalText(
        "assigned",
        max_length=MAX_LENGTHS["assigned"],
        metadata=_text_doc(MAX_LENGTHS["assigned"], blank=True),
    )
    status = OptionalText(
        "status", max_length=50, validate=_choice("status", STATUSES), metadata=_enum_doc(STATUSES)
    )
    category = OptionalText(
        "category",
        max_length=20,
        validate=_choice("category", CATEGORIES),
        metadata=_enum_doc(CATEGORIES),
    )
    notes = OptionalText(
        "notes",
        max_length=MAX_LENGTHS["notes"],
        metadata=_text_doc(MAX_LENGTHS["notes"], blank=True),
    )
    file = DisplayName(
        max_length=MAX_LENGTHS["file"],
        metadata=_text_doc(
            MAX_LENGTHS["file"], blank=True, description="Display name; paths are cut off"
        ),
    )
    onshape_url = OptionalText(
        "onshapeUrl",
        max_length=MAX_LENGTHS["onshape_url"],
        data_key="onshapeUrl",
        metadata=_URL_DOC,
    )
    claimed_date = UTCTimestamp("claimedDate", data_key="claimedDate", metadata=TIMESTAMP_DOC)
    # Documentation only: _CamelInput renames (or, when both are sent, drops) these keys.
    material_thickness_alias = _alias("material_thickness")
    misc_info_alias = _alias("misc_info")
    onshape_url_alias = _alias("onshape_url")
    claimed_date_alias = _alias("claimed_date")


_PART_ID_DOC = _text_doc(MAX_LENGTHS["part_id"], blank=False)


class PartUpdateSchema(PartCreateSchema):
    """Body of PUT /api/parts/<id>: any subset; partId may be renamed, never blanked."""

    part_id = RequiredText(
        "Part ID",
        max_length=MAX_LENGTHS["part_id"],
        data_key="partId",
        strip=True,
        metadata=_PART_ID_DOC,
    )
    # Present-but-null would break the workflow, so these may change but never be cleared.
    status = RequiredText(
        "Status",
        max_length=50,
        validate=_choice("status", STATUSES),
        metadata=_enum_doc(STATUSES, nullable=False),
    )
    category = RequiredText(
        "Category",
        max_length=20,
        validate=_choice("category", CATEGORIES),
        metadata=_enum_doc(CATEGORIES, nullable=False),
    )
    part_id_alias = _alias("part_id")


class ApproveSchema(_CamelInput):
    """Optional body of approve: a reviewer and extra miscInfo to merge."""

    reviewer = OptionalText(
        "reviewer",
        max_length=MAX_LENGTHS["assigned"],
        metadata=_text_doc(MAX_LENGTHS["assigned"], blank=True),
    )
    misc_info = MiscInfo(data_key="miscInfo", metadata=MISC_INFO_DOC)
    misc_info_alias = _alias("misc_info")


class CompleteSchema(_CamelInput):
    """Optional body of complete: miscInfo to merge (e.g. the storage location)."""

    misc_info = MiscInfo(data_key="miscInfo", metadata=MISC_INFO_DOC)
    misc_info_alias = _alias("misc_info")


class AssignSchema(_CamelInput):
    """Body of assign: who claims the part."""

    assigned = RequiredText(
        "Assigned user",
        max_length=MAX_LENGTHS["assigned"],
        strip=True,
        missing_message="Assigned user required",
        metadata=_text_doc(MAX_LENGTHS["assigned"], blank=False),
    )


class WipeSchema(Schema):
    """Body of wipe: the API key again, as a password."""

    class Meta:
        unknown = EXCLUDE

    # Any JSON value: a wrong type is a wrong password (403), not a malformed request.
    password = fields.Raw(load_default="", allow_none=True, metadata={"description": "The API key"})


SORT_FIELDS = {
    "name": "name",
    "status": "status",
    "assigned": "assigned",
    "created_at": "created_at",
    "createdAt": "created_at",
    "updated_at": "updated_at",
    "updatedAt": "updated_at",
    "part_id": "part_id",
    "partId": "part_id",
    "category": "category",
    "type": "type",
    "subsystem": "subsystem",
    "material": "material",
    "amount": "amount",
    "id": "id",
}


# Larger offsets overflow the databases' integer types; no table gets near this many parts.
MAX_OFFSET = 2**31 - 1


class PartQuerySchema(Schema):
    """Query string of the list endpoints. No parameters returns every part."""

    class Meta:
        unknown = EXCLUDE

    category = fields.String(
        load_default=None,
        validate=[validate.Length(max=20), partial(check_text, "category")],
        metadata={"pattern": _NO_NUL},
    )
    search = fields.String(
        load_default=None,
        validate=[validate.Length(max=200), partial(check_text, "search")],
        metadata={"pattern": _NO_NUL},
    )
    sort_by = fields.String(
        load_default="created_at",
        validate=validate.OneOf(
            list(SORT_FIELDS), error="sort_by must be one of: " + ", ".join(SORT_FIELDS)
        ),
    )
    sort_order = fields.String(
        load_default="desc",
        validate=validate.OneOf(
            ["asc", "desc", "ASC", "DESC"], error="sort_order must be asc or desc"
        ),
    )
    limit = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, error="limit must be 0 or more"),
        error_messages={"invalid": "limit must be a whole number"},
    )
    offset = fields.Integer(
        load_default=0,
        validate=validate.Range(
            min=0, max=MAX_OFFSET, error=f"offset must be between 0 and {MAX_OFFSET}"
        ),
        error_messages={"invalid": "offset must be a whole number"},
    )


def _out(field: type[fields.Field], description: str, **kwargs: Any) -> fields.Field:
    """A response key that is always sent (required); nullable where allow_none."""
    return field(required=True, metadata={"description": description}, **kwargs)


_STAMP = {"format": "date-time"}


class PartSchema(Schema):
    """A part as every part-returning endpoint emits it (Part.to_dict): every key, always."""

    id = _out(fields.Integer, "Primary key")
    uuid = _out(fields.String, "Random UUID, never changes")
    partId = _out(fields.String, "Human part number (first 8 characters of uuid unless renamed)")
    type = _out(fields.String, "cnc, hand or misc", allow_none=True)
    name = _out(fields.String, "Name", allow_none=True)
    material = _out(fields.String, "Material", allow_none=True)
    materialThickness = _out(fields.String, 'Free text, e.g. 1/4"', allow_none=True)
    subsystem = _out(fields.String, "Subsystem", allow_none=True)
    assigned = _out(fields.String, "Who is making it", allow_none=True)
    status = _out(fields.String, "Workflow status")
    category = _out(fields.String, "Workflow tab: review, cnc, hand, misc or completed")
    miscInfo = _out(fields.Dict, "Free-form JSON object", allow_none=True)
    notes = _out(fields.String, "Notes", allow_none=True)
    file = _out(fields.String, "Display name of the uploaded file", allow_none=True)
    onshapeUrl = _out(fields.String, "Onshape link", allow_none=True)
    claimedDate = fields.String(
        required=True, allow_none=True, metadata={**_STAMP, "description": "When claimed (UTC)"}
    )
    createdAt = fields.String(required=True, metadata={**_STAMP, "description": "UTC"})
    updatedAt = fields.String(required=True, metadata={**_STAMP, "description": "UTC"})
    amount = _out(fields.Integer, "How many to make (at least 1)")
    modelStatus = fields.String(
        required=True,
        metadata={"description": "3D model", "enum": ["none", "pending", "ready", "failed"]},
    )
    modelError = _out(fields.String, "Why the conversion failed", allow_none=True)


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
    timestamp = fields.String(required=True, metadata={**_STAMP, "description": "Now (UTC)"})


class ConversionSchema(Schema):
    """A STEP upload's GLB conversion."""

    status = fields.String(required=True, metadata={"enum": ["none", "pending", "ready", "failed"]})
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

    status = fields.String(required=True, metadata={"enum": ["pending"]})
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
        "material_thickness": {**_THICKNESS_DOC, "nullable": True},
        "misc_info": {**MISC_INFO_DOC, "nullable": True},
        "onshape_url": {**_URL_DOC, "nullable": True},
        "claimed_date": {**TIMESTAMP_DOC, "nullable": True},
        "part_id": _PART_ID_DOC,
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
