"""The optimised GLB variants: real cascadio conversions, decoded and compared with the raw GLB."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from models.part import Part
from tests.conftest import FIXTURES
from tests.glb_decode import diagonal, farthest_miss, placed_meshes
from tests.helpers import get_closed, upload_ok
from tests.test_fixture_conversions import upload as upload_encoded
from utils.file_audit import audit_files
from utils.glb_container import read_glb, write_glb
from utils.glb_optimize import ModelOptimisationError, optimise_glb

ASSEMBLY = FIXTURES / "step" / "occt_as1-oc-214-mat.stp"  # 18 named parts, 5 colours
PLATE = FIXTURES / "step" / "occt_xr2-ct-214_plate.stp"
GEARS = FIXTURES / "step-large" / "gen_gear_assembly_72_parts.step"
# The goal: the GLB a meshopt-decoding viewer gets is at least 4x smaller than raw.
SMALLER_AT_LEAST = 4.0
DEFAULT_MAX_ERROR = 0.0005  # config.BaseConfig.MODEL_MAX_ERROR


def converted(app: Any, source: Path) -> tuple[Any, dict[str, str], str]:
    """Upload a fixture to a new part and convert it here; (client, headers, model URL)."""
    if not source.is_file():
        pytest.skip(f"fixture {source} missing")
    client, headers = app.test_client(), {"X-API-Key": app.config["SECRET_KEY"]}
    body = {"name": source.stem, "material": "PLA", "subsystem": "Arm", "type": "cnc"}
    part = client.post("/api/parts/", json=body, headers=headers).get_json()
    assert upload_encoded(client, headers, part["id"], source).status_code == 201
    assert app.extensions["conversion_runner"].run_one() is True
    return client, headers, f"/api/parts/{part['id']}/model"


def model(client: Any, headers: dict[str, str], url: str, query: str = "") -> Any:
    response = get_closed(client, url + query, headers)
    assert (response.status_code, response.mimetype) == (200, "model/gltf-binary")
    return response


def assert_same_model(raw: bytes, optimised: bytes, max_error: float) -> None:
    """Same nodes, names, materials, triangle and vertex counts; positions within the bound."""
    before, after = placed_meshes(raw), placed_meshes(optimised)
    assert [(m.name, m.triangles, len(m.positions)) for m in after] == [
        (m.name, m.triangles, len(m.positions)) for m in before
    ]
    (raw_gltf, _), (new_gltf, _) = read_glb(raw), read_glb(optimised)
    assert [n.get("name") for n in new_gltf["nodes"]] == [n.get("name") for n in raw_gltf["nodes"]]
    assert new_gltf["materials"] == raw_gltf["materials"]
    bound = max_error * diagonal(before)
    for old, new in zip(before, after, strict=True):
        # Both ways: every vertex has its counterpart within the bound.
        assert farthest_miss(new.positions, old.positions, bound) <= bound
        assert farthest_miss(old.positions, new.positions, bound) <= bound


@pytest.mark.parametrize("source", [ASSEMBLY, PLATE], ids=["assembly", "plate"])
def test_variants_decode_to_the_raw_model_within_the_error_bound(make_app, source):
    client, headers, url = converted(make_app(), source)
    raw = model(client, headers, url, "?variant=raw").data
    quantized = model(client, headers, url).data
    meshopt = model(client, headers, url, "?compression=meshopt").data
    assert len(meshopt) < len(quantized) < len(raw)
    assert_same_model(raw, quantized, DEFAULT_MAX_ERROR)
    assert_same_model(raw, meshopt, DEFAULT_MAX_ERROR)
    gltf, _ = read_glb(meshopt)
    assert gltf["extensionsRequired"] == ["KHR_mesh_quantization", "EXT_meshopt_compression"]
    assert read_glb(quantized)[0]["extensionsRequired"] == ["KHR_mesh_quantization"]


def test_a_tighter_bound_is_kept_too(make_app):
    client, headers, url = converted(make_app(MODEL_MAX_ERROR=0.00002), ASSEMBLY)
    raw = model(client, headers, url, "?variant=raw").data
    assert_same_model(raw, model(client, headers, url, "?compression=meshopt").data, 0.00002)


def test_meshopt_variant_of_the_plate_is_4x_smaller_than_raw(make_app):
    client, headers, url = converted(make_app(), PLATE)
    raw = model(client, headers, url, "?variant=raw").data
    meshopt = model(client, headers, url, "?compression=meshopt").data
    assert len(raw) / len(meshopt) >= SMALLER_AT_LEAST, (len(raw), len(meshopt))


@pytest.mark.slow
def test_meshopt_variant_of_the_gear_assembly_is_4x_smaller_and_keeps_72_parts(make_app):
    client, headers, url = converted(make_app(), GEARS)
    raw = model(client, headers, url, "?variant=raw").data
    meshopt = model(client, headers, url, "?compression=meshopt").data
    assert len(raw) / len(meshopt) >= SMALLER_AT_LEAST, (len(raw), len(meshopt))
    assert_same_model(raw, meshopt, DEFAULT_MAX_ERROR)
    assert len(placed_meshes(meshopt)) == 72


@pytest.mark.parametrize(
    ("query", "variant"),
    [
        ("", "quantized"),
        ("?compression=meshopt", "meshopt"),
        ("?compression=draco,meshopt", "meshopt"),
        ("?compression=draco", "quantized"),
        ("?variant=raw", "raw"),
        ("?variant=raw&compression=meshopt", "raw"),
        ("?variant=meshopt", "meshopt"),
        ("?variant=quantized&compression=meshopt", "quantized"),
    ],
)
def test_negotiation_picks_the_variant_with_its_own_etag(make_app, query, variant):
    app = make_app()
    client, headers, url = converted(app, PLATE)
    response = model(client, headers, url, query)
    assert response.headers["Model-Variant"] == variant
    with app.app_context():
        key = db.session.scalars(select(Part.model_key)).one()
    stored = None if variant == "raw" else variant
    assert response.data == app.extensions["storage"].model_path(key, stored).read_bytes()
    etag = f'"{key}"' if variant == "raw" else f'"{key}-{variant}"'
    assert response.headers["ETag"] == etag
    again = get_closed(client, url + query, {**headers, "If-None-Match": etag})
    assert (again.status_code, again.data) == (304, b"")
    other = "?variant=raw" if variant != "raw" else ""
    assert get_closed(client, url + other, {**headers, "If-None-Match": etag}).status_code == 200


@pytest.mark.parametrize("query", ["?variant=draco", "?variant=", "?compression=" + "x" * 41])
def test_an_unknown_variant_is_a_400(make_app, query):
    client, headers, url = converted(make_app(), PLATE)
    response = get_closed(client, url + query, headers)
    assert response.status_code == 400
    assert response.get_json()["code"] == "validation_error"


def test_a_failed_optimisation_serves_the_raw_model_and_says_why(make_app, caplog):
    # A bound no 16-bit grid meets: the optimiser refuses, the model must not fail for it.
    app = make_app(MODEL_MAX_ERROR=1e-9)
    with caplog.at_level(logging.WARNING, logger="aerie.convert"):
        client, headers, url = converted(app, ASSEMBLY)
    assert "served unoptimised: 16-bit positions cannot meet the error bound" in caplog.text
    raw = model(client, headers, url, "?variant=raw")
    for query in ("", "?compression=meshopt"):
        response = model(client, headers, url, query)
        assert (response.headers["Model-Variant"], response.data) == ("raw", raw.data)
        assert response.headers["ETag"] == raw.headers["ETag"]
    status = get_closed(client, url.removesuffix("/model"), headers).get_json()["modelStatus"]
    assert status == "ready"


def test_a_model_converted_before_variants_existed_is_still_served(make_app):
    # MODEL_OPTIMISE off stores what earlier versions stored: the raw GLB only.
    app = make_app(MODEL_OPTIMISE=False)
    client, headers, url = converted(app, PLATE)
    models = app.extensions["storage"].root / "models"
    assert [path.name.count(".") for path in models.glob("*.glb")] == [1]
    for query in ("", "?compression=meshopt", "?variant=meshopt", "?variant=raw"):
        response = model(client, headers, url, query)
        assert response.headers["Model-Variant"] == "raw"
        assert read_glb(response.data)[0].get("extensionsRequired") is None


def test_replacing_the_step_file_removes_every_variant_of_its_model(make_app):
    app = make_app()
    client, headers, url = converted(app, PLATE)
    models = app.extensions["storage"].root / "models"
    assert sorted(path.name.split(".", 1)[1] for path in models.glob("*.glb")) == [
        "glb",
        "meshopt.glb",
        "quantized.glb",
    ]
    part_id = int(url.split("/")[3])
    upload_ok(client, headers, part_id, b"%PDF-1.4\n%%EOF\n", "drawing.pdf")
    assert list(models.glob("*.glb")) == []


def test_the_file_audit_counts_variants_as_their_models_files(make_app):
    app = make_app()
    converted(app, PLATE)
    with app.app_context():
        audit = audit_files(db.session, app.extensions["storage"])
    assert (audit.orphan_models, audit.stray_files) == ([], [])


def edited(glb: bytes, edit: Any) -> bytes:
    """The GLB with its JSON changed by edit(gltf)."""
    gltf, binary = read_glb(glb)
    edit(gltf)
    return write_glb(gltf, binary)


def test_a_mesh_node_with_children_keeps_them_in_place(make_app):
    client, headers, url = converted(make_app(), ASSEMBLY)
    raw = model(client, headers, url, "?variant=raw").data

    def nest(gltf: dict[str, Any]) -> None:
        # nut_2 becomes a child of nut_1: both show meshes, so the child's transform must
        # undo its parent's quantisation grid and add its own.
        nodes = gltf["nodes"]
        parent, child = (i for i, n in enumerate(nodes) if n.get("name") in ("nut_1", "nut_2"))
        for node in nodes:
            node["children"] = [c for c in node.get("children", []) if c != child]
        nodes[parent]["children"] = [child]

    nested = edited(raw, nest)
    assert_same_model(nested, optimise_glb(nested, DEFAULT_MAX_ERROR).meshopt, DEFAULT_MAX_ERROR)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda g: g["meshes"][0]["primitives"][0].update(mode=1), "indexed triangle lists"),
        (lambda g: g.update(animations=[{"channels": [], "samplers": []}]), "animations"),
    ],
    ids=["lines", "animations"],
)
def test_what_the_optimiser_does_not_take_on_is_refused_not_mangled(make_app, edit, reason):
    client, headers, url = converted(make_app(), PLATE)
    raw = model(client, headers, url, "?variant=raw").data
    with pytest.raises(ModelOptimisationError, match=reason):
        optimise_glb(edited(raw, edit), DEFAULT_MAX_ERROR)
