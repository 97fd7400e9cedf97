"""Part types, categories, statuses, 3D-model and conversion-job states: the exact wire and
database strings."""

from __future__ import annotations

from enum import StrEnum


class PartType(StrEnum):
    """How a part is made; it picks the fabrication tab an approved part goes to."""

    CNC = "cnc"
    HAND = "hand"
    MISC = "misc"


class Category(StrEnum):
    """The tab a part is listed under."""

    REVIEW = "review"
    CNC = "cnc"
    HAND = "hand"
    MISC = "misc"
    COMPLETED = "completed"


# Where a part already is past review, in the board's words (a message must not say "cnc").
TAB_PLACES = {
    Category.CNC: "approved for CNC",
    Category.HAND: "approved for hand fabrication",
    Category.MISC: "approved as a misc part",
    Category.COMPLETED: "completed",
}


class Status(StrEnum):
    """Where the work on a part stands."""

    PENDING = "Pending"
    REVIEWED = "Reviewed"
    IN_PROGRESS = "In Progress"
    ALREADY_STARTED = "Already Started"
    COMPLETED = "Completed"


class ModelStatus(StrEnum):
    """The state of a part's 3D model (GLB converted from its STEP file)."""

    NONE = "none"
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class JobStatus(StrEnum):
    """The state of a conversion job (a row of `conversion_jobs`)."""

    PENDING = "pending"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"


# Plain strings, in wire order, for validators and the OpenAPI document.
PART_TYPES: tuple[str, ...] = tuple(member.value for member in PartType)
CATEGORIES: tuple[str, ...] = tuple(member.value for member in Category)
STATUSES: tuple[str, ...] = tuple(member.value for member in Status)
MODEL_STATUSES: tuple[str, ...] = tuple(member.value for member in ModelStatus)
