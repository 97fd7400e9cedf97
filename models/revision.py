"""A counter that moves with every change to the parts table, for caches and ETags."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from typing import Any

from sqlalchemy import BigInteger, String, event, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import db

PARTS = "parts"


class Revision(db.Model):
    """One row per watched table; `value` grows by one with every committed change."""

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


def bump_parts_revision(session: Session) -> None:
    """Move the parts revision inside the caller's transaction."""
    connection = session.connection()
    result = connection.execute(
        update(Revision).where(Revision.name == PARTS).values(value=Revision.value + 1)
    )
    if result.rowcount == 0:
        connection.execute(insert(Revision).values(name=PARTS, value=1))


REVISION_SQL = "SELECT value FROM revisions WHERE name = 'parts'"


class RevisionReader:
    """Reads the committed parts revision on every hot read (the list and single parts).

    Each server thread keeps one driver connection of its own in autocommit, outside the
    pool: a pool checkout costs more than the query. Any error drops that connection and
    the next read opens a fresh one.
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
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._open()
        try:
            cursor = connection.cursor()
            cursor.execute(REVISION_SQL)
            row = cursor.fetchone()
            cursor.close()
        except Exception:
            self._local.connection = None
            _close_quietly(connection)
            raise
        return int(row[0]) if row else 0

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


def _touches_parts(session: Session) -> bool:
    # By table name, not class: models.part imports this module, so it cannot import Part.
    return any(
        getattr(obj, "__tablename__", None) == PARTS
        for group in (session.new, session.dirty, session.deleted)
        for obj in group
    )


@event.listens_for(Session, "after_flush")
def _bump_on_part_flush(session: Session, _context: Any) -> None:
    # Every ORM write to a part moves the revision in the same transaction, so no view can
    # forget it; bulk statements call bump_parts_revision themselves.
    if _touches_parts(session):
        bump_parts_revision(session)
