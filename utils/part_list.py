"""The list endpoints' bytes, cached per parts revision (the SPA's call on every phone)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.orm import Session

from models.queries import PartQuery, find_parts
from models.revision import current_parts_revision

CACHE_ENTRIES = 64


@dataclass(frozen=True)
class RenderedList:
    """A serialised list envelope and its validator."""

    body: bytes
    etag: str


class _RenderedListCache:
    """A small LRU keyed by (revision, query); safe for a threaded server."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, PartQuery], RenderedList] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, PartQuery]) -> RenderedList | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[int, PartQuery], entry: RenderedList) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _cache() -> _RenderedListCache:
    # One cache per app: a test's fresh database never sees another app's bodies.
    return current_app.extensions.setdefault("part_list_cache", _RenderedListCache(CACHE_ENTRIES))


def render_part_list(session: Session, query: PartQuery) -> RenderedList:
    """The envelope {parts,total,limit,offset} as bytes.

    The revision is read before the rows, so a cached body is never older than its key.
    """
    revision = current_parts_revision(session)
    key = (revision, query)
    cached = _cache().get(key)
    if cached is not None:
        return cached
    total, parts = find_parts(session, query)
    payload = {
        "limit": query.limit or None,
        "offset": query.offset,
        "parts": [part.to_dict() for part in parts],
        "total": total,
    }
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    rendered = RenderedList(body=body, etag=digest)
    _cache().put(key, rendered)
    return rendered
