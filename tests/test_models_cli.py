"""`flask models optimise`: models stored with the raw GLB only (converted before the optimiser
or with MODEL_OPTIMISE off) get their variants, once; real conversions, on disk and in S3."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.test_model_variants import (
    ASSEMBLY,
    DEFAULT_MAX_ERROR,
    PLATE,
    assert_same_model,
    converted,
    model,
)
from tests.test_object_store import objects, s3, s3_app  # noqa: F401 - s3 is a fixture
from utils.glb_container import read_glb

VARIANT_FILES = ["glb", "meshopt.glb", "quantized.glb"]


def optimise(app: Any, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["models", "optimise", *args])
    assert result.exit_code == 0, result.output
    return result.output


def stored(app: Any) -> list[str]:
    """The suffixes of every file under models/ (raw 'glb' or a variant's), sorted."""
    models = app.extensions["storage"].root / "models"
    return sorted(path.name.split(".", 1)[1] for path in models.glob("*.glb"))


@pytest.fixture
def raw_only(make_app) -> tuple[Any, list[tuple[Any, dict[str, str], str]]]:
    """An app whose two models (the as1 assembly and the xr2 plate) were converted with
    MODEL_OPTIMISE off: the raw GLBs only, as before the optimiser."""
    app = make_app(MODEL_OPTIMISE=False)
    return app, [converted(app, ASSEMBLY), converted(app, PLATE)]


def test_dry_run_counts_and_writes_nothing(raw_only):
    app, _ = raw_only
    output = optimise(app, "--dry-run")
    assert "2 models stored, 0 with every variant, 2 missing variants (dry run" in output
    assert output.count("missing quantized, meshopt") == 2
    assert stored(app) == ["glb", "glb"]


def test_the_raw_models_get_their_variants_once(raw_only):
    app, parts = raw_only
    output = optimise(app)
    assert "2 models stored, 0 with every variant, 2 optimised now, 0 left raw" in output
    assert stored(app) == sorted(VARIANT_FILES * 2)
    for client, headers, url in parts:
        raw = model(client, headers, url, "?variant=raw").data
        meshopt = model(client, headers, url, "?compression=meshopt")
        assert meshopt.headers["Model-Variant"] == "meshopt"
        assert_same_model(raw, meshopt.data, DEFAULT_MAX_ERROR)
        assert model(client, headers, url).headers["Model-Variant"] == "quantized"
    before = {
        p.name: p.stat().st_mtime_ns for p in (app.extensions["storage"].root / "models").iterdir()
    }
    # Idempotent: a second pass finds every variant and rewrites nothing.
    again = optimise(app)
    assert "2 models stored, 2 with every variant, 0 optimised now, 0 left raw" in again
    after = {
        p.name: p.stat().st_mtime_ns for p in (app.extensions["storage"].root / "models").iterdir()
    }
    assert after == before


@pytest.mark.parametrize(("limit_mb", "place"), [(1, "in this process"), (0, "in a capped child")])
def test_the_command_optimises_where_the_in_process_limit_says(make_app, caplog, limit_mb, place):
    # The xr2 plate's raw GLB is far below 1 MB.
    app = make_app(MODEL_OPTIMISE=False, MODEL_OPTIMISE_IN_PROCESS_MAX_MB=limit_mb)
    converted(app, PLATE)
    with caplog.at_level(logging.INFO, logger="aerie.convert"):
        assert "1 optimised now, 0 left raw" in optimise(app)
    assert f" s {place}: " in caplog.text


def test_only_the_missing_variant_is_added(raw_only):
    app, [(client, headers, url), _] = raw_only
    optimise(app)
    models = app.extensions["storage"].root / "models"
    meshopt = next(models.glob("*.meshopt.glb"))
    quantized_before = {p: p.read_bytes() for p in models.glob("*.quantized.glb")}
    meshopt.unlink()
    output = optimise(app)
    assert "1 optimised now" in output and "missing" not in output
    assert meshopt.is_file()
    assert {p: p.read_bytes() for p in models.glob("*.quantized.glb")} == quantized_before


def test_a_corrupt_stored_model_stays_raw_and_is_reported(raw_only, caplog):
    app, [(client, headers, url), plate] = raw_only
    raw = model(client, headers, url, "?variant=raw").data
    corrupt = raw[:20] + b"\xff" * 200  # the header and a cut-off JSON chunk
    path = next(
        p
        for p in (app.extensions["storage"].root / "models").glob("*.glb")
        if p.read_bytes() == raw
    )
    path.write_bytes(corrupt)
    with caplog.at_level(logging.WARNING, logger="aerie.convert"):
        output = optimise(app)
    assert "1 optimised now, 1 left raw" in output
    assert f"model {path.stem}: left raw" in output
    assert "served unoptimised: unreadable glTF" in caplog.text
    served = model(client, headers, url, "?compression=meshopt")
    assert (served.headers["Model-Variant"], served.data) == ("raw", corrupt)
    plate_served = model(*plate, "?compression=meshopt")
    assert plate_served.headers["Model-Variant"] == "meshopt"


def test_models_in_an_s3_store_get_their_variants(s3, tmp_path):  # noqa: F811 - the fixture
    if not PLATE.is_file():
        pytest.skip(f"fixture {PLATE} missing")
    app = s3_app(tmp_path, s3, "a")
    app.config["MODEL_OPTIMISE"] = False
    client, headers, url = converted(app, PLATE)
    models = sorted(key for key in objects(s3) if key.startswith("team/models/"))
    assert len(models) == 1 and models[0].count(".") == 1
    # Another host, with an empty cache: it reads the raw GLB from the bucket.
    other = s3_app(tmp_path, s3, "b")
    assert "1 optimised now, 0 left raw" in optimise(other)
    names = sorted(key.split(".", 1)[1] for key in objects(s3) if key.startswith("team/models/"))
    assert names == VARIANT_FILES
    reader = s3_app(tmp_path, s3, "c")
    served = model(reader.test_client(), headers, url, "?compression=meshopt")
    assert served.headers["Model-Variant"] == "meshopt"
    assert "EXT_meshopt_compression" in read_glb(served.data)[0]["extensionsRequired"]
