"""Smaller GLBs for phones: quantised geometry (KHR_mesh_quantization), then meshopt.

Each mesh's positions become 16-bit integers on a grid of its own, fine enough that no vertex
moves more than `max_error` of the model's bounding-box diagonal in the scene (checked per
instance, through every node transform); the grid's offset and step go into the transform of
each node showing the mesh (its children get the inverse, so they stay where they were).
Normals become 8-bit. Vertices and triangles are put in the order meshoptimizer compresses
and GPUs draw best. Names, materials and the node tree are kept as they were.

Only what cascadio writes is taken on (triangle lists with POSITION and NORMAL, one binary
chunk); anything else raises ModelOptimisationError and the raw GLB is served instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import meshopt
import numpy as np

from utils.glb_container import (
    GlbFormatError,
    node_matrix,
    read_accessor,
    read_glb,
    world_matrices,
)
from utils.glb_layout import Stream, compressed_glb, quantized_glb

QUANTIZATION = "KHR_mesh_quantization"
_GRID_LEVELS = 65535  # 16-bit positions
_HALF_DIAGONAL_OF_A_CELL = math.sqrt(3) / 2  # worst rounding error, in grid steps
_UNUSED = np.uint32(0xFFFFFFFF)  # meshoptimizer's remap value for a vertex no triangle uses
_FLOAT, _UINT16, _UINT32, _INT8 = 5126, 5123, 5125, 5120
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


class ModelOptimisationError(Exception):
    """The GLB holds something the optimiser does not take on; serve the raw one."""


@dataclass(frozen=True)
class ModelVariants:
    """The two optimised GLBs of one model."""

    quantized: bytes  # KHR_mesh_quantization only: every GLTFLoader reads it
    meshopt: bytes  # quantised and EXT_meshopt_compression: needs a meshopt decoder


@dataclass(frozen=True)
class Grid:
    """Where a mesh's integer positions sit: position = offset + step * integer."""

    offset: np.ndarray
    step: float

    def dequantize(self) -> np.ndarray:
        matrix = np.diag([self.step, self.step, self.step, 1.0])
        matrix[:3, 3] = self.offset
        return matrix


@dataclass
class _Rebuild:
    gltf: dict[str, Any]
    binary: bytes
    streams: list[Stream] = field(default_factory=list)
    accessors: list[dict[str, Any]] = field(default_factory=list)
    done: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)


def optimise_glb(raw: bytes, max_error: float) -> ModelVariants:
    """The quantised and the meshopt-compressed variant of a GLB that cascadio wrote."""
    try:
        gltf, binary = read_glb(raw)
        _check_supported(gltf)
        grids = _mesh_grids(gltf, binary, max_error)
        work = _Rebuild(gltf, binary)
        meshes = [_mesh(work, mesh, grids[index]) for index, mesh in enumerate(gltf["meshes"])]
    except (GlbFormatError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise ModelOptimisationError(f"unreadable glTF: {exc}") from exc
    document = {key: value for key, value in gltf.items() if key not in _REBUILT}
    document.update(meshes=meshes, accessors=work.accessors, nodes=_nodes(gltf, grids))
    used = [name for name in gltf.get("extensionsUsed", []) if name != QUANTIZATION]
    document["extensionsUsed"] = [*used, QUANTIZATION]
    document["extensionsRequired"] = [QUANTIZATION]
    return ModelVariants(
        quantized=quantized_glb(document, work.streams),
        meshopt=compressed_glb(document, work.streams),
    )


_REBUILT = ("meshes", "accessors", "bufferViews", "buffers", "nodes", "extensionsRequired")


def _check_supported(gltf: dict[str, Any]) -> None:
    keys = ("extensionsRequired", "animations", "skins", "images")
    unsupported = {key for key in keys if gltf.get(key)}
    for mesh in gltf.get("meshes", []):
        for primitive in mesh["primitives"]:
            if primitive.get("mode", 4) != 4 or "indices" not in primitive:
                unsupported.add("primitives other than indexed triangle lists")
            if "targets" in primitive or set(primitive["attributes"]) - {"POSITION", "NORMAL"}:
                unsupported.add("attributes other than POSITION and NORMAL")
            for name in primitive["attributes"].values():
                accessor = gltf["accessors"][name]
                if accessor["componentType"] != _FLOAT or accessor["type"] != "VEC3":
                    unsupported.add("vertex attributes that are not float vectors")
    if unsupported or not gltf.get("meshes"):
        found = ", ".join(sorted(unsupported)) or "no meshes"
        raise ModelOptimisationError(f"not optimised: {found}")


def _mesh_grids(gltf: dict[str, Any], binary: bytes, max_error: float) -> list[Grid]:
    """One grid per mesh, as coarse as the error bound allows at its largest instance."""
    bounds = [_mesh_bounds(gltf, binary, mesh) for mesh in gltf["meshes"]]
    scales = [0.0] * len(bounds)
    corners: list[np.ndarray] = []
    for index, world in world_matrices(gltf).items():
        mesh = gltf["nodes"][index].get("mesh")
        if mesh is not None:
            scales[mesh] = max(scales[mesh], float(np.linalg.norm(world[:3, :3], 2)))
            corners.append(_box_corners(*bounds[mesh]) @ world[:3, :3].T + world[:3, 3])
    if not corners:
        raise ModelOptimisationError("no mesh is shown in the scene")
    points = np.concatenate(corners)
    limit = max_error * float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
    pairs = zip(bounds, scales, strict=True)
    return [_grid(low, high, scale, limit) for (low, high), scale in pairs]


def _grid(low: np.ndarray, high: np.ndarray, scale: float, limit: float) -> Grid:
    extent = float((high - low).max())
    if scale <= 0 or extent <= 0:  # a mesh nobody shows, or a point: any grid will do
        return Grid(low, 1.0)
    step = limit / (_HALF_DIAGONAL_OF_A_CELL * scale)
    if step <= 0 or extent / step > _GRID_LEVELS:
        raise ModelOptimisationError("16-bit positions cannot meet the error bound")
    return Grid(low, step)


def _mesh_bounds(gltf: dict[str, Any], binary: bytes, mesh: dict[str, Any]) -> tuple[Any, Any]:
    positions = [
        read_accessor(gltf, binary, primitive["attributes"]["POSITION"]).astype(np.float64)
        for primitive in mesh["primitives"]
    ]
    points = np.concatenate(positions) if positions else np.zeros((1, 3))
    if not np.isfinite(points).all():
        raise ModelOptimisationError("a position is not a finite number")
    return points.min(axis=0), points.max(axis=0)


def _box_corners(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.array([[(low, high)[bit >> axis & 1][axis] for axis in range(3)] for bit in range(8)])


def _mesh(work: _Rebuild, mesh: dict[str, Any], grid: Grid) -> dict[str, Any]:
    primitives = [_primitive(work, primitive, grid) for primitive in mesh["primitives"]]
    return {**mesh, "primitives": primitives}


def _primitive(work: _Rebuild, primitive: dict[str, Any], grid: Grid) -> dict[str, Any]:
    """The primitive with quantised accessors; geometry shared by meshes is encoded once."""
    attributes = primitive["attributes"]
    key = (primitive["indices"], *sorted(attributes.items()), grid.step, *grid.offset)
    if key not in work.done:
        indices = read_accessor(work.gltf, work.binary, primitive["indices"]).reshape(-1)
        indices, order = _reorder(indices.astype(np.uint32))
        new = {"POSITION": _positions(work, attributes["POSITION"], order, grid)}
        if "NORMAL" in attributes:
            new["NORMAL"] = _normals(work, attributes["NORMAL"], order)
        work.done[key] = {"attributes": new, "indices": _indices(work, indices, len(order))}
    return {**primitive, **work.done[key]}


def _reorder(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Triangles in vertex-cache order, vertices in first-use order (unused ones dropped):
    the new indices, and for each new vertex the old one it was."""
    if indices.size % 3:
        raise ModelOptimisationError("a triangle list whose length is not a multiple of 3")
    indices, remap, unique = meshopt.reorder_mesh(indices, triangles=True, optsize=False)
    order = np.empty(unique, dtype=np.uint32)
    used = remap != _UNUSED
    order[remap[used]] = np.flatnonzero(used)
    return indices, order


def _positions(work: _Rebuild, accessor: int, order: np.ndarray, grid: Grid) -> int:
    points = read_accessor(work.gltf, work.binary, accessor).astype(np.float64)[order]
    cells = np.rint((points - grid.offset) / grid.step)
    rows = np.zeros((len(order), 4), dtype=np.uint16)  # a row of 8 bytes: vertex rows align to 4
    rows[:, :3] = np.clip(cells, 0, _GRID_LEVELS)
    bounds = {"min": rows[:, :3].min(axis=0).tolist(), "max": rows[:, :3].max(axis=0).tolist()}
    return _add(work, Stream(rows, "ATTRIBUTES", _ARRAY_BUFFER), _UINT16, "VEC3", **bounds)


def _normals(work: _Rebuild, accessor: int, order: np.ndarray) -> int:
    vectors = read_accessor(work.gltf, work.binary, accessor).astype(np.float64)[order]
    lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, lengths, out=np.zeros_like(vectors), where=lengths > 0)
    rows = np.zeros((len(order), 4), dtype=np.int8)
    rows[:, :3] = np.rint(unit * 127)
    return _add(work, Stream(rows, "ATTRIBUTES", _ARRAY_BUFFER), _INT8, "VEC3", normalized=True)


def _indices(work: _Rebuild, indices: np.ndarray, vertices: int) -> int:
    # 65535 is the restart value glTF forbids as a 16-bit index.
    narrow = vertices < 0xFFFF
    data = indices.astype(np.uint16 if narrow else np.uint32)
    stream = Stream(data, "TRIANGLES", _ELEMENT_ARRAY_BUFFER)
    return _add(work, stream, _UINT16 if narrow else _UINT32, "SCALAR")


def _add(work: _Rebuild, stream: Stream, component: int, kind: str, **extra: Any) -> int:
    """A new accessor on a buffer view of its own (buffer view n holds stream n)."""
    work.accessors.append(
        {
            "bufferView": len(work.streams),
            "componentType": component,
            "count": len(stream.data),
            "type": kind,
            **extra,
        }
    )
    work.streams.append(stream)
    return len(work.accessors) - 1


def _nodes(gltf: dict[str, Any], grids: list[Grid]) -> list[dict[str, Any]]:
    """Nodes with each mesh's grid in their transform, and its inverse for their children."""
    old = gltf["nodes"]
    parents = {child: index for index, node in enumerate(old) for child in node.get("children", [])}
    nodes = []
    for index, node in enumerate(old):
        parent = parents.get(index)
        above = old[parent].get("mesh") if parent is not None else None
        if node.get("mesh") is None and above is None:
            nodes.append(dict(node))
            continue
        matrix = node_matrix(node)
        if node.get("mesh") is not None:
            matrix = matrix @ grids[node["mesh"]].dequantize()
        if above is not None:
            matrix = np.linalg.inv(grids[above].dequantize()) @ matrix
        nodes.append(_with_matrix(node, matrix))
    return nodes


def _with_matrix(node: dict[str, Any], matrix: np.ndarray) -> dict[str, Any]:
    kept = {key: value for key, value in node.items() if key not in _TRANSFORM}
    return {**kept, "matrix": matrix.T.reshape(-1).tolist()}


_TRANSFORM = ("matrix", "translation", "rotation", "scale")
