"""SQLite's search table follows every kind of write (its triggers), and migration 0005 builds
and removes the search and sort indexes on every database without changing an answer."""

from __future__ import annotations

from typing import Any

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app.extensions import db
from app.sample_data import load_sample_parts
from models.part_indexes import SEARCH_COLUMNS, SEARCH_TABLE
from tests.test_migrations import _insert_part

LISTED = ", ".join(SEARCH_COLUMNS)


@pytest.fixture
def sqlite_only(test_database) -> None:
    if test_database.name != "sqlite":
        pytest.skip("the FTS5 search table is SQLite's (PostgreSQL's GIN indexes need no sync)")


def _search_rows(app: Any) -> dict[int, tuple[Any, ...]]:
    with app.app_context():
        rows = db.session.execute(text(f"SELECT rowid, {LISTED} FROM {SEARCH_TABLE}")).all()  # noqa: S608 - constant names
        db.session.remove()
    return {row[0]: tuple(row[1:]) for row in rows}


def _expected_rows(app: Any) -> dict[int, tuple[Any, ...]]:
    """What the table must hold: each part's searched columns, lowered by Python."""
    with app.app_context():
        rows = db.session.execute(text(f"SELECT id, {LISTED} FROM parts")).all()  # noqa: S608 - constant names
        db.session.remove()
    return {row[0]: tuple(v.lower() if isinstance(v, str) else v for v in row[1:]) for row in rows}


def _assert_in_step(app: Any, parts: int) -> None:
    expected = _expected_rows(app)
    assert len(expected) == parts
    assert _search_rows(app) == expected


def test_search_table_follows_each_kind_of_write(sqlite_only, app, make_part, call, api_key):
    first = make_part(name="Ünïcode GEAR", notes="Notes", assigned="Zoë")
    second = make_part(name="Second", subsystem="Intake")
    _assert_in_step(app, 2)
    assert call("PUT", f"/{first['id']}", {"name": "RENAMED Ü", "notes": None})[0] == 200
    _assert_in_step(app, 2)
    assert call("POST", f"/{second['id']}/approve", {})[0] == 200
    assert call("POST", f"/{second['id']}/assign", {"assigned": "ALEX Kim"})[0] == 200
    _assert_in_step(app, 2)
    assert call("POST", f"/{second['id']}/unclaim", {})[0] == 200
    _assert_in_step(app, 2)
    assert call("DELETE", f"/{first['id']}")[0] == 200
    _assert_in_step(app, 1)
    assert call("POST", "/wipe", {"password": api_key})[0] == 200
    _assert_in_step(app, 0)
    with app.app_context():
        added = load_sample_parts(db.session)
        db.session.commit()
    _assert_in_step(app, added)
    status, body = call("GET", "/?search=" + "drive gear")
    assert status == 200 and body["total"] >= 1


def _indexes() -> set[str]:
    return {str(index["name"]) for index in inspect(db.engine).get_indexes("parts")}


def _searched(app: Any, term: str) -> list[str]:
    client = app.test_client()
    response = client.get(
        "/api/parts/",
        query_string={"search": term, "sort_by": "id", "sort_order": "asc"},
        headers={"X-API-Key": app.config["SECRET_KEY"]},
    )
    assert response.status_code == 200
    return [part["partId"] for part in response.get_json()["parts"]]


def test_migration_0005_builds_and_removes_the_indexes_keeping_answers(empty_app):
    # Each search spells the term differently: the list cache must not answer for the index.
    directory = empty_app.config["MIGRATIONS_DIR"]
    with empty_app.app_context():
        dialect = db.engine.dialect.name
        upgrade(directory=directory, revision="0004")
        for n in (1, 12, 123):
            _insert_part(n)
        db.session.commit()
        upgrade(directory=directory, revision="0005")
        assert "ix_parts_created_at_id" in _indexes()
        assert ("ix_parts_name_trgm" in _indexes()) == (dialect == "postgresql")
        tables = set(inspect(db.engine).get_table_names())
        assert (SEARCH_TABLE in tables) == (dialect == "sqlite")
        db.engine.dispose()
    assert _searched(empty_app, "ART 12") == ["p12", "p123"]
    with empty_app.app_context():
        downgrade(directory=directory, revision="0004")
        assert not {"ix_parts_created_at_id", "ix_parts_name_trgm"} & _indexes()
        assert SEARCH_TABLE not in set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert _searched(empty_app, "Art 12") == ["p12", "p123"]
    with empty_app.app_context():
        upgrade(directory=directory)
        db.engine.dispose()
    assert _searched(empty_app, "art 12") == ["p12", "p123"]
