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

    def counting_open(**options):
        opened.append(real_open(**options))
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


def _end_every_backend(app) -> None:
    """What a restart does to this test database's connections: the server ends them all
    (from a connection of our own, outside the engine's pool)."""
    import psycopg

    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as other:
        other.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def test_every_backend_ended_still_answers_the_next_read(reader, app, monkeypatch):
    """After a restart every kept connection and every one in the engine's pool is dead: the
    next read still answers (dead pooled ones are pinged and passed over), and the kept ones
    are all dropped. The audit of f49e9e2 saw 500s here, then 503s until the pool was new."""
    if app.config["SQLALCHEMY_DATABASE_URI"].partition(":")[0].partition("+")[0] != "postgresql":
        pytest.skip("PostgreSQL's pg_terminate_backend")
    first = reader.read()
    with app.app_context():  # the pool holds connections too, as a server's does
        held = [db.engine.raw_connection() for _ in range(3)]
        for proxied in held:
            proxied.close()
    start, held_reads = threading.Barrier(3), []
    real_give_back = reader._give_back

    def give_back_together(driver):
        start.wait(timeout=10)
        real_give_back(driver)

    monkeypatch.setattr(reader, "_give_back", give_back_together)
    threads = [threading.Thread(target=lambda: held_reads.append(reader.read())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.setattr(reader, "_give_back", real_give_back)
    assert held_reads == [first] * 3 and reader.idle_count() == 3
    _end_every_backend(app)
    assert reader.read() == first
    assert reader.idle_count() == 1


def test_a_connection_the_server_closed_is_an_operational_error(reader, app):
    """As psycopg's cursor says it (service_errors: the database not answering, a 503), not
    the plain DatabaseError libpq's result would make of it (a 500)."""
    if app.config["SQLALCHEMY_DATABASE_URI"].partition(":")[0].partition("+")[0] != "postgresql":
        pytest.skip("PostgreSQL's libpq read")
    import psycopg

    import utils.revision_reader as module

    reader.read()
    [(_since, driver)] = reader._idle
    _end_every_backend(app)
    with pytest.raises(psycopg.OperationalError):
        module._read(driver)
