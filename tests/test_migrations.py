"""Alembic migrations: a populated database upgrades from the first revision without losing
rows, and the migrated schema is exactly what the models declare."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import text

from app.extensions import db
from models.part_indexes import compared_on

FIRST_REVISION = "0001"


def _insert_part(n: int) -> None:
    db.session.execute(
        text(
            "INSERT INTO parts (uuid, part_id, name, material, subsystem, status, category,"
            " amount, created_at, updated_at, misc_info)"
            " VALUES (:uuid, :pid, :name, 'Al', 'Drive', 'Pending', 'review', 1,"
            " :now, :now, :info)"
        ),
        {
            "uuid": f"00000000-0000-0000-0000-{n:012d}",
            "pid": f"p{n}",
            "name": f"Part {n}",
            "now": "2026-01-01 10:00:00",
            "info": '{"storage": "Shelf A"}',
        },
    )


def test_populated_database_upgrades_from_first_revision_without_losing_rows(empty_app):
    directory = empty_app.config["MIGRATIONS_DIR"]
    with empty_app.app_context():
        upgrade(directory=directory, revision=FIRST_REVISION)
        for n in range(25):
            _insert_part(n)
        db.session.commit()
        upgrade(directory=directory)
        rows = db.session.execute(text("SELECT name, misc_info FROM parts ORDER BY id")).all()
    assert [row[0] for row in rows] == [f"Part {n}" for n in range(25)]
    client = empty_app.test_client()
    listed = client.get("/api/parts/", headers={"X-API-Key": empty_app.config["SECRET_KEY"]})
    assert listed.get_json()["total"] == 25
    assert listed.get_json()["parts"][0]["miscInfo"] == {"storage": "Shelf A"}


def test_migrated_schema_matches_the_models(empty_app):
    with empty_app.app_context():
        upgrade(directory=empty_app.config["MIGRATIONS_DIR"])
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "compare_server_default": False,
                    # The search index each database has (models/part_indexes.py).
                    "include_object": lambda _object, name, kind, _reflected, _other: compared_on(
                        connection.dialect.name, kind, name
                    ),
                },
            )
            differences = compare_metadata(context, db.metadata)
    assert differences == []
