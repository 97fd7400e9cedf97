"""The miscInfo column saves changes made in place as well as replaced objects."""

from __future__ import annotations

from app.extensions import db
from models.part import Part


def _stored_misc_info(app, part_id: int):
    with app.app_context():
        return db.session.get(Part, part_id).misc_info


def test_key_set_in_place_is_saved(app, make_part):
    made = make_part(miscInfo={"storage": "Shelf B"})
    with app.app_context():
        part = db.session.get(Part, made["id"])
        part.misc_info["bin"] = "3"
        db.session.commit()
    assert _stored_misc_info(app, made["id"]) == {"storage": "Shelf B", "bin": "3"}


def test_key_removed_in_place_is_saved(app, make_part):
    made = make_part(miscInfo={"storage": "Shelf B", "bin": "3"})
    with app.app_context():
        part = db.session.get(Part, made["id"])
        del part.misc_info["bin"]
        db.session.commit()
    assert _stored_misc_info(app, made["id"]) == {"storage": "Shelf B"}


def test_assigned_dict_is_saved_and_then_tracked(app, make_part):
    made = make_part()
    with app.app_context():
        part = db.session.get(Part, made["id"])
        part.misc_info = {"storage": "Bin 1"}
        db.session.commit()
        part.misc_info["storage"] = "Bin 2"
        db.session.commit()
    assert _stored_misc_info(app, made["id"]) == {"storage": "Bin 2"}


def test_wire_shape_is_a_plain_json_object(client, auth_headers, make_part):
    made = make_part(miscInfo={"storage": "Shelf B"})
    body = client.get(f"/api/parts/{made['id']}", headers=auth_headers).get_json()
    assert body["miscInfo"] == {"storage": "Shelf B"}
