"""A page past others (offset and limit) finds its ids by the sort's index first and then reads
only those rows (models/queries._rows): every such page is exactly the slice of the whole
ordered list, for every sort, direction, filter and nullable column, on every database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from app.extensions import db
from models.queries import PartQuery, find_parts
from utils.schemas import SORT_FIELDS

LIMIT = 3
FILTERS = [{}, {"search": "a"}, {"category": "review"}]


def _ids(query: PartQuery) -> list[int]:
    return [row.id for row in find_parts(db.session, query)[1]]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort_by", sorted(set(SORT_FIELDS.values())))
def test_every_page_is_a_slice_of_the_whole_order(varied, sort_by, descending):  # noqa: F811
    with varied.app_context():
        for filters in FILTERS:
            whole = _ids(PartQuery(sort_by=sort_by, descending=descending, **filters))
            for offset in range(1, len(whole) + 2):
                query = PartQuery(
                    sort_by=sort_by, descending=descending, limit=LIMIT, offset=offset, **filters
                )
                assert _ids(query) == whole[offset : offset + LIMIT], (filters, offset)


def _statements(app: Any, query: PartQuery) -> list[str]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            find_parts(db.session, query, total=14)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
    return [statement for statement in seen if "FROM parts" in statement]


def test_a_deep_page_finds_its_ids_on_the_index_alone(varied, test_database):  # noqa: F811
    if test_database.name != "sqlite":
        pytest.skip("the plan is read on SQLite; PostgreSQL's depends on its visibility map")
    (statement,) = _statements(varied, PartQuery(limit=LIMIT, offset=10))
    with varied.app_context():
        explain = db.session.connection().exec_driver_sql
        plan = explain("EXPLAIN QUERY PLAN " + statement, (LIMIT, 10)).all()
    details = [str(row[-1]) for row in plan]
    assert any("COVERING INDEX ix_parts_created_at_id" in line for line in details), details


def test_a_first_page_is_one_plain_read(varied):  # noqa: F811
    (statement,) = _statements(varied, PartQuery(limit=LIMIT))
    assert statement.count("SELECT") == 1


def test_a_nullable_sort_seeks_past_its_nulls(varied, test_database):  # noqa: F811
    """Ascending, SQLite's index holds the NULLs first: the valued walk starts after them
    (a range on the index) instead of stepping every unassigned part at 100k."""
    if test_database.name != "sqlite":
        pytest.skip("the plan is read on SQLite")
    query = PartQuery(sort_by="assigned", descending=False, limit=LIMIT)
    valued = _statements(varied, query)[0]
    with varied.app_context():
        parameters = ("", LIMIT, 0)
        plan = db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + valued, parameters)
        details = [str(row[-1]) for row in plan]
    assert any(
        line.startswith("SEARCH parts USING INDEX ix_parts_assigned_lower_id") for line in details
    ), details
