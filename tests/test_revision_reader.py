"""The revision reader's connections (utils/revision_reader.py): one per thread, closed when
its thread ends (the development server runs each request in a thread of its own) and when
the reader is closed."""

from __future__ import annotations

import gc
import threading

import pytest

from app.extensions import db
from utils.revision_reader import RevisionReader


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


def test_a_thread_that_ends_leaves_no_connection_open(reader):
    drivers = []

    def one_request() -> None:
        reader.read()
        drivers.append(reader._local.kept.driver)

    for _ in range(30):
        thread = threading.Thread(target=one_request)
        thread.start()
        thread.join()
    gc.collect()
    assert len(drivers) == 30 and len(set(map(id, drivers))) >= 1
    assert len(reader._opened) == 0
    assert all(_closed(driver) for driver in drivers)


def test_a_living_thread_keeps_its_connection_until_the_reader_closes(reader):
    first = reader.read()
    driver = reader._local.kept.driver
    assert reader.read() == first and reader._local.kept.driver is driver
    assert not _closed(driver) and len(reader._opened) == 1
    reader.close()
    assert _closed(driver)
