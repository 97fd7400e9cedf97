"""Kept list orders: every id a filter and sort match, in order, for one parts revision, so
another page of a search or a deep page of the list is a slice of ids and a join of kept part
JSON (utils.part_fragments) instead of a query.

A search page on SQLite first builds every match of the term (5,612 for `Gear` at 100k parts)
and a page at offset 50,000 steps 50,000 index entries; each is a few milliseconds of SQL per
request, paid again for the next page. An order is made on the second request for its filter
and sort at a revision (a term typed once, or a first page, costs what it did), then every
page of it, at any offset, is a slice. Every write moves the revision, and the orders of an
older one are dropped whole, as the other kept bodies are: an order is never older than the
revision it is kept under.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Sequence

from cachetools import LRUCache
from sqlalchemy.orm import Session

from models.queries import PartQuery, ordered_ids

# From this offset a page is deep: walking to it costs about what reading the whole order does.
DEEP_OFFSET = 1000
# Ids kept per process, over every order: 8 bytes each, so at most about 3 MB (four orders of
# a 100k archive's whole list, or hundreds of searches).
IDS_KEPT = 400_000
SEEN_KEPT = 1024  # filters and sorts asked once at the newest revision, remembered

OrderKey = tuple[str | None, str | None, str, bool]


def kept_order_applies(query: PartQuery) -> bool:
    """A page (a limit, no keyset token) of a search, or one at a deep offset."""
    return (
        bool(query.limit)
        and query.after is None
        and (bool(query.search) or query.offset >= DEEP_OFFSET)
    )


class ListOrders:
    """Orders of the newest revision seen, by (category, search, sort, direction); safe for a
    threaded server (one order is made at a time: requests that ask for it together wait)."""

    def __init__(self, max_ids: int = IDS_KEPT) -> None:
        self._revision = -1
        self._kept: LRUCache[OrderKey, array[int]] = LRUCache(max_ids, getsizeof=_size)
        self._seen: LRUCache[OrderKey, bool] = LRUCache(SEEN_KEPT)
        self._lock = threading.Lock()
        self._making = threading.Lock()
        self.made = 0  # orders made (the tests count them)

    def get(self, session: Session, revision: int, query: PartQuery) -> Sequence[int] | None:
        """The order of `query`'s filters and sort at `revision`: kept, made now (asked
        before at this revision), or None (the first time: the caller runs the page's query)."""
        key = (query.category, query.search, query.sort_by, query.descending)
        with self._lock:
            if revision > self._revision:
                self._revision = revision
                self._kept.clear()
                self._seen.clear()
            if revision != self._revision:
                return None  # an older revision's request, still running
            kept = self._kept.get(key)
            if kept is not None:
                return kept
            asked = self._seen.get(key)
            if asked is None:
                self._seen[key] = True
            if not asked:  # the first time, or an order too large to keep
                return None
        with self._making:
            return self._made(session, revision, key, query)

    def _made(
        self, session: Session, revision: int, key: OrderKey, query: PartQuery
    ) -> Sequence[int]:
        with self._lock:
            kept = self._kept.get(key) if revision == self._revision else None
        if kept is not None:
            return kept
        order = array("q", ordered_ids(session, query))
        self.made += 1
        with self._lock:
            if revision == self._revision:
                try:
                    self._kept[key] = order
                except ValueError:  # more ids than the whole bound: not made again
                    self._seen[key] = False
        return order


# What an entry costs beside its ids (its key: a search of up to 200 characters, a category;
# the cache's own bookkeeping), counted as ids: many orders of few or no ids (unknown
# categories, searches that match nothing) must not pile up within IDS_KEPT.
ENTRY_OVERHEAD_IDS = 256


def _size(order: array[int]) -> int:
    return len(order) + ENTRY_OVERHEAD_IDS
