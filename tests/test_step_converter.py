"""STEP to GLB conversion: real cascadio on the shared good and hostile fixtures."""

# The `slow` marker (registered in pyproject.toml) holds the full sweep of good files and the two
# generated large files (~3 min, ~3 GB); the default run takes a representative subset.

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from utils.conversion_errors import StepConversionError
from utils.glb_inspect import inspect_glb
from utils.step_converter import (
    DEFAULT_SETTINGS,
    STEP_HEAD_BYTES,
    ConversionSettings,
    convert_step,
    looks_like_step,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"

# Tiny, colours, heavy mesh, nested assembly, UTF-8 names, CP1251 names with 17 parts. Every
# other good and large fixture is converted through the API by tests/test_fixture_conversions.py
# (the same convert_step under the same default limits), so the slow ones convert once per run.
QUICK_GOOD = [
    "occt_trj7_c2-ug-214.stp",
    "cadquery_red_cube_blue_cylinder.step",
    "occt_bug29715_slow.stp",
    "occt_as1-oc-214-mat.stp",
    "occt_bug33398_utf8_names.step",
    "occt_bug31670_russian.stp",
]

NOT_STEP = "not a STEP file"
UNREADABLE = "could not be read as a STEP model"
NO_GEOMETRY = "contains no solid or surface geometry"
# What each hostile file ends in under DEFAULT_SETTINGS: (error code, part of the message), or
# None if it converts.
BAD_OUTCOMES = [
    ("empty.step", ("not_step", NOT_STEP)),
    ("whitespace_only.step", ("not_step", NOT_STEP)),
    ("random_bytes_64k.step", ("not_step", NOT_STEP)),
    ("gzip_of_step_renamed.step", ("not_step", NOT_STEP)),
    ("utf16le_bom_encoded.step", ("not_step", NOT_STEP)),
    ("occt_BUC50025.igs", ("not_step", NOT_STEP)),
    ("truncated_half_as1-oc-214-mat.stp", ("unreadable", UNREADABLE)),
    ("valid_header_garbage_body.step", ("unreadable", UNREADABLE)),
    ("assembly_self_reference.step", ("unreadable", UNREADABLE)),
    ("assembly_cycle_A_C_A.step", ("rejected", "(A null Label has no attribute).")),
    ("deep_nested_parens_100k.step", ("crashed", "The converter crashed (SIGSEGV)")),
    ("occt_xr1-db-214_0_no_geometry.stp", ("no_geometry", NO_GEOMETRY)),
    ("occt_bug27333_wireframe_only.stp", ("no_geometry", NO_GEOMETRY)),
    # Infinite coordinates send the relative-tolerance mesher into an endless loop.
    ("overflow_coords_1e400.step", ("timeout", "took longer than 8 s")),
    ("dangling_reference.step", None),
    ("nonascii_names_utf8_and_x2.step", None),
    # Both explode with absolute tolerances; relative ones make them sub-second conversions.
    ("unit_bomb_l-bracket_kilometre.stp", None),
    ("occt_as1_motor_huge_extent.step", None),
]
BAD_TIMEOUT_S = 8


def fixture(kind: str, name: str) -> Path:
    path = FIXTURES / kind / name
    if not path.is_file():
        pytest.skip(f"fixture {kind}/{name} not found under {FIXTURES}")
    return path


def trimesh_triangles(glb: Path) -> int:
    trimesh = pytest.importorskip("trimesh")
    scene = trimesh.load(glb, force="scene")
    graph = scene.graph
    return sum(len(scene.geometry[graph[node][1]].faces) for node in graph.nodes_geometry)


def assert_converts(src: Path, tmp_path: Path) -> None:
    dst = tmp_path / "model.glb"
    result = convert_step(src, dst)
    assert dst.stat().st_size == result.bytes_written > 0
    assert result.meshes > 0
    assert trimesh_triangles(dst) == result.triangles > 0
    assert [p.name for p in tmp_path.iterdir()] == ["model.glb"]


def assert_leaves_nothing(tmp_path: Path) -> None:
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"ISO-10303-21;\nHEADER;\n", True),
        (b"\xef\xbb\xbf\r\n  ISO-10303-21 ;\r\nHEADER;", True),
        (b"ISO-10303-21", False),
        (b"", False),
        (b"\n  \n\t\n", False),
        (b"\x1f\x8b\x08\x00", False),
        ("ISO-10303-21;".encode("utf-16"), False),
        (b"START RECORD GONE", False),
        (b"HEADER;\nISO-10303-21;", False),
    ],
)
def test_looks_like_step(head: bytes, expected: bool) -> None:
    assert looks_like_step(head) is expected


@pytest.mark.parametrize("tol", [0.0, -1.0, float("nan"), float("inf")])
def test_settings_reject_non_positive_tolerance(tol: float) -> None:
    with pytest.raises(ValueError, match="tol_linear"):
        ConversionSettings(tol_linear=tol, tol_angular=0.5, tol_relative=True)


def test_settings_cache_key_is_stable_and_tells_settings_apart() -> None:
    same = ConversionSettings(0.01, 0.5, True)
    assert DEFAULT_SETTINGS.tol_relative
    assert same.cache_key() == DEFAULT_SETTINGS.cache_key()
    assert ConversionSettings(0.01, 0.5, False).cache_key() != same.cache_key()
    assert ConversionSettings(0.01, 0.5, True, False).cache_key() != same.cache_key()
    assert len(same.cache_key()) < 80


def _glb(gltf: dict[str, object]) -> bytes:
    body = json.dumps(gltf).encode()
    body += b" " * (-len(body) % 4)
    header = struct.pack("<4sII", b"glTF", 2, 20 + len(body))
    return header + struct.pack("<I4s", len(body), b"JSON") + body


def test_inspect_glb_without_meshes_is_no_geometry(tmp_path: Path) -> None:
    glb = tmp_path / "empty.glb"
    glb.write_bytes(_glb({"asset": {"version": "2.0"}, "nodes": [{"name": "SOLID"}]}))
    with pytest.raises(StepConversionError, match="no solid or surface geometry") as info:
        inspect_glb(glb)
    assert info.value.code == "no_geometry"


@pytest.mark.parametrize(
    "data",
    [b"", b"glTF\x01\x00\x00\x00", _glb({"meshes": 3})[:-2], b"PK\x03\x04" + b"\x00" * 40],
)
def test_inspect_glb_rejects_broken_files(tmp_path: Path, data: bytes) -> None:
    glb = tmp_path / "broken.glb"
    glb.write_bytes(data)
    with pytest.raises(StepConversionError, match="unusable 3D model") as info:
        inspect_glb(glb)
    assert info.value.code == "bad_output"


def test_inspect_glb_counts_triangles_per_instance(tmp_path: Path) -> None:
    glb = tmp_path / "two.glb"
    gltf = {
        "accessors": [{"count": 8}, {"count": 36}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "nodes": [{"mesh": 0}, {"mesh": 0}, {"children": [0, 1]}],
    }
    glb.write_bytes(_glb(gltf))
    assert inspect_glb(glb) == (2, 24)


@pytest.mark.parametrize("name", QUICK_GOOD)
def test_convert_good_file_loads_in_trimesh(name: str, tmp_path: Path) -> None:
    assert_converts(fixture("step", name), tmp_path)


@pytest.mark.parametrize(("name", "failure"), BAD_OUTCOMES)
def test_convert_hostile_file(name: str, failure: tuple[str, str] | None, tmp_path: Path) -> None:
    src = fixture("step-bad", name)
    assert looks_like_step(src.read_bytes()[:STEP_HEAD_BYTES]) is (
        failure is None or failure[0] != "not_step"
    )
    if failure is None:
        assert_converts(src, tmp_path)
        return
    with pytest.raises(StepConversionError) as info:
        convert_step(src, tmp_path / "model.glb", timeout_s=BAD_TIMEOUT_S)
    message = str(info.value)
    assert (info.value.code, failure[1] in message) == (failure[0], True), message
    assert message.endswith(".") and "\n" not in message
    assert_leaves_nothing(tmp_path)


def test_convert_timeout_kills_child_and_leaves_nothing(tmp_path: Path) -> None:
    src = fixture("step", "kicad_Samtec_FMC_ASP-134602-01_10x40_P1.27mm_Vertical.step")
    started = time.monotonic()
    with pytest.raises(StepConversionError, match="took longer than 1 s") as info:
        convert_step(src, tmp_path / "m.glb", timeout_s=1)
    assert info.value.code == "timeout"
    assert time.monotonic() - started < 3
    assert_leaves_nothing(tmp_path)


def test_convert_memory_cap_stops_child_and_leaves_nothing(tmp_path: Path) -> None:
    # With absolute tolerances this 209 m wide model grows past 6 GB; Python and OpenCASCADE
    # themselves fit in ~350 MB of address space.
    src = fixture("step-bad", "occt_as1_motor_huge_extent.step")
    absolute = ConversionSettings(tol_linear=0.01, tol_angular=0.5, tol_relative=False)
    with pytest.raises(StepConversionError, match="600 MB memory limit") as info:
        convert_step(src, tmp_path / "m.glb", settings=absolute, memory_mb=600)
    assert info.value.code == "memory"
    assert_leaves_nothing(tmp_path)


def test_convert_failure_keeps_previous_output(tmp_path: Path) -> None:
    dst = tmp_path / "m.glb"
    dst.write_bytes(b"previous")
    with pytest.raises(StepConversionError):
        convert_step(fixture("step-bad", "truncated_half_as1-oc-214-mat.stp"), dst)
    assert dst.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["m.glb"]


def test_convert_missing_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StepConversionError, match="could not be opened"):
        convert_step(tmp_path / "nope.step", tmp_path / "m.glb")
    assert_leaves_nothing(tmp_path)


def _worker_pid(marker: Path) -> int | None:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes()
        except OSError:
            continue
        if b"step_worker.py" in args and str(marker).encode() in args:
            return int(cmdline.parent.name)
    return None


def _is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_for(check: Callable[[], object], timeout_s: float = 10) -> object:
    deadline = time.monotonic() + timeout_s
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def test_worker_is_killed_when_the_server_dies(tmp_path: Path) -> None:
    src = fixture("step-bad", "overflow_coords_1e400.step")  # would spin for minutes
    code = (
        "import sys, pathlib, utils.step_converter as c; "
        "c.convert_step(*map(pathlib.Path, sys.argv[1:]))"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code, str(src), str(tmp_path / "m.glb")], cwd=PROJECT_ROOT
    )
    try:
        worker = _wait_for(lambda: _worker_pid(tmp_path))
    finally:
        server.kill()
        server.wait()
    assert isinstance(worker, int)
    assert _wait_for(lambda: not _is_alive(worker))
