"""Counts for the stats endpoints and the leaderboard.

Two units, named everywhere: a *part* is one record (one row, one card in the app); a *unit*
is one physical piece to make, so a part counts `amount` units. /stats counts parts,
/stats/detailed counts units (its `total_parts`-style names are the old client's). Both cover
the same parts: those in one of the five categories, the only ones the app shows.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.part import COMPLETED_AT, HAND_WORKERS, LEGACY_HAND_WORKERS, Part
from models.states import CATEGORIES, PART_TYPES, Category, Status

COMPLETION_BUCKETS = (
    ("< 1 hour", 1),
    ("1-4 hours", 4),
    ("4-8 hours", 8),
    ("8-24 hours", 24),
    ("> 24 hours", None),
)
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


# Statuses and categories are matched in Python, not SQL: MariaDB's default collation
# would count a carried-over "Completed" category as "completed".
@dataclass(frozen=True)
class _Row:
    """The columns the counts need."""

    category: str
    status: str
    type: str | None
    assigned: str | None
    units: int


def _rows(session: Session) -> tuple[list[_Row], int]:
    """The counted parts, and how many parts were left out for an unknown category."""
    columns = (Part.category, Part.status, Part.type, Part.assigned, Part.amount)
    statement = select(*columns).order_by(Part.id)
    rows, outside = [], 0
    for category, status, part_type, assigned, amount in session.execute(statement):
        if category not in CATEGORIES:
            outside += 1
            continue
        # A missing or zero amount still stands for one piece (as the old backend counted).
        rows.append(_Row(category, status, part_type, assigned, amount or 1))
    return rows, outside


def _status_key(status: str) -> str:
    return STATUS_KEYS.get(status, OTHER)


def _type_key(part_type: str | None) -> str:
    return part_type if part_type in PART_TYPES else OTHER


def _breakdowns(rows: list[_Row], weigh_units: bool) -> dict[str, dict[str, int]]:
    """by_category, by_status and by_type, each covering every row exactly once."""
    by_category = dict.fromkeys(CATEGORIES, 0)
    by_status = dict.fromkeys((*STATUS_KEYS.values(), OTHER), 0)
    by_type = dict.fromkeys((*PART_TYPES, OTHER), 0)
    for row in rows:
        weight = row.units if weigh_units else 1
        by_category[row.category] += weight
        by_status[_status_key(row.status)] += weight
        by_type[_type_key(row.type)] += weight
    return {"by_category": by_category, "by_status": by_status, "by_type": by_type}


def summary_stats(session: Session) -> dict[str, Any]:
    """Parts (records) by category, status and assignment; every breakdown sums to total."""
    rows, outside = _rows(session)
    breakdowns = _breakdowns(rows, weigh_units=False)
    # An empty string counts as assigned, as it always has on this endpoint.
    assigned = sum(1 for row in rows if row.assigned is not None)
    return {
        "counts": "parts",
        "total": len(rows),
        "total_units": sum(row.units for row in rows),
        "by_category": breakdowns["by_category"],
        "by_status": breakdowns["by_status"],
        "assignment": {"assigned": assigned, "unassigned": len(rows) - assigned},
        "outside_categories": outside,
    }


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _completion_hours(part: Part) -> float | None:
    """Claim to the current completion; revert clears completed_at, so it is never stale."""
    if part.category != Category.COMPLETED or part.claimed_date is None:
        return None
    finished = _parse_time((part.misc_info or {}).get(COMPLETED_AT)) or part.updated_at
    hours = (finished - part.claimed_date).total_seconds() / 3600
    return hours if hours >= 0 else None


def _bucket(hours: float) -> str:
    for label, upper in COMPLETION_BUCKETS:
        if upper is None or hours < upper:
            return label
    return COMPLETION_BUCKETS[-1][0]


def _completion_times(session: Session) -> tuple[float | None, dict[str, int]]:
    """Average hours per unit and the units per bucket, over claimed completed parts."""
    distribution = dict.fromkeys((label for label, _ in COMPLETION_BUCKETS), 0)
    hours_total, units = 0.0, 0
    claimed = (
        select(Part)
        .where(Part.category == Category.COMPLETED, Part.claimed_date.is_not(None))
        .order_by(Part.id)
    )
    for part in session.execute(claimed).scalars():
        hours = _completion_hours(part)
        if hours is not None:
            amount = part.amount or 1
            distribution[_bucket(hours)] += amount
            hours_total, units = hours_total + hours * amount, units + amount
    return (round(hours_total / units, 2) if units else None), distribution


def _top_contributors(rows: list[_Row]) -> list[dict[str, Any]]:
    contributors: Counter[str] = Counter()
    for row in rows:
        if row.category == Category.COMPLETED and row.assigned:
            contributors[row.assigned] += row.units
    return [{"name": name, "count": units} for name, units in contributors.most_common(5)]


def detailed_stats(session: Session) -> dict[str, Any]:
    """Units (sums of amount) by category, status and type; completion times; top 5."""
    rows, _ = _rows(session)
    breakdowns = _breakdowns(rows, weigh_units=True)
    total_units = sum(row.units for row in rows)
    average, distribution = _completion_times(session)
    return {
        "counts": "units",
        "total_parts": total_units,
        "total_units": total_units,
        "part_count": len(rows),
        "completed_parts": breakdowns["by_category"][Category.COMPLETED],
        "in_progress_parts": breakdowns["by_status"]["in_progress"],
        "average_completion_time": average,
        "average_completion_time_hours": average,
        "completion_time_distribution": distribution,
        **breakdowns,
        "top_contributors": _top_contributors(rows),
    }


def leaderboard(session: Session) -> list[dict[str, Any]]:
    """+1 per completed part for its assignee (−1 if flagged incorrect); +0.5 per helper."""
    scores: dict[str, float] = defaultdict(float)
    completed = session.execute(
        select(Part).where(Part.category == Category.COMPLETED).order_by(Part.id)
    ).scalars()
    for part in completed:
        if part.category != Category.COMPLETED:  # MariaDB matched "Completed" too; stats do not.
            continue
        info = part.misc_info or {}
        if part.assigned:
            scores[part.assigned] += -1 if info.get("completedIncorrectly") else 1
        workers = info.get(HAND_WORKERS) or info.get(LEGACY_HAND_WORKERS) or []
        for worker in workers if isinstance(workers, list) else []:
            name = worker.get("name") if isinstance(worker, dict) else None
            if isinstance(name, str) and name and name != part.assigned:
                scores[name] += 0.5
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    return [{"name": name, "score": _tidy(score)} for name, score in ranked]


def _tidy(score: float) -> int | float:
    return int(score) if float(score).is_integer() else score
