"""Every shared STEP fixture through the API: good files become GLBs, bad ones fail cleanly."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import trimesh
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.conftest import FIXTURES
from tests.helpers import get_closed

GOOD = FIXTURES / "step"
LARGE = FIXTURES / "step-large"
BAD = FIXTURES / "step-bad"
# Over 5 s each on a 2-core machine.
SLOW_GOOD = {
    "kicad_PQFP-256_28x28mm_P0.4mm.step",
    "kicad_Samtec_FMC_ASP-134602-01_10x40_P1.27mm_Vertical.step",
}
REFUSED = "415"  # the upload is refused: not ISO-10303-21 at all
READY = "ready"  # odd but convertible: a normal model
# What really happens with each hostile file (see ../shared/fixtures/step/MANIFEST.md; the
# app meshes with relative tolerance, which tames the unit bomb and the huge extent).
BAD_OUTCOMES = {
    "empty.step": (REFUSED, "not a valid STEP"),
    "whitespace_only.step": (REFUSED, "not a valid STEP"),
    "random_bytes_64k.step": (REFUSED, "not a valid STEP"),
    "gzip_of_step_renamed.step": (REFUSED, "not a valid STEP"),
    "utf16le_bom_encoded.step": (REFUSED, "not a valid STEP"),
    "occt_BUC50025.igs": (REFUSED, "Invalid file type"),
    "truncated_half_as1-oc-214-mat.stp": ("failed", "could not be read as a STEP model"),
    "valid_header_garbage_body.step": ("failed", "could not be read as a STEP model"),
    "assembly_self_reference.step": ("failed", "could not be read as a STEP model"),
    "assembly_cycle_A_C_A.step": ("failed", "could not be converted"),
    "deep_nested_parens_100k.step": ("failed", "converter crashed (SIGSEGV)"),
    "occt_xr1-db-214_0_no_geometry.stp": ("failed", "no solid or surface geometry"),
    "occt_bug27333_wireframe_only.stp": ("failed", "no solid or surface geometry"),
    "overflow_coords_1e400.step": ("failed", "took longer than"),
    "dangling_reference.step": (READY, None),
    "nonascii_names_utf8_and_x2.step": (READY, None),
    "unit_bomb_l-bracket_kilometre.stp": (READY, None),
    "occt_as1_motor_huge_extent.step": (READY, None),
}
# Meshing this one runs for many minutes; its time limit is its size's (CONVERSION_SECONDS_PER_MB
# for its one started MB), lowered here to see the timeout path, under the default cap.
CAPPED = {"overflow_coords_1e400.step": 8}  # as test_step_converter.BAD_TIMEOUT_S


def fixture_params(folder: Path, slow: set[str] | None = None) -> list:
    if not folder.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{folder} missing"))]
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix != ".md")
    slow = set(names) if slow is None else slow
    return [pytest.param(n, id=n, marks=[pytest.mark.slow] if n in slow else []) for n in names]


def new_client(make_app, **overrides):
    application = make_app(**overrides)
    client = application.test_client()
    headers = {"X-API-Key": application.config["SECRET_KEY"]}
    body = {"name": "Fixture", "material": "6061", "subsystem": "Test", "type": "cnc"}
    part = client.post("/api/parts/", json=body, headers=headers).get_json()
    return application, client, headers, part["id"]


def upload(client, headers, part_id, path: Path):
    # Encoded up front: the test client's own encoder leaves a temp file open past 500 KB.
    upload_file = FileStorage(io.BytesIO(path.read_bytes()), filename=path.name, name="file")
    boundary, body = encode_multipart({"file": upload_file})
    return client.post(
        f"/api/parts/{part_id}/upload",
        data=body,
        headers=headers,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def convert_through_api(make_app, path: Path, **overrides):
    """Upload, run the one pending job, and return (app, client, headers, part id)."""
    application, client, headers, part_id = new_client(make_app, **overrides)
    response = upload(client, headers, part_id, path)
    assert response.status_code == 201, response.get_json()
    assert application.extensions["conversion_runner"].run_one() is True
    return application, client, headers, part_id


def assert_model_loads(client, headers, part_id) -> None:
    part = get_closed(client, f"/api/parts/{part_id}", headers).get_json()
    assert (part["modelStatus"], part["modelError"]) == ("ready", None)
    response = get_closed(client, f"/api/parts/{part_id}/model", headers)
    assert (response.status_code, response.mimetype) == (200, "model/gltf-binary")
    scene = trimesh.load(io.BytesIO(response.data), file_type="glb", force="scene")
    assert scene.graph.nodes_geometry
    assert sum(len(g.faces) for g in scene.geometry.values()) > 0


@pytest.mark.parametrize("name", fixture_params(GOOD, SLOW_GOOD))
def test_good_fixture_converts_to_a_glb_with_triangles(make_app, name):
    _app, client, headers, part_id = convert_through_api(make_app, GOOD / name)
    assert_model_loads(client, headers, part_id)


@pytest.mark.parametrize("name", fixture_params(LARGE))
def test_large_fixture_converts_to_a_glb_with_triangles(make_app, name):
    _app, client, headers, part_id = convert_through_api(make_app, LARGE / name)
    assert_model_loads(client, headers, part_id)


@pytest.mark.parametrize("name", fixture_params(BAD, slow=set(CAPPED)))
def test_bad_fixture_ends_as_4xx_or_a_clear_failure_never_500(make_app, name):
    if name not in BAD_OUTCOMES:
        pytest.fail(f"new bad fixture {name}: add its expected outcome to BAD_OUTCOMES")
    outcome, message = BAD_OUTCOMES[name]
    overrides = {"CONVERSION_SECONDS_PER_MB": CAPPED[name]} if name in CAPPED else {}
    application, client, headers, part_id = new_client(make_app, **overrides)
    response = upload(client, headers, part_id, BAD / name)
    if outcome == REFUSED:
        assert response.status_code == 415
        assert message in response.get_json()["error"]
        assert get_closed(client, f"/api/parts/{part_id}", headers).get_json()["file"] is None
    else:
        assert response.status_code == 201, response.get_json()
        assert application.extensions["conversion_runner"].run_one() is True
        if outcome == READY:
            assert_model_loads(client, headers, part_id)
        else:
            part = get_closed(client, f"/api/parts/{part_id}", headers).get_json()
            assert part["modelStatus"] == "failed"
            assert message in part["modelError"]
            if name in CAPPED:  # the file's own limit, not CONVERSION_TIMEOUT_SECONDS
                assert f"took longer than {CAPPED[name]} s" in part["modelError"]
            model = get_closed(client, f"/api/parts/{part_id}/model", headers)
            assert model.status_code == 422
            assert model.get_json()["details"] == part["modelError"]
    assert get_closed(client, "/health", {}).status_code == 200
