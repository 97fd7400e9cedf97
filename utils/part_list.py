"""Part bodies cached per parts revision: the list (the SPA's call on every phone) and single
parts. A write anywhere moves the revision, so a cached body is never stale."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from cachetools import LRUCache
from flask import current_app
from sqlalchemy.orm import Session

from models.base import db
from models.part import Part
from models.queries import PartQuery, find_parts, get_part_or_404
from models.revision import RevisionReader

CACHE_ENTRIES = 64
CACHE_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class RenderedList:
    """A serialised list envelope and its validator."""

    body: bytes
    etag: str


class _RenderedListCache:
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


def _cache() -> _RenderedListCache:
    # One cache per app: a test's fresh database never sees another app's bodies.
    return current_app.extensions.setdefault("part_list_cache", _RenderedListCache(CACHE_ENTRIES))


def _revision() -> int:
    reader = current_app.extensions.get("revision_reader")
    if reader is None:
        reader = current_app.extensions.setdefault("revision_reader", RevisionReader(db.engine))
    return reader.read()


def render_part_list(session: Session, query: PartQuery) -> RenderedList:
    """The envelope {parts,total,limit,offset} as bytes.

    The revision is read before the rows, so a cached body is never older than its key.
    """
    revision = _revision()
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
    body = json_body(payload)
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    rendered = RenderedList(body=body, etag=digest)
    _cache().put(key, rendered)
    return rendered


def json_body(payload: object) -> bytes:
    """Bytes exactly as jsonify writes them (compact, sorted keys, ASCII, a final newline),
    so every JSON body of the API has one shape whether it was cached or not."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return (text + "\n").encode("ascii")


class _PartBodies:
    """Single-part bodies of the newest revision seen; older revisions are dropped whole."""

    def __init__(self) -> None:
        self.revision = -1
        self.bodies: dict[int, RenderedList] = {}
        self.lock = threading.Lock()

    def get(self, revision: int, part_id: int) -> RenderedList | None:
        with self.lock:
            return self.bodies.get(part_id) if revision == self.revision else None

    def put(self, revision: int, part_id: int, rendered: RenderedList) -> None:
        with self.lock:
            if revision > self.revision:
                self.revision, self.bodies = revision, {}
            if revision == self.revision:
                self.bodies[part_id] = rendered


def render_part(session: Session, part_id: int, etag_of: Callable[[Part], str]) -> RenderedList:
    """One part's JSON body and ETag (404 for an unknown id)."""
    revision = _revision()
    bodies = current_app.extensions.setdefault("part_bodies", _PartBodies())
    cached = bodies.get(revision, part_id)
    if cached is not None:
        return cached
    part = get_part_or_404(session, part_id)
    body = json_body(part.to_dict())
    rendered = RenderedList(body=body, etag=etag_of(part))
    bodies.put(revision, part_id, rendered)
    return rendered
