"""Response schemas of the statistics endpoints: every key documented with what it counts."""

from __future__ import annotations

from marshmallow import Schema, fields


# Stats responses. A *part* is one record (one card in the app); a *unit* is one piece to
# make, so a part stands for `amount` units. Only parts in the five categories are counted.
def _count(description: str) -> fields.Integer:
    return fields.Integer(required=True, metadata={"description": description})


def _counts(name: str, descriptions: dict[str, str]) -> type[Schema]:
    """A breakdown: one count per wire key (which need not be an identifier: "< 1 hour")."""
    counts = {key: _count(text) for key, text in descriptions.items()}
    return Schema.from_dict(counts, name=name)


def _nested(schema: type[Schema], description: str, many: bool = False) -> fields.Field:
    nested = fields.Nested(schema)
    about = {"description": description}
    return fields.List(nested, metadata=about) if many else fields.Nested(schema, metadata=about)


# By category (the app's tabs); the values add up to the total.
CategoryCountsSchema = _counts(
    "CategoryCountsSchema",
    {
        "review": "Waiting for review",
        "cnc": "In the CNC/laser tab",
        "hand": "In the hand fabrication tab",
        "misc": "In the misc tab (a misc part marked Completed stays here)",
        "completed": "In the completed tab",
    },
)
# By status; the values add up to the total.
StatusCountsSchema = _counts(
    "StatusCountsSchema",
    {
        "pending": 'Status "Pending"',
        "reviewed": 'Status "Reviewed"',
        "in_progress": 'Status "In Progress"',
        "already_started": 'Status "Already Started" (given back after work began)',
        "completed": 'Status "Completed", including misc parts, which stay in the misc tab',
        "other": "Any other status (only in data carried over from the old backend)",
    },
)
# By type; the values add up to the total.
TypeCountsSchema = _counts(
    "TypeCountsSchema",
    {
        "cnc": "Type cnc",
        "hand": "Type hand",
        "misc": "Type misc",
        "other": "No type, or a type that is none of the three",
    },
)
# Claimed or not; the values add up to the total.
AssignmentCountsSchema = _counts(
    "AssignmentCountsSchema",
    {
        "assigned": "Parts with an assignee (an empty name counts as assigned)",
        "unassigned": "Parts with no assignee",
    },
)
# Units of completed, claimed parts per time from claim to completion (half-open).
CompletionDistributionSchema = _counts(
    "CompletionDistributionSchema",
    {
        "< 1 hour": "Less than 1 hour",
        "1-4 hours": "1 hour to less than 4",
        "4-8 hours": "4 hours to less than 8",
        "8-24 hours": "8 hours to less than 24",
        "> 24 hours": "24 hours or more",
    },
)


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
