"""GLB files as (glTF JSON, binary chunk): read, write, and one accessor's data as an array."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

_HEADER = struct.Struct("<4sII")
_CHUNK = struct.Struct("<I4s")
# numpy types of the glTF component types (glTF 2.0, "accessor.componentType").
COMPONENT_DTYPES: dict[int, Any] = {
    5120: np.int8,
    5121: np.uint8,
    5122: np.int16,
    5123: np.uint16,
    5125: np.uint32,
    5126: np.float32,
}
TYPE_WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


class GlbFormatError(ValueError):
    """The bytes are not a GLB this module can take apart."""


def read_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON document and the BIN chunk (b"" when there is none) of a GLB."""
    if len(data) < _HEADER.size + _CHUNK.size:
        raise GlbFormatError("too short for a GLB")
    magic, version, length = _HEADER.unpack_from(data, 0)
    if magic != b"glTF" or version != 2 or length != len(data):
        raise GlbFormatError("not a glTF 2 binary")
    chunks, offset = {}, _HEADER.size
    while offset + _CHUNK.size <= length:
        size, kind = _CHUNK.unpack_from(data, offset)
        start = offset + _CHUNK.size
        chunks.setdefault(kind, data[start : start + size])
        offset = start + size
    if b"JSON" not in chunks:
        raise GlbFormatError("no JSON chunk")
    return json.loads(chunks[b"JSON"]), chunks.get(b"BIN\x00", b"")


def write_glb(gltf: dict[str, Any], binary: bytes) -> bytes:
    """A GLB of the document and the binary chunk, each padded to 4 bytes as the spec asks."""
    text = json.dumps(gltf, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    chunks = _CHUNK.pack(len(text), b"JSON") + text
    if binary:
        chunks += _CHUNK.pack(len(binary), b"BIN\x00") + binary
    return _HEADER.pack(b"glTF", 2, _HEADER.size + len(chunks)) + chunks


def read_accessor(gltf: dict[str, Any], binary: bytes, index: int) -> np.ndarray:
    """An accessor's elements as a (count, width) array of its component type."""
    accessor = gltf["accessors"][index]
    if "sparse" in accessor or "bufferView" not in accessor:
        raise GlbFormatError("sparse or buffer-less accessors are not read here")
    view = gltf["bufferViews"][accessor["bufferView"]]
    if view.get("buffer", 0) != 0 or "uri" in gltf["buffers"][view.get("buffer", 0)]:
        raise GlbFormatError("only the GLB's own binary chunk is read")
    dtype = np.dtype(COMPONENT_DTYPES[accessor["componentType"]])
    width, count = TYPE_WIDTHS[accessor["type"]], int(accessor["count"])
    stride = view.get("byteStride") or dtype.itemsize * width
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    end = start + stride * (count - 1) + dtype.itemsize * width if count else start
    if end > view.get("byteOffset", 0) + view["byteLength"] or end > len(binary):
        raise GlbFormatError("an accessor reaches past its buffer view")
    rows = np.frombuffer(binary, dtype=np.uint8, count=end - start, offset=start)
    strided = np.lib.stride_tricks.as_strided(
        rows, shape=(count, dtype.itemsize * width), strides=(stride, 1)
    )
    return np.ascontiguousarray(strided).view(dtype).reshape(count, width)


def node_matrix(node: dict[str, Any]) -> np.ndarray:
    """A node's local transform as a 4x4 matrix (glTF stores matrices column by column)."""
    if "matrix" in node:
        return np.array(node["matrix"], dtype=np.float64).reshape(4, 4).T
    x, y, z, w = node.get("rotation", (0.0, 0.0, 0.0, 1.0))
    rotation = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    matrix = np.eye(4)
    matrix[:3, :3] = rotation * np.array(node.get("scale", (1.0, 1.0, 1.0)))
    matrix[:3, 3] = node.get("translation", (0.0, 0.0, 0.0))
    return matrix


def world_matrices(gltf: dict[str, Any]) -> dict[int, np.ndarray]:
    """Every node reachable from a scene, with its transform in the scene."""
    nodes, found = gltf.get("nodes", []), {}
    stack = [(root, np.eye(4)) for scene in gltf.get("scenes", []) for root in scene["nodes"]]
    while stack:
        index, parent = stack.pop()
        if index in found:  # a node in two scenes: the first placement stands
            continue
        found[index] = parent @ node_matrix(nodes[index])
        stack.extend((child, found[index]) for child in nodes[index].get("children", []))
    return found
