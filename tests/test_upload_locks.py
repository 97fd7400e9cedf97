"""Uploads and previews are writes like any other: they lock the part's row (a concurrent
edit is never undone, a concurrent DELETE is a 404, not a 500 with files left behind) and
honour If-Match; so does a claim."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.helpers import upload_ok
from tests.test_part_views import PDF, STEP_A, STEP_B, png, post_views

BLOCKED_FOR_S = 0.6


def _in_thread(work: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    return thread, result


def _locked_elsewhere(app: Any, part_id: int, change: str | None = None) -> Any:
    """Hold the part's row lock on another connection for BLOCKED_FOR_S, as a concurrent
    writer would, optionally changing the row; returns a context manager."""

    class Holder:
        def __enter__(self) -> Holder:
            self.context = app.app_context()
            self.context.push()
            self.connection = db.engine.connect()
            self.transaction = self.connection.begin()
            lock = "SELECT id FROM parts WHERE id = :id FOR UPDATE"
            self.connection.execute(text(lock), {"id": part_id})
            return self

        def __exit__(self, *exc: object) -> None:
            try:
                if change:
                    self.connection.execute(text(change), {"id": part_id})
                self.transaction.commit()
            finally:
                self.connection.close()
                self.context.pop()

    return Holder()


@pytest.fixture
def server_database(test_database):
    if test_database.name == "sqlite":
        pytest.skip("SQLite runs one write at a time (BEGIN IMMEDIATE): no row locks to test")
    return test_database


def test_a_preview_upload_waits_for_a_concurrent_edit_and_keeps_it(
    server_database, app, client, auth_headers, make_part
):
    part = make_part(miscInfo={"storage": "Bin 1"})
    # What a concurrent PUT of miscInfo commits while the preview upload waits.
    edit = """UPDATE parts SET notes = 'edited meanwhile', misc_info = '{"storage": "Bin 2"}'
              WHERE id = :id"""
    with _locked_elsewhere(app, part["id"], edit):
        thread, result = _in_thread(
            lambda: post_views(client, auth_headers, part["id"], {"view_0": png(0)})
        )
        time.sleep(BLOCKED_FOR_S)
        assert not result, "the preview upload did not wait for the row lock"
    thread.join(timeout=30)
    assert result[0].status_code == 200, result[0].get_json()
    stored = client.get(f"/api/parts/{part['id']}", headers=auth_headers).get_json()
    # Read after the lock, so the edit is kept beside the new manifest, not written over.
    assert stored["notes"] == "edited meanwhile"
    assert stored["miscInfo"]["storage"] == "Bin 2" and "views" in stored["miscInfo"]


def test_an_upload_racing_a_delete_is_a_404_and_leaves_no_file(
    server_database, app, client, auth_headers, make_part
):
    part = make_part()
    delete = "DELETE FROM parts WHERE id = :id"
    with _locked_elsewhere(app, part["id"], delete):
        thread, result = _in_thread(
            lambda: client.post(
                f"/api/parts/{part['id']}/upload",
                data={"file": (io.BytesIO(STEP_A), "a.step")},
                headers=auth_headers,
                content_type="multipart/form-data",
            )
        )
        time.sleep(BLOCKED_FOR_S)
        assert not result, "the upload did not wait for the row lock"
    thread.join(timeout=30)
    assert result[0].status_code == 404, result[0].get_json()
    part_folder = Path(app.config["UPLOAD_FOLDER"]) / "parts" / part["uuid"]
    assert not part_folder.exists() or not any(part_folder.rglob("*.step"))


def test_uploads_one_after_another_record_the_replacement(
    server_database, app, client, auth_headers, make_part
):
    part = make_part()
    with _locked_elsewhere(app, part["id"]):
        first, _ = _in_thread(lambda: upload_ok(client, auth_headers, part["id"], STEP_A, "a.step"))
        time.sleep(BLOCKED_FOR_S / 2)
        second, _ = _in_thread(
            lambda: upload_ok(client, auth_headers, part["id"], STEP_B, "b.step")
        )
        time.sleep(BLOCKED_FOR_S / 2)
    first.join(timeout=30)
    second.join(timeout=30)
    history = client.get(f"/api/parts/{part['id']}/history", headers=auth_headers).get_json()
    kinds = sorted(e["action"] for e in history["events"] if e["action"] in ("upload", "replace"))
    assert kinds == ["replace", "upload"]
    files = list((Path(app.config["UPLOAD_FOLDER"]) / "parts" / part["uuid"]).glob("*.step"))
    assert len(files) == 1  # the replaced one is gone


@pytest.mark.parametrize("write", ["upload", "views", "assign"])
def test_a_stale_if_match_is_412_for_uploads_previews_and_claims(
    client, auth_headers, make_part, write
):
    part = make_part()
    approved = client.post(f"/api/parts/{part['id']}/approve", json={}, headers=auth_headers)
    stale = approved.headers["ETag"]
    edited = client.put(f"/api/parts/{part['id']}", json={"notes": "x"}, headers=auth_headers)
    assert edited.status_code == 200
    headers = {**auth_headers, "If-Match": stale}
    if write == "upload":
        response = client.post(
            f"/api/parts/{part['id']}/upload",
            data={"file": (io.BytesIO(PDF), "d.pdf")},
            headers=headers,
            content_type="multipart/form-data",
        )
    elif write == "views":
        response = post_views(client, headers, part["id"], {"view_0": png(0)})
    else:
        response = client.post(
            f"/api/parts/{part['id']}/assign", json={"assigned": "Mallory"}, headers=headers
        )
    assert response.status_code == 412, response.get_json()
    after = client.get(f"/api/parts/{part['id']}", headers=auth_headers).get_json()
    assert (after["file"], after["assigned"]) == (None, None)
    assert "views" not in (after["miscInfo"] or {})
    fresh = {**auth_headers, "If-Match": edited.headers["ETag"]}
    if write == "assign":
        claimed = client.post(
            f"/api/parts/{part['id']}/assign", json={"assigned": "Sam"}, headers=fresh
        )
        assert claimed.status_code == 200
