"""Leased hits of the default limit: a process takes a few of a client's hits at a time.

Counting every request in the storage the processes share (the host's file, Redis) is a write
per request, about 0.15 ms of a single part's 1 ms under gunicorn (BENCHMARKS.md "Scale").
Instead a process reserves `lease_size` hits of the client's window in one count, and serves
that client's next requests to the same endpoint from what it reserved, until it has used them
or the window ends.

* Never more than the limit: a reservation is counted in full, and only the reserved hits the
  count places within the limit are served.
* A client may be refused a little early: the other processes may hold hits it has not used,
  at most (processes - 1) x (lease - 1). A process that sees the count come near the limit
  counts its next hits one by one.
* A window ends where the storage says: a reservation reads the window's end with its count,
  in one step, and nothing reserved is served after it.
* Small limits (under LEASE_MIN_AMOUNT) and the wrong-key lockout are counted one by one, as
  are storages that cannot say a window's end with its count.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem
from limits.storage import MemoryStorage, RedisStorage, Storage

from utils.file_limits import FileWindows

# The most hits a reservation takes, and how many hits of the limit each leased hit stands
# for: 3000 per minute leases 16 at a time, 500 per minute 5, under 200 none.
LEASE_MAX = 16
AMOUNT_PER_LEASED_HIT = 100
LEASE_MIN_AMOUNT = 2 * AMOUNT_PER_LEASED_HIT
# Closer than this many leases to the limit, a process counts one by one.
NEAR_LIMIT_LEASES = 4
# Past this many clients' leases a process forgets the ended ones (then all, if none ended).
LEASES_KEPT_MAX = 4096

# INCRBY and, for a new window, EXPIRE, as limits' own incr_expire; then the window's PTTL.
RESERVE_ON_REDIS = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
"""

# (key, window seconds, hits) -> (the count after them, when the window ends, epoch seconds)
Reserve = Callable[[str, int, int], tuple[int, float]]


def lease_size(amount: int) -> int:
    """How many hits a reservation takes for a limit of `amount` (1: counted one by one)."""
    if amount < LEASE_MIN_AMOUNT:
        return 1
    return min(LEASE_MAX, amount // AMOUNT_PER_LEASED_HIT)


@dataclass
class Lease:
    ends: float  # epoch seconds: the window's end in the storage
    left: int  # reserved hits within the limit not yet served
    count: int  # the window's count when this process last counted


class LimitLeases:
    """One app's leases in this process over `storage`; `exact_hit` counts one hit the
    usual way (for what is not leased)."""

    def __init__(
        self, storage: Storage, exact_hit: Callable[..., bool], memory_lock: threading.Lock
    ) -> None:
        self._exact_hit = exact_hit
        self._reserve = _reserver(storage, memory_lock)
        self._lock = threading.Lock()
        self._leases: dict[str, Lease] = {}
        self._pid = os.getpid()

    def leases(self, item: RateLimitItem) -> bool:
        """Whether hits of `item` are reserved a few at a time here."""
        return self._reserve is not None and lease_size(item.amount) > 1

    def hit(self, item: RateLimitItem, *scope: str) -> bool:
        """Count one hit; True if it is within the limit."""
        size = lease_size(item.amount)
        if self._reserve is None or size == 1:
            return self._exact_hit(item, *scope)
        key = item.key_for(*scope)
        now = time.time()
        with self._lock:
            if self._pid != os.getpid():  # a forked child must not serve its parent's hits
                self._leases.clear()
                self._pid = os.getpid()
            lease = self._leases.get(key)
            if lease is not None and lease.left > 0 and now < lease.ends:
                lease.left -= 1
                return True
        if lease is not None and now < lease.ends:
            if lease.count >= item.amount - NEAR_LIMIT_LEASES * size:
                size = 1
        count, ends = self._reserve(key, item.get_expiry(), size)
        first = count - size + 1  # the first of the reserved hits: this request's
        if first > item.amount:
            self._keep(key, Lease(ends, 0, count))
            return False
        self._keep(key, Lease(ends, min(count, item.amount) - first, count))
        return True

    def _keep(self, key: str, lease: Lease) -> None:
        with self._lock:
            if len(self._leases) >= LEASES_KEPT_MAX and key not in self._leases:
                now = time.time()
                for other in [k for k, kept in self._leases.items() if kept.ends <= now]:
                    del self._leases[other]
                if len(self._leases) >= LEASES_KEPT_MAX:
                    self._leases.clear()
            old = self._leases.get(key)
            if old is not None and old.ends == lease.ends and old.left > 0:
                lease.left += old.left  # two threads reserved in one window: keep both
            self._leases[key] = lease


def _reserver(storage: Storage, memory_lock: threading.Lock) -> Reserve | None:
    """How to count hits and read the window's end in one step on `storage` (None: it has
    no such step here; its hits are counted one by one). In memory, only this process's
    threads count: under `memory_lock`, the one its exact hits take, nothing comes between."""
    if isinstance(storage, FileWindows):
        return storage.reserve
    if type(storage) is RedisStorage:  # exactly limits' (a cluster's keys differ)
        script = storage.get_connection().register_script(RESERVE_ON_REDIS)

        def on_redis(key: str, expiry: int, hits: int) -> tuple[int, float]:
            # The time before asking: the window ends no sooner than this plus what is left.
            asked = time.time()
            count, milliseconds = script(keys=[storage.prefixed_key(key)], args=[expiry, hits])
            return int(count), asked + max(int(milliseconds), 0) / 1000

        return on_redis
    if isinstance(storage, MemoryStorage):

        def in_memory(key: str, expiry: int, hits: int) -> tuple[int, float]:
            with memory_lock:
                return storage.incr(key, expiry, hits), storage.get_expiry(key)

        return in_memory
    return None
