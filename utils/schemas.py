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


# Stats responses. A *part* is one record (one card in the app); a *unit* is one piece to
# make, so a part stands for `amount` units. Only parts in the five categories are counted.
def _count(description: str, key: str | None = None) -> fields.Integer:
    # A wire key that is no identifier ("< 1 hour") is both the data key and the dict key.
    return fields.Integer(
        required=True, data_key=key, attribute=key, metadata={"description": description}
    )


def _nested(schema: type[Schema], description: str, many: bool = False) -> fields.Field:
    nested = fields.Nested(schema)
    about = {"description": description}
    return fields.List(nested, metadata=about) if many else fields.Nested(schema, metadata=about)


class CategoryCountsSchema(Schema):
    """By category (the app's tabs); the values add up to the total."""

    review = _count("Waiting for review")
    cnc = _count("In the CNC/laser tab")
    hand = _count("In the hand fabrication tab")
    misc = _count("In the misc tab (a misc part marked Completed stays here)")
    completed = _count("In the completed tab")


class StatusCountsSchema(Schema):
    """By status; the values add up to the total."""

    pending = _count('Status "Pending"')
    reviewed = _count('Status "Reviewed"')
    in_progress = _count('Status "In Progress"')
    already_started = _count('Status "Already Started" (given back after work began)')
    completed = _count('Status "Completed", including misc parts, which stay in the misc tab')
    other = _count("Any other status (only in data carried over from the old backend)")


class TypeCountsSchema(Schema):
    """By type; the values add up to the total."""

    cnc = _count("Type cnc")
    hand = _count("Type hand")
    misc = _count("Type misc")
    other = _count("No type, or a type that is none of the three")


class AssignmentCountsSchema(Schema):
    """Claimed or not; the values add up to the total."""

    assigned = _count("Parts with an assignee (an empty name counts as assigned)")
    unassigned = _count("Parts with no assignee")


class CompletionDistributionSchema(Schema):
    """Units of completed, claimed parts per time from claim to completion (half-open)."""

    under_1h = _count("Less than 1 hour", "< 1 hour")
    from_1h = _count("1 hour to less than 4", "1-4 hours")
    from_4h = _count("4 hours to less than 8", "4-8 hours")
    from_8h = _count("8 hours to less than 24", "8-24 hours")
    from_24h = _count("24 hours or more", "> 24 hours")


class ContributorSchema(Schema):
    """One of the top five assignees of completed parts."""

    name = fields.String(metadata={"description": "The assignee"})
    count = _count("Units of completed parts assigned to them")


class StatsSchema(Schema):
    """GET /stats: parts (records), not units; every breakdown adds up to `total`."""

    counts = fields.String(
        metadata={"description": 'What the breakdowns count: always "parts" (records)'}
    )
    total = _count("Parts in the five categories; equals /stats/detailed part_count")
    total_units = _count("Units (sum of amount) of the same parts; equals detailed total_parts")
    by_category = _nested(CategoryCountsSchema, "Parts per category")
    by_status = _nested(StatusCountsSchema, "Parts per status")
    assignment = _nested(AssignmentCountsSchema, "Parts claimed or not")
    outside_categories = _count(
        "Parts left out of every number here because their category is none of the five"
    )


class DetailedStatsSchema(Schema):
    """GET /stats/detailed: units (sums of amount); every breakdown adds up to total_parts."""

    counts = fields.String(
        metadata={"description": 'What the breakdowns count: always "units" (sum of amount)'}
    )
    total_parts = _count("Units (sum of amount) of all counted parts; the web app shows it")
    total_units = _count("The same as total_parts, named by its unit; equals /stats total_units")
    part_count = _count("Parts (records) counted; equals /stats total")
    completed_parts = _count("Units in the completed category (by_category.completed)")
    in_progress_parts = _count('Units with status "In Progress" (by_status.in_progress)')
    average_completion_time = fields.Float(
        allow_none=True,
        metadata={"description": "Hours, as average_completion_time_hours (the web app's key)"},
    )
    average_completion_time_hours = fields.Float(
        allow_none=True,
        metadata={
            "description": "Mean hours from claim to the current completion, per unit of "
            "completed parts that were claimed (CNC and misc parts usually are not); "
            "null when there are none"
        },
    )
    completion_time_distribution = _nested(
        CompletionDistributionSchema,
        "Units per completion time; adds up to the units the average is taken over",
    )
    by_category = _nested(CategoryCountsSchema, "Units per category")
    by_status = _nested(StatusCountsSchema, "Units per status")
    by_type = _nested(TypeCountsSchema, "Units per type")
    top_contributors = _nested(
        ContributorSchema, "The five assignees with the most completed units, most first", many=True
    )


class LeaderboardEntrySchema(Schema):
    """One person's score."""

    name = fields.String(metadata={"description": "A worker"})
    score = fields.Raw(
        metadata={
            "type": "number",
            "description": "+1 per completed part assigned (-1 if flagged completed "
            "incorrectly), +0.5 per completed hand part they helped on; amount is ignored",
        }
    )


class LeaderboardSchema(Schema):
    """GET /leaderboard: scores, highest first."""

    leaderboard = _nested(LeaderboardEntrySchema, "Everyone with a score, highest first", many=True)
