"""The rendered-list cache: least recently used first out, bounded in bodies and bytes."""

from __future__ import annotations

from models.queries import PartQuery
from utils.body_stores import ListBodies, RenderedList


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


def _revision(app) -> int:
    from app.extensions import db

    with app.app_context():
        value = app.extensions["parts_cache"].revision(db.session)
        db.session.rollback()
    return value


def test_bulk_write_moves_the_revision_only_when_it_touched_a_part(app, make_part):
    from sqlalchemy import update

    from app.extensions import db
    from models.base import write_transaction
    from models.part import Part
    from models.revision import write_parts

    part_id = make_part()["id"]
    before = _revision(app)
    with app.app_context(), write_transaction(db.session):
        write_parts(db.session, update(Part).where(Part.id == part_id + 1000).values(notes="x"))
    assert _revision(app) == before
    with app.app_context(), write_transaction(db.session):
        write_parts(db.session, update(Part).where(Part.id == part_id).values(notes="x"))
    assert _revision(app) == before + 1


def test_flush_listener_is_installed_once_however_many_apps(app):
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from models.revision import _bump_on_part_flush, watch_part_writes

    watch_part_writes()
    watch_part_writes()
    assert event.contains(Session, "after_flush", _bump_on_part_flush)
    event.remove(Session, "after_flush", _bump_on_part_flush)
    try:
        assert not event.contains(Session, "after_flush", _bump_on_part_flush)
    finally:
        watch_part_writes()


def test_the_factory_builds_one_cache_per_app(app, make_app):
    other = make_app()
    assert app.extensions["parts_cache"] is not other.extensions["parts_cache"]


def test_the_whole_list_is_kept_however_large_until_a_write(app, make_part, monkeypatch):
    from app.extensions import db
    from models import queries

    cache = app.extensions["parts_cache"]
    cache._lists = ListBodies(size=4, max_bytes=100)  # every list body is larger than this
    make_part(name="First")
    renders: list[int] = []
    real = queries.find_parts
    monkeypatch.setattr(
        "utils.parts_cache.find_parts", lambda *a, **k: renders.append(1) or real(*a, **k)
    )
    with app.app_context():
        first = cache.part_list(db.session, PartQuery())
        again = cache.part_list(db.session, PartQuery())
        assert again is first and len(first.body) > 100 and renders == [1]
        db.session.rollback()
    make_part(name="Second")
    with app.app_context():
        after = cache.part_list(db.session, PartQuery())
        db.session.rollback()
    assert renders == [1, 1] and b"Second" in after.body and after.etag != first.etag


def test_single_part_bodies_are_bounded_least_recently_read_out():
    from utils.body_stores import PartBodies

    bodies = PartBodies(max_bytes=3 * (1000 + 200))
    for part_id in range(3):
        bodies.put(7, part_id, _entry(1000, str(part_id)))
    assert bodies.get(7, 0) is not None  # read: kept over 1
    bodies.put(7, 3, _entry(1000, "3"))
    assert [n for n in range(4) if bodies.get(7, n) is not None] == [0, 2, 3]
    bodies.put(7, 9, _entry(10_000, "too large"))  # larger than the bound: served, not kept
    assert bodies.get(7, 9) is None and bodies.get(7, 3) is not None
    bodies.put(8, 1, _entry(10, "next revision"))  # a newer revision drops the older whole
    assert bodies.get(7, 3) is None and bodies.get(8, 1).etag == "next revision"
