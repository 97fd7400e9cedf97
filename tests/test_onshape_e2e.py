"""Onshape end to end, as a user meets it: connect, sign in at (fake) Onshape, restart the
server, the access token expires and is refreshed, the drawing comes back as PDF, and the part
studio is imported as STEP and converted to a GLB by the real background consumer."""

from __future__ import annotations

import io
import time

import trimesh
from sqlalchemy import select

from app.extensions import db
from models.onshape import OnshapeConnection
from tests import onshape_helpers
from tests.conftest import build_app, close_app
from tests.onshape_fake import PDF, STEP_FILE
from tests.onshape_helpers import DRAWING_LINK, STUDIO_LINK, connect, onshape_settings, restart

fake_onshape = onshape_helpers.fake_onshape
STATUS = "/api/parts/auth/onshape/status"


def _create(client, headers, **body):
    response = client.post(
        "/api/parts/", json={"material": "Al", "subsystem": "Arm", **body}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _poll(call, expected: int, seconds: float = 120.0):
    """Ask again after Retry-After until the expected status (a client's loop)."""
    deadline = time.monotonic() + seconds
    while True:
        response = call()
        response.get_data()
        response.close()
        if response.status_code != 202 or time.monotonic() > deadline:
            assert response.status_code == expected, response.get_data(as_text=True)[:300]
            return response
        time.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0))


def _token_grants(fake) -> int:
    return sum(1 for call in fake.state.calls if call == "POST /oauth/token")


def test_connect_restart_refresh_drawing_and_step_import_end_to_end(
    test_database, tmp_path, fake_onshape, auth_headers
):
    settings = onshape_settings(fake_onshape, ONSHAPE_WAIT_SECONDS=5.0, MODEL_WAIT_SECONDS=5.0)
    application = build_app(test_database, tmp_path, **settings)
    client = application.test_client()
    assert client.get(STATUS, headers=auth_headers).get_json()["connected"] is False

    callback = connect(client, auth_headers)  # connect → browser authorizes → callback
    assert callback.headers["Location"] == "/?onshape_connected=true"
    assert client.get(STATUS, headers=auth_headers).get_json()["user"]["name"] == "Ada Student"

    application = restart(application)
    client = application.test_client()
    assert client.get(STATUS, headers=auth_headers).get_json()["connected"] is True

    fake_onshape.state.expire_access_tokens()  # Onshape now answers 401 to the old token
    runner = application.extensions["conversion_runner"]
    runner.start()  # the embedded consumer: Onshape exports and STEP conversions
    try:
        hand = _create(client, auth_headers, type="hand", onshapeUrl=DRAWING_LINK)
        drawing = _poll(lambda: client.get(f"/api/parts/{hand}/drawing", headers=auth_headers), 200)
        assert drawing.mimetype == "application/pdf" and drawing.data == PDF
        assert _token_grants(fake_onshape) == 2  # the code, then one refresh
        with application.app_context():
            row = db.session.scalars(select(OnshapeConnection)).one()
            assert row.refreshed_at is not None and row.generation == 2

        cnc = _create(client, auth_headers, type="cnc", onshapeUrl=STUDIO_LINK)
        imported = _poll(
            lambda: client.post(f"/api/parts/{cnc}/onshape/import", headers=auth_headers), 201
        )
        assert imported.get_json()["file_size"] == STEP_FILE.stat().st_size
        assert imported.get_json()["conversion"]["status"] in ("pending", "ready")
        model = _poll(lambda: client.get(f"/api/parts/{cnc}/model", headers=auth_headers), 200)
        assert model.mimetype == "model/gltf-binary"
        scene = trimesh.load(io.BytesIO(model.data), file_type="glb", force="scene")
        assert sum(len(g.faces) for g in scene.geometry.values()) > 0
        part = client.get(f"/api/parts/{cnc}", headers=auth_headers).get_json()
        assert part["modelStatus"] == "ready" and part["file"].endswith(".step")
    finally:
        runner.stop()
        close_app(application)
