"""History written by the background writers (conversion results, Onshape exports) and by
uploads, and unicode at the length limits, on every database."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from models.base import write_transaction
from models.events import record_model_result, record_onshape_export, record_upload
from models.part import Part
from tests.part_rows import set_columns

EMOJI = "\U0001f98a"  # 4 bytes in UTF-8


def events_of(call, part_id: int) -> list[dict[str, Any]]:
    status, body = call("GET", f"/{part_id}/history")
    assert status == 200, body
    return body["events"]


def test_a_conversion_result_is_recorded_for_every_part_showing_the_model(app, make_part, call):
    first, second, other = make_part(), make_part(), make_part()
    for part, key in ((first, "k1"), (second, "k1"), (other, "k2")):
        set_columns(app, part["id"], model_key=key)
    with app.app_context():
        with write_transaction(db.session):
            record_model_result(db.session, "k1", "failed", "GLB file was not created")
        db.session.remove()
    for part in (first, second):
        newest = events_of(call, part["id"])[0]
        assert (newest["action"], newest["actor"]) == ("conversion", "converter")
        assert newest["details"] == {
            "modelStatus": "failed",
            "modelError": "GLB file was not created",
            "modelKey": "k1",
        }
        assert newest["part"] == {"id": part["id"], "uuid": part["uuid"]}
    assert [event["action"] for event in events_of(call, other["id"])] == ["create"]


def test_a_finished_conversion_job_writes_its_event(app, make_part, call):
    from models.conversion import finish_job, request_conversion

    part = make_part()
    set_columns(app, part["id"], model_key="k9", model_status="pending")
    with app.app_context():
        with write_transaction(db.session):
            request_conversion(db.session, "k9", "ab" * 32)
        with write_transaction(db.session):
            finish_job(db.session, "k9", error=None, glb_size=1234)
        db.session.remove()
    newest = events_of(call, part["id"])[0]
    assert (newest["action"], newest["details"]["modelStatus"]) == ("conversion", "ready")
    assert call("GET", f"/{part['id']}")[1]["modelStatus"] == "ready"


def test_an_onshape_export_is_recorded_for_its_part(app, make_part, call):
    part = make_part()
    details = {"kind": "drawing", "status": "done", "link": "https://cad.onshape.com/x"}
    with app.app_context():
        with write_transaction(db.session):
            record_onshape_export(db.session, part["id"], details)
        db.session.remove()
    newest = events_of(call, part["id"])[0]
    assert (newest["action"], newest["actor"], newest["details"]) == (
        "onshape_export",
        "onshape",
        details,
    )


def test_an_upload_and_a_replacement_are_recorded_with_the_file(app, make_part, call):
    part = make_part()
    set_columns(app, part["id"], file="plate.pdf", file_sha256="ab" * 32, file_size=42)
    with app.app_context():
        with write_transaction(db.session):
            stored = db.session.get(Part, part["id"])
            record_upload(db.session, stored, "Rita", replaced=False)
            record_upload(db.session, stored, "Rita", replaced=True)
        db.session.remove()
    replace, upload = events_of(call, part["id"])[:2]
    assert (upload["action"], replace["action"], upload["actor"]) == ("upload", "replace", "Rita")
    assert upload["details"]["file"] == "plate.pdf" and upload["details"]["size"] == 42
    assert replace["details"]["replaced"] is True


def test_four_byte_emoji_at_the_length_limits_survive_every_database(client, auth_headers, call):
    name = EMOJI * 200
    actor = (EMOJI * 100).encode("utf-8").decode("latin-1")
    headers = {**auth_headers, "X-Actor": actor}
    body = {"material": "Al", "subsystem": "Arm", "name": name}
    response = client.post("/api/parts/", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    part = call("GET", f"/{response.get_json()['id']}")[1]
    assert part["name"] == name
    assert events_of(call, part["id"])[0]["actor"] == EMOJI * 100
    too_long = {**body, "name": name + EMOJI}
    assert client.post("/api/parts/", json=too_long, headers=auth_headers).status_code == 400
