"""The parts cache: part bodies (the list, the SPA's call on every phone, and single parts)
kept per parts revision, so a cached body is never stale.

One `PartsCache` per app, built by the factory (`app.extensions["parts_cache"]`). It is
invalidated in one place: `models.revision.bump_parts_revision` moves the revision, and
every write reaches it (ORM flushes through the listener, bulk statements through
`models.revision.write_parts`). Each speed trick can be switched off, so the benchmark
(`bench/bench_tricks.py`) measures each on its own; the app keeps all of them on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from models.keyset import encode_after
from models.part import Part
from models.part_wire import wire_dict
from models.queries import PartQuery, find_parts, get_part_or_404, last_of_page
from models.revision import PARTS, Revision
from utils.body_stores import (
    CACHE_ENTRIES,
    ListBodies,
    ListTotals,
    PartBodies,
    RenderedList,
    WholeList,
)
from utils.compressed_bodies import GzipOnce
from utils.host_bodies import HostBodies
from utils.list_orders import ListOrders, kept_order_applies
from utils.part_fragments import PartFragments, compact_json, spliced
from utils.revision_reader import RevisionReader


@dataclass(frozen=True)
class Tricks:
    """The cache's speed tricks; all on in the app, one off at a time in the benchmark."""

    list_bodies: bool = True  # keep list envelopes per (revision, query)
    part_bodies: bool = True  # keep single-part bodies of the newest revision
    revision_outside_pool: bool = True  # read the revision on a per-thread driver connection
    stats_bodies: bool = True  # keep statistics and leaderboard bodies of the newest revision
    list_totals: bool = True  # keep list totals per (revision, category, search)
    part_fragments: bool = True  # keep each listed part's JSON of the newest revision
    list_orders: bool = True  # keep a search's or deep page's whole order (utils.list_orders)
    host_bodies: bool = True  # the whole list made once per host (utils.host_bodies), if set up


class PartsCache:
    """The service the list and single-part views read through."""

    def __init__(
        self,
        engine: Engine,
        tricks: Tricks = Tricks(),  # noqa: B008 - frozen
        host_bodies: HostBodies | None = None,
    ) -> None:
        self.tricks = tricks
        self._host = host_bodies if tricks.host_bodies and tricks.list_bodies else None
        self._reader = RevisionReader(engine) if tricks.revision_outside_pool else None
        self._lists = ListBodies(CACHE_ENTRIES)
        self._whole = WholeList()
        self._parts = PartBodies()
        self._stats = PartBodies()
        self._stats_computing = threading.Lock()
        self._whole_list_rendering = threading.Lock()
        self._totals = ListTotals(tricks.list_totals)
        self._fragments = PartFragments()
        self._orders = ListOrders()

    def close(self) -> None:
        """Close the revision reader's connections (an app torn down in tests)."""
        if self._reader is not None:
            self._reader.close()

    def revision(self, session: Session) -> int:
        """The committed parts revision."""
        if self._reader is not None:
            return self._reader.read()
        value = session.scalar(select(Revision.value).where(Revision.name == PARTS))
        return int(value or 0)

    def part_list(self, session: Session, query: PartQuery) -> RenderedList:
        """The envelope {parts,total,limit,offset} as bytes.

        The revision is read before the rows, so a cached body is never older than its key.
        """
        key = (self.revision(session), query)
        if not (query.is_everything and self.tricks.list_bodies):
            cached = self._lists.get(key) if self.tricks.list_bodies else None
            return cached if cached is not None else self._render(session, key)
        cached = self._whole.get(key[0])
        if cached is not None:
            return cached
        # The whole list (7 MB at 10k parts, about 100 ms to make): requests arriving together
        # on a cold cache (a new revision, a worker's first request) wait for one render.
        with self._whole_list_rendering:
            cached = self._whole.get(key[0])
            if cached is None:
                cached = self._whole_list(session, key)
                self._whole.put(key[0], cached)
            return cached

    def _whole_list(self, session: Session, key: tuple[int, PartQuery]) -> RenderedList:
        """The whole list at `key`'s revision: rendered here, or read from the file another
        server process of this host rendered (utils.host_bodies), its gzip shared the same way."""
        if self._host is None:
            return self._render(session, key)

        def make() -> tuple[bytes, str]:
            rendered = self._render(session, key)
            return rendered.body, rendered.etag

        revision = key[0]
        body, etag = self._host.whole_list(revision, make)
        return RenderedList(body, etag, None, GzipOnce(self._host.gzip_of(revision)))

    def _render(self, session: Session, key: tuple[int, PartQuery]) -> RenderedList:
        """Make the envelope of `key`'s query at its revision, and keep it (list_bodies)."""
        revision, query = key
        # A page (a limit) joins kept part JSON; the whole list is every row read once.
        narrow = self.tricks.part_fragments and bool(query.limit)
        order = self._kept_order(session, revision, query) if narrow else None
        if order is not None:
            total, ids = len(order), list(order[query.offset : query.offset + int(query.limit)])
            last = last_of_page(session, query.sort_by, ids[-1]) if ids else None
        else:
            total, parts = find_parts(session, query, self._totals.get(revision, query), narrow)
            ids, last = [row.id for row in parts], parts[-1] if parts else None
        self._totals.put(revision, query, total)
        envelope = {"limit": query.limit or None, "offset": query.offset, "total": total}
        if narrow:
            written = self._fragments.page(session, revision, ids)
            body = spliced(json_body({**envelope, "parts": []}), written)
        else:
            body = json_body({**envelope, "parts": [wire_dict(row) for row in parts]})
        full = bool(query.limit) and len(ids) == query.limit and last is not None
        rendered = RenderedList.hashed(
            body, encode_after(query.sort_by, query.descending, last) if full else None
        )
        if self.tricks.list_bodies and not query.is_everything:  # that one has its slot
            self._lists.put(key, rendered)
        return rendered

    def _kept_order(
        self, session: Session, revision: int, query: PartQuery
    ) -> Sequence[int] | None:
        if not (self.tricks.list_orders and kept_order_applies(query)):
            return None
        return self._orders.get(session, revision, query)

    def part(self, session: Session, part_id: int, etag_of: Callable[[Part], str]) -> RenderedList:
        """One part's JSON body and ETag (404 for an unknown id)."""
        revision = self.revision(session)
        cached = self._parts.get(revision, part_id) if self.tricks.part_bodies else None
        if cached is not None:
            return cached
        part = get_part_or_404(session, part_id)
        rendered = RenderedList(json_body(part.to_dict()), etag_of(part))
        if self.tricks.part_bodies:
            self._parts.put(revision, part_id, rendered)
        return rendered

    def stats(self, session: Session, name: str, compute: Callable[[Session], Any]) -> RenderedList:
        """A statistics body (`name` says which; `compute` makes it) and its ETag at the
        committed revision: computed once per revision, a lookup until the next write; its
        gzip is kept with it, so it is compressed once per revision too. Without the trick
        the body is made per request and so is its ETag (a hash of a few hundred bytes, next
        to the aggregate): the responses are the same either way."""
        revision = self.revision(session)
        if not self.tricks.stats_bodies:
            return RenderedList.hashed(json_body(compute(session)))
        cached = self._stats.get(revision, name)
        if cached is None:
            # One computation per revision: requests arriving together after a write wait
            # for it instead of each aggregating 100k rows at once.
            with self._stats_computing:
                cached = self._stats.get(revision, name)
                if cached is None:
                    cached = RenderedList.hashed(json_body(compute(session)))
                    self._stats.put(revision, name, cached)
        return cached


def json_body(payload: object) -> bytes:
    """Bytes exactly as jsonify writes them (compact, sorted keys, ASCII, a final newline),
    so every JSON body of the API has one shape whether it was cached or not."""
    return compact_json(payload) + b"\n"
