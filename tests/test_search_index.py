"""The search index (models/part_indexes.py) never changes an answer: every term finds exactly
what the plain scan finds, in the same order and pages, on every database; the plans use it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

import models.queries as queries
from app.extensions import db
from models.part import Part
from models.queries import PartQuery, find_parts, scan_condition

TERMS = [
    "a", "A", "ab", "abc", "ABCD", "gear", "Gear", "GEAR", "ear", "gearbox plate", "9999",
    "99990", "999", "2025-drv", "%", "_", "%_", "50%_1/4", "0%_", "/", "\\", "\\s", '"',
    '"hello"', "1/8\"", "-- or", "müller", "MÜLLER", "ü", "ÜLL", "σοφ", "ΣΟΦΙΑ", "οδος",
    "ΟΔΟΣ", "ς", "straße", "STRASSE", "ss", "istanbul", "İST", "i̇st", "kelvin", "\u212aelv",
    "🙂", "🙂🙂", "e 🙂 r", "日本", "日本語の", "ギア", "needle", "x" * 200, "yyyy", "zzz",
    "Drive System", " ", "  ", "t ", "plate",
]  # fmt: skip


def _scan_ids(term: str) -> list[int]:
    statement = select(Part.id).where(scan_condition(term)).order_by(Part.id)
    return list(db.session.execute(statement).scalars())


def _found(query: PartQuery) -> tuple[int, list[int]]:
    total, parts = find_parts(db.session, query)
    return total, [part.id for part in parts]


def test_every_term_finds_exactly_what_the_scan_finds(varied):
    with varied.app_context():
        differing = {
            term: (found, scan)
            for term in TERMS
            if (found := sorted(_found(PartQuery(search=term))[1])) != (scan := _scan_ids(term))
        }
        assert differing == {}
        assert _scan_ids("gear") and _scan_ids("müller") and _scan_ids("🙂🙂")


@pytest.mark.parametrize("sort_by", ["created_at", "amount", "id", "name", "subsystem"])
@pytest.mark.parametrize("walk", [0, 10**9], ids=["walk-index", "fetch-matches"])
def test_pages_and_totals_are_the_same_with_and_without_the_index(
    varied, monkeypatch, sort_by, walk
):
    monkeypatch.setattr(queries, "WALK_INDEX_ABOVE", walk)
    asked = [
        PartQuery(search=term, sort_by=sort_by, descending=descending, limit=limit, offset=offset)
        for term in ("gear", "ar", "99", "9999", "plate", "müller", "a")
        for descending in (True, False)
        for limit, offset in ((None, 0), (2, 0), (2, 1), (3, 2))
    ]
    asked += [PartQuery(search="gear", category="review", sort_by=sort_by, limit=2)]
    with varied.app_context():
        indexed = [_found(query) for query in asked]
        # Every term scans: no trigram is long enough, and SQLite has no search table.
        monkeypatch.setattr(queries, "TRIGRAM", 10**6)
        monkeypatch.setattr(queries, "has_search_table", lambda _connection: False)
        scanned = [_found(query) for query in asked]
    assert indexed == scanned
    assert any(total > 1 for total, _ in indexed)


def test_the_list_endpoint_answers_a_search_as_before(varied, client, auth_headers):
    response = client.get(
        "/api/parts/", query_string={"search": "GEAR", "limit": 2}, headers=auth_headers
    )
    body = response.get_json()
    assert response.status_code == 200
    assert (body["total"], body["limit"], body["offset"]) == (3, 2, 0)
    assert {part["name"] for part in body["parts"]} <= {
        "Drive Gear",
        "GEARBOX Plate",
        "Spur gear 9999",
    }


def _plan(statement: Any) -> str:
    connection = db.session.connection()
    compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
    rows = connection.execute(text(prefix + str(compiled))).all()
    return "\n".join(str(row[-1]) for row in rows)


def test_search_plan_uses_the_search_index(varied, test_database):
    if test_database.name == "mariadb":
        pytest.skip("MariaDB has no substring index: search scans there (README)")
    with varied.app_context():
        if test_database.name == "postgresql":
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
        condition = queries._search(db.session, "gear").condition
        plan = _plan(select(Part.id).where(condition))
    expected = "VIRTUAL TABLE" if test_database.name == "sqlite" else "ix_parts_name_trgm"
    assert expected in plan


def test_default_sort_plan_walks_its_index(varied, test_database):
    if test_database.name == "mariadb":
        pytest.skip("14 rows: MariaDB's planner prefers a filesort; bench/bench_search.py")
    with varied.app_context():
        if test_database.name == "postgresql":  # 14 rows: make a sort cost what 100k would
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
            db.session.execute(text("SET LOCAL enable_sort = off"))
        statement = select(Part.id).order_by(*queries._order(PartQuery())).limit(25)
        assert "ix_parts_created_at_id" in _plan(statement)


@pytest.mark.parametrize("sort_by", ["name", "status"])
def test_text_sort_plan_walks_its_lower_index(varied, test_database, sort_by):
    if test_database.name == "mariadb":
        pytest.skip("MariaDB has no expression indexes: text sorts read the table (README)")
    with varied.app_context():
        if test_database.name == "postgresql":  # 14 rows: make a sort cost what 100k would
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
            db.session.execute(text("SET LOCAL enable_sort = off"))
        column = getattr(Part, sort_by)
        valued = select(Part.id).where(func.lower(column).is_not(None))
        query = PartQuery(sort_by=sort_by, descending=True)
        statement = valued.order_by(*queries._order(query, nulls_last=False)).limit(25)
        assert f"ix_parts_{sort_by}_lower_id" in _plan(statement)
