"""Rate-limit windows in a SQLite file, shared by every server process on one host.

RATELIMIT_STORAGE_URI=sqlite:////var/lib/aerie/rate-limits.db lets gunicorn run several
workers without Redis: each request's count is one UPSERT in the file (its own transaction,
atomic under SQLite's write lock, so concurrent hits from any process are counted exactly,
as Redis's script counts them). The file holds only counters: WAL and synchronous=OFF, since
losing the last windows in a power cut costs nothing. Windows are fixed (the app's strategy,
utils.rate_limits); expired rows are swept at most every SWEEP_INTERVAL_SECONDS.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from limits.storage import Storage

SCHEME = "sqlite"
# A waiting writer gives up after this long (counters are written in microseconds).
BUSY_TIMEOUT_SECONDS = 5.0
SWEEP_INTERVAL_SECONDS = 60.0
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS windows ("
    "key TEXT PRIMARY KEY, hits INTEGER NOT NULL, expires REAL NOT NULL) WITHOUT ROWID"
)
# A window that has ended starts again at this hit, with a new end.
_COUNT = (
    "INSERT INTO windows (key, hits, expires) VALUES (:key, :amount, :expires) "
    "ON CONFLICT (key) DO UPDATE SET "
    "hits = CASE WHEN windows.expires <= :now THEN excluded.hits "
    "ELSE windows.hits + excluded.hits END, "
    "expires = CASE WHEN windows.expires <= :now THEN excluded.expires "
    "ELSE windows.expires END "
    "RETURNING hits"
)
_RESERVE = _COUNT + ", expires"


@functools.cache
def _count_and_read(reads: int) -> str:
    """_COUNT returning, after the hit's count, the live count of each :read<n> key."""
    live = "(SELECT hits FROM windows AS w WHERE w.key = :read{0} AND w.expires > :now)"
    return ", ".join([_COUNT, *(live.format(index) for index in range(reads))])


@functools.cache
def _read_live(reads: int) -> str:
    """One statement reading the live count of `reads` keys (each ? key, ? now)."""
    live = "(SELECT hits FROM windows WHERE key = ? AND expires > ?)"
    return "SELECT " + ", ".join([live] * reads)  # noqa: S608 - placeholders only


def file_path(uri: str, root: Path | None = None) -> Path:
    """The file a sqlite:////absolute or sqlite:///relative URI names (relative to `root`,
    else to the current folder)."""
    scheme, _, rest = uri.partition("://")
    if scheme != SCHEME or not rest.startswith("/") or rest == "/":
        raise ValueError(f"not a {SCHEME}:///path URI: {uri!r}")
    path = Path(rest[1:])
    return path if path.is_absolute() or root is None else root / path


def host_file_uri(database_url: str, fallback_folder: Path) -> str:
    """Where the server processes of one host count together: beside a SQLite database (a
    folder the server writes anyway; parts.db → parts.rate-limits.db), else in
    `fallback_folder`."""
    if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
        database = Path(database_url.removeprefix("sqlite:///").partition("?")[0])
        return f"{SCHEME}:///{database.with_suffix('.rate-limits.db')}"
    return f"{SCHEME}:///{fallback_folder / 'rate-limits.db'}"


def limits_for_workers(uri: str, database_url: str, workers: int | None, fallback: Path) -> str:
    """RATELIMIT_STORAGE_URI for a server of `workers` processes (None: gunicorn's default,
    several): memory:// counts in each process alone, so the wrong-key lockout would allow
    its guesses once per worker; unless one worker runs, they share the host's file."""
    if uri != "memory://" or workers == 1:
        return uri
    return host_file_uri(database_url, fallback)


class FileWindows(Storage):
    """limits' storage interface over one SQLite file; one connection per thread and process
    (a forked worker opens its own)."""

    STORAGE_SCHEME = None  # built by utils.rate_limits.storage_for_uri, not limits' registry

    def __init__(self, uri: str, root: Path | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        self.path = file_path(uri, root)
        self._local = threading.local()
        self._next_sweep = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():
            # Opened on first use, not when the app is built: a missing or unwritable folder
            # is check()'s False, which the server's start reports as a setting to fix. One
            # missing level is made (instance/ on a fresh server), as for a SQLite database.
            folder = self.path.parent
            if not folder.is_dir() and folder.parent.is_dir():
                folder.mkdir(mode=0o700, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute(_SCHEMA)
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        values = {"key": key, "amount": amount, "expires": now + expiry, "now": now}
        connection = self._connection()
        # fetchall: a statement stepped to its end ends its transaction (the write lock)
        ((hits,),) = connection.execute(_COUNT, values).fetchall()
        self._sweep(now)
        return int(hits)

    def reserve(self, key: str, expiry: int, amount: int) -> tuple[int, float]:
        """`amount` hits on `key` (utils.limit_leases): the count after them and when the
        window ends, in one statement."""
        now = time.time()
        values = {"key": key, "amount": amount, "expires": now + expiry, "now": now}
        ((hits, expires),) = self._connection().execute(_RESERVE, values).fetchall()
        self._sweep(now)
        return int(hits), float(expires)

    def incr_and_read(
        self, key: str, expiry: int, reads: Sequence[str]
    ) -> tuple[int, tuple[int, ...]]:
        """One hit on `key` and the live counts of `reads`, in one statement: a keyed request's
        default limit and its wrong-key counts in one write transaction (two statements cost
        each request about 0.15 ms of CPU under 5 workers, BENCHMARKS.md "Scale")."""
        now = time.time()
        values: dict[str, Any] = {"key": key, "amount": 1, "expires": now + expiry, "now": now}
        values.update({f"read{index}": read for index, read in enumerate(reads)})
        ((hits, *counts),) = (
            self._connection().execute(_count_and_read(len(reads)), values).fetchall()
        )
        self._sweep(now)
        return int(hits), tuple(int(count or 0) for count in counts)

    def read_live(self, keys: Sequence[str]) -> tuple[int, ...]:
        """The live counts of `keys`, in one statement that takes no write lock (WAL)."""
        now = time.time()
        values = [value for key in keys for value in (key, now)]
        (counts,) = self._connection().execute(_read_live(len(keys)), values).fetchall()
        return tuple(int(count or 0) for count in counts)

    def _sweep(self, now: float) -> None:
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_INTERVAL_SECONDS
            self._connection().execute("DELETE FROM windows WHERE expires <= ?", (now,))

    def get(self, key: str) -> int:
        rows = (
            self._connection()
            .execute("SELECT hits FROM windows WHERE key = ? AND expires > ?", (key, time.time()))
            .fetchall()
        )
        return int(rows[0][0]) if rows else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        rows = (
            self._connection()
            .execute("SELECT expires FROM windows WHERE key = ? AND expires > ?", (key, now))
            .fetchall()
        )
        return float(rows[0][0]) if rows else now

    def check(self) -> bool:
        try:
            self._connection().execute("SELECT count(*) FROM windows").fetchall()
        except (sqlite3.Error, OSError):
            return False
        return True

    def reset(self) -> int | None:
        return self._connection().execute("DELETE FROM windows").rowcount

    def clear(self, key: str) -> None:
        self._connection().execute("DELETE FROM windows WHERE key = ?", (key,))
