"""Part types, categories, statuses, model and job states keep the exact strings of the wire
and the database."""

from __future__ import annotations

import json

from models import CATEGORIES, PART_TYPES, STATUSES, Category, ModelStatus, PartType, Status
from models.states import MODEL_STATUSES, JobStatus


def test_enum_values_are_the_wire_strings():
    assert PART_TYPES == ("cnc", "hand", "misc")
    assert CATEGORIES == ("review", "cnc", "hand", "misc", "completed")
    assert STATUSES == ("Pending", "Reviewed", "In Progress", "Already Started", "Completed")
    assert [s.value for s in ModelStatus] == ["none", "pending", "ready", "failed"]
    assert MODEL_STATUSES == ("none", "pending", "ready", "failed")
    assert [s.value for s in JobStatus] == ["pending", "running", "ready", "failed"]
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
    for part in parts:
        history = client.get(f"/api/parts/{part['id']}/history", headers=auth_headers).get_json()
        assert [(e["action"], e["actor"]) for e in history["events"]] == [("create", "sample data")]
        assert history["events"][0]["details"]["changes"]["name"]["to"] == part["name"]
    assert {p["category"] for p in parts} <= set(CATEGORIES)
    assert {p["status"] for p in parts} <= set(STATUSES)
    assert b'"category":"completed"' in response.data
    assert b'"status":"In Progress"' in response.data


def test_a_running_job_shows_pending_on_its_parts():
    from models.conversion import PART_STATUS

    assert {job: PART_STATUS[job] for job in JobStatus} == {
        "pending": "pending",
        "running": "pending",
        "ready": "ready",
        "failed": "failed",
    }


def test_job_states_are_stored_as_plain_strings(app):
    from sqlalchemy import text

    from app.extensions import db
    from models.conversion import claim_job, request_conversion

    with app.app_context():
        request_conversion(db.session, "abc-1", "abc")
        db.session.commit()
        assert claim_job(db.session, "abc-1", "host:1:0")
        db.session.commit()
        stored = db.session.execute(text("SELECT status FROM conversion_jobs")).scalar_one()
    assert (type(stored), stored) == (str, "running")


def test_openapi_model_status_lists_every_model_state(client):
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert schemas["Part"]["properties"]["modelStatus"]["enum"] == list(MODEL_STATUSES)
    assert schemas["Conversion"]["properties"]["status"]["enum"] == list(MODEL_STATUSES)
