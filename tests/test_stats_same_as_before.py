"""Detailed stats' completion times and the leaderboard read plain tuples now (issue 13: 100k
parts); on every database they answer exactly what the previous code did, which read ORM
objects and parsed every time as aware UTC. The previous code is kept here as the reference,
and both run on the same varied parts (completed through the API, claimed and reverted, and
rows written directly: every form of completed_at, nulls, odd amounts and categories)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from flask import jsonify
from sqlalchemy import select

from app.extensions import db
from models import stats
from models.part import COMPLETED_AT, HAND_WORKERS, LEGACY_HAND_WORKERS, Part
from models.states import Category

START = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
NAMES = ["Alice", "Bob", "Müller", "", None, "Zoë"]
DURATIONS = [0, 1, 4, 8, 24, 1 - 1e-6, 24 + 1e-6, -2, 0.25, 100]
INDIA = timezone(timedelta(hours=5, minutes=30))
PACIFIC = timezone(timedelta(hours=-8))


# The previous code (models/stats.py before this change), the reference.
def _old_parse_time(value: Any) -> datetime | None:
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


def _old_completion_hours(part: Any) -> float | None:
    if part.category != Category.COMPLETED or part.claimed_date is None:
        return None
    finished = _old_parse_time(part.completed_at) or part.updated_at
    hours = (finished - part.claimed_date).total_seconds() / 3600
    return hours if hours >= 0 else None


def _old_bucket(hours: float) -> str:
    for label, upper in stats.COMPLETION_BUCKETS:
        if upper is None or hours < upper:
            return label
    return stats.COMPLETION_BUCKETS[-1][0]


def _old_completion_times(session: Any) -> tuple[float | None, dict[str, int]]:
    distribution = dict.fromkeys((label for label, _ in stats.COMPLETION_BUCKETS), 0)
    hours_total, units = 0.0, 0
    completed_at = Part.misc_info[COMPLETED_AT].as_string().label("completed_at")
    columns = (Part.category, Part.claimed_date, Part.updated_at, completed_at, Part.amount)
    claimed = (
        select(*columns)
        .where(Part.category == Category.COMPLETED, Part.claimed_date.is_not(None))
        .order_by(Part.id)
    )
    for part in session.execute(claimed):
        hours = _old_completion_hours(part)
        if hours is not None:
            amount = part.amount or 1
            distribution[_old_bucket(hours)] += amount
            hours_total, units = hours_total + hours * amount, units + amount
    return (round(hours_total / units, 2) if units else None), distribution


def _old_leaderboard(session: Any) -> list[dict[str, Any]]:
    scores: dict[str, float] = defaultdict(float)
    completed = session.execute(
        select(Part).where(Part.category == Category.COMPLETED).order_by(Part.id)
    ).scalars()
    for part in completed:
        if part.category != Category.COMPLETED:
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
    return [{"name": name, "score": stats._tidy(score)} for name, score in ranked]


# The varied parts.
def _completed_at(rng: random.Random, finished: datetime) -> Any:
    """completed_at in every form a database can hold: the app's own, other offsets, naive,
    "Z", a date alone, text no timestamp parses, a number, a list, JSON null."""
    forms = [
        finished.isoformat(),
        finished.astimezone(INDIA).isoformat(),
        finished.astimezone(PACIFIC).isoformat(timespec="seconds"),
        finished.replace(tzinfo=None).isoformat(),
        finished.replace(tzinfo=None).isoformat() + "Z",
        finished.date().isoformat(),
        "yesterday",
        12345,
        [finished.isoformat()],
        None,
    ]
    return rng.choice(forms)


def _misc_info(rng: random.Random, finished: datetime) -> dict[str, Any] | None:
    if rng.random() < 0.1:
        return None
    info: dict[str, Any] = {}
    if rng.random() < 0.85:
        info[COMPLETED_AT] = _completed_at(rng, finished)
    if rng.random() < 0.3:
        info["completedIncorrectly"] = rng.choice([True, False, "yes", 0])
    if rng.random() < 0.4:
        key = rng.choice([HAND_WORKERS, LEGACY_HAND_WORKERS])
        helpers = [{"name": rng.choice(NAMES)} for _ in range(rng.randrange(3))]
        info[key] = [*helpers, "Carol", {"name": 7}, None]
    return info


def _row(rng: random.Random, number: int) -> Part:
    claimed = START + timedelta(hours=number * 7.3, microseconds=rng.randrange(10**6))
    hours = rng.choice(DURATIONS) if rng.random() < 0.4 else rng.uniform(-1, 60)
    finished = claimed + timedelta(hours=hours)
    category = rng.choice(["completed"] * 8 + ["Completed", "hand"])
    return Part(
        category=category,
        status="Completed",
        type=rng.choice(["hand", "cnc", None]),
        amount=rng.choice([1, 1, 1, 2, 3, 0, 12, -1]),
        assigned=rng.choice(NAMES),
        claimed_date=None if rng.random() < 0.1 else claimed,
        updated_at=claimed + timedelta(hours=rng.uniform(-1, 50)),
        misc_info=_misc_info(rng, finished),
    )


@pytest.fixture
def varied(app, part_in, call) -> Any:
    """Parts claimed, completed and reverted through the API, then 161 rows written directly."""
    for name in ("Alice", "Bob", "Alice"):
        part = part_in("hand")
        assert call("POST", f"/{part['id']}/assign", {"assigned": name})[0] == 200
        assert call("POST", f"/{part['id']}/complete", {})[0] == 200
    reverted = part_in("hand", amount=4)
    assert call("POST", f"/{reverted['id']}/assign", {"assigned": "Carol"})[0] == 200
    assert call("POST", f"/{reverted['id']}/complete", {})[0] == 200
    assert call("POST", f"/{reverted['id']}/revert")[0] == 200
    part_in("completed", amount=2)  # completed, never claimed
    rng = random.Random(13)
    with app.app_context():
        db.session.add_all(_row(rng, number) for number in range(160))
        flagged = {"completedIncorrectly": True, HAND_WORKERS: [{"name": "Eve"}]}
        db.session.add(Part(category="completed", assigned="Dana", misc_info=flagged))
        db.session.commit()
        db.session.remove()
    return app


def test_completion_times_are_the_previous_codes_to_the_last_digit(varied, call):
    with varied.app_context():
        before = _old_completion_times(db.session)
        now = stats._completion_times(db.session)
    average, distribution = before
    # The data reaches every bucket and an average with many digits before rounding.
    assert average is not None and all(distribution.values()), before
    assert (repr(now[0]), now[1]) == (repr(average), distribution)
    status, body = call("GET", "/stats/detailed")
    assert status == 200
    assert body["average_completion_time"] == average
    assert body["completion_time_distribution"] == distribution


def test_the_leaderboard_is_the_previous_codes_byte_for_byte(varied, client, auth_headers):
    with varied.app_context():
        before = _old_leaderboard(db.session)
        assert stats.leaderboard(db.session) == before
    with varied.test_request_context():
        expected = jsonify({"leaderboard": before}).get_data()
    assert any(isinstance(entry["score"], float) for entry in before), before
    assert any(entry["score"] < 0 for entry in before), before
    response = client.get("/api/parts/leaderboard", headers=auth_headers)
    assert (response.status_code, response.data) == (200, expected)


def test_an_offset_completion_counts_the_interval_between_the_instants(app, part_in):
    """12:00 claimed, 17:30+05:30 completed (12:00 UTC): zero hours, not 5.5."""
    part = part_in("hand")
    with app.app_context():
        row = db.session.get(Part, part["id"])
        row.category, row.claimed_date = "completed", START
        row.misc_info = {COMPLETED_AT: START.astimezone(INDIA).isoformat()}
        db.session.commit()
        average, distribution = stats._completion_times(db.session)
    assert (average, distribution["< 1 hour"]) == (0.0, 1)
