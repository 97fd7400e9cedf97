"""How the list reads its page (models/queries.find_parts): rows of the wire columns give the
same JSON as Part.to_dict, and a read on the session's connection inside a transaction sees
what that transaction wrote."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from app.extensions import db
from models.part import Part
from models.part_wire import WIRE_ATTRIBUTES, wire_dict
from models.queries import PartQuery, find_parts


def _count_parts() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Part)) or 0)


def test_page_rows_give_the_same_wire_shape_as_to_dict(app):
    with app.app_context():
        part = Part(name="Gear", notes="ü", misc_info={"b": 1, "a": [2]}, file="g.step")
        part.assigned = "Sam"
        part.claimed_date = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
        db.session.add_all([part, Part(name=None)])
        db.session.commit()
        _, rows = find_parts(db.session, PartQuery(sort_by="id", descending=False))
        assert [wire_dict(row) for row in rows] == [p.to_dict() for p in db.session.query(Part)]
        assert wire_dict(rows[0])["claimedDate"] == "2026-01-02T03:04:05.000006+00:00"
        assert set(rows[0]._fields) == set(WIRE_ATTRIBUTES)


def test_read_inside_a_transaction_sees_its_uncommitted_part(app):
    with app.app_context():
        db.session.add(Part(name="Pending bracket"))
        db.session.flush()
        total, rows = find_parts(db.session, PartQuery(search="Pending", limit=25))
        assert (total, [row.name for row in rows]) == (1, ["Pending bracket"])
        db.session.rollback()
        assert _count_parts() == 0
