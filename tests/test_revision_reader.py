"""The revision reader's connections (utils/revision_reader.py): shared by a process's
threads, kept while in use lately, none left behind by threads that end (the development
server runs each request in a thread of its own), all closed with the reader."""

from __future__ import annotations

import threading
import time

import pytest

from app.extensions import db
from utils.revision_reader import IDLE_SECONDS, MAX_IDLE, RevisionReader


def _closed(driver) -> bool:
    try:
        driver.cursor().execute("SELECT 1")
    except Exception:  # noqa: BLE001 - each driver has its own "closed" error
        return True
    return False


@pytest.fixture
def reader(app):
    with app.app_context():
        kept = RevisionReader(db.engine)
    yield kept
    kept.close()


def _spy_on_opens(reader, monkeypatch) -> list:
    opened = []
    real_open = reader._open

    def counting_open():
        opened.append(real_open())
        return opened[-1]

    monkeypatch.setattr(reader, "_open", counting_open)
    return opened


def test_threads_one_after_another_share_one_connection(reader, monkeypatch):
    opened = _spy_on_opens(reader, monkeypatch)
    for _ in range(30):
        thread = threading.Thread(target=reader.read)
        thread.start()
        thread.join()
    assert len(opened) == 1 and reader.idle_count() == 1
    assert not _closed(opened[0])


def test_a_burst_keeps_its_connections_until_they_sit_unused(reader, monkeypatch):
    """16 request threads reading together (one gunicorn worker): their connections serve
    the next burst, and those unused for IDLE_SECONDS close. Kept one per thread for good,
    5 workers held 80 connections open."""
    import utils.revision_reader as module

    opened = _spy_on_opens(reader, monkeypatch)
    start, held = threading.Barrier(16), threading.Barrier(16)
    real_give_back = reader._give_back

    def give_back_together(driver):
        held.wait(timeout=10)  # every thread holds its connection at once
        real_give_back(driver)

    monkeypatch.setattr(reader, "_give_back", give_back_together)

    def one_request() -> None:
        start.wait(timeout=10)
        reader.read()

    threads = [threading.Thread(target=one_request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 16 and reader.idle_count() == min(16, MAX_IDLE)
    monkeypatch.setattr(reader, "_give_back", real_give_back)

    later = time.monotonic() + IDLE_SECONDS + 1
    monkeypatch.setattr(module.time, "monotonic", lambda: later)
    reader.read()  # one thread now: the one it used stays, the others go
    assert len(opened) == 16 and reader.idle_count() == 1
    assert sum(not _closed(driver) for driver in opened) == 1


def test_a_dropped_connection_is_replaced_and_the_read_tried_again(reader, monkeypatch):
    opened = _spy_on_opens(reader, monkeypatch)
    first = reader.read()
    opened[0].close()  # the server dropped it while idle
    assert reader.read() == first
    assert len(opened) == 2 and reader.idle_count() == 1


def test_closing_the_reader_closes_its_connections(reader, monkeypatch):
    opened = _spy_on_opens(reader, monkeypatch)
    reader.read()
    reader.close()
    assert _closed(opened[0]) and reader.idle_count() == 0
    reader.read()  # a read after close still answers, and keeps nothing
    assert reader.idle_count() == 0 and _closed(opened[1])


def test_a_backend_ended_by_the_server_is_replaced_on_postgresql(reader, app, monkeypatch):
    """On PostgreSQL the read goes through libpq itself (no cursor): a connection the server
    ended (an administrator, a restart) still fails over to a new one."""
    if app.config["SQLALCHEMY_DATABASE_URI"].partition(":")[0].partition("+")[0] != "postgresql":
        pytest.skip("PostgreSQL's libpq read")
    opened = _spy_on_opens(reader, monkeypatch)
    first = reader.read()
    ended = opened[0].info.backend_pid
    with app.app_context(), db.engine.connect() as other:
        from sqlalchemy import text

        assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": ended})
    assert reader.read() == first
    assert len(opened) == 2 and opened[1].info.backend_pid != ended


def test_an_error_answered_by_postgresql_is_psycopgs_own(reader, app, monkeypatch):
    """service_errors sorts errors by psycopg's classes and SQLSTATEs: a failed libpq read
    raises those, not an error of ours (a missing table: UndefinedTable, a 500)."""
    if app.config["SQLALCHEMY_DATABASE_URI"].partition(":")[0].partition("+")[0] != "postgresql":
        pytest.skip("PostgreSQL's libpq read")
    import psycopg.errors

    import utils.revision_reader as module

    monkeypatch.setattr(module, "REVISION_QUERY", b"SELECT value FROM no_such_table")
    with pytest.raises(psycopg.errors.UndefinedTable):
        reader.read()
