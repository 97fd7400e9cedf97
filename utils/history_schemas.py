"""The history endpoints: their query string and their response shapes."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields

from utils.schemas import PartQuerySchema


class HistoryQuerySchema(Schema):
    """Paging as on the parts list; `deleted` keeps only parts that no longer exist."""

    class Meta:
        unknown = EXCLUDE

    # The parts list's own paging fields: the same rules and messages.
    limit = PartQuerySchema._declared_fields["limit"]
    offset = PartQuerySchema._declared_fields["offset"]


class AllHistoryQuerySchema(HistoryQuerySchema):
    """The history of every part, or (deleted=true) only of parts that were deleted."""

    deleted = fields.Boolean(
        load_default=False,
        error_messages={"invalid": "deleted must be true or false"},
        metadata={"description": "true: only events of parts that have been deleted"},
    )


class EventPartSchema(Schema):
    """Which part an event belongs to (it may since have been deleted)."""

    id = fields.Integer(required=True, metadata={"description": "The part's id"})
    uuid = fields.String(required=True, metadata={"description": "The part's uuid"})


class EventSchema(Schema):
    """One change to a part."""

    id = fields.Integer(required=True, metadata={"description": "Event id (grows with time)"})
    at = fields.String(required=True, metadata={"format": "date-time", "description": "UTC"})
    actor = fields.String(required=True, metadata={"description": 'X-Actor, else "api"'})
    action = fields.String(
        required=True,
        metadata={
            "description": "create, update, approve, claim, unclaim, complete, revert, delete, "
            "upload, replace, conversion, onshape_export"
        },
    )
    part = fields.Nested(EventPartSchema, required=True)
    details = fields.Dict(
        required=True,
        metadata={
            "description": 'What changed: "changes" maps wire field names to {"from", "to"}; '
            'a deletion keeps the last "fields"; uploads and conversions name their results'
        },
    )


class HistoryPageSchema(Schema):
    """A page of events, newest first."""

    events = fields.List(fields.Nested(EventSchema), required=True)
    total = fields.Integer(required=True, metadata={"description": "Events before paging"})
    limit = fields.Integer(required=True, metadata={"description": "The page size applied"})
    offset = fields.Integer(required=True, metadata={"description": "Events skipped"})
