"""Browser-rendered previews: validated PNGs, a persisted manifest, and when they go stale."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pytest

from tests.databases import TestDatabase
from tests.helpers import get_closed, upload_ok
from tests.part_rows import set_columns

STEP_A = (
    b"ISO-10303-21;\nHEADER;\nFILE_NAME('a','',(''),(''),'','','');\nENDSEC;\nEND-ISO-10303-21;\n"
)
STEP_B = STEP_A.replace(b"'a'", b"'b'")
PDF = b"%PDF-1.4\n%%EOF\n"
# Validation matrices do not depend on the database: SQLite is enough.
SQLITE_ONLY = pytest.mark.parametrize(
    "test_database", [TestDatabase("sqlite", None)], indirect=True, ids=["sqlite"]
)


def png(index: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes([index]) * 32


def png_declaring(width: int, height: int) -> bytes:
    """A PNG's signature and header chunk (IHDR: 8-bit RGBA) declaring this many pixels."""
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 6, 0, 0, 0])
    chunk = b"IHDR" + header
    return (
        b"\x89PNG\r\n\x1a\n"
        + len(header).to_bytes(4, "big")
        + chunk
        + zlib.crc32(chunk).to_bytes(4, "big")
    )


def post_views(client, headers, part_id, views: dict[str, bytes]):
    data = {field: (io.BytesIO(content), f"{field}.png") for field, content in views.items()}
    return client.post(
        f"/api/parts/{part_id}/views",
        data=data,
        headers=headers,
        content_type="multipart/form-data",
    )


def views_dir(app, part) -> Path:
    return Path(app.config["UPLOAD_FOLDER"]) / "parts" / part["uuid"] / "views"


ALL_VIEWS = {f"view_{i}": png(i) for i in range(8)}


def test_post_views_stores_pngs_and_persists_manifest_when_misc_info_had_content(
    app, client, auth_headers, make_part
):
    part = make_part(miscInfo={"storage": "Bin 4"})
    response = post_views(client, auth_headers, part["id"], ALL_VIEWS)
    assert response.status_code == 200
    body = response.get_json()
    assert body["success"] is True
    manifest = body["views"]
    assert sorted(manifest["files"]) == [str(i) for i in range(8)]
    assert manifest["files"]["3"]["filename"] == "view_3.png"
    # BUG-M2: the manifest must be saved although miscInfo already held something.
    stored = get_closed(client, f"/api/parts/{part['id']}", auth_headers).get_json()
    assert stored["miscInfo"]["storage"] == "Bin 4"
    assert stored["miscInfo"]["views"] == manifest
    assert get_closed(client, f"/api/parts/{part['id']}/views", auth_headers).get_json() == {
        "views": manifest
    }
    assert sorted(p.name for p in views_dir(app, part).iterdir()) == [
        f"view_{i}.png" for i in range(8)
    ]
    image = get_closed(client, f"/api/parts/{part['id']}/views/3", auth_headers)
    assert (image.status_code, image.mimetype, image.data) == (200, "image/png", png(3))


@SQLITE_ONLY
@pytest.mark.parametrize("size", [(1, 1), (8192, 2048), (4096, 4096), (1920, 1080)])
def test_previews_of_any_screen_size_are_kept(client, auth_headers, make_part, size):
    part = make_part()
    response = post_views(client, auth_headers, part["id"], {"view_0": png_declaring(*size)})
    assert response.status_code == 200
    stored = get_closed(client, f"/api/parts/{part['id']}/views/0", auth_headers)
    assert stored.data == png_declaring(*size)


def test_posting_one_view_merges_into_the_manifest(client, auth_headers, make_part):
    part = make_part()
    post_views(client, auth_headers, part["id"], {"view_0": png(0), "view_1": png(1)})
    response = post_views(client, auth_headers, part["id"], {"view_1": png(9)})
    assert response.status_code == 200
    assert sorted(response.get_json()["views"]["files"]) == ["0", "1"]
    assert get_closed(client, f"/api/parts/{part['id']}/views/1", auth_headers).data == png(9)
    assert get_closed(client, f"/api/parts/{part['id']}/views/0", auth_headers).data == png(0)


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("views", "status", "error"),
    [
        ({}, 400, "No views provided"),
        ({"view_9": png(9), "other": png(1)}, 400, "No views provided"),
        ({"view_0": b"GIF89a not a png"}, 415, "view_0 is not a PNG image"),
        ({"view_0": png(0), "view_1": b"\xff\xd8\xff jpeg"}, 415, "view_1 is not a PNG image"),
        ({"view_0": png(0), "view_2": png(2) + b"\x00" * 200}, 413, "view_2 is larger than"),
        ({"view_0": png_declaring(100_000, 100_000)}, 413, "view_0 is 100000 × 100000 pixels"),
        ({"view_0": png_declaring(8193, 10)}, 413, "view_0 is 8193 × 10 pixels"),
        ({"view_1": png_declaring(4097, 4096)}, 413, "view_1 is 4097 × 4096 pixels"),
    ],
    ids=["none", "unknown-fields", "gif", "one-jpeg", "too-large", "bomb", "too-wide", "too-many"],
)
def test_post_views_refuses_bad_images_and_writes_nothing(
    app, client, auth_headers, make_part, views, status, error
):
    app.config["VIEW_MAX_BYTES"] = 100
    part = make_part(miscInfo={"storage": "Bin 4"})
    response = post_views(client, auth_headers, part["id"], views)
    assert response.status_code == status
    assert response.get_json()["error"].startswith(error)
    assert not views_dir(app, part).exists()
    stored = get_closed(client, f"/api/parts/{part['id']}", auth_headers).get_json()
    assert stored["miscInfo"] == {"storage": "Bin 4"}


@SQLITE_ONLY
@pytest.mark.parametrize("stored", [5, "str", [1], {"files": "x"}, {"files": [1]}])
def test_post_views_over_a_stored_manifest_that_is_not_one_replaces_it(
    app, client, auth_headers, make_part, stored
):
    """Only POST …/views writes the manifest, but a restored or hand-edited row may hold
    anything: the upload still works (not a 500 after the files were written)."""
    part = make_part(miscInfo={"storage": "Bin 4"})
    set_columns(app, part["id"], misc_info={"storage": "Bin 4", "views": stored})
    response = post_views(client, auth_headers, part["id"], {"view_0": png(0)})
    assert response.status_code == 200, response.get_json()
    assert sorted(response.get_json()["views"]["files"]) == ["0"]
    info = get_closed(client, f"/api/parts/{part['id']}", auth_headers).get_json()["miscInfo"]
    assert info == {"storage": "Bin 4", "views": response.get_json()["views"]}


@pytest.mark.parametrize("index", [5, 8, 99])
def test_get_view_that_does_not_exist_returns_404_json(client, auth_headers, make_part, index):
    part = make_part()
    post_views(client, auth_headers, part["id"], {"view_0": png(0)})
    response = get_closed(client, f"/api/parts/{part['id']}/views/{index}", auth_headers)
    assert response.status_code == 404
    assert response.get_json()["error"] == "View image not found"


def test_get_views_without_previews_returns_null(client, auth_headers, make_part):
    part = make_part()
    response = get_closed(client, f"/api/parts/{part['id']}/views", auth_headers)
    assert (response.status_code, response.get_json()) == (200, {"views": None})


def test_same_step_again_keeps_previews_but_new_content_drops_them(
    app, client, auth_headers, make_part
):
    part = make_part(miscInfo={"storage": "Bin 4"})
    upload_ok(client, auth_headers, part["id"], STEP_A, "a.step")
    post_views(client, auth_headers, part["id"], ALL_VIEWS)
    upload_ok(client, auth_headers, part["id"], STEP_A, "a-again.step")
    manifest = get_closed(client, f"/api/parts/{part['id']}/views", auth_headers).get_json()[
        "views"
    ]
    assert sorted(manifest["files"]) == [str(i) for i in range(8)]
    upload_ok(client, auth_headers, part["id"], STEP_B, "b.step")
    assert get_closed(client, f"/api/parts/{part['id']}/views", auth_headers).get_json() == {
        "views": None
    }
    assert not views_dir(app, part).exists()
    assert get_closed(client, f"/api/parts/{part['id']}/views/0", auth_headers).status_code == 404
    stored = get_closed(client, f"/api/parts/{part['id']}", auth_headers).get_json()
    assert stored["miscInfo"] == {"storage": "Bin 4"}


def test_replacing_a_step_with_a_pdf_drops_the_previews(app, client, auth_headers, make_part):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], STEP_A, "a.step")
    post_views(client, auth_headers, part["id"], {"view_0": png(0)})
    upload_ok(client, auth_headers, part["id"], PDF, "drawing.pdf")
    assert get_closed(client, f"/api/parts/{part['id']}/views", auth_headers).get_json() == {
        "views": None
    }
    assert not views_dir(app, part).exists()


@pytest.mark.parametrize("extra", [{"storage": "Shelf B"}, {"completedIncorrectly": True}])
def test_part_with_stored_manifest_can_be_completed_with_the_uis_body(
    client, auth_headers, part_in, extra
):
    part = part_in("cnc")
    manifest = post_views(client, auth_headers, part["id"], ALL_VIEWS).get_json()["views"]
    current = get_closed(client, f"/api/parts/{part['id']}", auth_headers).get_json()
    # BUG-M1: the UI re-sends the whole miscInfo, nested views manifest included.
    body = {"miscInfo": {**current["miscInfo"], **extra}}
    response = client.post(f"/api/parts/{part['id']}/complete", json=body, headers=auth_headers)
    assert response.status_code == 200, response.get_json()
    done = response.get_json()
    assert done["category"] == "completed"
    assert done["miscInfo"]["views"] == manifest
    assert {k: done["miscInfo"][k] for k in extra} == extra
    stored = get_closed(client, f"/api/parts/{part['id']}", auth_headers).get_json()
    assert stored["miscInfo"]["views"] == manifest


def test_previews_posted_while_an_upload_cleans_up_stay_with_their_manifest(
    app, client, auth_headers, make_part, monkeypatch
):
    """A new file's upload removes the old previews after its commit. Previews POSTed in
    that moment (the web app renders them from the new model) were deleted with them, or
    their write failed with a 500: the manifest then named files that were gone."""
    import routes.files

    part = make_part()
    upload_ok(client, auth_headers, part["id"], STEP_A, "a.step")
    assert post_views(client, auth_headers, part["id"], ALL_VIEWS).status_code == 200
    real_cleanup = routes.files.finish_replacement
    posted = []

    def views_land_first(*args, **kwargs):
        fresh = {"view_0": png(100), "view_1": png(101)}
        posted.append(post_views(app.test_client(), auth_headers, part["id"], fresh))
        return real_cleanup(*args, **kwargs)

    monkeypatch.setattr(routes.files, "finish_replacement", views_land_first)
    upload_ok(client, auth_headers, part["id"], STEP_B, "b.step")
    assert [response.status_code for response in posted] == [200]

    manifest = get_closed(client, f"/api/parts/{part['id']}/views", auth_headers).get_json()
    assert sorted(manifest["views"]["files"]) == ["0", "1"]
    for slot in (0, 1):
        served = get_closed(client, f"/api/parts/{part['id']}/views/{slot}", auth_headers)
        assert (served.status_code, served.get_data()) == (200, png(100 + slot))
    for slot in range(2, 8):  # the replaced file's previews are gone
        gone = get_closed(client, f"/api/parts/{part['id']}/views/{slot}", auth_headers)
        assert gone.status_code == 404
    assert sorted(path.name for path in views_dir(app, part).iterdir()) == [
        "view_0.png",
        "view_1.png",
    ]
