"""Two parts caches on one app's engine, one with a speed trick and one without, and the check
that a page is the same bytes, ETag and keyset token from both (tests of list-page tricks)."""

from __future__ import annotations

from dataclasses import replace

from app.extensions import db
from models.queries import PartQuery
from utils.body_stores import RenderedList
from utils.parts_cache import PartsCache, Tricks


def caches_with_and_without(trick: str) -> tuple[PartsCache, PartsCache]:
    """(every trick, every trick but `trick`); neither keeps whole pages, so each page renders."""
    tricks = replace(Tricks(), list_bodies=False)
    return PartsCache(db.engine, tricks), PartsCache(db.engine, replace(tricks, **{trick: False}))


def same_page(with_trick: PartsCache, without: PartsCache, query: PartQuery) -> RenderedList:
    """The page from both caches, asserted identical; the one with the trick."""
    got = with_trick.part_list(db.session, query)
    expected = without.part_list(db.session, query)
    assert (got.body, got.etag, got.next_after) == (
        expected.body,
        expected.etag,
        expected.next_after,
    )
    return got
