"""Downloads, inline files and hand-fab drawings: names, types, ranges, ETags and 404s."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.databases import TestDatabase
from tests.helpers import get_closed, upload_ok

STEP_A = (
    b"ISO-10303-21;\nHEADER;\nFILE_NAME('a','',(''),(''),'','','');\nENDSEC;\nEND-ISO-10303-21;\n"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# Serving files does not depend on the database: SQLite is enough.
pytestmark = pytest.mark.parametrize(
    "test_database", [TestDatabase("sqlite", None)], indirect=True, ids=["sqlite"]
)


@pytest.mark.parametrize(
    ("data", "name", "mimetype"),
    [
        (STEP_A, "Gantry Piece 1.step", "application/step"),
        (STEP_A, "Träger_円柱.STP", "application/step"),
        (PDF, "drawing.pdf", "application/pdf"),
    ],
    ids=["step", "non-ascii-stp", "pdf"],
)
def test_download_and_file_serve_the_upload_with_its_name_and_type(
    client, auth_headers, make_part, data, name, mimetype
):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], data, name)
    url = f"/api/parts/{part['id']}"
    download = get_closed(client, f"{url}/download", auth_headers)
    assert (download.status_code, download.mimetype, download.data) == (200, mimetype, data)
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert name in disposition or f"filename*=UTF-8''{quote(name)}" in disposition
    inline = get_closed(client, f"{url}/file", auth_headers)
    assert (inline.status_code, inline.data) == (200, data)
    assert inline.headers["Content-Disposition"].startswith("inline")
    ranged = get_closed(client, f"{url}/download", {**auth_headers, "Range": "bytes=0-9"})
    assert (ranged.status_code, ranged.data) == (206, data[:10])
    etag = download.headers["ETag"]
    cached = get_closed(client, f"{url}/download", {**auth_headers, "If-None-Match": etag})
    assert (cached.status_code, cached.data) == (304, b"")


def test_download_without_file_or_with_file_gone_returns_404_json(
    app, client, auth_headers, make_part
):
    part = make_part()
    for path in ("download", "file"):
        response = get_closed(client, f"/api/parts/{part['id']}/{path}", auth_headers)
        assert response.status_code == 404
        assert response.get_json()["error"] == "No file associated with this part"
    upload_ok(client, auth_headers, part["id"], PDF, "drawing.pdf")
    sha = hashlib.sha256(PDF).hexdigest()
    (Path(app.config["UPLOAD_FOLDER"], "parts", part["uuid"]) / f"{sha}.pdf").unlink()
    for path in ("download", "file"):
        response = get_closed(client, f"/api/parts/{part['id']}/{path}", auth_headers)
        assert response.status_code == 404
        assert response.get_json()["error"] == "File not found on server"


def test_drawing_is_for_hand_parts_with_a_pdf(client, auth_headers, make_part):
    cnc = make_part(type="cnc")
    response = get_closed(client, f"/api/parts/{cnc['id']}/drawing", auth_headers)
    assert response.status_code == 400
    assert "only available for hand fab parts" in response.get_json()["error"]
    hand = make_part(type="hand")
    assert get_closed(client, f"/api/parts/{hand['id']}/drawing", auth_headers).status_code == 404
    upload_ok(client, auth_headers, hand["id"], STEP_A, "hand.step")
    assert get_closed(client, f"/api/parts/{hand['id']}/drawing", auth_headers).status_code == 404
    upload_ok(client, auth_headers, hand["id"], PDF, "hand drawing.pdf")
    response = get_closed(client, f"/api/parts/{hand['id']}/drawing", auth_headers)
    assert (response.status_code, response.mimetype, response.data) == (200, "application/pdf", PDF)
    assert response.headers["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize(
    ("renamed", "saved_as"),
    [(None, "part-{id}.step"), ("evil.html", "evil.html.step"), ("Plate v2.STEP", "Plate v2.STEP")],
)
def test_a_put_renames_the_download_but_never_hides_it_or_changes_its_type(
    client, auth_headers, make_part, renamed, saved_as
):
    """`file` is the upload's display name: a PUT may change it, not whether the upload is
    served nor the extension it is saved with."""
    part = make_part()
    upload_ok(client, auth_headers, part["id"], STEP_A, "plate.step")
    url = f"/api/parts/{part['id']}"
    response = client.put(url, json={"file": renamed}, headers=auth_headers)
    assert (response.status_code, response.get_json()["file"]) == (200, renamed)
    download = get_closed(client, f"{url}/download", auth_headers)
    assert (download.status_code, download.mimetype, download.data) == (
        200, "application/step", STEP_A
    )  # fmt: skip
    expected = saved_as.format(id=part["id"])
    disposition = download.headers["Content-Disposition"]
    assert disposition in (f"attachment; filename={expected}", f'attachment; filename="{expected}"')


@pytest.mark.parametrize(
    "header", ["items=0-5", "bytes=0-0,2-3", "bytes=abc", "bytes=5-2"], ids=str
)
@pytest.mark.parametrize("path", ["download", "file"])
def test_a_range_that_is_not_one_byte_range_is_ignored(
    client, auth_headers, make_part, path, header
):
    """RFC 9110 14.2: a Range of another unit, of several ranges or malformed may be ignored:
    the whole file, 200 (Werkzeug alone answers 416)."""
    part = make_part()
    upload_ok(client, auth_headers, part["id"], STEP_A, "plate.step")
    url = f"/api/parts/{part['id']}/{path}"
    whole = get_closed(client, url, auth_headers)
    ranged = get_closed(client, url, {**auth_headers, "Range": header})
    assert (whole.status_code, ranged.status_code) == (200, 200)
    assert ranged.data == whole.data and "Content-Range" not in ranged.headers


def test_a_byte_range_past_the_end_is_416_json_with_the_length(client, auth_headers, make_part):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], PDF, "drawing.pdf")
    past = f"bytes={len(PDF) + 10}-"
    response = get_closed(
        client, f"/api/parts/{part['id']}/download", {**auth_headers, "Range": past}
    )
    assert (response.status_code, response.is_json) == (416, True)
    assert response.headers["Content-Range"] == f"bytes */{len(PDF)}"
    assert response.get_json()["code"] == "requested_range_not_satisfiable"
