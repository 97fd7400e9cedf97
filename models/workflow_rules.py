"""Which workflow actions and statuses a part's current category allows."""

from __future__ import annotations

from typing import Any

from models.states import Category, Status
from utils.errors import ConflictError

_WORKING = (Status.REVIEWED, Status.IN_PROGRESS, Status.ALREADY_STARTED, Status.PENDING)
# The statuses PUT may set in each category. Moving between categories is the actions' job
# (approve, complete, revert); the web app's CNC "start" (In Progress) and misc "done"
# (Completed, the part stays in misc) are PUTs of a status valid where the part is.
STATUSES_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    Category.REVIEW: (Status.PENDING,),
    Category.CNC: _WORKING,
    Category.HAND: _WORKING,
    Category.MISC: (*_WORKING, Status.COMPLETED),
    Category.COMPLETED: (Status.COMPLETED,),
}
# miscInfo keys only the server writes: who worked on a hand part (the leaderboard's helpers),
# when it was completed (the statistics) and the preview views' manifest (POST …/views). The
# web apps send the whole miscInfo back; create, PUT, approve and complete keep the stored
# values of these whatever a client sends.
SERVER_OWNED_MISC_KEYS = ("handWorkers", "hand_workers", "completed_at", "views")
# Fields only the workflow actions set: PUT may send them unchanged, never changed.
ACTION_ONLY_FIELDS = {"category": "category", "claimed_date": "claimedDate"}
FABRICATION_TABS = (Category.CNC, Category.HAND, Category.MISC)


def allowed_statuses(category: str) -> list[str]:
    """The statuses PUT may set for a part in `category` (none for an unknown category)."""
    return [str(status) for status in STATUSES_BY_CATEGORY.get(category, ())]


def allowed_actions(category: str, assigned: str | None) -> list[str]:
    """The workflow actions that make sense for a part in `category` right now."""
    actions = ["update"]
    if category == Category.REVIEW:
        actions.append("approve")
    if category != Category.COMPLETED:
        actions.append("assign")
    if assigned and category != Category.COMPLETED:
        actions.append("unclaim")
    if category not in (Category.REVIEW, Category.COMPLETED):
        actions.append("complete")
    if category == Category.COMPLETED:
        actions.append("revert")
    return actions


def refused(message: str, part: Any) -> ConflictError:
    """A 409 that tells the client what it may do instead."""
    return ConflictError(
        message,
        allowed_actions=allowed_actions(part.category, part.assigned),
        allowed_statuses=allowed_statuses(part.category),
    )


def check_update(part: Any, changes: dict[str, Any]) -> dict[str, Any]:
    """Refuse a PUT that would move the part through the workflow by the back door; the
    changes to make, with the tab of a new type for an approved part nobody started."""
    for field, wire in ACTION_ONLY_FIELDS.items():
        if field in changes and changes[field] != getattr(part, field):
            raise refused(f"{wire} is changed only by the workflow actions", part)
    status = changes.get("status")
    if status is not None and status != part.status:
        if status not in STATUSES_BY_CATEGORY.get(part.category, ()):
            raise refused(f"A part in {part.category} cannot be set to {status}", part)
    if "type" in changes and changes["type"] != part.type:
        check_type_change(part)
        if part.category in FABRICATION_TABS:
            changes = {**changes, "category": tab_for_type(changes["type"])}
    if "assigned" in changes and changes["assigned"] != part.assigned:
        if part.category == Category.COMPLETED:
            raise refused("The assignee of a completed part cannot change", part)
        # The edit form's assignee (issue 12: recorded like a claim, or an unclaim): taken
        # back by nobody, a part being made is Already Started, as unclaim leaves it; never
        # In Progress with no one on it.
        if not changes["assigned"] and part.status == Status.IN_PROGRESS:
            if changes.get("status", part.status) == Status.IN_PROGRESS:
                changes = {**changes, "status": Status.ALREADY_STARTED}
    return changes


def check_type_change(part: Any) -> None:
    """A part's type picks its fabrication tab. It changes in review, or after approval while
    nobody has started the part (which then moves to the new type's tab: Part.update); a part
    being made, or made, keeps it (PUT left a misc part in the CNC tab, and a completed
    one reverted to a tab it was never made in)."""
    if part.category == Category.COMPLETED:
        raise refused("A completed part keeps its type; revert it first", part)
    if part.category != Category.REVIEW and (part.assigned or part.status != Status.REVIEWED):
        raise refused("A part already started keeps its type", part)


def tab_for_type(part_type: str | None) -> Category:
    """The fabrication tab of a type, as approve picks it (no or unknown type: hand)."""
    return Category(part_type) if part_type in FABRICATION_TABS else Category.HAND


def client_keys(misc_info: dict[str, Any] | None) -> dict[str, Any]:
    """A client's miscInfo without the keys only the server writes."""
    return {k: v for k, v in (misc_info or {}).items() if k not in SERVER_OWNED_MISC_KEYS}


def keep_server_owned(stored: dict[str, Any] | None, incoming: dict[str, Any] | None) -> Any:
    """PUT's miscInfo replaces the client's keys; the server-owned ones stay as stored."""
    kept = {k: v for k, v in (stored or {}).items() if k in SERVER_OWNED_MISC_KEYS}
    return {**client_keys(incoming), **kept} or None
