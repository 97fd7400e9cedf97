"""Stats that agree: every breakdown adds up to its total, both endpoints count the same parts,
and each number says what it counts (parts = records, units = sums of amount)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from marshmallow import Schema, fields

from app.extensions import db
from models.part import Part
from tests.part_rows import completed_row


@pytest.fixture
def varied_parts(app, make_part, part_in, call) -> None:
    """Twelve counted parts (29 units) in every category and status, plus one the stats skip.

    The last two rows are what a database carried over from the old backend can hold: it
    validated neither status nor type nor category.
    """
    make_part(type="hand", amount=2)  # review, Pending
    make_part(type=None)  # review, Pending, no type
    part_in("cnc", amount=3)  # Reviewed
    started = part_in("cnc", amount=5)
    assert call("PUT", f"/{started['id']}", {"status": "In Progress"})[0] == 200
    claimed = part_in("hand", amount=2)
    assert call("POST", f"/{claimed['id']}/assign", {"assigned": "Alice"})[0] == 200
    released = part_in("hand", amount=4)
    assert call("POST", f"/{released['id']}/assign", {"assigned": "Bob"})[0] == 200
    assert call("POST", f"/{released['id']}/unclaim")[1]["status"] == "Already Started"
    part_in("misc")  # Reviewed
    made = part_in("misc", amount=2)
    assert call("PUT", f"/{made['id']}", {"status": "Completed"})[1]["category"] == "misc"
    part_in("completed", type="cnc", amount=3)
    done = part_in("hand", amount=2)
    assert call("POST", f"/{done['id']}/assign", {"assigned": "Carol"})[0] == 200
    assert call("POST", f"/{done['id']}/complete", {})[0] == 200
    undone = part_in("completed", type="hand")
    assert call("POST", f"/{undone['id']}/revert")[1]["status"] == "In Progress"
    with app.app_context():
        db.session.add(Part(category="hand", status="Approved", type="laser", amount=3))
        db.session.add(Part(category="archived", status="Completed", type="cnc", amount=7))
        db.session.commit()


def _stats(call) -> tuple[dict[str, Any], dict[str, Any]]:
    status, summary = call("GET", "/stats")
    assert status == 200, summary
    status, detailed = call("GET", "/stats/detailed")
    assert status == 200, detailed
    return summary, detailed


def test_stats_breakdowns_each_add_up_to_total(varied_parts, call):
    summary, _ = _stats(call)
    assert summary["total"] == 12
    for breakdown in ("by_category", "by_status", "assignment"):
        assert sum(summary[breakdown].values()) == summary["total"], breakdown


def test_detailed_breakdowns_each_add_up_to_total_parts(varied_parts, call):
    _, detailed = _stats(call)
    assert detailed["total_parts"] == 29
    for breakdown in ("by_category", "by_status", "by_type"):
        assert sum(detailed[breakdown].values()) == detailed["total_parts"], breakdown
    assert detailed["completed_parts"] == detailed["by_category"]["completed"]
    assert detailed["in_progress_parts"] == detailed["by_status"]["in_progress"]


def test_stats_by_status_names_every_status(varied_parts, call):
    summary, _ = _stats(call)
    assert summary["by_status"] == {
        "pending": 2, "reviewed": 2, "in_progress": 3, "already_started": 1,
        "completed": 3, "other": 1,
    }  # fmt: skip
    assert summary["by_category"] == {"review": 2, "cnc": 2, "hand": 4, "misc": 2, "completed": 2}
    assert summary["assignment"] == {"assigned": 2, "unassigned": 10}


def test_detailed_stats_weigh_every_breakdown_by_amount(varied_parts, call):
    _, detailed = _stats(call)
    assert detailed["by_category"] == {"review": 3, "cnc": 8, "hand": 10, "misc": 3, "completed": 5}
    assert detailed["by_status"] == {
        "pending": 3, "reviewed": 4, "in_progress": 8, "already_started": 4,
        "completed": 7, "other": 3,
    }  # fmt: skip
    assert detailed["by_type"] == {"cnc": 11, "hand": 11, "misc": 3, "other": 4}
    assert (detailed["completed_parts"], detailed["in_progress_parts"]) == (5, 8)
    assert detailed["top_contributors"] == [{"name": "Carol", "count": 2}]


def test_stats_and_detailed_agree_on_parts_and_units(varied_parts, call):
    summary, detailed = _stats(call)
    assert detailed["part_count"] == summary["total"] == 12
    assert detailed["total_units"] == detailed["total_parts"] == summary["total_units"] == 29


def test_each_endpoint_says_what_its_numbers_count(call):
    summary, detailed = _stats(call)
    assert (summary["counts"], detailed["counts"]) == ("parts", "units")


def test_parts_outside_the_five_categories_are_counted_apart(varied_parts, call):
    summary, detailed = _stats(call)
    assert summary["outside_categories"] == 1
    assert detailed["part_count"] + summary["outside_categories"] == 13


def test_a_carried_over_capitalised_category_counts_as_completed_nowhere(app, call):
    """MariaDB compares "Completed" = "completed" by default; the stats must not."""
    with app.app_context():
        legacy = Part(category="Completed", status="Completed", assigned="Zed", amount=2)
        legacy.claimed_date = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
        db.session.add(legacy)
        db.session.commit()
    summary, detailed = _stats(call)
    assert (summary["total"], summary["outside_categories"]) == (0, 1)
    assert (detailed["completed_parts"], detailed["top_contributors"]) == (0, [])
    assert detailed["average_completion_time_hours"] is None
    assert call("GET", "/leaderboard") == (200, {"leaderboard": []})


def test_average_completion_time_carries_its_unit_in_its_name(app, make_part, call):
    claimed = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    for hours, amount in ((6, 1), (3, 2)):
        done = (claimed + timedelta(hours=hours)).isoformat()
        part = make_part(type="hand", amount=amount)
        completed_row(app, part["id"], "Eve", claimed, misc_info={"completed_at": done})
    _, detailed = _stats(call)
    assert detailed["average_completion_time_hours"] == pytest.approx(4.0)
    assert detailed["average_completion_time"] == detailed["average_completion_time_hours"]


def test_average_completion_time_hours_is_null_like_the_old_key(part_in, call):
    part_in("completed", type="cnc")
    _, detailed = _stats(call)
    assert detailed["average_completion_time"] is None
    assert detailed["average_completion_time_hours"] is None


def _wire_keys(schema: Schema) -> set[str]:
    return {field.data_key or name for name, field in schema.fields.items()}


@pytest.mark.parametrize(
    ("path", "schema_name"), [("/stats", "StatsSchema"), ("/stats/detailed", "DetailedStatsSchema")]
)
def test_stats_schemas_match_the_wire_shape(varied_parts, call, path, schema_name):
    from utils import stats_schemas

    _, body = call("GET", path)
    schema = getattr(stats_schemas, schema_name)()
    assert set(body) == _wire_keys(schema)
    for name, field in schema.fields.items():
        if isinstance(field, fields.Nested):
            assert set(body[name]) == _wire_keys(field.schema), name


def test_every_stats_key_is_described_in_the_openapi_document(make_app):
    spec = make_app().test_client().get("/api/openapi.json").get_json()
    for path in ("/api/parts/stats", "/api/parts/stats/detailed", "/api/parts/leaderboard"):
        content = spec["paths"][path]["get"]["responses"]["200"]["content"]
        ref = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        properties = spec["components"]["schemas"][ref]["properties"]
        undescribed = [key for key, prop in properties.items() if not prop.get("description")]
        assert not undescribed, (path, undescribed)
