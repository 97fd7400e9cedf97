"""The parts revision read outside the connection pool: the parts cache's hottest query."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from typing import Any

from sqlalchemy.engine import Engine

REVISION_SQL = "SELECT value FROM revisions WHERE name = 'parts'"


class _Kept:
    """One thread's connection. Only that thread's local holds it, so when the thread ends
    (Werkzeug's development server runs each request in a thread of its own) it is closed:
    kept for ever, each ended thread left a connection and two descriptors open."""

    __slots__ = ("close", "driver", "__weakref__")

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        # A weakref callback, not __del__: the collector runs those before any finalizer, so
        # the connection is closed before the driver's own __del__ can find it open and warn.
        self.close = weakref.finalize(self, _close_quietly, driver)


class RevisionReader:
    """Reads the committed parts revision on every hot read (the list and single parts).

    Each server thread keeps one driver connection of its own in autocommit, outside the
    pool: a pool checkout costs more than the query. Any error drops that connection; a
    kept one that fails is replaced at once and the read tried again.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._opened: weakref.WeakSet[_Kept] = weakref.WeakSet()
        # Close every thread's connection when the reader goes (an app torn down in tests).
        self._finalizer = weakref.finalize(self, _close_all, self._opened)

    def close(self) -> None:
        """Close every connection this reader opened."""
        self._finalizer()

    def read(self) -> int:
        """The revision; a kept connection that fails (the server dropped it while idle: a
        restart, an idle timeout) is replaced and the read tried once more on the new one."""
        kept = getattr(self._local, "kept", None)
        if kept is not None:
            try:
                return self._read(kept.driver)
            except Exception:
                self._drop(kept)
        kept = self._local.kept = self._open()
        try:
            return self._read(kept.driver)
        except Exception:
            self._drop(kept)
            raise

    @staticmethod
    def _read(connection: Any) -> int:
        cursor = connection.cursor()
        cursor.execute(REVISION_SQL)
        row = cursor.fetchone()
        cursor.close()
        return int(row[0]) if row else 0

    def _drop(self, kept: _Kept) -> None:
        self._local.kept = None
        self._opened.discard(kept)
        kept.close()

    def _open(self) -> _Kept:
        proxied = self.engine.raw_connection()
        proxied.detach()  # ours from now on: the pool forgets it
        driver = proxied.dbapi_connection
        _set_autocommit(driver)
        kept = _Kept(driver)
        self._opened.add(kept)
        return kept


def _set_autocommit(driver: Any) -> None:
    # Each read must see the newest commit: no transaction may stay open between reads.
    autocommit = getattr(driver, "autocommit", None)
    if callable(autocommit):  # PyMySQL
        driver.autocommit(True)
    elif autocommit is not None and not isinstance(driver, sqlite3.Connection):
        driver.autocommit = True  # psycopg
    # SQLite connections already run without an implicit transaction (app.database).


def _close_all(opened: weakref.WeakSet[_Kept]) -> None:
    for kept in list(opened):
        kept.close()
    opened.clear()


def _close_quietly(driver: Any) -> None:
    try:
        driver.close()
    except Exception:  # noqa: BLE001, S110 - a broken connection may refuse to close
        pass
