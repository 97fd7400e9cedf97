"""Fixtures: an app on a fresh database (SQLite, PostgreSQL, MariaDB), a client, factories."""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, delete, update

from app import create_app
from app.database import prepare_schema
from app.extensions import db
from models.part import Part
from tests.databases import (
    TestDatabase,
    create_private_database,
    drop_private_database,
    selected_databases,
    servers_required,
    unreachable_reason,
)
from tests.varied_parts import ROWS

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
DATABASES = selected_databases()
_reachability: dict[str, str | None] = {}
_schema_ready: set[str] = set()
_private_urls: dict[str, str] = {}
# Each run works in a database of its own on the servers (dropped at the end).
PRIVATE_DB_NAME = f"aerie_test_{os.getpid()}"


def pytest_report_header(config: pytest.Config) -> str:
    return "databases: " + ", ".join(d.name for d in DATABASES)


@pytest.fixture(params=DATABASES, ids=[d.name for d in DATABASES])
def test_database(request: pytest.FixtureRequest) -> TestDatabase:
    """The backend this test runs on; unreachable servers skip (or fail in CI)."""
    database: TestDatabase = request.param
    if database.url is None:
        return database
    if database.url not in _reachability:
        _reachability[database.url] = unreachable_reason(database.url)
    reason = _reachability[database.url]
    if reason:
        message = f"{database.name} unreachable at {database.url}: {reason}"
        if servers_required():
            pytest.fail(message + " (CI requires every database)", pytrace=False)
        pytest.skip(message)
    if database.name not in _private_urls:
        _private_urls[database.name] = create_private_database(database.url, PRIVATE_DB_NAME)
    return TestDatabase(database.name, _private_urls[database.name])


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):  # a pytest-xdist worker: the controller audits
        _hand_over_secrets(session)
    else:
        _audit_logs_for_keys(session)
    for database in DATABASES:
        if database.url and _private_urls.get(database.name, database.url) != database.url:
            drop_private_database(database.url, PRIVATE_DB_NAME)


def _hand_over_secrets(session: pytest.Session) -> None:
    """A worker's test modules name keys the controller never imported: write them beside
    the worker's logs (its basetemp is inside the controller's), for the controller's audit."""
    from tests.log_audit import known_secrets, write_secrets

    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        write_secrets(factory.getbasetemp(), known_secrets())


def _audit_logs_for_keys(session: pytest.Session) -> None:
    """Fail the run when any log a test wrote (servers, LOG_FILE) holds a test key; under
    pytest-xdist, the logs of every worker, against the keys every worker's modules name."""
    from tests.log_audit import handed_over_secrets, known_secrets, leaked_secrets

    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or session.config.option.collectonly:
        return
    folder = factory.getbasetemp()
    found = leaked_secrets(folder, known_secrets() | handed_over_secrets(folder))
    if found:
        print("\nAPI keys found in log files:\n  " + "\n  ".join(found), file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _reset_server_database(database: TestDatabase) -> None:
    """Once per run: the schema as the models say; per test: empty tables."""
    from models.revision import PARTS, Revision

    if database.name not in _schema_ready:
        db.drop_all()
        db.create_all()
        _schema_ready.add(database.name)
    for table in reversed(db.metadata.sorted_tables):
        if table.name != Revision.__tablename__:
            db.session.execute(delete(table))
    db.session.execute(update(Revision).where(Revision.name == PARTS).values(value=0))
    db.session.commit()


_server_errors: list[str] = []


def _record_server_errors(response: Any) -> Any:
    from flask import request

    if response.status_code >= 500 and response.status_code != 503:
        _server_errors.append(f"{request.method} {request.path} -> {response.status_code}")
    return response


@pytest.fixture(autouse=True)
def no_server_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """No request in the suite may answer 500, unless the test says it provokes one."""
    _server_errors.clear()
    yield
    if request.node.get_closest_marker("provokes_500") is None:
        assert not _server_errors, f"requests answered 5xx: {_server_errors}"


def build_app(database: TestDatabase, tmp_path: Path, **overrides: Any):
    """An app for the testing config on `database`, with its own folders."""
    url = database.url or f"sqlite:///{tmp_path / 'test.db'}"
    settings = {
        "DATABASE_URL": url,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "FRONTEND_DIST": str(tmp_path / "dist"),
        **overrides,
    }
    application = create_app("testing", settings)
    prepare_schema(application)
    application.after_request(_record_server_errors)
    if database.url is not None:
        with application.app_context():
            _reset_server_database(database)
    return application


@pytest.fixture
def app(test_database: TestDatabase, tmp_path: Path) -> Iterator[Any]:
    application = build_app(test_database, tmp_path)
    yield application
    close_app(application)


def close_app(application: Any) -> None:
    """Release what an app holds: sessions, pooled and per-thread connections."""
    application.extensions["parts_cache"].close()
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api_key(app) -> str:
    return app.config["SECRET_KEY"]


@pytest.fixture
def auth_headers(api_key: str) -> dict[str, str]:
    return {"X-API-Key": api_key}


@pytest.fixture
def make_part(client, auth_headers):
    """Create a part through the API; keyword overrides use the wire (camelCase) keys."""

    def factory(**overrides: Any) -> dict[str, Any]:
        body = {
            "name": "Bracket",
            "material": "6061 Aluminum",
            "subsystem": "Drive",
            "type": "cnc",
            **overrides,
        }
        response = client.post("/api/parts/", json=body, headers=auth_headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return factory


@pytest.fixture
def part_in(client, auth_headers, make_part):
    """Create a part and drive it into a category: review, cnc, hand, misc or completed."""

    def factory(category: str, **overrides: Any) -> dict[str, Any]:
        if category in ("cnc", "hand", "misc"):
            overrides["type"] = category
        part = make_part(**overrides)
        if category == "review":
            return part
        response = client.post(f"/api/parts/{part['id']}/approve", json={}, headers=auth_headers)
        assert response.status_code == 200, response.get_json()
        part = response.get_json()
        if category == "completed":
            response = client.post(f"/api/parts/{part['id']}/complete", headers=auth_headers)
            assert response.status_code == 200, response.get_json()
            part = response.get_json()
        return part

    return factory


REDIS_URI = "redis://127.0.0.1:6379"


@pytest.fixture
def redis_settings() -> Iterator[dict[str, str]]:
    """Rate limits on the machine's Redis under a prefix of their own (keys removed
    afterwards); skipped without Redis, failed in CI."""
    import redis

    client = redis.Redis.from_url(REDIS_URI)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        if servers_required():
            pytest.fail(f"Redis unreachable at {REDIS_URI}: {exc}", pytrace=False)
        pytest.skip(f"Redis unreachable at {REDIS_URI}: {exc}")
    prefix = f"aerie-test-{uuid.uuid4().hex}"
    yield {"RATELIMIT_STORAGE_URI": REDIS_URI, "RATELIMIT_KEY_PREFIX": prefix}
    for key in client.scan_iter(match=f"*{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def make_app(tmp_path: Path):
    """An app on SQLite with settings overridden, for tests where the database does not matter."""
    built = []

    def factory(**overrides: Any):
        folder = tmp_path / f"app{len(built)}"
        folder.mkdir()
        application = build_app(TestDatabase("sqlite", None), folder, **overrides)
        built.append(application)
        return application

    yield factory
    for application in built:
        close_app(application)


@pytest.fixture
def call(client, auth_headers):
    """Call the API with the key; returns (status, body)."""

    def request(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        kwargs = {} if body is None else {"json": body}
        response = client.open(f"/api/parts{path}", method=method, headers=auth_headers, **kwargs)
        return response.status_code, response.get_json()

    return request


@pytest.fixture
def clean_aerie_logger():
    """configure_logging attaches handlers once per process; give each test a fresh logger."""
    import logging

    logger = logging.getLogger("aerie")
    saved = logger.handlers[:]
    logger.handlers.clear()
    yield logger
    for handler in logger.handlers:
        handler.close()
    logger.handlers[:] = saved


@pytest.fixture
def act(client, auth_headers):
    """POST a workflow action; returns (status, body)."""

    def post(part_id: int, action: str, body: Any = None) -> tuple[int, Any]:
        kwargs = {} if body is None else {"json": body}
        response = client.post(f"/api/parts/{part_id}/{action}", headers=auth_headers, **kwargs)
        return response.status_code, response.get_json()

    return post


@pytest.fixture
def fetch(client, auth_headers):
    """The part as GET returns it now."""

    def get(part_id: int) -> dict[str, Any]:
        response = client.get(f"/api/parts/{part_id}", headers=auth_headers)
        assert response.status_code == 200
        return response.get_json()

    return get


class LiveServer:
    """The app under a real waitress server on 127.0.0.1, in a background thread."""

    def __init__(self, application: Any, threads: int = 8) -> None:
        from waitress.server import create_server

        self.server = create_server(application, host="127.0.0.1", port=0, threads=threads)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        # Closing from the test thread while a waitress worker is still finishing a request
        # fails with EBADF in waitress's threads now and then: wait until idle, close from
        # inside the server's own loop, then stop its workers.
        server, deadline = self.server, time.monotonic() + 10
        while time.monotonic() < deadline and self._busy():
            time.sleep(0.01)
        server.trigger.pull_trigger(server.close)
        self.thread.join(timeout=10)
        server.task_dispatcher.shutdown()

    def _busy(self) -> bool:
        from waitress.channel import HTTPChannel

        dispatcher = self.server.task_dispatcher
        with dispatcher.lock:
            if dispatcher.active_count or dispatcher.queue:
                return True
        return any(isinstance(item, HTTPChannel) for item in list(self.server._map.values()))


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


# An app on a database with no tables (test_migrations, test_search_sync build theirs on it).
def _drop_everything() -> None:
    reflected = MetaData()
    reflected.reflect(bind=db.engine)
    reflected.drop_all(bind=db.engine)


@pytest.fixture
def empty_app(test_database, tmp_path: Path):
    application = build_app(test_database, tmp_path)
    with application.app_context():
        _drop_everything()
    yield application
    with application.app_context():
        _drop_everything()
        db.engine.dispose()
    # The next test on this server rebuilds the schema from the models.
    _schema_ready.discard(test_database.name)


@pytest.fixture
def varied(app) -> Any:
    """The app on the test database with tests/varied_parts.py's fourteen parts."""
    with app.app_context():
        for name, notes, subsystem, material, assigned in ROWS:
            part = Part(name=name, notes=notes, subsystem=subsystem, material=material)
            part.assigned = assigned
            db.session.add(part)
        db.session.commit()
    return app
