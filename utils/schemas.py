"""Marshmallow schemas: request validation, the wire shapes and the OpenAPI document."""

from __future__ import annotations

from functools import partial
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

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
