"""A service every API request needs that stops answering (the database, the Redis holding
the rate limits) gives a JSON 503 with Retry-After, and /health says which one: a client can
try again, a load balancer can take the host out. It was a 500 "internal_error"."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from app import create_app
from app.startup import prepare
from tests.conftest import close_app

REDIS_SERVER = shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_redis(port: int) -> subprocess.Popen:
    server = subprocess.Popen(  # noqa: S603 - our own argument list
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)


def _app(tmp_path, **settings: str):
    folders = {"UPLOAD_FOLDER": str(tmp_path / "uploads"), "FRONTEND_DIST": str(tmp_path / "d")}
    return create_app("testing", {**folders, **settings})


def _assert_unavailable(response, service: str) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == "service_unavailable"
    assert service in body["error"]
    assert response.headers["Retry-After"] == "5"


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
def test_rate_limit_redis_going_down_is_503_and_unhealthy_until_it_is_back(tmp_path):
    port = _free_port()
    redis = _start_redis(port)
    app = _app(
        tmp_path,
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0",
        DATABASE_URL=f"sqlite:///{tmp_path / 'parts.db'}",
    )
    key = {"X-API-Key": app.config["SECRET_KEY"]}
    client = app.test_client()
    try:
        prepare(app)
        assert client.get("/api/parts/", headers=key).status_code == 200
        assert client.get("/health").status_code == 200
        redis.terminate()
        redis.wait(timeout=10)

        _assert_unavailable(client.get("/api/parts/", headers=key), "rate-limit storage")
        _assert_unavailable(client.get("/api/parts/", headers={"X-API-Key": "wrong"}), "rate")
        health = client.get("/health")
        assert health.status_code == 503
        assert health.get_json() == {
            "status": "unhealthy",
            "database": "ok",
            "rate_limits": "unreachable",
        }

        redis = _start_redis(port)
        assert client.get("/api/parts/", headers=key).status_code == 200
        assert client.get("/health").status_code == 200
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        close_app(app)


def test_a_database_that_refuses_connections_is_503(tmp_path):
    """PostgreSQL down (nothing listens on the port): every API request is a 503."""
    pytest.importorskip("psycopg")
    app = _app(tmp_path, DATABASE_URL=f"postgresql://postgres@127.0.0.1:{_free_port()}/test")
    key = {"X-API-Key": app.config["SECRET_KEY"]}
    client = app.test_client()
    try:
        _assert_unavailable(client.get("/api/parts/", headers=key), "database")
        _assert_unavailable(client.get("/api/parts/1", headers=key), "database")
        created = client.post("/api/parts/", json={"material": "Al", "subsystem": "D"}, headers=key)
        _assert_unavailable(created, "database")
        health = client.get("/health")
        assert health.status_code == 503
        assert health.get_json()["database"] == "unreachable"
    finally:
        close_app(app)


def test_only_errors_that_pass_are_service_errors(tmp_path):
    """A SQLite file locked by another writer is "not answering"; a missing table is a bug
    (500), not a reason to tell clients to try again."""
    import sqlite3

    from utils.service_errors import unavailable_service

    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError) as locked:
        other.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError) as missing:
        other.execute("SELECT * FROM no_such_table")
    holder.close()
    other.close()
    assert unavailable_service(locked.value) == "database"
    assert unavailable_service(missing.value) is None
    assert unavailable_service(ValueError("database is locked")) is None


def _locked_error(tmp_path):
    """A real "database is locked" from SQLite: another connection holds the write lock."""
    import sqlite3

    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("INSERT INTO t VALUES (1)")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        holder.close()
        other.close()
    raise AssertionError("the lock did not hold")


def test_background_writes_are_tried_again_when_the_database_is_busy(tmp_path):
    """A conversion's result met a deadlock (MariaDB 1213 under mixed writes) and the job
    waited for another worker's takeover, converted again; now the write is tried again."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from utils.service_errors import BUSY_ATTEMPTS, committed_despite_busy

    engine = create_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE results (value TEXT)"))
    busy, calls = _locked_error(tmp_path), []

    def record(session: Session, value: str) -> None:
        calls.append(value)
        session.execute(text("INSERT INTO results VALUES (:v)"), {"v": value})
        if len(calls) < BUSY_ATTEMPTS:
            raise busy  # after its write: the rollback must undo it

    with Session(engine) as session:
        committed_despite_busy(session, record, session, "ready")
        assert session.execute(text("SELECT value FROM results")).scalars().all() == ["ready"]
    assert len(calls) == BUSY_ATTEMPTS

    def broken(session: Session) -> None:
        calls.append("broken")
        session.execute(text("SELECT * FROM no_such_table"))

    calls.clear()
    with Session(engine) as session, pytest.raises(Exception, match="no_such_table"):
        committed_despite_busy(session, broken, session)
    assert calls == ["broken"]  # a bug is not tried again
    engine.dispose()
