"""Engine settings per database (how SQLite begins a write transaction), the request session's
end on a lost connection, and the schema."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event, insert, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError

from app.extensions import db

# write_transaction lives with the models, so the runner in utils/ uses it without importing
# app/; re-exported here for the views.
from models.base import WRITE_INTENT
from models.base import write_transaction as write_transaction
from utils.host_locks import waiting_lock

SQLITE_BUSY_TIMEOUT_MS = 30_000
FIRST_REVISION = "0001"
MIGRATION_LOCK_ID = 724_170_001  # any fixed number; PostgreSQL advisory locks are global
# A pooled connection back from use longer ago than this is pinged before its next use.
IDLE_PING_SECONDS = 10.0
_RETURNED_AT = "aerie_returned_at"


def configure_engine_events(app: Flask) -> None:
    """SQLite: WAL, foreign keys, a busy timeout, and write transactions that queue; a
    database server: idle connections pinged before use."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    else:
        ping_idle_connections(engine)
    app.teardown_appcontext(end_session)  # runs before Flask-SQLAlchemy's own (bound first)


def end_session(_error: BaseException | None = None) -> None:
    """End the request's session. On a connection the server closed (a restart, an ended
    backend) the session's rollback raises, and from Flask-SQLAlchemy's teardown that went
    past every error handler: the client got the HTTP server's HTML 500 instead of the JSON
    503, and the thread kept the broken session. Removed again, it is gone: the next request
    of the thread starts a new one."""
    try:
        db.session.remove()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        try:
            db.session.remove()
        except DBAPIError:
            db.session.registry.clear()


def ping_idle_connections(engine: Engine) -> None:
    """A server may drop a connection left idle (a restart, an idle timeout): one back in the
    pool for more than IDLE_PING_SECONDS is pinged (the dialect's own ping) when checked out,
    and replaced by a new one if the ping fails; the pool retries the checkout. A connection
    returned a moment ago is used as is: SQLAlchemy's pool_pre_ping pinged every checkout, a
    round trip costing about a fifth of a list page's CPU on PostgreSQL (BENCHMARKS.md)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at < IDLE_PING_SECONDS:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"idle connection failed its ping: {exc}") from exc


def _configure_sqlite(engine: Engine) -> None:
    # The folder of the file is app.startup's business (it must not appear at import).
    file_backed = engine.url.database not in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below); pysqlite's own transaction handling would not
        # let a write transaction take the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if file_backed:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()
        # SQLite's own lower() folds ASCII only; search must be case-blind in every script.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Only write_transaction takes the lock up front; other transactions begin
        # deferred, which suits reads (a write there can meet "database is locked").
        writing = connection.get_execution_options().get(WRITE_INTENT, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def prepare_schema(app: Flask) -> None:
    """Create (tests) or migrate (servers) the tables and seed the revision counter."""
    import models  # noqa: F401 - every table must be known before create_all
    from models.revision import PARTS, Revision

    with app.app_context():
        if app.config["FLASK_ENV"] == "testing":
            db.create_all()
        else:
            upgrade_schema(app)
        _seed_revision_row(PARTS, Revision)


def load_development_samples(app: Flask) -> None:
    """Sample parts for an empty database, on a laptop only, whatever the settings say."""
    if not (app.config["SAMPLE_DATA"] and app.config["FLASK_ENV"] == "development"):
        return
    from app.sample_data import load_sample_parts

    with app.app_context():
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

    Several workers may start at once (gunicorn -w 4): a lock lets one migrate while the
    others wait and then find nothing to do. A database made by create_all before
    migrations existed is stamped with the first revision, whose schema it has.
    """
    from flask_migrate import stamp, upgrade

    directory = app.config["MIGRATIONS_DIR"]
    with _migration_lock():
        tables = set(inspect(db.engine).get_table_names())
        if "parts" in tables and "alembic_version" not in tables:
            stamp(directory=directory, revision=FIRST_REVISION)
        upgrade(directory=directory)


@contextmanager
def _migration_lock() -> Iterator[None]:
    """One migrating process at a time: a file lock for SQLite, the server's own lock else."""
    engine = db.engine
    if engine.dialect.name == "sqlite":
        with _file_lock(engine.url.database):
            yield
        return
    take, release = {
        "postgresql": ("SELECT pg_advisory_lock(:id)", "SELECT pg_advisory_unlock(:id)"),
    }.get(engine.dialect.name, ("SELECT GET_LOCK(:name, 300)", "SELECT RELEASE_LOCK(:name)"))
    params = {"id": MIGRATION_LOCK_ID, "name": "aerie_migrations"}
    with engine.connect() as connection:
        connection.execute(text(take), params)
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text(release), params)
            connection.commit()


@contextmanager
def _file_lock(database: str | None) -> Iterator[None]:
    if not database or database == ":memory:":
        yield  # nothing to share
        return
    with waiting_lock(f"{database}.migrate-lock"):
        yield
