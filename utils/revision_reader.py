"""The parts revision read outside the connection pool: the parts cache's hottest query."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from typing import Any

from sqlalchemy.engine import Engine

REVISION_SQL = "SELECT value FROM revisions WHERE name = 'parts'"


class RevisionReader:
    """Reads the committed parts revision on every hot read (the list and single parts).

    Each server thread keeps one driver connection of its own in autocommit, outside the
    pool: a pool checkout costs more than the query. Any error drops that connection; a
    kept one that fails is replaced at once and the read tried again.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._opened: list[Any] = []
        # Close every thread's connection when the reader goes (an app torn down in tests).
        self._finalizer = weakref.finalize(self, _close_all, self._opened)

    def close(self) -> None:
        """Close every connection this reader opened."""
        self._finalizer()

    def read(self) -> int:
        """The revision; a kept connection that fails (the server dropped it while idle: a
        restart, an idle timeout) is replaced and the read tried once more on the new one."""
        kept = getattr(self._local, "connection", None)
        if kept is not None:
            try:
                return self._read(kept)
            except Exception:
                self._drop(kept)
        connection = self._local.connection = self._open()
        try:
            return self._read(connection)
        except Exception:
            self._drop(connection)
            raise

    @staticmethod
    def _read(connection: Any) -> int:
        cursor = connection.cursor()
        cursor.execute(REVISION_SQL)
        row = cursor.fetchone()
        cursor.close()
        return int(row[0]) if row else 0

    def _drop(self, connection: Any) -> None:
        self._local.connection = None
        _close_quietly(connection)
        if connection in self._opened:  # closed: nothing left for close() to do
            self._opened.remove(connection)

    def _open(self) -> Any:
        proxied = self.engine.raw_connection()
        proxied.detach()  # ours from now on: the pool forgets it
        driver = proxied.dbapi_connection
        _set_autocommit(driver)
        self._opened.append(driver)
        return driver


def _set_autocommit(driver: Any) -> None:
    # Each read must see the newest commit: no transaction may stay open between reads.
    autocommit = getattr(driver, "autocommit", None)
    if callable(autocommit):  # PyMySQL
        driver.autocommit(True)
    elif autocommit is not None and not isinstance(driver, sqlite3.Connection):
        driver.autocommit = True  # psycopg
    # SQLite connections already run without an implicit transaction (app.database).


def _close_all(connections: list[Any]) -> None:
    while connections:
        _close_quietly(connections.pop())


def _close_quietly(driver: Any) -> None:
    try:
        driver.close()
    except Exception:  # noqa: BLE001, S110 - a broken connection may refuse to close
        pass
