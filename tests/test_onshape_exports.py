"""Drawings as PDF and STEP imports from Onshape: background exports, the file stored like an
upload, no export for an unchanged microversion, and Onshape's errors as clear JSON."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

import routes.onshape_waits
from tests import onshape_helpers
from tests.onshape_fake import DOC, PDF, STEP_FILE
from tests.onshape_helpers import (
    DRAWING_LINK,
    STUDIO_LINK,
    VERSION_DRAWING_LINK,
    connect,
    run_exports,
)

fake_onshape = onshape_helpers.fake_onshape
onshape_app = onshape_helpers.onshape_app
oclient = onshape_helpers.oclient
MICRO_DRAWING = f"https://cad.onshape.com/documents/{DOC}/m/{'9' * 24}/e/{'3' * 16}{'c' * 8}"


@pytest.fixture
def hand_part(oclient, auth_headers):
    def make(link: str = DRAWING_LINK) -> int:
        body = {"material": "Al", "subsystem": "Arm", "type": "hand", "onshapeUrl": link}
        response = oclient.post("/api/parts/", json=body, headers=auth_headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    return make


def _drawing(client, headers, part_id: int, refresh: bool = False):
    query = "?refresh=true" if refresh else ""
    return _read(client.get(f"/api/parts/{part_id}/drawing{query}", headers=headers))


def _read(response):
    """Read the body and close the file a download holds open."""
    response.get_data()
    response.close()
    return response


def _export_drawing(app, client, headers, part_id: int, refresh: bool = False):
    first = _drawing(client, headers, part_id, refresh)
    assert first.status_code == 202, first.get_json()
    assert first.headers["Retry-After"].isdigit()
    assert first.get_json()["status"] == "pending"
    run_exports(app)
    return _drawing(client, headers, part_id)


def test_drawing_without_connection_is_409_never_401(oclient, auth_headers, hand_part):
    response = _drawing(oclient, auth_headers, hand_part())
    assert response.status_code == 409
    body = response.get_json()
    assert (body["code"], body["error"]) == (
        "onshape_not_connected",
        "Onshape authentication required",
    )


@pytest.mark.parametrize("link", [DRAWING_LINK, VERSION_DRAWING_LINK, MICRO_DRAWING])
def test_drawing_is_exported_as_pdf_stored_and_served(
    onshape_app, oclient, auth_headers, hand_part, fake_onshape, link
):
    connect(oclient, auth_headers)
    part_id = hand_part(link)
    response = _export_drawing(onshape_app, oclient, auth_headers, part_id)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data == PDF
    part = oclient.get(f"/api/parts/{part_id}", headers=auth_headers).get_json()
    assert part["file"].endswith(".pdf")
    download = _read(oclient.get(f"/api/parts/{part_id}/download", headers=auth_headers))
    assert download.data == PDF  # stored like an upload
    assert fake_onshape.state.started["drawings"] == 1


def test_uploaded_pdf_keeps_serving_and_refresh_reexports(
    onshape_app, oclient, auth_headers, hand_part, fake_onshape
):
    connect(oclient, auth_headers)
    part_id = hand_part()
    uploaded = b"%PDF-1.4\n% drawn by hand\n%%EOF\n"
    files = {"file": (io.BytesIO(uploaded), "hand.pdf")}
    oclient.post(f"/api/parts/{part_id}/upload", data=files, headers=auth_headers)
    assert _drawing(oclient, auth_headers, part_id).data == uploaded
    assert not [call for call in fake_onshape.state.calls if "/api/documents" in call]
    refreshed = _export_drawing(onshape_app, oclient, auth_headers, part_id, refresh=True)
    assert refreshed.data == PDF


def test_unchanged_microversion_is_not_exported_again(
    onshape_app, oclient, auth_headers, hand_part, fake_onshape, monkeypatch
):
    monkeypatch.setattr(routes.onshape_waits, "REPEAT_WINDOW", timedelta(0))
    connect(oclient, auth_headers)
    part_id = hand_part()
    assert _export_drawing(onshape_app, oclient, auth_headers, part_id).status_code == 200
    again = _export_drawing(onshape_app, oclient, auth_headers, part_id, refresh=True)
    assert again.status_code == 200
    assert fake_onshape.state.started["drawings"] == 1  # asked the microversion only
    fake_onshape.state.microversion = "bbbbbbbbbbbbbbbbbbbbbbbb"
    changed = _export_drawing(onshape_app, oclient, auth_headers, part_id, refresh=True)
    assert changed.status_code == 200
    assert fake_onshape.state.started["drawings"] == 2


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (("/translations", 403, {}), 424, "onshape_forbidden"),
        (("/translations", 404, {}), 424, "onshape_not_found"),
        (("/translations", 400, {}), 424, "onshape_refused"),
        (("/currentmicroversion", 500, {}), 503, "onshape_unavailable"),
        (("/currentmicroversion", 429, {"Retry-After": "120"}), 503, "onshape_rate_limited"),
        # A 200 without the translation's id: the export fails in words, not left running.
        (("/translations", 200, {}), 503, "onshape_unavailable"),
    ],
)
def test_onshape_errors_become_clear_json(
    onshape_app, oclient, auth_headers, hand_part, fake_onshape, fault, status, code
):
    connect(oclient, auth_headers)
    part_id = hand_part()
    fake_onshape.state.faults.append(fault)
    response = _export_drawing(onshape_app, oclient, auth_headers, part_id)
    assert response.status_code == status
    assert response.get_json()["code"] == code
    if code == "onshape_rate_limited":
        assert 100 <= int(response.headers["Retry-After"]) <= 120
        calls = len(fake_onshape.state.calls)
        assert _drawing(oclient, auth_headers, part_id).status_code == 503
        assert run_exports(onshape_app) == 0
        assert len(fake_onshape.state.calls) == calls  # Retry-After honoured


@pytest.mark.parametrize("value", ["99999999999999999999", "inf", "nan"])
def test_a_huge_retry_after_is_capped_at_an_hour_not_a_crash(
    onshape_app, oclient, auth_headers, hand_part, fake_onshape, value
):
    connect(oclient, auth_headers)
    part_id = hand_part()
    fake_onshape.state.faults.append(("/currentmicroversion", 429, {"Retry-After": value}))
    response = _export_drawing(onshape_app, oclient, auth_headers, part_id)
    assert response.status_code == 503
    assert response.get_json()["code"] == "onshape_rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 3600


def test_failed_translation_is_424_until_refreshed(
    onshape_app, oclient, auth_headers, hand_part, fake_onshape
):
    connect(oclient, auth_headers)
    part_id = hand_part()
    fake_onshape.state.fail_translation = "Drawing has no views"
    response = _export_drawing(onshape_app, oclient, auth_headers, part_id)
    assert response.status_code == 424
    assert response.get_json()["code"] == "onshape_export_failed"
    assert "Drawing has no views" in response.get_json()["error"]
    assert _drawing(oclient, auth_headers, part_id).status_code == 424  # not re-sent
    fake_onshape.state.fail_translation = None
    assert _export_drawing(onshape_app, oclient, auth_headers, part_id, True).status_code == 200
    history = oclient.get(f"/api/parts/{part_id}/history", headers=auth_headers).get_json()
    exports = [e["details"] for e in history["events"] if e["action"] == "onshape_export"]
    assert sorted(e["status"] for e in exports) == ["done", "failed"]
    assert {e["kind"] for e in exports} == {"drawing"}


@pytest.mark.parametrize("slow", ["translation", "answer"])
def test_onshape_timeouts_are_503_unavailable(
    test_database, tmp_path, fake_onshape, auth_headers, slow
):
    from tests.conftest import build_app, close_app

    settings = onshape_helpers.onshape_settings(
        fake_onshape, ONSHAPE_TRANSLATION_TIMEOUT_SECONDS=0.05, ONSHAPE_TIMEOUT_SECONDS=0.3
    )
    application = build_app(test_database, tmp_path, **settings)
    try:
        client = application.test_client()
        connect(client, auth_headers)
        if slow == "translation":
            fake_onshape.state.polls_before_done = 10_000
        else:
            fake_onshape.state.delays["/currentmicroversion"] = 1.0
        body = {"material": "Al", "subsystem": "Arm", "type": "hand", "onshapeUrl": DRAWING_LINK}
        part_id = client.post("/api/parts/", json=body, headers=auth_headers).get_json()["id"]
        response = _export_drawing(application, client, auth_headers, part_id)
        assert response.status_code == 503
        assert response.get_json()["code"] == "onshape_unavailable"
    finally:
        close_app(application)


@pytest.mark.parametrize("link", ["https://example.com/part", None])
def test_import_without_onshape_link_is_400(oclient, auth_headers, make_part, link):
    part = make_part(onshapeUrl=link)
    response = oclient.post(f"/api/parts/{part['id']}/onshape/import", headers=auth_headers)
    assert response.status_code == 400
    assert response.get_json()["code"] == "onshape_link_invalid"


def test_drawing_of_a_part_studio_is_onshape_not_found(
    onshape_app, oclient, auth_headers, hand_part
):
    connect(oclient, auth_headers)
    response = _export_drawing(onshape_app, oclient, auth_headers, hand_part(STUDIO_LINK))
    assert (response.status_code, response.get_json()["code"]) == (424, "onshape_not_found")


def test_static_api_keys_are_used_when_not_connected(
    test_database, tmp_path, fake_onshape, auth_headers
):
    from tests.conftest import build_app, close_app
    from tests.onshape_fake import ACCESS_KEY, SECRET_KEY

    settings = {
        "ONSHAPE_API_BASE_URL": fake_onshape.url,
        "ONSHAPE_ACCESS_KEY": ACCESS_KEY,
        "ONSHAPE_SECRET_KEY": SECRET_KEY,
        "ONSHAPE_POLL_SECONDS": 0.01,
        "ONSHAPE_WAIT_SECONDS": 0.0,
    }
    application = build_app(test_database, tmp_path, **settings)
    try:
        client = application.test_client()
        body = {"material": "Al", "subsystem": "Arm", "onshapeUrl": STUDIO_LINK}
        part_id = client.post("/api/parts/", json=body, headers=auth_headers).get_json()["id"]
        url = f"/api/parts/{part_id}/onshape/import"
        assert client.post(url, headers=auth_headers).status_code == 202
        run_exports(application)
        response = client.post(url, headers=auth_headers)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["sha256"]
        assert response.get_json()["conversion"]["status"] == "pending"
        assert response.get_json()["file_size"] == STEP_FILE.stat().st_size
        sent = [r["headers"]["Authorization"] for r in fake_onshape.state.requests]
        assert sent and all(header.startswith("Basic ") for header in sent)
    finally:
        close_app(application)
