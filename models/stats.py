"""Counts for the stats endpoints and the leaderboard.

Two units, named everywhere: a *part* is one record (one row, one card in the app); a *unit*
is one physical piece to make, so a part counts `amount` units. /stats counts parts,
/stats/detailed counts units (its `total_parts`-style names are the old client's). Both cover
the same parts: those in one of the five categories, the only ones the app shows.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, case, func, select, type_coerce
from sqlalchemy.orm import Session

from models.part import COMPLETED_AT, COMPLETED_INCORRECTLY, HAND_WORKERS, LEGACY_HAND_WORKERS, Part
from models.states import CATEGORIES, PART_TYPES, Category, Status

COMPLETION_BUCKETS = (
    ("< 1 hour", 1),
    ("1-4 hours", 4),
    ("4-8 hours", 8),
    ("8-24 hours", 24),
    ("> 24 hours", None),
)
UPPER_BOUNDS = tuple(upper for _, upper in COMPLETION_BUCKETS if upper is not None)
# Wire keys of by_status; anything else (a database carried over from the old backend,
# which validated nothing) lands in OTHER so the breakdown always adds up to its total.
STATUS_KEYS = {
    Status.PENDING: "pending",
    Status.REVIEWED: "reviewed",
    Status.IN_PROGRESS: "in_progress",
    Status.ALREADY_STARTED: "already_started",
    Status.COMPLETED: "completed",
}
OTHER = "other"


@dataclass(frozen=True)
class _Group:
    """Parts sharing category, status, type and whether they are assigned; how many, and
    their units (a missing or zero amount still stands for one piece, as the old backend
    counted)."""

    category: str
    status: str
    type: str | None
    assigned: bool
    parts: int
    units: int


def _units() -> Any:
    return case((func.coalesce(Part.amount, 0) == 0, 1), else_=Part.amount)


def exact(session: Session, column: Any) -> Any:
    """The column compared by its exact bytes for GROUP BY: MariaDB's default collation would
    fold a carried-over "Completed" into "completed" (and pads spaces). Matched in Python."""
    if session.get_bind().dialect.name in ("mysql", "mariadb"):
        return column.collate("utf8mb4_nopad_bin")
    return column


def _groups(session: Session) -> tuple[list[_Group], int]:
    """The counted parts in groups (one SQL aggregate), and how many parts were left out
    for an unknown category."""
    keys = (
        exact(session, Part.category),
        exact(session, Part.status),
        exact(session, Part.type),
        Part.assigned.is_not(None),
    )
    statement = select(*keys, func.count(), func.sum(_units())).group_by(*keys)
    groups, outside = [], 0
    for category, status, part_type, assigned, parts, units in session.execute(statement):
        if category not in CATEGORIES:
            outside += parts
            continue
        groups.append(_Group(category, status, part_type, bool(assigned), parts, int(units)))
    return groups, outside


def _status_key(status: str) -> str:
    return STATUS_KEYS.get(status, OTHER)


def _type_key(part_type: str | None) -> str:
    return part_type if part_type in PART_TYPES else OTHER


def _breakdowns(groups: list[_Group], weigh_units: bool) -> dict[str, dict[str, int]]:
    """by_category, by_status and by_type, each covering every part exactly once."""
    by_category = dict.fromkeys(CATEGORIES, 0)
    by_status = dict.fromkeys((*STATUS_KEYS.values(), OTHER), 0)
    by_type = dict.fromkeys((*PART_TYPES, OTHER), 0)
    for group in groups:
        weight = group.units if weigh_units else group.parts
        by_category[group.category] += weight
        by_status[_status_key(group.status)] += weight
        by_type[_type_key(group.type)] += weight
    return {"by_category": by_category, "by_status": by_status, "by_type": by_type}


def summary_stats(session: Session) -> dict[str, Any]:
    """Parts (records) by category, status and assignment; every breakdown sums to total."""
    groups, outside = _groups(session)
    breakdowns = _breakdowns(groups, weigh_units=False)
    total = sum(group.parts for group in groups)
    # An empty string counts as assigned, as it always has on this endpoint.
    assigned = sum(group.parts for group in groups if group.assigned)
    return {
        "counts": "parts",
        "total": total,
        "total_units": sum(group.units for group in groups),
        "by_category": breakdowns["by_category"],
        "by_status": breakdowns["by_status"],
        "assignment": {"assigned": assigned, "unassigned": total - assigned},
        "outside_categories": outside,
    }


def _parse_time(value: Any) -> datetime | None:
    """miscInfo's completed_at as a time (naive means UTC), or None if it names none."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _completed_rows(session: Session) -> Any:
    """Claimed completed parts as plain tuples in id order (the sum's order, so the average
    is the same to the last digit): the stored naive-UTC times as the driver reads them (no
    per-value type hook), and only miscInfo's completed_at, read by the database. A value
    that is not a string comes back as text no timestamp parses, or as a number."""
    columns = (
        Part.category,
        type_coerce(Part.claimed_date, DateTime()),
        type_coerce(Part.updated_at, DateTime()),
        Part.misc_info[COMPLETED_AT].as_string(),
        Part.amount,
    )
    claimed = (
        select(*columns)
        .where(Part.category == Category.COMPLETED, Part.claimed_date.is_not(None))
        .order_by(Part.id)
    )
    return session.connection().execute(claimed)


def _elapsed(claimed: datetime, updated: datetime, completed_at: Any) -> timedelta:
    """Claim to the current completion (revert clears completed_at, so it is never stale):
    completed_at if it parses, else the last update; the interval aware times would give."""
    finished = _parse_time(completed_at)
    if finished is None:
        return updated - claimed
    offset = finished.utcoffset()
    if offset is None:  # naive means UTC
        return finished - claimed
    return finished.replace(tzinfo=None) - claimed - offset


def _completion_times(session: Session) -> tuple[float | None, dict[str, int]]:
    """Average hours per unit and the units per bucket, over claimed completed parts."""
    counts = [0] * len(COMPLETION_BUCKETS)
    hours_total, units = 0.0, 0
    for category, claimed, updated, completed_at, amount in _completed_rows(session):
        if category != Category.COMPLETED:  # MariaDB's WHERE matched "Completed" too
            continue
        hours = _elapsed(claimed, updated, completed_at).total_seconds() / 3600
        if hours >= 0:
            amount = amount or 1
            counts[bisect_right(UPPER_BOUNDS, hours)] += amount  # buckets are half-open
            hours_total, units = hours_total + hours * amount, units + amount
    labels = (label for label, _ in COMPLETION_BUCKETS)
    distribution = dict(zip(labels, counts, strict=True))
    return (round(hours_total / units, 2) if units else None), distribution


def _top_contributors(session: Session) -> list[dict[str, Any]]:
    """The five assignees with the most completed units; ties go to the earliest part."""
    category, name = exact(session, Part.category), exact(session, Part.assigned)
    statement = (
        select(category, name, func.sum(_units()), func.min(Part.id))
        .where(Part.category == Category.COMPLETED, Part.assigned.is_not(None))
        .group_by(category, name)
    )
    ranked = sorted(
        (-int(units), first, assignee)
        for found, assignee, units, first in session.execute(statement)
        if found == Category.COMPLETED and assignee
    )
    return [{"name": assignee, "count": -units} for units, _, assignee in ranked[:5]]


def detailed_stats(session: Session) -> dict[str, Any]:
    """Units (sums of amount) by category, status and type; completion times; top 5."""
    groups, _ = _groups(session)
    breakdowns = _breakdowns(groups, weigh_units=True)
    total_units = sum(group.units for group in groups)
    average, distribution = _completion_times(session)
    return {
        "counts": "units",
        "total_parts": total_units,
        "total_units": total_units,
        "part_count": sum(group.parts for group in groups),
        "completed_parts": breakdowns["by_category"][Category.COMPLETED],
        "in_progress_parts": breakdowns["by_status"]["in_progress"],
        "average_completion_time": average,
        "average_completion_time_hours": average,
        "completion_time_distribution": distribution,
        **breakdowns,
        "top_contributors": _top_contributors(session),
    }


def leaderboard(session: Session) -> list[dict[str, Any]]:
    """+1 per completed part for its assignee (−1 if flagged incorrect); +0.5 per helper."""
    scores: dict[str, float] = defaultdict(float)
    # Three columns as plain tuples, not whole parts: no ORM object per completed part.
    columns = (Part.category, Part.assigned, Part.misc_info)
    completed = select(*columns).where(Part.category == Category.COMPLETED).order_by(Part.id)
    for category, assigned, misc_info in session.connection().execute(completed):
        if category != Category.COMPLETED:  # MariaDB matched "Completed" too; stats do not.
            continue
        info = misc_info or {}
        if assigned:
            scores[assigned] += -1 if info.get(COMPLETED_INCORRECTLY) else 1
        workers = info.get(HAND_WORKERS) or info.get(LEGACY_HAND_WORKERS) or []
        for worker in workers if isinstance(workers, list) else []:
            name = worker.get("name") if isinstance(worker, dict) else None
            if isinstance(name, str) and name and name != assigned:
                scores[name] += 0.5
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    return [{"name": name, "score": _tidy(score)} for name, score in ranked]


def _tidy(score: float) -> int | float:
    return int(score) if float(score).is_integer() else score
