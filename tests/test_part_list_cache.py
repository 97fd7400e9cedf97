"""The rendered-list cache: least recently used first out, bounded in bodies and bytes."""

from __future__ import annotations

from models.queries import PartQuery
from utils.parts_cache import ListBodies, RenderedList


def _entry(size: int, tag: str) -> RenderedList:
    return RenderedList(body=b"x" * size, etag=tag)


def _kept(cache: ListBodies, revisions: range) -> list[int]:
    return [n for n in revisions if cache.get((n, PartQuery())) is not None]


def test_small_bodies_are_capped_by_count():
    cache = ListBodies(size=3, max_bytes=3000)
    for n in range(5):
        cache.put((n, PartQuery()), _entry(10, str(n)))
    assert _kept(cache, range(5)) == [2, 3, 4]


def test_reading_an_entry_keeps_it_over_older_unread_ones():
    cache = ListBodies(size=10, max_bytes=250)
    cache.put((0, PartQuery()), _entry(100, "0"))
    cache.put((1, PartQuery()), _entry(100, "1"))
    assert cache.get((0, PartQuery())) is not None
    cache.put((2, PartQuery()), _entry(100, "2"))
    assert _kept(cache, range(3)) == [0, 2]


def test_a_body_larger_than_the_cache_is_not_kept_and_evicts_nothing():
    cache = ListBodies(size=10, max_bytes=250)
    cache.put((0, PartQuery()), _entry(100, "0"))
    cache.put((1, PartQuery()), _entry(251, "1"))
    assert _kept(cache, range(2)) == [0]


def test_same_key_is_replaced_not_counted_twice():
    cache = ListBodies(size=10, max_bytes=250)
    cache.put((0, PartQuery()), _entry(100, "old"))
    cache.put((0, PartQuery()), _entry(100, "new"))
    cache.put((1, PartQuery()), _entry(100, "1"))
    assert cache.get((0, PartQuery())).etag == "new"
    assert _kept(cache, range(2)) == [0, 1]
