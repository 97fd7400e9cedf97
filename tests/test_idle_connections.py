"""A database server may drop a connection while it is idle (a restart, MariaDB's
wait_timeout overnight): the next request still succeeds. Idle pooled connections are pinged
before use (app.database.ping_idle_connections) and the revision reader replaces a dropped
connection (utils.revision_reader); a connection used a moment ago is not pinged."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy
from sqlalchemy.pool import NullPool

from app import database
from app.extensions import db


@pytest.fixture
def server_app(app, test_database):
    if test_database.name == "sqlite":
        pytest.skip("a SQLite file has no server to drop its connections")
    return app


def _drop_every_connection_but_the_admins(url: str) -> int:
    """What a server restart does to this database's sessions; how many it ended."""
    admin = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        with admin.connect() as connection:
            if admin.dialect.name == "postgresql":
                ended = connection.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).all()
                return len(ended)
            ids = connection.exec_driver_sql(
                "SELECT id FROM information_schema.processlist"
                " WHERE db = DATABASE() AND id <> CONNECTION_ID()"
            ).scalars()
            ids = list(ids)
            for session_id in ids:
                connection.exec_driver_sql(f"KILL {int(session_id)}")
            return len(ids)
    finally:
        admin.dispose()


def _pings(monkeypatch, engine: Any) -> list[int]:
    seen: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        seen.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return seen


def test_requests_succeed_after_the_server_dropped_idle_connections(
    server_app, client, auth_headers, make_part, test_database, monkeypatch
):
    make_part(name="Kept")
    assert client.get("/api/parts/", headers=auth_headers).status_code == 200  # pool + reader
    assert _drop_every_connection_but_the_admins(str(test_database.url)) >= 1
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)  # every returned one is idle now
    listed = client.get("/api/parts/?limit=5", headers=auth_headers)  # reader and a page
    assert listed.status_code == 200, listed.get_json()
    assert [part["name"] for part in listed.get_json()["parts"]] == ["Kept"]
    created = client.post(
        "/api/parts/",
        json={"name": "After", "type": "cnc", "material": "Al", "subsystem": "Arm"},
        headers=auth_headers,
    )
    assert created.status_code == 201, created.get_json()


def test_a_connection_returned_a_moment_ago_is_not_pinged(
    server_app, client, auth_headers, monkeypatch
):
    with server_app.app_context():
        engine = db.engine
    pings = _pings(monkeypatch, engine)
    # Another offset each time: a page already made is a cache lookup, with no checkout.
    for offset in range(5):
        page = client.get(f"/api/parts/?limit=5&offset={offset}", headers=auth_headers)
        assert page.status_code == 200
    assert pings == []
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
    assert client.get("/api/parts/?limit=5&offset=9", headers=auth_headers).status_code == 200
    assert pings, "an idle connection was used without a ping"


def test_a_session_whose_connection_the_server_ended_ends_quietly(server_app, test_database):
    """The request's session holds a connection when the server ends it: the teardown's
    rollback raised past the error handlers (the HTTP server's HTML 500 instead of the JSON
    503) and left the thread the broken session. Now the next request starts afresh."""
    with server_app.app_context():
        assert db.session.execute(sqlalchemy.text("SELECT 1")).scalar() == 1  # in a transaction
        assert _drop_every_connection_but_the_admins(str(test_database.url)) >= 1
    # Leaving the context ran the teardowns without raising.
    with server_app.app_context():
        assert db.session.execute(sqlalchemy.text("SELECT 2")).scalar() == 2
