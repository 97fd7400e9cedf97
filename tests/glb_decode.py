"""Test helpers: a GLB's meshes as placed in its scene; meshopt decoded by the meshopt package."""

from __future__ import annotations

from typing import Any, NamedTuple

import meshopt
import numpy as np

from utils.glb_container import read_accessor, read_glb, world_matrices

MESHOPT = "EXT_meshopt_compression"
_NORMALIZED_SCALE = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}


class PlacedMesh(NamedTuple):
    """One mesh node: its name, its vertices in scene space, its triangles."""

    name: str | None
    positions: np.ndarray
    triangles: int


def placed_meshes(glb: bytes) -> list[PlacedMesh]:
    """Every node showing a mesh, in node order; meshopt buffers decoded first."""
    gltf, binary = read_glb(glb)
    if MESHOPT in gltf.get("extensionsUsed", []):
        gltf, binary = _decoded(gltf, binary)
    placed = []
    for index, world in sorted(world_matrices(gltf).items()):
        node = gltf["nodes"][index]
        if node.get("mesh") is None:
            continue
        parts, triangles = [], 0
        for primitive in gltf["meshes"][node["mesh"]]["primitives"]:
            points = _values(gltf, binary, primitive["attributes"]["POSITION"])
            parts.append(points @ world[:3, :3].T + world[:3, 3])
            triangles += gltf["accessors"][primitive["indices"]]["count"] // 3
        placed.append(PlacedMesh(node.get("name"), np.concatenate(parts), triangles))
    return placed


def _values(gltf: dict[str, Any], binary: bytes, index: int) -> np.ndarray:
    accessor = gltf["accessors"][index]
    values = read_accessor(gltf, binary, index).astype(np.float64)
    if accessor.get("normalized"):
        values /= _NORMALIZED_SCALE[accessor["componentType"]]
    return values


def _decoded(gltf: dict[str, Any], binary: bytes) -> tuple[dict[str, Any], bytes]:
    """The fallback buffer filled in by meshopt's decoder; views re-pointed at it."""
    fallback = next(
        index
        for index, buffer in enumerate(gltf["buffers"])
        if buffer.get("extensions", {}).get(MESHOPT, {}).get("fallback")
    )
    plain = bytearray(gltf["buffers"][fallback]["byteLength"])
    views = []
    for view in gltf["bufferViews"]:
        spec = view["extensions"][MESHOPT]
        assert view["buffer"] == fallback and spec["buffer"] != fallback
        start = spec.get("byteOffset", 0)
        encoded = binary[start : start + spec["byteLength"]]
        rows = meshopt.decode_gltf_buffer(
            encoded, spec["count"], spec["byteStride"], spec["mode"], spec.get("filter")
        )
        data = np.ascontiguousarray(rows).tobytes()
        assert len(data) == view["byteLength"]
        offset = view.get("byteOffset", 0)
        plain[offset : offset + len(data)] = data
        plain_view = {key: value for key, value in view.items() if key != "extensions"}
        views.append(plain_view | {"buffer": 0})
    buffers = [{"byteLength": len(plain)}]
    return gltf | {"bufferViews": views, "buffers": buffers}, bytes(plain)


def farthest_miss(points: np.ndarray, reference: np.ndarray, radius: float) -> float:
    """How far the worst of `points` is from its nearest `reference` point, looked up only
    within `radius` (beyond it: inf). A grid of radius-sized cells keeps this linear."""
    cells = np.floor(reference / radius).astype(np.int64)
    keys = _cell_keys(cells)
    order = np.argsort(keys, kind="stable")
    keys, reference = keys[order], reference[order]
    home = np.floor(points / radius).astype(np.int64)
    best = np.full(len(points), np.inf)
    for offset in np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1])).T.reshape(-1, 3):
        wanted = _cell_keys(home + offset)
        first = np.searchsorted(keys, wanted, "left")
        last = np.searchsorted(keys, wanted, "right")
        for step in range(int((last - first).max(initial=0))):
            candidate = first + step
            hit = candidate < last
            distance = np.linalg.norm(points[hit] - reference[candidate[hit]], axis=1)
            best[hit] = np.minimum(best[hit], distance)
    return float(best.max(initial=0.0))


def _cell_keys(cells: np.ndarray) -> np.ndarray:
    shifted = cells + (1 << 20)
    return (shifted[:, 0] << 42) | (shifted[:, 1] << 21) | shifted[:, 2]


def diagonal(meshes: list[PlacedMesh]) -> float:
    points = np.concatenate([mesh.positions for mesh in meshes])
    return float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
