"""Counts for the stats endpoints and the leaderboard."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.part import CATEGORIES, PART_TYPES, Part
from models.workflow import HAND_WORKERS, LEGACY_HAND_WORKERS

COMPLETION_BUCKETS = (
    ("< 1 hour", 1),
    ("1-4 hours", 4),
    ("4-8 hours", 8),
    ("8-24 hours", 24),
    ("> 24 hours", None),
)


def summary_stats(session: Session) -> dict[str, Any]:
    """Row counts by category, status and assignment (today's /stats shape)."""
    by_category = dict.fromkeys(CATEGORIES, 0)
    for category, count in session.execute(
        select(Part.category, func.count()).group_by(Part.category)
    ):
        if category in by_category:
            by_category[category] = count
    by_status_raw = dict(
        session.execute(select(Part.status, func.count()).group_by(Part.status)).all()
    )
    total = sum(by_category.values())
    assigned = session.execute(
        select(func.count())
        .select_from(Part)
        .where(Part.assigned.is_not(None), Part.category.in_(CATEGORIES))
    ).scalar_one()
    return {
        "by_category": by_category,
        "by_status": {
            "pending": by_status_raw.get("Pending", 0),
            "in_progress": by_status_raw.get("In Progress", 0),
            "completed": by_status_raw.get("Completed", 0),
        },
        "assignment": {"assigned": assigned, "unassigned": total - assigned},
        "total": total,
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
    if part.category != "completed" or part.claimed_date is None:
        return None
    finished = _parse_time((part.misc_info or {}).get("completed_at")) or part.updated_at
    hours = (finished - part.claimed_date).total_seconds() / 3600
    return hours if hours >= 0 else None


def _bucket(hours: float) -> str:
    for label, upper in COMPLETION_BUCKETS:
        if upper is None or hours < upper:
            return label
    return COMPLETION_BUCKETS[-1][0]


def detailed_stats(session: Session) -> dict[str, Any]:
    """Amount-weighted totals, completion times and top contributors (never fails)."""
    parts = list(session.execute(select(Part)).scalars())
    by_type = dict.fromkeys(PART_TYPES, 0)
    by_category = dict.fromkeys(CATEGORIES, 0)
    distribution = dict.fromkeys((label for label, _ in COMPLETION_BUCKETS), 0)
    contributors: Counter[str] = Counter()
    hours_total, hours_count = 0.0, 0
    for part in parts:
        amount = part.amount or 1
        if part.type in by_type:
            by_type[part.type] += amount
        if part.category in by_category:
            by_category[part.category] += amount
        if part.category == "completed" and part.assigned:
            contributors[part.assigned] += amount
        hours = _completion_hours(part)
        if hours is not None:
            distribution[_bucket(hours)] += amount
            hours_total += hours * amount
            hours_count += amount
    return {
        "total_parts": sum(part.amount or 1 for part in parts),
        "completed_parts": by_category["completed"],
        "in_progress_parts": sum(p.amount or 1 for p in parts if p.status == "In Progress"),
        "average_completion_time": round(hours_total / hours_count, 2) if hours_count else None,
        "completion_time_distribution": distribution,
        "by_type": by_type,
        "by_category": by_category,
        "top_contributors": [
            {"name": name, "count": count} for name, count in contributors.most_common(5)
        ],
    }


def leaderboard(session: Session) -> list[dict[str, Any]]:
    """+1 per completed part for its assignee (−1 if flagged incorrect); +0.5 per helper."""
    scores: dict[str, float] = defaultdict(float)
    completed = session.execute(
        select(Part).where(Part.category == "completed").order_by(Part.id)
    ).scalars()
    for part in completed:
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
