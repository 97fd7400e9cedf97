"""The parts revision read outside the connection pool: the parts cache's hottest query."""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from typing import Any

from psycopg import OperationalError
from psycopg.errors import error_from_result
from psycopg.pq import ConnStatus, DiagnosticField, ExecStatus
from sqlalchemy.engine import Engine

REVISION_SQL = "SELECT value FROM revisions WHERE name = 'parts'"
REVISION_QUERY = REVISION_SQL.encode()
TUPLES_OK, CONNECTION_OK, SQLSTATE = ExecStatus.TUPLES_OK, ConnStatus.OK, DiagnosticField.SQLSTATE
# Connections a process keeps between reads: as many as its reads needed at once lately. A
# read holds one for a single round trip, so a few serve a process's threads; one idle for
# IDLE_SECONDS is closed. One per thread for good, as before, kept 16 per gunicorn worker
# open: 5 workers took 80 of PostgreSQL's default 100 connections before their pools took
# any, and a busy server met "too many clients". Opening one costs milliseconds (PostgreSQL
# starts a backend), so a burst's connections are kept for the next burst, up to MAX_IDLE.
MAX_IDLE = 16
IDLE_SECONDS = 30.0


class RevisionReader:
    """Reads the committed parts revision on every hot read (the list and single parts).

    Driver connections in autocommit, outside the pool (a pool checkout costs more than the
    query), shared by the process's threads: a read takes the idle one used last (or opens
    one), reads, and gives it back; one unused for IDLE_SECONDS is closed. Any error drops
    that connection; a kept one that fails is replaced at once and the read tried again.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._idle: list[tuple[float, Any]] = []  # (given back at, connection), oldest first
        self._state = {"closed": False}
        # Close the idle connections when the reader goes (an app torn down in tests).
        self._finalizer = weakref.finalize(self, _close_all, self._lock, self._idle, self._state)

    def close(self) -> None:
        """Close every idle connection; one in use is closed when its read ends."""
        self._finalizer()

    def read(self) -> int:
        """The revision; a kept connection that fails (the server dropped it while idle: a
        restart, an idle timeout) is replaced and the read tried once more on a new one."""
        driver, kept = self._take()
        try:
            value = _read(driver)
        except Exception:
            _close_quietly(driver)
            if not kept:
                raise
            # Kept ones fail together (a restart, every backend ended): the others go too,
            # and the pool's own connections may be as dead, so the new one is pinged first.
            self._drop_idle()
            driver = self._open(checked=True)
            try:
                value = _read(driver)
            except Exception:
                _close_quietly(driver)
                raise
        self._give_back(driver)
        return value

    def idle_count(self) -> int:
        """How many connections wait for the next read."""
        with self._lock:
            return len(self._idle)

    def _take(self) -> tuple[Any, bool]:
        """An idle connection (True: it was kept, so it may have gone stale) or a new one."""
        with self._lock:
            if self._idle:
                return self._idle.pop()[1], True
        return self._open(), False

    def _give_back(self, driver: Any) -> None:
        """Kept on top (used first next time); those left at the bottom long enough go."""
        now, stale = time.monotonic(), [driver]
        with self._lock:
            if not self._state["closed"] and len(self._idle) < MAX_IDLE:
                self._idle.append((now, driver))
                stale = []
            while self._idle and self._idle[0][0] < now - IDLE_SECONDS:
                stale.append(self._idle.pop(0)[1])
        for unused in stale:
            _close_quietly(unused)

    def _open(self, checked: bool = False) -> Any:
        """A connection from the engine's pool, ours from now on (the pool forgets it).
        Checked: pinged first; a dead one is invalidated (its place in the pool reconnects
        when next taken) and the next taken, past as many as the pool keeps."""
        pooled = self.engine.pool.size() if hasattr(self.engine.pool, "size") else 0
        for _ in range(pooled + 1 if checked else 0):
            proxied = self.engine.raw_connection()
            if _answers(self.engine, proxied.dbapi_connection):
                return _own(proxied)
            proxied.invalidate()
        return _own(self.engine.raw_connection())

    def _drop_idle(self) -> None:
        """Close every idle connection (they were opened with the one that failed)."""
        _close_idle(self._lock, self._idle)


def _answers(engine: Engine, driver: Any) -> bool:
    """Whether a pooled connection answers the dialect's ping (its transaction ended)."""
    try:
        engine.dialect.do_ping(driver)
        driver.rollback()
    except Exception:  # noqa: BLE001 - each driver has its own "gone" error
        return False
    return True


def _own(proxied: Any) -> Any:
    """The driver connection of a pooled one, detached (the pool forgets it), autocommit."""
    proxied.detach()
    driver = proxied.dbapi_connection
    _set_autocommit(driver)
    return driver


def _read(connection: Any) -> int:
    pgconn = getattr(connection, "pgconn", None)  # psycopg's libpq connection
    if pgconn is not None:
        return _read_libpq(pgconn)
    cursor = connection.cursor()
    cursor.execute(REVISION_SQL)
    row = cursor.fetchone()
    cursor.close()
    return int(row[0]) if row else 0


def _read_libpq(pgconn: Any) -> int:
    """The read on psycopg's libpq connection itself: a cursor costs 37-45 µs of CPU per read
    against 6-8 µs this way (BENCHMARKS.md "Scale"), on every GET of a part or the list. A
    simple query, not a prepared one: it also works behind a pooler that keeps none."""
    result = pgconn.exec_(REVISION_QUERY)
    if result.status == TUPLES_OK:
        return int(result.get_value(0, 0)) if result.ntuples else 0
    # The errors psycopg's cursor raises, which service_errors sorts: a connection the server
    # closed has no SQLSTATE (error_from_result would make it a plain DatabaseError, a 500),
    # for the cursor it is an OperationalError (the database not answering, a 503).
    if pgconn.status != CONNECTION_OK or result.error_field(SQLSTATE) is None:
        message = result.error_message.decode(errors="replace").strip()
        raise OperationalError(message or "the connection to the database was lost")
    raise error_from_result(result)


def _set_autocommit(driver: Any) -> None:
    # Each read must see the newest commit: no transaction may stay open between reads.
    autocommit = getattr(driver, "autocommit", None)
    if callable(autocommit):  # PyMySQL
        driver.autocommit(True)
    elif autocommit is not None and not isinstance(driver, sqlite3.Connection):
        driver.autocommit = True  # psycopg
    # SQLite connections already run without an implicit transaction (app.database).


def _close_all(lock: threading.Lock, idle: list[Any], state: dict[str, bool]) -> None:
    with lock:
        state["closed"] = True
    _close_idle(lock, idle)


def _close_idle(lock: threading.Lock, idle: list[Any]) -> None:
    with lock:
        drivers, idle[:] = [driver for _since, driver in idle], []
    for driver in drivers:
        _close_quietly(driver)


def _close_quietly(driver: Any) -> None:
    try:
        driver.close()
    except Exception:  # noqa: BLE001, S110 - a broken connection may refuse to close
        pass
