"""Uploads: status, body, and what ends up on disk (and goes away) under UPLOAD_FOLDER."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.databases import TestDatabase
from tests.helpers import get_closed, post_upload

STEP_A = (
    b"ISO-10303-21;\nHEADER;\nFILE_NAME('a','',(''),(''),'','','');\nENDSEC;\nEND-ISO-10303-21;\n"
)
STEP_B = STEP_A.replace(b"'a'", b"'b'")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CUBE = FIXTURES / "step" / "cadquery_red_cube_blue_cylinder.step"
BAD = FIXTURES / "step-bad"
# Request-shape and file-serving cases do not depend on the database: SQLite is enough.
SQLITE_ONLY = pytest.mark.parametrize(
    "test_database", [TestDatabase("sqlite", None)], indirect=True, ids=["sqlite"]
)


# One converted model on disk: cascadio's GLB and its two optimised variants.
ONE_MODEL = ["glb", "meshopt.glb", "quantized.glb"]


def model_files(root: Path) -> list[str]:
    """What follows the model key in each file name under models/."""
    return sorted(path.name.split(".", 1)[1] for path in (root / "models").glob("*.glb"))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(root: str | Path) -> list[str]:
    """Every file below the upload folder, relative (tmp/ included)."""
    root = Path(root)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def get_part(client, headers, part_id) -> dict:
    response = client.get(f"/api/parts/{part_id}", headers=headers)
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def cube() -> bytes:
    if not CUBE.is_file():
        pytest.skip(f"fixture {CUBE} missing")
    return CUBE.read_bytes()


@pytest.fixture
def root(app) -> Path:
    return Path(app.config["UPLOAD_FOLDER"])


@pytest.mark.parametrize(
    ("name", "data", "ext", "model_status"),
    [
        ("Gantry_Piece_1.step", STEP_A, "step", "pending"),
        ("Bracket.STP", STEP_A, "stp", "pending"),
        ("drawing.pdf", PDF, "pdf", "none"),
    ],
    ids=["step", "STP", "pdf"],
)
def test_upload_returns_201_with_todays_keys_and_stores_under_uuid_and_hash(
    client, auth_headers, make_part, root, name, data, ext, model_status
):
    part = make_part()
    response = post_upload(client, auth_headers, part["id"], data, name)
    assert response.status_code == 201
    body = response.get_json()
    assert body["message"] == "File uploaded successfully"
    assert body["filename"] == name
    assert ("conversion" in body) is (ext != "pdf")
    if ext != "pdf":
        assert body["conversion"]["status"] == "pending"
    text = response.get_data(as_text=True)
    assert str(root) not in text and "file_path" not in body and "gltf_path" not in text
    stored = get_part(client, auth_headers, part["id"])
    assert (stored["file"], stored["modelStatus"]) == (name, model_status)
    assert files_under(root) == [f"parts/{part['uuid']}/{sha(data)}.{ext}"]


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("client_name", "display"),
    [
        ("../../etc/passwd.step", "passwd.step"),
        ("/home/cad/arm.step", "arm.step"),
        ("..hidden.step", "hidden.step"),
        ("we<ird>:name|?*.step", "we_ird__name___.step"),
        # An RTL override reverses what follows it on screen: a name posing as another.
        ("arm\u202epets.exe.step", "arm_pets.exe.step"),
        ("bra\u200bcket\ufeff.step", "bra_cket_.step"),
    ],
    ids=["dot-dot", "absolute", "leading-dots", "shell-chars", "rtl-override", "invisible"],
)
def test_upload_keeps_only_a_sanitised_display_name(
    client, auth_headers, make_part, root, tmp_path, client_name, display
):
    part = make_part()
    response = post_upload(client, auth_headers, part["id"], STEP_A, client_name)
    assert response.status_code == 201
    assert response.get_json()["filename"] == display
    assert get_part(client, auth_headers, part["id"])["file"] == display
    assert files_under(root) == [f"parts/{part['uuid']}/{sha(STEP_A)}.step"]
    assert not (tmp_path / "etc").exists()


def _bad_fixture(name: str) -> bytes:
    path = BAD / name
    if not path.is_file():
        pytest.skip(f"fixture {path} missing")
    return path.read_bytes()


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("field", "name", "data", "status", "error"),
    [
        ("other", "a.step", STEP_A, 400, "No file provided"),
        ("file", "", STEP_A, 400, "No file selected"),
        ("file", "part.exe", STEP_A, 415, "Invalid file type"),
        ("file", "README", STEP_A, 415, "Invalid file type"),
        ("file", "random.step", bytes(range(256)) * 16, 415, "not a valid STEP"),
        ("file", "gzip.step", "gzip_of_step_renamed.step", 415, "not a valid STEP"),
        ("file", "utf16.step", "utf16le_bom_encoded.step", 415, "not a valid STEP"),
        ("file", "empty.step", b"", 415, "not a valid STEP"),
        ("file", "drawing.pdf", STEP_A, 415, "not a valid PDF"),
    ],
    ids=["no-field", "no-name", "exe", "no-ext", "random", "gzip", "utf16", "empty", "fake-pdf"],
)
def test_upload_bad_input_is_refused_and_leaves_nothing(
    client, auth_headers, make_part, root, field, name, data, status, error
):
    data = _bad_fixture(data) if isinstance(data, str) else data
    part = make_part()
    response = post_upload(client, auth_headers, part["id"], data, name, field=field)
    assert response.status_code == status
    assert error in response.get_json()["error"]
    assert response.get_json()["code"]
    assert get_part(client, auth_headers, part["id"])["file"] is None
    assert files_under(root) == []


@pytest.mark.parametrize(
    "overrides",
    [{"UPLOAD_MAX_BYTES": 1024}, {"UPLOAD_MAX_BYTES": 1024, "MAX_CONTENT_LENGTH": None}],
    ids=["request-limit", "streamed-file-limit"],
)
def test_upload_over_limit_returns_413_json_and_leaves_no_file(make_app, overrides):
    application = make_app(**overrides)
    client = application.test_client()
    headers = {"X-API-Key": application.config["SECRET_KEY"]}
    body = {"name": "Big", "material": "Steel", "subsystem": "Drive", "type": "cnc"}
    part = client.post("/api/parts/", json=body, headers=headers)
    big = STEP_A + b"/* padding */\n" * 200
    response = post_upload(client, headers, part.get_json()["id"], big, "big.step")
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"
    assert files_under(application.config["UPLOAD_FOLDER"]) == []


@SQLITE_ONLY
def test_a_small_form_with_too_many_fields_says_so_not_too_large(
    client, auth_headers, make_part, root
):
    part = make_part()
    form: dict[str, object] = {f"extra{n}": "x" for n in range(1000)}
    form["file"] = (io.BytesIO(STEP_A), "a.step")
    response = client.post(
        f"/api/parts/{part['id']}/upload",
        data=form,
        headers=auth_headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    body = response.get_json()
    assert body["error"] == "Too many form fields (at most 1000) or a text field too large"
    assert body["max_form_parts"] == 1000
    assert get_part(client, auth_headers, part["id"])["file"] is None
    assert files_under(root) == []


@SQLITE_ONLY
def test_upload_to_unknown_part_404_and_without_key_401(client, auth_headers, make_part, root):
    assert post_upload(client, auth_headers, 99999, STEP_A, "a.step").status_code == 404
    part = make_part()
    response = post_upload(client, {}, part["id"], STEP_A, "a.step")
    assert response.status_code == 401
    assert response.get_json()["error"]
    assert files_under(root) == []


@SQLITE_ONLY
@pytest.mark.parametrize(
    "path",
    ["download", "file", "model", "drawing", "views", "views/0"],
)
def test_file_endpoints_of_unknown_part_return_404_json(client, auth_headers, path):
    response = get_closed(client, f"/api/parts/99999/{path}", auth_headers)
    assert response.status_code == 404
    assert response.get_json()["error"]


def test_replacing_a_file_removes_the_old_one(client, auth_headers, make_part, root):
    part = make_part()
    post_upload(client, auth_headers, part["id"], STEP_A, "a.step")
    post_upload(client, auth_headers, part["id"], STEP_B, "b.step")
    assert files_under(root) == [f"parts/{part['uuid']}/{sha(STEP_B)}.step"]
    response = post_upload(client, auth_headers, part["id"], PDF, "b.pdf")
    assert response.status_code == 201
    assert files_under(root) == [f"parts/{part['uuid']}/{sha(PDF)}.pdf"]
    assert get_part(client, auth_headers, part["id"])["modelStatus"] == "none"


def test_replacing_a_converted_step_removes_its_unshared_model(
    app, client, auth_headers, make_part, root, cube
):
    part = make_part()
    post_upload(client, auth_headers, part["id"], cube, "cube.step")
    assert app.extensions["conversion_runner"].run_one() is True
    assert model_files(root) == ONE_MODEL
    post_upload(client, auth_headers, part["id"], PDF, "drawing.pdf")
    assert files_under(root) == [f"parts/{part['uuid']}/{sha(PDF)}.pdf"]


def test_identical_reupload_on_same_or_other_part_converts_nothing(
    app, client, auth_headers, make_part, root, cube
):
    first = make_part()
    post_upload(client, auth_headers, first["id"], cube, "cube.step")
    runner = app.extensions["conversion_runner"]
    assert runner.run_one() is True
    for target in (first, make_part(name="Twin")):
        response = post_upload(client, auth_headers, target["id"], cube, "again.step")
        assert response.status_code == 201
        conversion = response.get_json()["conversion"]
        assert conversion == {"status": "ready", "success": True, "error": None}
        assert runner.run_one() is False
        assert get_part(client, auth_headers, target["id"])["modelStatus"] == "ready"
        model = get_closed(client, f"/api/parts/{target['id']}/model", auth_headers)
        assert model.status_code == 200
    assert model_files(root) == ONE_MODEL


def test_delete_part_removes_its_folder_and_only_an_unshared_model(
    app, client, auth_headers, make_part, root, cube
):
    one, two = make_part(), make_part(name="Twin")
    for part in (one, two):
        post_upload(client, auth_headers, part["id"], cube, "cube.step")
    app.extensions["conversion_runner"].run_one()
    assert client.delete(f"/api/parts/{one['id']}", headers=auth_headers).status_code == 200
    assert not (root / "parts" / one["uuid"]).exists()
    assert model_files(root) == ONE_MODEL
    assert get_closed(client, f"/api/parts/{two['id']}/model", auth_headers).status_code == 200
    assert client.delete(f"/api/parts/{two['id']}", headers=auth_headers).status_code == 200
    assert files_under(root) == []


def test_wipe_removes_every_file_and_reupload_converts_again(
    app, client, auth_headers, make_part, root, api_key, cube
):
    part = make_part()
    post_upload(client, auth_headers, part["id"], cube, "cube.step")
    client.post(
        f"/api/parts/{part['id']}/views",
        data={"view_0": (io.BytesIO(PNG), "v.png")},
        headers=auth_headers,
        content_type="multipart/form-data",
    )
    runner = app.extensions["conversion_runner"]
    runner.run_one()
    response = client.post("/api/parts/wipe", json={"password": api_key}, headers=auth_headers)
    assert response.status_code == 200
    assert files_under(root) == []
    fresh = make_part()
    assert post_upload(client, auth_headers, fresh["id"], cube, "cube.step").status_code == 201
    assert get_part(client, auth_headers, fresh["id"])["modelStatus"] == "pending"
    assert runner.run_one() is True
    assert get_part(client, auth_headers, fresh["id"])["modelStatus"] == "ready"


def test_new_part_never_inherits_a_deleted_parts_files(client, auth_headers, make_part):
    old = make_part()
    post_upload(client, auth_headers, old["id"], STEP_A, "old.step")
    client.post(
        f"/api/parts/{old['id']}/views",
        data={"view_0": (io.BytesIO(PNG), "v.png")},
        headers=auth_headers,
        content_type="multipart/form-data",
    )
    client.delete(f"/api/parts/{old['id']}", headers=auth_headers)
    new = make_part()
    assert new["id"] != old["id"]
    assert (new["file"], new["modelStatus"]) == (None, "none")
    for path in ("download", "file", "model", "views/0"):
        assert get_closed(client, f"/api/parts/{new['id']}/{path}", auth_headers).status_code == 404
    assert get_closed(client, f"/api/parts/{new['id']}/views", auth_headers).get_json() == {
        "views": None
    }
