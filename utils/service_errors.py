"""Which errors mean a service the request needs is not answering for the moment: the
database (refused or dropped connections, too many clients, a full pool, a lock held past its
timeout, a deadlock) or the Redis holding the rate limits. Those are worth trying again, so
the API answers them 503 with Retry-After; anything else a driver raises (no such table, bad
SQL) stays a 500, a bug to fix."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

RETRY_AFTER_SECONDS = 5
BUSY_ATTEMPTS = 3  # committed_despite_busy's tries

# SQLite's messages for a file it cannot use now (the rest of its OperationalErrors, such as
# "no such table", are bugs).
_SQLITE_BUSY = ("database is locked", "unable to open database file", "disk i/o error")
_SQLITE_FULL = "database or disk is full"
# PostgreSQL's SQLSTATE classes: 08 connection exception, 40 transaction rollback (deadlock,
# serialization), 53 insufficient resources (too many connections), 57P operator
# intervention (shutdown, starting up).
_POSTGRES_CLASSES = ("08", "40", "53", "57P")
# MariaDB/MySQL client and server codes: cannot connect, server gone or lost, too many
# connections, lock wait timeout, deadlock.
_MYSQL_CODES = frozenset({1040, 1205, 1213, 2002, 2003, 2006, 2013})


def unavailable_service(error: BaseException) -> str | None:
    """ "database" or "rate-limit storage" when `error` says that service is not answering
    for the moment, else None. Only modules already imported are asked: a driver that was
    never loaded cannot have raised."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None:
        if isinstance(error, sqlalchemy_exc.TimeoutError):  # no pooled connection in time
            return "database"
        if isinstance(error, sqlalchemy_exc.DBAPIError):
            if error.connection_invalidated:
                return "database"
            error = error.orig or error
    if _database_busy(error):
        return "database"
    redis_errors = sys.modules.get("redis.exceptions")
    if redis_errors is not None and isinstance(
        error, redis_errors.ConnectionError | redis_errors.TimeoutError
    ):
        return "rate-limit storage"
    return None


def _database_busy(error: BaseException) -> bool:
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        return message.startswith(_SQLITE_BUSY) or message == _SQLITE_FULL
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(error, psycopg.OperationalError):
        state = getattr(error, "sqlstate", None)
        return state is None or state.startswith(_POSTGRES_CLASSES)  # None: no connection
    pymysql_err = sys.modules.get("pymysql.err")
    if pymysql_err is not None and isinstance(
        error, pymysql_err.OperationalError | pymysql_err.InterfaceError
    ):
        code = error.args[0] if error.args else None
        return code in _MYSQL_CODES or isinstance(error, pymysql_err.InterfaceError)
    return False


def committed_despite_busy(session: Any, write: Callable[..., Any], *args: Any, **kw: Any) -> None:
    """Run `write(*args, **kw)` and commit; a deadlock or a lock held too long (MariaDB's 1213 under
    mixed writes) rolls back and runs it again, a moment later. For background work, whose
    failure would otherwise wait for another worker's takeover (a conversion redone)."""
    for attempt in range(1, BUSY_ATTEMPTS + 1):
        try:
            write(*args, **kw)
            session.commit()
            return
        except Exception as exc:
            session.rollback()
            if attempt == BUSY_ATTEMPTS or unavailable_service(exc) != "database":
                raise
            time.sleep(0.1 * attempt)
