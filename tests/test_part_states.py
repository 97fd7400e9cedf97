"""Part types, categories, statuses and model states keep the exact strings of the wire."""

from __future__ import annotations

import json

from models import CATEGORIES, PART_TYPES, STATUSES, Category, ModelStatus, PartType, Status


def test_enum_values_are_the_wire_strings():
    assert PART_TYPES == ("cnc", "hand", "misc")
    assert CATEGORIES == ("review", "cnc", "hand", "misc", "completed")
    assert STATUSES == ("Pending", "Reviewed", "In Progress", "Already Started", "Completed")
    assert [s.value for s in ModelStatus] == ["none", "pending", "ready", "failed"]
    assert [type(value) for value in (*PART_TYPES, *CATEGORIES, *STATUSES)] == [str] * 13


def test_enum_members_serialise_as_their_value():
    body = {Category.COMPLETED: [Status.IN_PROGRESS, PartType.HAND, ModelStatus.NONE]}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    assert text == '{"completed":["In Progress","hand","none"]}'
    assert f"{Status.ALREADY_STARTED}" == "Already Started"


def test_sample_parts_store_and_read_back_plain_strings(app, client, auth_headers):
    from app.extensions import db
    from app.sample_data import load_sample_parts

    with app.app_context():
        added = load_sample_parts(db.session)
        db.session.commit()
    response = client.get("/api/parts/?limit=100", headers=auth_headers)
    assert response.status_code == 200
    parts = response.get_json()["parts"]
    assert len(parts) == added > 0
    assert {p["category"] for p in parts} <= set(CATEGORIES)
    assert {p["status"] for p in parts} <= set(STATUSES)
    assert b'"category":"completed"' in response.data
    assert b'"status":"In Progress"' in response.data
