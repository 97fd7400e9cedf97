"""Kept list orders (utils/list_orders.py): a search's or deep page's whole order, made on the
second request for its filter and sort at a revision, then sliced. Every page is the same
bytes, ETag and keyset token as the page's own query, on every database; a write shows on the
next page; an order too large to keep is not made again; requests asking together make one."""

from __future__ import annotations

import json
import threading
import time
from array import array
from dataclasses import replace

import pytest

from app.extensions import db
from models.part import Part
from models.queries import PartQuery, ordered_ids
from tests.page_caches import caches_with_and_without, same_page
from utils import list_orders
from utils.body_stores import RenderedList
from utils.list_orders import ListOrders
from utils.parts_cache import PartsCache, Tricks
from utils.schemas import SORT_FIELDS

LIMIT = 4
OFFSETS = (0, 3, 7, 13, 14, 30)  # shallow, then deep (DEEP_OFFSET is 3 here), the last, past it
FILTERS = [{}, {"search": "ar"}, {"search": "müller"}, {"category": "review", "search": "e"}]


@pytest.fixture
def shallow_deep(monkeypatch):
    monkeypatch.setattr(list_orders, "DEEP_OFFSET", 3)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort_by", sorted(set(SORT_FIELDS.values())))
def test_every_kept_page_is_the_pages_own_query(varied, shallow_deep, sort_by, descending):
    with varied.app_context():
        kept, queried = caches_with_and_without("list_orders")
        for filters in FILTERS:
            for offset in OFFSETS:
                query = PartQuery(
                    sort_by=sort_by, descending=descending, limit=LIMIT, offset=offset, **filters
                )
                for _ in range(2):  # the second asks for a kept order
                    same_page(kept, queried, query)
        # One order per filter (the unfiltered list only from its deep offsets), none without.
        assert kept._orders.made == len(FILTERS)
        assert queried._orders.made == 0


def _ids(page: RenderedList) -> list[int]:
    return [part["id"] for part in json.loads(page.body)["parts"]]


def test_an_order_is_made_on_the_second_ask_and_a_write_shows_on_the_next_page(varied):
    with varied.app_context():
        cache = PartsCache(db.engine, replace(Tricks(), list_bodies=False))
        query = PartQuery(search="ar", sort_by="name", descending=False, limit=2)
        first = cache.part_list(db.session, query)
        assert cache._orders.made == 0  # a term asked once costs its query only
        second = cache.part_list(db.session, replace(query, offset=2))
        assert cache._orders.made == 1
        cache.part_list(db.session, replace(query, offset=4))
        assert cache._orders.made == 1  # another page of it: a slice
        total = len(ordered_ids(db.session, query))

        db.session.add(Part(name="Aardvark arm", subsystem="Arm"))  # first by name, matches
        db.session.commit()
        after_write = cache.part_list(db.session, query)
        assert b'"total":%d' % (total + 1) in after_write.body
        assert _ids(after_write)[0] != _ids(first)[0]
        again = cache.part_list(db.session, replace(query, offset=2))
        assert cache._orders.made == 2  # the new revision's order
        assert _ids(again) == _ids(first)[1:] + _ids(second)[:1]  # one place later


def test_an_order_too_large_to_keep_is_used_once_and_not_made_again(varied):
    with varied.app_context():
        orders = ListOrders(max_ids=3)
        revision = 10  # the orders know no database revision: any number names one
        query = PartQuery(limit=2, offset=5)
        expected = ordered_ids(db.session, query)
        assert len(expected) > 3
        assert orders.get(db.session, revision, query) is None
        assert list(orders.get(db.session, revision, query) or []) == expected
        assert orders.get(db.session, revision, query) is None  # its pages run their queries
        assert orders.made == 1
        assert orders.get(db.session, revision - 1, query) is None  # an older revision's


def test_orders_of_nothing_cannot_pile_up_past_the_bound(varied):
    # Unknown categories (any text of up to 20 characters) each keep an empty order.
    with varied.app_context():
        orders = ListOrders(max_ids=10 * list_orders.ENTRY_OVERHEAD_IDS)
        for number in range(50):
            query = PartQuery(limit=2, offset=5, category=f"nothing-{number}", search="x")
            orders.get(db.session, 1, query)
            assert orders.get(db.session, 1, query) == array("q")
        assert len(orders._kept) == 10


def test_requests_asking_together_make_one_order(varied, monkeypatch):
    made: list[int] = []

    def slow(session, query):
        made.append(1)
        time.sleep(0.2)
        return ordered_ids(session, query)

    monkeypatch.setattr(list_orders, "ordered_ids", slow)
    with varied.app_context():
        cache = PartsCache(db.engine, replace(Tricks(), list_bodies=False))
        query = PartQuery(search="e", limit=2)
        cache.part_list(db.session, query)
    pages: dict[int, bytes] = {}

    def ask(offset: int) -> None:
        with varied.app_context():
            pages[offset] = cache.part_list(db.session, replace(query, offset=offset)).body

    threads = [threading.Thread(target=ask, args=(offset,)) for offset in (0, 2, 4, 0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(pages.values())) == 3  # three different pages, each answered
    assert len(made) == 1
