"""The GLB optimiser runs in a capped child process for a raw GLB above IN_PROCESS_MAX_BYTES
(in the job's own process below it): a GLB it cannot take on (corrupt, too large for the
memory cap, too slow for the time cap) leaves the raw model served, the reason logged and the
server's process untouched."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from tests.test_model_variants import DEFAULT_MAX_ERROR, PLATE, converted, model
from utils.glb_container import read_glb, write_glb
from utils.glb_optimize import ModelOptimisationError
from utils.glb_worker import OptimiserCaps, optimise_in_child
from utils.model_variants import IN_PROCESS_MAX_BYTES, stage_variants
from utils.storage import Storage

ROOMY = OptimiserCaps(timeout_s=120, memory_mb=4096)
# Caps no child can meet (Python alone takes longer to start): whatever they let through was
# made without a child.
NO_CHILD = OptimiserCaps(timeout_s=0.001, memory_mb=4096)
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


def test_a_real_conversion_of_a_small_part_is_optimised_in_process(make_app, caplog):
    app = make_app()
    with caplog.at_level(logging.INFO, logger="aerie.convert"):
        client, headers, url = converted(app, PLATE)
    assert " s in this process: " in caplog.text and "capped child" not in caplog.text
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
    capped = OptimiserCaps(timeout_s=120, memory_mb=256)
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
    capped = OptimiserCaps(timeout_s=0.3, memory_mb=4096)
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
