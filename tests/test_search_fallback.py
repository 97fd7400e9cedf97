"""PostgreSQL without pg_trgm: a role that may not create the extension still migrates (0005
skips the trigram indexes) and search answers exactly as the scan does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from flask_migrate import upgrade
from sqlalchemy import inspect, text

from app.extensions import db
from tests.conftest import close_app
from tests.databases import TestDatabase

ROLE = "aerie_no_extensions"
DATABASE = f"aerie_no_ext_{os.getpid()}"


def _admin(url: str) -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(
        sqlalchemy.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )


@pytest.fixture
def unprivileged_url(test_database: TestDatabase) -> Iterator[str]:
    """A fresh database on the server, and a role that may use its schema but create no
    extension (CREATE on the database is what a trusted extension needs)."""
    if test_database.name != "postgresql":
        pytest.skip("pg_trgm is PostgreSQL's")
    assert test_database.url is not None
    admin = _admin(test_database.url)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE}"))
        connection.execute(text(f"DROP ROLE IF EXISTS {ROLE}"))
        connection.execute(text(f"CREATE ROLE {ROLE} LOGIN"))
        connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    target = sqlalchemy.make_url(test_database.url).set(database=DATABASE)
    owner = sqlalchemy.create_engine(target, isolation_level="AUTOCOMMIT")
    with owner.connect() as connection:
        connection.execute(text(f"REVOKE CREATE ON DATABASE {DATABASE} FROM PUBLIC"))
        connection.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {ROLE}"))
    owner.dispose()
    yield target.set(username=ROLE).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(text(f"DROP ROLE IF EXISTS {ROLE}"))
    admin.dispose()


def test_a_role_without_create_extension_migrates_and_searches_by_scan(
    unprivileged_url, tmp_path: Path, caplog
):
    from app import create_app

    application = create_app(
        "testing",
        {
            "DATABASE_URL": unprivileged_url,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "FRONTEND_DIST": str(tmp_path / "dist"),
        },
    )
    try:
        with application.app_context():
            upgrade(directory=application.config["MIGRATIONS_DIR"])
            indexes = {str(index["name"]) for index in inspect(db.engine).get_indexes("parts")}
        assert "ix_parts_created_at_id" in indexes
        assert not {name for name in indexes if name.endswith("_trgm")}
        assert "pg_trgm unavailable" in caplog.text
        client = application.test_client()
        headers = {"X-API-Key": application.config["SECRET_KEY"]}
        for name in ("Drive Gear", "GEARBOX", "Spacer"):
            body = {"name": name, "material": "Al", "subsystem": "Drive"}
            assert client.post("/api/parts/", json=body, headers=headers).status_code == 201
        found = client.get("/api/parts/", query_string={"search": "gEaR"}, headers=headers)
        assert found.status_code == 200
        assert sorted(part["name"] for part in found.get_json()["parts"]) == [
            "Drive Gear",
            "GEARBOX",
        ]
    finally:
        close_app(application)
