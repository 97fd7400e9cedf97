"""Marshmallow schemas: request validation, the wire shapes and the OpenAPI document."""

from __future__ import annotations

from functools import partial

from marshmallow import EXCLUDE, Schema, fields, validate

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
from utils.schema_base import (
    AMOUNT_DOC,
    MISC_INFO_DOC,
    NO_NUL,
    PART_ID_DOC,
    THICKNESS_DOC,
    TIMESTAMP_DOC,
    URL_DOC,
    CamelInput,
    alias,
    choice,
    enum_doc,
    text_doc,
)


class PartCreateSchema(CamelInput):
    """Body of POST /api/parts/. partId is generated, never taken from the client."""

    require_data = True

    # Declaration order is the order errors are reported in (today's order).
    material = RequiredText(
        "Material",
        max_length=MAX_LENGTHS["material"],
        metadata=text_doc(MAX_LENGTHS["material"], blank=False),
    )
    subsystem = RequiredText(
        "Subsystem",
        max_length=MAX_LENGTHS["subsystem"],
        metadata=text_doc(MAX_LENGTHS["subsystem"], blank=False),
    )
    amount = Amount(metadata=AMOUNT_DOC)
    misc_info = MiscInfo(data_key="miscInfo", metadata=MISC_INFO_DOC)
    type = OptionalText(
        "type",
        max_length=MAX_LENGTHS["type"],
        validate=choice("type", PART_TYPES),
        metadata=enum_doc(PART_TYPES),
    )
    name = OptionalText(
        "name", max_length=MAX_LENGTHS["name"], metadata=text_doc(MAX_LENGTHS["name"], blank=True)
    )
    material_thickness = OptionalText(
        "materialThickness",
        max_length=MAX_LENGTHS["material_thickness"],
        data_key="materialThickness",
        metadata=THICKNESS_DOC,
    )
    assigned = OptionalText(
        "assigned",
        max_length=MAX_LENGTHS["assigned"],
        person=True,
        metadata=text_doc(MAX_LENGTHS["assigned"], blank=True),
    )
    status = OptionalText(
        "status", max_length=50, validate=choice("status", STATUSES), metadata=enum_doc(STATUSES)
    )
    category = OptionalText(
        "category",
        max_length=20,
        validate=choice("category", CATEGORIES),
        metadata=enum_doc(CATEGORIES),
    )
    notes = OptionalText(
        "notes",
        max_length=MAX_LENGTHS["notes"],
        metadata=text_doc(MAX_LENGTHS["notes"], blank=True),
    )
    file = DisplayName(
        max_length=MAX_LENGTHS["file"],
        metadata=text_doc(
            MAX_LENGTHS["file"], blank=True, description="Display name; paths are cut off"
        ),
    )
    onshape_url = OptionalText(
        "onshapeUrl",
        max_length=MAX_LENGTHS["onshape_url"],
        data_key="onshapeUrl",
        metadata=URL_DOC,
    )
    claimed_date = UTCTimestamp("claimedDate", data_key="claimedDate", metadata=TIMESTAMP_DOC)
    # Documentation only: CamelInput renames (or, when both are sent, drops) these keys.
    material_thickness_alias = alias("material_thickness")
    misc_info_alias = alias("misc_info")
    onshape_url_alias = alias("onshape_url")
    claimed_date_alias = alias("claimed_date")


class PartUpdateSchema(PartCreateSchema):
    """Body of PUT /api/parts/<id>: any subset; partId may be renamed, never blanked."""

    part_id = RequiredText(
        "Part ID",
        max_length=MAX_LENGTHS["part_id"],
        data_key="partId",
        strip=True,
        metadata=PART_ID_DOC,
    )
    # Present-but-null would break the workflow, so these may change but never be cleared.
    status = RequiredText(
        "Status",
        max_length=50,
        validate=choice("status", STATUSES),
        metadata=enum_doc(STATUSES, nullable=False),
    )
    category = RequiredText(
        "Category",
        max_length=20,
        validate=choice("category", CATEGORIES),
        metadata=enum_doc(CATEGORIES, nullable=False),
    )
    part_id_alias = alias("part_id")


class ApproveSchema(CamelInput):
    """Optional body of approve: a reviewer and extra miscInfo to merge."""

    reviewer = OptionalText(
        "reviewer",
        max_length=MAX_LENGTHS["assigned"],
        person=True,
        metadata=text_doc(MAX_LENGTHS["assigned"], blank=True),
    )
    misc_info = MiscInfo(data_key="miscInfo", metadata=MISC_INFO_DOC)
    misc_info_alias = alias("misc_info")


class CompleteSchema(CamelInput):
    """Optional body of complete: miscInfo to merge (e.g. the storage location)."""

    misc_info = MiscInfo(data_key="miscInfo", metadata=MISC_INFO_DOC)
    misc_info_alias = alias("misc_info")


class AssignSchema(CamelInput):
    """Body of assign: who claims the part."""

    assigned = RequiredText(
        "Assigned user",
        max_length=MAX_LENGTHS["assigned"],
        person=True,
        strip=True,
        missing_message="Assigned user required",
        metadata=text_doc(MAX_LENGTHS["assigned"], blank=False),
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
        metadata={"pattern": NO_NUL},
    )
    search = fields.String(
        load_default=None,
        validate=[validate.Length(max=200), partial(check_text, "search")],
        metadata={"pattern": NO_NUL},
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
    after = fields.String(
        load_default=None,
        validate=validate.Length(max=1000),
        metadata={
            "description": "Keyset paging: the X-Next-After header of the previous page (same "
            "sort_by and sort_order), opaque URL-safe base64; any other value is a 400 on "
            "field after. A deep page costs what the first does; offset still works",
            "pattern": "^[A-Za-z0-9_-]*$",
        },
    )
    offset = fields.Integer(
        load_default=0,
        validate=validate.Range(
            min=0, max=MAX_OFFSET, error=f"offset must be between 0 and {MAX_OFFSET}"
        ),
        error_messages={"invalid": "offset must be a whole number"},
    )
