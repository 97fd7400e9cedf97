"""Marshmallow schemas: request validation, the wire shapes and the OpenAPI document."""

from __future__ import annotations

from functools import partial
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from models.part import CATEGORIES, MAX_LENGTHS, PART_TYPES, STATUSES
from utils.fields import (
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
            if snake in normalised and camel not in normalised:
                normalised[camel] = normalised.pop(snake)
        return normalised


def _choice(name: str, choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error=f"{name} must be one of: {', '.join(choices)}")


class PartCreateSchema(_CamelInput):
    """Body of POST /api/parts/. partId is generated, never taken from the client."""

    require_data = True

    # Declaration order is the order errors are reported in (today's order).
    material = RequiredText("Material", max_length=MAX_LENGTHS["material"])
    subsystem = RequiredText("Subsystem", max_length=MAX_LENGTHS["subsystem"])
    amount = Amount()
    misc_info = MiscInfo(data_key="miscInfo")
    type = OptionalText(
        "type", max_length=MAX_LENGTHS["type"], validate=_choice("type", PART_TYPES)
    )
    name = OptionalText("name", max_length=MAX_LENGTHS["name"])
    material_thickness = OptionalText(
        "materialThickness",
        max_length=MAX_LENGTHS["material_thickness"],
        data_key="materialThickness",
    )
    assigned = OptionalText("assigned", max_length=MAX_LENGTHS["assigned"])
    status = OptionalText("status", max_length=50, validate=_choice("status", STATUSES))
    category = OptionalText("category", max_length=20, validate=_choice("category", CATEGORIES))
    notes = OptionalText("notes", max_length=MAX_LENGTHS["notes"])
    file = DisplayName(max_length=MAX_LENGTHS["file"])
    onshape_url = OptionalText(
        "onshapeUrl", max_length=MAX_LENGTHS["onshape_url"], data_key="onshapeUrl"
    )
    claimed_date = UTCTimestamp("claimedDate", data_key="claimedDate")


class PartUpdateSchema(PartCreateSchema):
    """Body of PUT /api/parts/<id>: any subset; partId may be renamed, never blanked."""

    part_id = RequiredText(
        "Part ID", max_length=MAX_LENGTHS["part_id"], data_key="partId", strip=True
    )
    # Present-but-null would break the workflow, so these may change but never be cleared.
    status = RequiredText("Status", max_length=50, validate=_choice("status", STATUSES))
    category = RequiredText("Category", max_length=20, validate=_choice("category", CATEGORIES))


class ApproveSchema(_CamelInput):
    """Optional body of approve: a reviewer and extra miscInfo to merge."""

    reviewer = OptionalText("reviewer", max_length=MAX_LENGTHS["assigned"])
    misc_info = MiscInfo(data_key="miscInfo")


class CompleteSchema(_CamelInput):
    """Optional body of complete: miscInfo to merge (e.g. the storage location)."""

    misc_info = MiscInfo(data_key="miscInfo")


class AssignSchema(_CamelInput):
    """Body of assign: who claims the part."""

    assigned = RequiredText(
        "Assigned user",
        max_length=MAX_LENGTHS["assigned"],
        strip=True,
        missing_message="Assigned user required",
    )


class WipeSchema(Schema):
    """Body of wipe: the API key again, as a password."""

    class Meta:
        unknown = EXCLUDE

    # Any JSON value: a wrong type is a wrong password (403), not a malformed request.
    password = fields.Raw(load_default="", allow_none=True)


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
        load_default=None, validate=[validate.Length(max=20), partial(check_text, "category")]
    )
    search = fields.String(
        load_default=None, validate=[validate.Length(max=200), partial(check_text, "search")]
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


class PartSchema(Schema):
    """A part as every part-returning endpoint emits it (Part.to_dict)."""

    id = fields.Integer()
    uuid = fields.String()
    partId = fields.String()
    type = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    material = fields.String(allow_none=True)
    materialThickness = fields.String(allow_none=True)
    subsystem = fields.String(allow_none=True)
    assigned = fields.String(allow_none=True)
    status = fields.String()
    category = fields.String()
    miscInfo = fields.Dict(allow_none=True)
    notes = fields.String(allow_none=True)
    file = fields.String(allow_none=True)
    onshapeUrl = fields.String(allow_none=True)
    claimedDate = fields.String(allow_none=True, metadata={"format": "date-time"})
    createdAt = fields.String(metadata={"format": "date-time"})
    updatedAt = fields.String(metadata={"format": "date-time"})
    amount = fields.Integer()
    modelStatus = fields.String(
        metadata={"description": "3D model: none, pending, ready or failed"}
    )
    modelError = fields.String(allow_none=True, metadata={"description": "Why it failed"})


class PartListSchema(Schema):
    """The list envelope."""

    parts = fields.List(fields.Nested(PartSchema))
    total = fields.Integer()
    limit = fields.Integer(allow_none=True)
    offset = fields.Integer()


class MessageSchema(Schema):
    """A plain confirmation."""

    message = fields.String()
    count = fields.Integer()


class ErrorSchema(Schema):
    """The one error body: `error` is what clients show."""

    error = fields.String(required=True)
    code = fields.String()
    details = fields.Raw()
    field = fields.String()
    retry_after = fields.Float()
