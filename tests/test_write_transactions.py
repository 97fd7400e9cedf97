"""SQLite: writers say so (write_transaction) and queue for the lock; reads never write."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, update

import app.database
from app.database import write_transaction
from app.extensions import db
from models.conversion import ConversionJob
from models.part import Part

SHA = "ab" * 32
KEY = f"{SHA}-1"


def _database_file(application) -> Path:
    return Path(application.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))


@contextmanager
def another_writer(application) -> Iterator[sqlite3.Connection]:
    """A second connection that holds the write lock, has changed a row, and commits on
    leaving: every snapshot taken meanwhile is stale by then."""
    holder = sqlite3.connect(_database_file(application), isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE parts SET notes = 'changed by another writer'")
        yield holder
        holder.execute("COMMIT")
    finally:
        holder.close()


@pytest.fixture
def stuck_model_app(make_app, monkeypatch):
    """A STEP part whose conversion job is gone: GET /model used to repair it in place.

    A short busy timeout, so a GET that waited for the write lock would fail fast."""
    monkeypatch.setattr(app.database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    application = make_app()
    key = {"X-API-Key": application.config["SECRET_KEY"]}
    created = application.test_client().post(
        "/api/parts/", json={"material": "Al", "subsystem": "Drive"}, headers=key
    )
    part_id = created.get_json()["id"]
    with application.app_context(), write_transaction():
        db.session.execute(
            update(Part)
            .where(Part.id == part_id)
            .values(file="cube.step", file_ext="step", file_sha256=SHA, model_key=KEY)
            .values(model_status="pending")
        )
    return application, part_id, key


def test_gets_answer_while_another_writer_holds_the_lock(stuck_model_app):
    application, part_id, key = stuck_model_app
    client = application.test_client()
    part = f"/api/parts/{part_id}"
    paths = [f"{part}/model", part, f"{part}/views", "/api/parts/", "/api/parts/stats"]
    paths += ["/api/parts/stats/detailed", "/api/parts/leaderboard", "/health"]
    with another_writer(application):
        answers = {path: client.get(path, headers=key) for path in paths}
    for path, response in answers.items():
        assert response.status_code == 200 or path.endswith("/model"), path
        assert b"database is locked" not in response.data
    assert answers[f"{part}/model"].status_code == 202
    with application.app_context():
        assert db.session.get(ConversionJob, KEY) is None  # the GET wrote nothing


def test_write_view_queues_for_the_lock_instead_of_failing(make_app):
    application = make_app()
    client, key = application.test_client(), {"X-API-Key": application.config["SECRET_KEY"]}
    part_id = client.post(
        "/api/parts/", json={"material": "Al", "subsystem": "Drive"}, headers=key
    ).get_json()["id"]
    answers = []
    with another_writer(application):
        writer = threading.Thread(
            target=lambda: answers.append(
                client.put(f"/api/parts/{part_id}", json={"name": "Queued"}, headers=key)
            )
        )
        writer.start()
        writer.join(0.3)
        assert writer.is_alive()  # waiting for the lock, not failed
    writer.join(10)
    (response,) = answers
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["name"] == "Queued"
    assert response.get_json()["notes"] == "changed by another writer"


def test_write_transaction_outside_a_request_takes_the_lock_first(make_app):
    application = make_app()
    client, key = application.test_client(), {"X-API-Key": application.config["SECRET_KEY"]}
    part_id = client.post(
        "/api/parts/", json={"material": "Al", "subsystem": "Drive"}, headers=key
    ).get_json()["id"]
    failures: list[BaseException] = []

    def runner_like_write() -> None:
        try:
            with application.app_context(), write_transaction():
                name = db.session.execute(select(Part.name).where(Part.id == part_id)).scalar()
                db.session.execute(
                    update(Part).where(Part.id == part_id).values(name=f"{name} (runner)")
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    with another_writer(application):
        worker = threading.Thread(target=runner_like_write)
        worker.start()
        worker.join(0.3)
        assert worker.is_alive()
    worker.join(10)
    assert failures == []
    part = client.get(f"/api/parts/{part_id}", headers=key).get_json()
    assert part["name"].endswith(" (runner)")
    assert part["notes"] == "changed by another writer"


def test_write_transaction_rolls_back_on_error(make_app):
    application = make_app()
    with application.app_context():
        with pytest.raises(RuntimeError), write_transaction():
            db.session.add(Part(material="Al", subsystem="Drive"))
            raise RuntimeError("refused")
        assert db.session.scalars(select(Part)).all() == []
