"""GET /model and the conversion jobs behind it: pending, ready, failed, lost and recovered."""

from __future__ import annotations

import http.client
import io
import json
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trimesh
from sqlalchemy import select

from app.extensions import db
from app.startup import start_background
from models.conversion import ConversionJob, recover_stale_jobs
from models.part import Part
from models.types import utcnow
from tests.conftest import FIXTURES, LiveServer, build_app
from tests.databases import TestDatabase
from tests.helpers import get_closed, upload_ok

CUBE = FIXTURES / "step" / "cadquery_red_cube_blue_cylinder.step"
BAD = FIXTURES / "step-bad"
PDF = b"%PDF-1.4\n%%EOF\n"
# Cases where only the converter's outcome matters, not how a database stores it.
SQLITE_ONLY = pytest.mark.parametrize(
    "test_database", [TestDatabase("sqlite", None)], indirect=True, ids=["sqlite"]
)


def need(path: Path) -> bytes:
    if not path.is_file():
        pytest.skip(f"fixture {path} missing")
    return path.read_bytes()


def part_json(client, headers, part_id) -> dict:
    return get_closed(client, f"/api/parts/{part_id}", headers).get_json()


def job_of(app, part_id) -> ConversionJob:
    with app.app_context():
        key = db.session.execute(select(Part.model_key).where(Part.id == part_id)).scalar_one()
        job = db.session.get(ConversionJob, key)
        db.session.expunge(job)
        return job


def triangles(glb: bytes) -> int:
    scene = trimesh.load(io.BytesIO(glb), file_type="glb", force="scene")
    return sum(len(geometry.faces) for geometry in scene.geometry.values())


@SQLITE_ONLY
def test_model_of_part_without_step_returns_404(client, auth_headers, make_part):
    part = make_part()
    response = get_closed(client, f"/api/parts/{part['id']}/model", auth_headers)
    assert response.status_code == 404
    assert "no STEP file" in response.get_json()["error"]
    upload_ok(client, auth_headers, part["id"], PDF, "drawing.pdf")
    response = get_closed(client, f"/api/parts/{part['id']}/model", auth_headers)
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_model_is_202_while_pending_then_a_glb_with_etag(app, client, auth_headers, make_part):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], need(CUBE), "cube.step")
    url = f"/api/parts/{part['id']}/model"
    pending = get_closed(client, url, auth_headers)
    assert pending.status_code == 202
    assert int(pending.headers["Retry-After"]) >= 1
    assert pending.get_json()["status"] == "pending"
    assert app.extensions["conversion_runner"].run_one() is True
    ready = get_closed(client, url, auth_headers)
    assert (ready.status_code, ready.mimetype) == (200, "model/gltf-binary")
    assert ready.data[:4] == b"glTF"
    assert triangles(ready.data) > 0
    stored = part_json(client, auth_headers, part["id"])
    assert (stored["modelStatus"], stored["modelError"]) == ("ready", None)
    job = job_of(app, part["id"])
    # glb_size is cascadio's output; the default answer is its smaller quantised variant.
    raw = get_closed(client, f"{url}?variant=raw", auth_headers)
    assert (job.status, job.attempts, job.glb_size) == ("ready", 1, len(raw.data))
    assert len(ready.data) < len(raw.data)
    cached = get_closed(client, url, {**auth_headers, "If-None-Match": ready.headers["ETag"]})
    assert (cached.status_code, cached.data) == (304, b"")


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("assembly_cycle_A_C_A.step", "could not be converted"),
        ("valid_header_garbage_body.step", "could not be read as a STEP model"),
    ],
)
def test_failed_conversion_shows_failed_and_model_returns_422_with_details(
    app, client, auth_headers, make_part, name, message
):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], need(BAD / name), name)
    assert app.extensions["conversion_runner"].run_one() is True
    stored = part_json(client, auth_headers, part["id"])
    assert stored["modelStatus"] == "failed"
    assert message in stored["modelError"]
    response = get_closed(client, f"/api/parts/{part['id']}/model", auth_headers)
    assert response.status_code == 422
    body = response.get_json()
    assert (body["error"], body["details"]) == ("Model conversion failed", stored["modelError"])
    assert app.config["UPLOAD_FOLDER"] not in body["details"]
    assert not list(Path(app.config["UPLOAD_FOLDER"], "models").glob("*.glb"))


def test_reuploading_a_failed_file_queues_it_again(app, client, auth_headers, make_part):
    data = need(BAD / "assembly_cycle_A_C_A.step")
    part = make_part()
    upload_ok(client, auth_headers, part["id"], data, "cycle.step")
    runner = app.extensions["conversion_runner"]
    runner.run_one()
    body = upload_ok(client, auth_headers, part["id"], data, "cycle.step")
    assert body["conversion"] == {"status": "pending", "success": None, "error": None}
    assert part_json(client, auth_headers, part["id"])["modelStatus"] == "pending"
    assert runner.run_one() is True
    # Counted since the re-upload asked again: worker crashes get MAX_ATTEMPTS fresh tries.
    assert job_of(app, part["id"]).attempts == 1
    assert part_json(client, auth_headers, part["id"])["modelStatus"] == "failed"


def test_glb_deleted_from_disk_is_converted_again_after_next_request(
    app, client, auth_headers, make_part
):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], need(CUBE), "cube.step")
    runner = app.extensions["conversion_runner"]
    runner.run_one()
    # The raw GLB, <key>.glb (its variants stay: the repair looks for the raw one).
    models = Path(app.config["UPLOAD_FOLDER"], "models").glob("*.glb")
    (glb,) = (path for path in models if path.name.count(".") == 1)
    glb.unlink()
    etag = get_closed(client, f"/api/parts/{part['id']}", auth_headers).headers["ETag"]
    url = f"/api/parts/{part['id']}/model"
    assert get_closed(client, url, auth_headers).status_code == 202
    # GET only reads; the runner's heartbeat repairs and queues the conversion again.
    assert runner.beat() == 1
    # A browser revalidating its cached "ready" copy must get the new state, not 304.
    revalidated = get_closed(
        client, f"/api/parts/{part['id']}", {**auth_headers, "If-None-Match": etag}
    )
    assert (revalidated.status_code, revalidated.get_json()["modelStatus"]) == (200, "pending")
    assert runner.run_one() is True
    assert glb.is_file()
    assert get_closed(client, url, auth_headers).status_code == 200
    assert part_json(client, auth_headers, part["id"])["modelStatus"] == "ready"


def test_part_replaced_while_converting_leaves_no_orphan_model(
    app, client, auth_headers, make_part, monkeypatch
):
    import utils.step_converter as converter

    part = make_part()
    upload_ok(client, auth_headers, part["id"], need(CUBE), "cube.step")
    real_convert = converter.convert_step

    def convert_then_replace(*args, **kwargs):
        result = real_convert(*args, **kwargs)
        upload_ok(client, auth_headers, part["id"], PDF, "drawing.pdf")  # lands mid-conversion
        return result

    monkeypatch.setattr(converter, "convert_step", convert_then_replace)
    assert app.extensions["conversion_runner"].run_one() is True
    assert not list(Path(app.config["UPLOAD_FOLDER"], "models").glob("*.glb"))
    assert part_json(client, auth_headers, part["id"])["modelStatus"] == "none"


@SQLITE_ONLY
def test_unexpected_converter_error_fails_the_job_instead_of_leaving_it_running(
    app, client, auth_headers, make_part, monkeypatch
):
    def broken(*_args):
        raise ValueError("bug in the converter glue")

    part = make_part()
    upload_ok(client, auth_headers, part["id"], need(CUBE), "cube.step")
    monkeypatch.setattr("utils.conversion_source.convert_for_key", broken)
    assert app.extensions["conversion_runner"].run_one() is True
    stored = part_json(client, auth_headers, part["id"])
    assert stored["modelStatus"] == "failed"
    assert "server error" in stored["modelError"]
    assert "bug in the converter glue" not in stored["modelError"]
    assert job_of(app, part["id"]).status == "failed"
    assert get_closed(client, f"/api/parts/{part['id']}/model", auth_headers).status_code == 422


def _http(method: str, url: str, headers: dict, body: bytes | None = None):
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=60)
    try:
        connection.request(method, parts.path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def _multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "aerie-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def test_background_runner_converts_while_model_request_waits(test_database, tmp_path):
    data = need(CUBE)
    application = build_app(
        test_database, tmp_path, CONVERSION_IN_BACKGROUND=True, MODEL_WAIT_SECONDS=30
    )
    start_background(application)  # what a serving entry point does after create_app
    headers = {"X-API-Key": application.config["SECRET_KEY"]}
    try:
        with LiveServer(application) as server:
            part_body = json.dumps({"name": "Arm", "material": "PLA", "subsystem": "Arm"})
            status, _, raw = _http(
                "POST",
                f"{server.url}/api/parts/",
                {**headers, "Content-Type": "application/json"},
                part_body.encode(),
            )
            assert status == 201
            part = json.loads(raw)
            body, boundary = _multipart("cube.step", data)
            content_type = f"multipart/form-data; boundary={boundary}"
            url = f"{server.url}/api/parts/{part['id']}"
            status, _, _ = _http(
                "POST", f"{url}/upload", {**headers, "Content-Type": content_type}, body
            )
            assert status == 201
            started = time.monotonic()
            status, response_headers, glb = _http("GET", f"{url}/model", headers)
            assert status == 200
            assert time.monotonic() - started < 30
            assert response_headers["Content-Type"] == "model/gltf-binary"
            assert triangles(glb) > 0
            _, _, raw = _http("GET", url, headers)
            assert json.loads(raw)["modelStatus"] == "ready"
    finally:
        application.extensions["conversion_runner"].stop()
        with application.app_context():
            db.engine.dispose()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("how", ["dead-local-worker", "silent-remote-worker"])
def test_runner_start_recovers_a_job_left_running_and_converts_it(
    app, client, auth_headers, make_part, how
):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], need(CUBE), "cube.step")
    runner = app.extensions["conversion_runner"]
    with app.app_context():
        job = db.session.get(ConversionJob, job_of(app, part["id"]).key)
        if how == "dead-local-worker":
            job.worker, job.heartbeat_at = f"{socket.gethostname()}:{_dead_pid()}", utcnow()
        else:
            job.worker, job.heartbeat_at = "elsewhere:4242", utcnow() - timedelta(minutes=10)
        job.status, job.started_at = "running", job.heartbeat_at
        db.session.commit()
    assert runner.run_one() is False  # a running job is not pending: nobody takes it
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while part_json(client, auth_headers, part["id"])["modelStatus"] == "pending":
            assert time.monotonic() < deadline, "the recovered job was not converted"
            time.sleep(0.1)
    finally:
        runner.stop()
    assert part_json(client, auth_headers, part["id"])["modelStatus"] == "ready"
    job = job_of(app, part["id"])
    assert (job.status, job.worker, job.attempts) == ("ready", None, 1)


def test_a_live_workers_running_job_is_left_alone(app, client, auth_headers, make_part):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], need(CUBE), "cube.step")
    key = job_of(app, part["id"]).key
    with app.app_context():
        job = db.session.get(ConversionJob, key)
        job.status, job.worker, job.heartbeat_at = "running", "elsewhere:4242", utcnow()
        db.session.commit()
        assert recover_stale_jobs(db.session, timedelta(seconds=60), "thishost:") == 0
        db.session.commit()
    assert job_of(app, part["id"]).status == "running"


def test_heartbeat_requeues_a_stuck_job_but_keeps_its_own_live_ones(
    app, client, auth_headers, make_part
):
    runner = app.extensions["conversion_runner"]
    stuck, live = make_part(), make_part(name="Live")
    upload_ok(client, auth_headers, stuck["id"], need(CUBE), "cube.step")
    upload_ok(client, auth_headers, live["id"], b"ISO-10303-21;\nHEADER;\n" + b"x" * 64, "b.step")
    stuck_key, live_key = job_of(app, stuck["id"]).key, job_of(app, live["id"]).key
    with app.app_context():
        for key in (stuck_key, live_key):
            job = db.session.get(ConversionJob, key)
            # Both claimed by this process long ago; only the live one is being converted.
            job.status, job.worker = "running", runner.worker_id
            job.heartbeat_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
    runner._in_progress.add(live_key)
    try:
        assert runner.beat() == 1
    finally:
        runner._in_progress.discard(live_key)
    assert job_of(app, stuck["id"]).status == "pending"
    assert job_of(app, live["id"]).status == "running"
