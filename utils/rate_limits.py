"""Every rate limit of the API, counted in one storage and refused with one 429.

Three limits, each per client address (ProxyFix's when proxies are trusted, else the socket's):

* RATELIMIT_DEFAULT: every request to the parts blueprint, per endpoint, so a phone polling
  the list does not spend the budget for claiming a part;
* AUTH_CHECK_INTERVAL_SECONDS: one successful /auth/check per interval;
* AUTH_FAILURE_LIMIT: wrong keys; once spent, the client is refused even with the right key
  until the window ends, so guessing cannot go on.

Flask-Limiter is not used: its request hook re-resolved every route's limits on every request
(more than our whole single-part view costs). Only its engine is, the `limits` library, with
the same settings: RATELIMIT_STORAGE_URI (memory:// for one process; redis://, or
sqlite:///path for the processes of one host, shared by every worker),
fixed windows, keys under RATELIMIT_KEY_PREFIX. Health, the web app and the API docs are not
limited because no limit is applied outside the parts blueprint: there is nothing to exempt.
"""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask
from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError
from limits.storage import MemoryStorage, RedisStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from utils.errors import RateLimitedError
from utils.file_limits import SCHEME as FILE_SCHEME
from utils.file_limits import FileWindows
from utils.limit_leases import LimitLeases
from utils.settings_values import ConfigError

LOCKED_OUT_MESSAGE = "Too many failed API key attempts; try again later"


# How often a memory storage sweeps out the windows of clients that went away. Counting never
# waits for a sweep: an expired window is reset when its key is next read.
SWEEP_INTERVAL_SECONDS = 5.0


class SweptMemoryStorage(MemoryStorage):
    """limits' memory storage, sweeping expired windows at most every SWEEP_INTERVAL_SECONDS.

    The library's starts a new 10 ms timer thread whenever the last one has ended, so a busy
    server started about a hundred threads a second (about 55 µs of CPU per request at 1,000
    requests a second, BENCHMARKS.md "Scale"). Counting itself is the library's, unchanged.
    """

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        self._next_sweep = 0.0
        super().__init__(uri, **options)

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - overrides the library's
        now = time.monotonic()
        if now >= self._next_sweep and not self.timer.is_alive():
            self._next_sweep = now + SWEEP_INTERVAL_SECONDS
            self.timer = threading.Timer(SWEEP_INTERVAL_SECONDS, self._sweep)
            self.timer.daemon = True
            self.timer.start()

    def _sweep(self) -> None:
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def storage_for_uri(uri: str, root: Path | None = None) -> Storage:
    """The storage RATELIMIT_STORAGE_URI names; memory:// is the calmer SweptMemoryStorage,
    sqlite:///path a file every process on this host shares (utils.file_limits; a relative
    path is under `root`)."""
    scheme = uri.partition("://")[0]
    if scheme == "memory":
        return SweptMemoryStorage(uri)
    if scheme == FILE_SCHEME:
        return FileWindows(uri, root)
    return storage_from_string(uri)


# On Redis, one round trip for what a keyed request counts and reads: a hit on each default
# limit (INCRBY, and EXPIRE when the window is new, as limits' own incr_expire script; stopping
# at the first spent, as FixedWindowRateLimiter.hit one by one would) and the wrong-key counts.
# KEYS: the limits to hit, then the counters to read. ARGV: how many to hit, their expiries,
# their amounts.
COUNT_AND_READ = """
local hits = tonumber(ARGV[1])
local out = {}
for i = 1, hits do
  local count = redis.call('INCRBY', KEYS[i], 1)
  if count == 1 then redis.call('EXPIRE', KEYS[i], ARGV[1 + i]) end
  out[i] = count
  if count > tonumber(ARGV[1 + hits + i]) then
    for j = i + 1, hits do out[j] = 0 end
    break
  end
end
for i = hits + 1, #KEYS do out[i] = tonumber(redis.call('GET', KEYS[i]) or '0') end
return out
"""


class LimitCounters:
    """One app's counters: the storage and exact count-and-check against it."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.windows = FixedWindowRateLimiter(storage)
        # Exactly limits' RedisStorage (a cluster would refuse keys of several slots at once).
        redis = type(storage) is RedisStorage
        self._count_and_read = (
            storage.get_connection().register_script(COUNT_AND_READ) if redis else None
        )
        # A host's shared file counts and reads in one statement (FileWindows.incr_and_read).
        self._file = storage if isinstance(storage, FileWindows) else None
        # MemoryStorage.incr reads the counter back after releasing its per-key lock (and
        # may hand two threads two locks for a new key), so concurrent hits can misjudge the
        # count; Redis counts and reads in one script. Serialising memory hits makes them exact.
        self._hit_lock = threading.Lock() if isinstance(storage, MemoryStorage) else None
        # The default limit's hits, reserved a few at a time per client (utils.limit_leases).
        self.leases = LimitLeases(storage, self.hit, self._hit_lock or threading.Lock())
        # Live counts read in one round trip without a write, beside a leased hit.
        self._live = self._file.read_live if self._file is not None else None
        if redis:
            self._live = functools.partial(_redis_counts, storage)

    def hit(self, item: RateLimitItem, *scope: str) -> bool:
        """Count one hit; True if it was within the limit, exact under concurrent requests."""
        if self._hit_lock is None:
            return self.windows.hit(item, *scope)
        with self._hit_lock:
            return self.windows.hit(item, *scope)

    def count_and_read(
        self,
        hits: tuple[RateLimitItem, ...],
        hit_scope: tuple[str, ...],
        reads: tuple[RateLimitItem, ...],
        read_scope: tuple[str, ...],
    ) -> tuple[RateLimitItem | None, tuple[int, ...] | None]:
        """Count one hit against each of `hits` until one is spent (returned), and read the
        counts of `reads` (None where reading them here would not save a round trip)."""
        if reads and len(hits) == 1 and self._live is not None and self.leases.leases(hits[0]):
            # Mostly no write: a leased hit, then the wrong-key counts read (exact).
            spent = None if self.leases.hit(hits[0], *hit_scope) else hits[0]
            return spent, self._live([read.key_for(*read_scope) for read in reads])
        if self._file is not None and len(hits) == 1 and reads:
            (item,) = hits
            count, counts = self._file.incr_and_read(
                item.key_for(*hit_scope),
                item.get_expiry(),
                [read.key_for(*read_scope) for read in reads],
            )
            return (item if count > item.amount else None), counts
        if self._count_and_read is None or not reads:
            spent = next((item for item in hits if not self.leases.hit(item, *hit_scope)), None)
            return spent, None
        return self._count_and_read_on_redis(hits, hit_scope, reads, read_scope)

    def _count_and_read_on_redis(
        self,
        hits: tuple[RateLimitItem, ...],
        hit_scope: tuple[str, ...],
        reads: tuple[RateLimitItem, ...],
        read_scope: tuple[str, ...],
    ) -> tuple[RateLimitItem | None, tuple[int, ...]]:
        """count_and_read in one script (COUNT_AND_READ), for hits counted one by one."""
        prefixed = self.storage.prefixed_key  # type: ignore[attr-defined]
        keys = [prefixed(item.key_for(*hit_scope)) for item in hits]
        keys += [prefixed(item.key_for(*read_scope)) for item in reads]
        args = [len(hits), *(item.get_expiry() for item in hits), *(i.amount for i in hits)]
        counts = [int(count) for count in self._count_and_read(keys=keys, args=args)]
        spent = next((item for item, n in zip(hits, counts, strict=False) if n > item.amount), None)
        return spent, tuple(counts[len(hits) :])

    def seconds_left(self, item: RateLimitItem, *scope: str) -> float:
        """How long until the window for `scope` ends."""
        reset_at, _remaining = self.windows.get_window_stats(item, *scope)
        return max(reset_at - time.time(), 0.0)


def _redis_counts(storage: Storage, keys: list[str]) -> tuple[int, ...]:
    """The live counts of limits' `keys` on Redis, in one MGET (an ended window is gone)."""
    prefixed = storage.prefixed_key  # type: ignore[attr-defined]
    values = storage.get_connection().mget([prefixed(key) for key in keys])
    return tuple(int(value or 0) for value in values)


class RateLimits:
    """The extension: init_app gives the app its counters in RATELIMIT_STORAGE_URI."""

    def init_app(self, app: Flask) -> None:
        # A relative file is under the project folder, as a relative SQLite database is.
        project = Path(app.root_path).parent
        try:
            storage = storage_for_uri(str(app.config["RATELIMIT_STORAGE_URI"]), project)
        except (ValueError, ConfigurationError) as exc:  # a mistyped URI: the setting to fix
            raise ConfigError(f"RATELIMIT_STORAGE_URI: {exc}") from None
        for key in ("RATELIMIT_DEFAULT", "AUTH_FAILURE_LIMIT"):  # config.py checked the syntax
            try:
                parsed_limits(str(app.config[key]))
            except ValueError:  # a limit every request would fail on (a 500), not a start
                raise ConfigError(f"{key} is not a rate limit the limits library reads") from None
        app.extensions["rate_limits"] = LimitCounters(storage)

    def storage_for(self, app: Flask) -> Storage:
        return counters_of(app).storage

    def check(self, app: Flask) -> bool:
        """Whether the app's storage answers (a Redis that is down does not)."""
        return bool(counters_of(app).storage.check())


def counters_of(app: Flask) -> LimitCounters:
    """The counters init_app gave this app (each app its own, as each has its settings)."""
    return app.extensions["rate_limits"]


@functools.lru_cache(maxsize=16)
def parsed_limits(text: str) -> tuple[RateLimitItem, ...]:
    """'3000 per minute; 100 per second' → limit items (parsed once per distinct text)."""
    return tuple(parse_many(text)) if text.strip() else ()


class ClientLimits:
    """One client's side of an app's counters, under RATELIMIT_KEY_PREFIX (apps may share
    one Redis). The caller names the client's address (ProxyFix's when proxies are trusted)
    and hands over the limit settings; nothing here reads the request or the app."""

    def __init__(self, counters: LimitCounters, prefix: str, address: str) -> None:
        self.counters, self.prefix, self.address = counters, prefix, address
        # The wrong-key counts read with the default limit's hits (Redis: one round trip).
        self._failures: tuple[int, ...] | None = None

    def _scope(self, *parts: str) -> tuple[str, ...]:
        return (self.prefix, *parts, self.address)

    def spend(self, limits_text: str, *scope: str, waiting_for: str) -> None:
        """Count one hit against each limit; 429 with today's sentence once one is spent."""
        key = self._scope(*scope)
        for item in parsed_limits(limits_text):
            if not self.counters.hit(item, *key):
                wait = self.counters.seconds_left(item, *key)
                raise RateLimitedError("Rate limited", retry_after=wait, waiting_for=waiting_for)

    def enforce_default(self, limits_text: str, endpoint: str, failure_limit: str = "") -> None:
        """RATELIMIT_DEFAULT, counted per endpoint; for a view that needs the key, the
        wrong-key counts of `failure_limit` are read with it, for refuse_if_locked_out."""
        key = self._scope("default", endpoint)
        spent, self._failures = self.counters.count_and_read(
            parsed_limits(limits_text),
            key,
            parsed_limits(failure_limit),
            self._scope("auth-failure"),
        )
        if spent is not None:
            wait = self.counters.seconds_left(spent, *key)
            raise RateLimitedError("Rate limited", retry_after=wait, waiting_for="trying again")

    def enforce_auth_check_interval(self, interval_seconds: float) -> None:
        """One /auth/check per interval (whole seconds, at least one); 0 = no interval."""
        if float(interval_seconds) <= 0:
            return
        seconds = max(1, round(float(interval_seconds)))
        waiting_for = "checking authentication again"
        self.spend(f"1 per {seconds} second", "auth-check", waiting_for=waiting_for)

    def _lockout_refusal(self, item: RateLimitItem, scope: tuple[str, ...]) -> RateLimitedError:
        wait = max(self.counters.seconds_left(item, *scope), 1.0)
        return RateLimitedError(LOCKED_OUT_MESSAGE, retry_after=wait)

    def refuse_if_locked_out(self, failure_limit: str) -> None:
        """429 while the client has used up its wrong-key attempts (even for the right key)."""
        scope = self._scope("auth-failure")
        items, counts = parsed_limits(failure_limit), self._failures
        for index, item in enumerate(items):
            # A count read with the default limit's hits, else the storage asked now.
            if counts is not None and len(counts) == len(items):
                spent = counts[index] >= item.amount
            else:
                spent = not self.counters.windows.test(item, *scope)
            if spent:
                raise self._lockout_refusal(item, scope)

    def count_wrong_key(self, failure_limit: str) -> None:
        """Count a wrong key; 429 for the attempt that finds none left (the caller says 401)."""
        scope = self._scope("auth-failure")
        for item in parsed_limits(failure_limit):
            # One atomic count-and-check: concurrent guesses cannot all pass a separate check.
            if not self.counters.hit(item, *scope):
                raise self._lockout_refusal(item, scope)
