"""The GLB optimiser runs in a capped child process for a raw GLB above
MODEL_OPTIMISE_IN_PROCESS_MAX_MB (in the job's own process below it): a GLB it cannot take on
(corrupt, too large for the memory cap, too slow for the time cap) leaves the raw model served,
the reason logged and the server's process untouched."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from config import ConfigError, load_settings
from tests.test_model_variants import DEFAULT_MAX_ERROR, PLATE, converted, model
from utils.glb_container import read_glb, write_glb
from utils.glb_optimize import ModelOptimisationError
from utils.glb_worker import OptimiserCaps, optimise_in_child
from utils.model_variants import stage_variants
from utils.storage import Storage

SETTING = "MODEL_OPTIMISE_IN_PROCESS_MAX_MB"
SETTINGS = load_settings("testing")
# The setting's default, in bytes.
IN_PROCESS_MAX_BYTES = SETTINGS[SETTING] * 1024 * 1024
ALWAYS_CHILD = {SETTING: 0}


def caps(timeout_s: float, memory_mb: int = 4096, **settings: object) -> OptimiserCaps:
    """The caps a server with these settings (the defaults for the rest) gives the optimiser."""
    limits = {"CONVERSION_TIMEOUT_SECONDS": timeout_s, "CONVERSION_MEMORY_MB": memory_mb}
    return OptimiserCaps.from_config(SETTINGS | limits | settings)


ROOMY = caps(120)
# Caps no child can meet (Python alone takes longer to start): whatever they let through was
# made without a child.
NO_CHILD = caps(0.001)
KEY = "0" * 64 + "-test"
# Vertices of a big_glb just above IN_PROCESS_MAX_BYTES, the smallest one the child makes.
JUST_OVER = IN_PROCESS_MAX_BYTES // 48 + 1_000


def big_glb(vertices: int) -> bytes:
    """A GLB shaped as cascadio writes them (one indexed triangle list, POSITION and NORMAL)
    with `vertices` vertices and twice as many triangles: 48 bytes a vertex."""
    rng = np.random.default_rng(7)
    positions = rng.random((vertices, 3), dtype=np.float32)
    normals = np.tile(np.array([0, 0, 1], np.float32), (vertices, 1))
    indices = rng.integers(0, vertices, size=vertices * 6, dtype=np.uint32)
    views = [positions.nbytes, normals.nbytes, indices.nbytes]
    offsets = [0, views[0], views[0] + views[1]]
    gltf = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "big"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1}, "indices": 2}]}],
        "buffers": [{"byteLength": sum(views)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": offset, "byteLength": length}
            for offset, length in zip(offsets, views, strict=True)
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": vertices, "type": "VEC3"},
            {"bufferView": 1, "componentType": 5126, "count": vertices, "type": "VEC3"},
            {"bufferView": 2, "componentType": 5125, "count": indices.size, "type": "SCALAR"},
        ],
    }
    gltf["accessors"][0].update(min=[0, 0, 0], max=[1, 1, 1])
    return write_glb(gltf, positions.tobytes() + normals.tobytes() + indices.tobytes())


@pytest.fixture
def store(tmp_path: Path) -> Storage:
    return Storage(tmp_path / "uploads")


def raw_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "raw.glb"
    path.write_bytes(data)
    return path


def assert_nothing_left(store: Storage) -> None:
    """No staged variant and no work folder of the child left behind."""
    assert list(store.tmp_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("settings", "place", "not_there"),
    [
        ({}, " s in this process: ", "capped child"),
        (ALWAYS_CHILD, " s in a capped child: ", "in this process"),
    ],
    ids=["default", "always-child"],
)
def test_a_real_conversion_of_a_small_part_is_optimised_where_the_setting_says(
    make_app, caplog, settings, place, not_there
):
    app = make_app(**settings)
    with caplog.at_level(logging.INFO, logger="aerie.convert"):
        client, headers, url = converted(app, PLATE)
    assert place in caplog.text and not_there not in caplog.text
    raw = model(client, headers, url, "?variant=raw").data
    meshopt = model(client, headers, url, "?compression=meshopt")
    assert meshopt.headers["Model-Variant"] == "meshopt" and len(meshopt.data) < len(raw)
    assert_nothing_left(app.extensions["storage"])


def test_a_small_glb_is_optimised_without_a_child(store, tmp_path, caplog):
    small = raw_file(tmp_path, big_glb(JUST_OVER // 10))
    with caplog.at_level(logging.INFO, logger="aerie.convert"):
        staged = stage_variants(store, KEY, small, DEFAULT_MAX_ERROR, NO_CHILD)
    assert sorted(staged) == ["meshopt", "quantized"]
    assert f"model {KEY} optimised in" in caplog.text and " s in this process: " in caplog.text
    assert optimiser_children() == []


def test_a_glb_above_the_in_process_limit_goes_to_the_child(store, tmp_path, caplog):
    data = big_glb(JUST_OVER)
    assert IN_PROCESS_MAX_BYTES < len(data) < IN_PROCESS_MAX_BYTES * 1.1
    over = raw_file(tmp_path, data)
    with caplog.at_level(logging.INFO, logger="aerie.convert"):
        assert stage_variants(store, KEY, over, DEFAULT_MAX_ERROR, NO_CHILD) == {}
        assert "served unoptimised: the optimiser took longer than 0.001 s" in caplog.text
        staged = stage_variants(store, KEY, over, DEFAULT_MAX_ERROR, ROOMY)
    assert sorted(staged) == ["meshopt", "quantized"]
    assert " s in a capped child: " in caplog.text


def test_a_setting_of_0_sends_even_a_small_glb_to_the_child(store, tmp_path, caplog):
    small = raw_file(tmp_path, big_glb(JUST_OVER // 10))
    no_child, roomy = caps(0.001, **ALWAYS_CHILD), caps(120, **ALWAYS_CHILD)
    with caplog.at_level(logging.INFO, logger="aerie.convert"):
        assert stage_variants(store, KEY, small, DEFAULT_MAX_ERROR, no_child) == {}
        assert "served unoptimised: the optimiser took longer than 0.001 s" in caplog.text
        staged = stage_variants(store, KEY, small, DEFAULT_MAX_ERROR, roomy)
    assert sorted(staged) == ["meshopt", "quantized"]
    assert " s in a capped child: " in caplog.text and " s in this process: " not in caplog.text


@pytest.mark.parametrize("value", [-1, 1.5, "1 MB", True, None])
def test_a_bad_in_process_limit_is_refused_when_the_app_is_built(make_app, value):
    # A negative number is refused with every other negative setting (config.py), first.
    refused = f"^{SETTING} must (not be negative|be a whole number of MB \\(0 = every)"
    with pytest.raises(ConfigError, match=refused):
        make_app(**{SETTING: value})


@pytest.mark.parametrize("text", ["one", "-1", "0.5"])
def test_a_bad_in_process_limit_in_the_environment_is_refused(tmp_path, text):
    # All three are refused when the settings are read ("-1" as every negative setting is).
    with pytest.raises(ConfigError, match=f"^{SETTING} must (be a whole number|not be negative)"):
        settings = load_settings("development", environ={SETTING: text}, config_file=tmp_path / "n")
        OptimiserCaps.from_config(settings)


def test_the_child_writes_both_variants_of_a_real_glb(make_app, tmp_path):
    app = make_app(MODEL_OPTIMISE=False)
    client, headers, url = converted(app, PLATE)
    raw = raw_file(tmp_path, model(client, headers, url, "?variant=raw").data)
    workdir = tmp_path / "work"
    workdir.mkdir()
    made = optimise_in_child(raw, workdir, DEFAULT_MAX_ERROR, ROOMY)
    assert sorted(made) == ["meshopt", "quantized"]
    assert read_glb(made["meshopt"].read_bytes())[0]["extensionsRequired"] == [
        "KHR_mesh_quantization",
        "EXT_meshopt_compression",
    ]


@pytest.mark.parametrize(
    "data",
    [b"glTF" + b"\x02\x00\x00\x00" + b"\xff" * 64, b"not a model at all", b""],
    ids=["corrupt-header", "not-glb", "empty"],
)
def test_a_corrupt_glb_stages_nothing_and_says_why(store, tmp_path, caplog, data):
    with caplog.at_level(logging.WARNING, logger="aerie.convert"):
        staged = stage_variants(store, KEY, raw_file(tmp_path, data), DEFAULT_MAX_ERROR, ROOMY)
    assert staged == {}
    assert f"model {KEY} served unoptimised: unreadable glTF" in caplog.text
    assert_nothing_left(store)


def test_the_child_refuses_a_corrupt_glb_and_says_why(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    corrupt = raw_file(tmp_path, b"glTF" + b"\x02\x00\x00\x00" + b"\xff" * 64)
    with pytest.raises(ModelOptimisationError, match="^unreadable glTF"):
        optimise_in_child(corrupt, workdir, DEFAULT_MAX_ERROR, ROOMY)


def test_a_glb_too_large_for_the_memory_cap_stops_the_child_only(store, tmp_path, caplog):
    # 48 MB of geometry: the optimiser needs several times that, more than the 256 MB cap,
    # which the smallest model the child takes on (the same cap, below) fits in with room.
    capped = caps(120, memory_mb=256)
    big = raw_file(tmp_path, big_glb(1_000_000))
    with caplog.at_level(logging.WARNING, logger="aerie.convert"):
        assert stage_variants(store, KEY, big, DEFAULT_MAX_ERROR, capped) == {}
    assert "served unoptimised: the optimiser needed more than 256 MB of memory" in caplog.text
    assert_nothing_left(store)
    small = tmp_path / "small.glb"
    small.write_bytes(big_glb(JUST_OVER))
    assert sorted(stage_variants(store, KEY, small, DEFAULT_MAX_ERROR, capped)) == [
        "meshopt",
        "quantized",
    ]


def test_an_optimisation_past_the_time_cap_is_stopped(store, tmp_path, caplog):
    # 300,000 vertices take the optimiser well over a second, even on a quiet machine.
    slow = raw_file(tmp_path, big_glb(300_000))
    capped = caps(0.3)
    with caplog.at_level(logging.WARNING, logger="aerie.convert"):
        assert stage_variants(store, KEY, slow, DEFAULT_MAX_ERROR, capped) == {}
    assert "served unoptimised: the optimiser took longer than 0.3 s and was stopped" in (
        caplog.text
    )
    assert_nothing_left(store)
    assert optimiser_children() == []  # killed and reaped, not left running


def optimiser_children() -> list[int]:
    """Processes of ours still running (or unreaped) the optimiser's child script."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rpartition(")")[2].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if parent == os.getpid() and b"glb_worker.py" in command:
            found.append(int(stat.parent.name))
    return found
