"""The parts cache's stores: a rendered body with its ETag (and its gzip, made once), and
where bodies are kept per parts revision (utils.parts_cache decides what goes where)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Hashable
from contextlib import suppress
from dataclasses import dataclass, field

from cachetools import LRUCache

from models.queries import PartQuery
from utils.compressed_bodies import GzipOnce

CACHE_ENTRIES = 64
CACHE_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class RenderedList:
    """A serialised JSON body (a list envelope, one part or statistics) and its validator.

    Its gzip is made on the first request that accepts gzip and kept with it, so a cached
    body is compressed once per parts revision (the byte bound counts the plain body only:
    the gzip adds about a sixth).
    """

    body: bytes
    etag: str
    next_after: str | None = None  # a full list page: the keyset token of the page after it
    _gzip: GzipOnce = field(default_factory=GzipOnce, compare=False, repr=False)

    def gzipped(self, level: int) -> bytes:
        """The body gzipped at `level`, compressed at most once."""
        return self._gzip.get(self.body, level)

    @property
    def gzips_made(self) -> int:
        """How many times this body has been gzipped (once per level asked)."""
        return self._gzip.made

    @classmethod
    def hashed(cls, body: bytes, next_after: str | None = None) -> RenderedList:
        """A body with a strong ETag hashed from its bytes, made once with it: a list page
        or a statistics body has no single row whose stamp could name it."""
        return cls(body, hashlib.blake2b(body, digest_size=12).hexdigest(), next_after)


class ListBodies:
    """An LRU keyed by (revision, query) holding at most `size` bodies and `max_bytes` bytes
    of them (a full list of 5,000 parts is 3.5 MB); safe for a threaded server."""

    def __init__(self, size: int, max_bytes: int = CACHE_MAX_BYTES) -> None:
        # Each body costs at least an equal share of the bytes, so the byte bound also caps
        # the count at `size`; a body larger than max_bytes is served but not kept.
        share = max(1, max_bytes // size)
        self._entries: LRUCache[tuple[int, PartQuery], RenderedList] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda entry: max(len(entry.body), share)
        )
        self._lock = threading.Lock()

    def get(self, key: tuple[int, PartQuery]) -> RenderedList | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: tuple[int, PartQuery], entry: RenderedList) -> None:
        with self._lock:
            with suppress(ValueError):  # larger than the whole cache
                self._entries[key] = entry


class WholeList:
    """The whole list (the SPA's call) of the newest revision, in a slot of its own: past
    CACHE_MAX_BYTES (about 46k parts) the LRU would not keep it, and every phone's call would
    render it again (2 s at 60k parts), one at a time."""

    def __init__(self) -> None:
        self._revision, self._body = -1, None
        self._lock = threading.Lock()

    def get(self, revision: int) -> RenderedList | None:
        with self._lock:
            return self._body if revision == self._revision else None

    def put(self, revision: int, body: RenderedList) -> None:
        with self._lock:
            if revision >= self._revision:
                self._revision, self._body = revision, body


class ListTotals:
    """How many parts match a filter (category and search) at a revision: another sort or
    page of the same filter skips the count (a COUNT over 100k rows on PostgreSQL)."""

    def __init__(self, enabled: bool, size: int = 256) -> None:
        self.enabled = enabled
        self._entries: LRUCache[tuple[int, str | None, str | None], int] = LRUCache(size)
        self._lock = threading.Lock()

    def get(self, revision: int, query: PartQuery) -> int | None:
        if not self.enabled:
            return None
        with self._lock:
            return self._entries.get((revision, query.category, query.search))

    def put(self, revision: int, query: PartQuery, total: int) -> None:
        if self.enabled:
            with self._lock:
                self._entries[(revision, query.category, query.search)] = total


# Single-part bodies kept per process: about 1.3 KB each, so some 12,000 parts (a crawl of a
# 100k archive kept 125 MB in every worker), the least recently read going first.
PART_BODIES_MAX_BYTES = 16 * 1024 * 1024


class PartBodies:
    """Bodies of the newest revision seen, by part id (or statistics name), at most
    `max_bytes` of them (least recently used out); older revisions are dropped whole."""

    def __init__(self, max_bytes: int = PART_BODIES_MAX_BYTES) -> None:
        self.revision = -1
        self.max_bytes = max_bytes
        self.bodies = self._empty()
        self.lock = threading.Lock()

    def _empty(self) -> LRUCache[Hashable, RenderedList]:
        return LRUCache(maxsize=self.max_bytes, getsizeof=lambda entry: len(entry.body) + 200)

    def get(self, revision: int, key: Hashable) -> RenderedList | None:
        with self.lock:
            return self.bodies.get(key) if revision == self.revision else None

    def put(self, revision: int, key: Hashable, rendered: RenderedList) -> None:
        with self.lock:
            if revision > self.revision:
                self.revision, self.bodies = revision, self._empty()
            if revision == self.revision:
                with suppress(ValueError):  # one body larger than the whole bound: not kept
                    self.bodies[key] = rendered
