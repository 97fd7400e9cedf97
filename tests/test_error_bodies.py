"""One JSON error body everywhere: an explicit abort reads like a crash, 413 names the limit."""

from __future__ import annotations

import io

import pytest
from flask import abort


@pytest.mark.provokes_500
def test_explicit_abort_500_has_the_crash_body(make_app, caplog):
    app = make_app()

    @app.route("/api/aborts")
    def aborts():
        abort(500)

    response = app.test_client().get("/api/aborts", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.get_json() == {
        "error": "Internal server error",
        "code": "internal_error",
        "request_id": "req-500",
    }
    assert any("req-500" in record.getMessage() for record in caplog.records)


def test_upload_over_upload_limit_is_413_naming_that_limit(make_app):
    app = make_app(UPLOAD_MAX_BYTES=4096)
    client = app.test_client()
    key = {"X-API-Key": app.config["SECRET_KEY"]}
    part = client.post("/api/parts/", json={"material": "Al", "subsystem": "D"}, headers=key)
    response = client.post(
        f"/api/parts/{part.get_json()['id']}/upload",
        data={"file": (io.BytesIO(b"%PDF-1.4\n" + b"0" * 8192), "big.pdf")},
        headers=key,
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"
    assert response.get_json()["max_bytes"] == 4096
