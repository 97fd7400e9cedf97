"""`flask files` and `flask backup` on a database no server prepared: one line naming
DATABASE_URL, exit 1, and no empty SQLite file left where a mistyped path pointed."""

from __future__ import annotations

import sqlite3

import pytest

from app import create_app
from app.startup import prepare
from tests.conftest import close_app


def _app(tmp_path, database: str):
    return create_app(
        "testing",
        {
            "DATABASE_URL": database,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "FRONTEND_DIST": str(tmp_path / "dist"),
        },
    )


def _invoke(tmp_path, database: str, command: list[str]):
    app = _app(tmp_path, database)
    try:
        return app.test_cli_runner().invoke(args=command)
    finally:
        close_app(app)


@pytest.mark.parametrize("command", [["files"], ["backup", "--keep-days", "0"]])
def test_a_missing_sqlite_file_is_one_line_and_not_created(tmp_path, command):
    missing = tmp_path / "typo" / "prats.db"
    (tmp_path / "typo").mkdir()
    result = _invoke(tmp_path, f"sqlite:///{missing}", command)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: DATABASE_URL: no database at {missing}"
    assert not missing.exists()


@pytest.mark.parametrize("command", [["files"], ["backup", "--keep-days", "0"]])
def test_a_database_without_the_schema_is_one_line(tmp_path, command):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    result = _invoke(tmp_path, f"sqlite:///{empty}", command)
    assert result.exit_code == 1
    assert "has no parts table: start the server once" in result.output
    assert "Traceback" not in result.output


def test_a_prepared_database_still_gets_its_report(tmp_path):
    app = _app(tmp_path, f"sqlite:///{tmp_path / 'parts.db'}")
    try:
        prepare(app)
        result = app.test_cli_runner().invoke(args=["files"])
    finally:
        close_app(app)
    assert (result.exit_code, result.output.strip()) == (0, "files and parts agree")
