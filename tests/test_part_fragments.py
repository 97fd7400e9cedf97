"""A page of parts joins each part's kept JSON (utils/part_fragments.py): the bytes, ETag and
keyset token are exactly those of writing every row, for every sort, filter, offset and
keyset page on every database; a write shows on the next page; the kept JSON is bounded."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from app.extensions import db
from models.part import Part
from models.queries import PartQuery
from models.revision import bump_parts_revision
from tests.page_caches import caches_with_and_without, same_page
from utils.part_fragments import PartFragments, compact_json, spliced
from utils.parts_cache import PartsCache, json_body
from utils.schemas import SORT_FIELDS

LIMIT = 4
OFFSETS = (0, 3, 15, 17)  # the first page, one inside, the last (partial) and one past it
FILTERS = [{}, {"search": "ar"}, {"search": "müller"}, {"category": "review"}]
# miscInfo documents, claim dates and odd floats: what the fragments write besides text.
EXTRAS = [
    {"misc_info": {"vendor": "McMaster", "qty": [1, 2.5, None], "Ω": {"nested": True}}},
    {"misc_info": {}, "material_thickness": 0.125, "amount": 7},
    {"misc_info": None, "material_thickness": 1e-7, "claimed_date": datetime(2025, 1, 2, 3, 4)},
]


@pytest.fixture
def parts_app(varied):  # noqa: F811
    with varied.app_context():
        for extra in EXTRAS:
            part = Part(name="Extra plate", subsystem="Arm", material="Steel")
            for key, value in extra.items():
                setattr(part, key, value)
            db.session.add(part)
        db.session.commit()
    return varied


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort_by", sorted(set(SORT_FIELDS.values())))
def test_every_page_is_the_same_bytes_as_writing_every_row(parts_app, sort_by, descending):
    with parts_app.app_context():
        with_fragments, written = caches_with_and_without("part_fragments")
        for filters in FILTERS:
            for offset in OFFSETS:
                query = PartQuery(
                    sort_by=sort_by, descending=descending, limit=LIMIT, offset=offset, **filters
                )
                page = same_page(with_fragments, written, query)
                after = page.next_after if offset == 0 else None
                while after:  # the keyset pages after the first, through to the last
                    after = same_page(
                        with_fragments, written, replace(query, offset=0, after=after)
                    )
                    after = after.next_after


def test_a_page_really_joins_kept_json(parts_app):
    with parts_app.app_context():
        with_fragments, _written = caches_with_and_without("part_fragments")
        query = PartQuery(sort_by="name", limit=LIMIT, offset=2)
        first = _statements(with_fragments, query)
        again = _statements(with_fragments, query)
    # First the page's ids, then its rows by id; the second time only the ids.
    assert len(first) == 2 and "IN (" in first[1].upper()
    assert len(again) == 1 and again[0] == first[0]


def _statements(cache: PartsCache, query: PartQuery) -> list[str]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        cache.part_list(db.session, query)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    # The total is counted once per filter and revision (kept with or without fragments).
    return [s for s in seen if "FROM parts" in s and not s.startswith("SELECT count")]


def test_a_write_shows_on_the_next_page(parts_app):
    with parts_app.app_context():
        with_fragments, written = caches_with_and_without("part_fragments")
        query = PartQuery(sort_by="id", descending=False, limit=LIMIT)
        before = same_page(with_fragments, written, query)
        part = db.session.get(Part, _ids()[0])
        part.name = "Renamed after the page was kept"
        db.session.commit()
        after = same_page(with_fragments, written, query)
    assert b"Renamed after the page was kept" in after.body
    assert b"Renamed" not in before.body and after.etag != before.etag


def test_a_part_deleted_after_its_id_was_read_is_left_out(parts_app):
    with parts_app.app_context():
        fragments = PartFragments()
        first, gone, third = _ids()[:3]
        db.session.delete(db.session.get(Part, gone))
        db.session.commit()
        written = fragments.page(db.session, 1, [first, gone, third])
        expected = [_fragment(first), _fragment(third)]
    assert written == expected


def _ids() -> list[int]:
    return [part.id for part in db.session.query(Part).order_by(Part.id)]


def _fragment(part_id: int) -> bytes:
    return compact_json(db.session.get(Part, part_id).to_dict())


def test_kept_json_is_bounded_and_dropped_with_its_revision(parts_app):
    with parts_app.app_context():
        fragments = PartFragments(size=3)
        ids = _ids()
        written = fragments.page(db.session, 5, ids[:5])
        assert written == [_fragment(part_id) for part_id in ids[:5]]
        assert len(fragments) == 3
        # An older revision's request reads its rows but keeps nothing.
        fragments.page(db.session, 4, ids[5:7])
        assert len(fragments) == 3 and fragments.page(db.session, 5, [ids[4]]) == [
            _fragment(ids[4])
        ]
        bump_parts_revision(db.session)
        db.session.commit()
        fragments.page(db.session, 6, [ids[8]])
    assert len(fragments) == 1


def test_a_list_page_from_a_part_is_its_single_part_json(parts_app):
    # The list writes rows, GET one part writes the model: one wire shape.
    with parts_app.app_context():
        fragments = PartFragments()
        ids = _ids()
        written = fragments.page(db.session, 1, ids)
        assert written == [_fragment(part_id) for part_id in ids]
        assert datetime(2025, 1, 2, 3, 4, tzinfo=UTC).isoformat().encode() in b"".join(written)


@pytest.mark.parametrize(
    "envelope",
    [
        {"limit": 25, "offset": 0, "total": 3},
        {"limit": None, "offset": 10, "total": 0},
    ],
)
def test_splicing_is_encoding_the_whole_envelope(envelope):
    parts = [{"id": 1, "name": 'a"]b'}, {"id": 2, "name": "Zoë", "miscInfo": {"parts": []}}]
    fragments = [compact_json(part) for part in parts]
    expected = json_body({**envelope, "parts": parts})
    assert spliced(json_body({**envelope, "parts": []}), fragments) == expected
    assert spliced(json_body({**envelope, "parts": []}), []) == json_body({**envelope, "parts": []})
