"""Engine settings per database and the start-up preparation of the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, has_request_context, request
from sqlalchemy import event, insert, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SQLITE_BUSY_TIMEOUT_MS = 30_000
FIRST_REVISION = "0001"


def configure_engine_events(app: Flask) -> None:
    """SQLite: WAL, foreign keys, a busy timeout, and write requests that queue, not fail."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)


def _configure_sqlite(engine: Engine) -> None:
    file_backed = engine.url.database not in (None, "", ":memory:")
    if file_backed:
        # SQLite creates the file but not its folder (e.g. data/ on a fresh server).
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below); pysqlite's own transaction handling would not
        # let a write request take the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if file_backed:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write request takes the write lock at BEGIN and waits for it (busy timeout);
        # a deferred transaction that reads first would fail at once with "database is
        # locked" when another writer got there in between.
        writing = has_request_context() and request.method not in SAFE_METHODS
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def prepare_database(app: Flask) -> None:
    """Create missing tables, seed the revision counter and, in development, sample parts."""
    import models  # noqa: F401 - every table must be known before create_all
    from models.revision import PARTS, Revision

    with app.app_context():
        if app.config["FLASK_ENV"] == "testing":
            db.create_all()
        else:
            upgrade_schema(app)
        _seed_revision_row(PARTS, Revision)
        # Sample parts belong on a laptop only, whatever the settings say.
        if app.config["SAMPLE_DATA"] and app.config["FLASK_ENV"] == "development":
            from app.sample_data import load_sample_parts

            load_sample_parts(db.session)


def _seed_revision_row(name: str, revision_cls: Any) -> None:
    if db.session.execute(select(revision_cls.name).where(revision_cls.name == name)).first():
        return
    try:
        db.session.execute(insert(revision_cls).values(name=name, value=0))
        db.session.commit()
    except IntegrityError:
        # Another worker starting at the same moment seeded it first.
        db.session.rollback()


def upgrade_schema(app: Flask) -> None:
    """Bring the schema to the newest migration (a no-op when it is already there).

    A database made by create_all before migrations existed is stamped with the first
    revision, whose schema it has, and upgraded from there.
    """
    from flask_migrate import stamp, upgrade

    directory = app.config["MIGRATIONS_DIR"]
    tables = set(inspect(db.engine).get_table_names())
    if "parts" in tables and "alembic_version" not in tables:
        stamp(directory=directory, revision=FIRST_REVISION)
    try:
        upgrade(directory=directory)
    except SQLAlchemyError:
        # Another worker may have been upgrading at the same moment: its result counts.
        db.session.rollback()
        upgrade(directory=directory)
