"""What a converted GLB shows: its mesh nodes and triangles, or why it is unusable."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from utils.conversion_errors import StepConversionError

# The JSON chunk of a GLB is small (tens of KB for big assemblies); this bounds a hostile one.
GLB_JSON_LIMIT = 64 * 1024 * 1024
_GLB_HEADER = struct.Struct("<4sII")
_GLB_CHUNK = struct.Struct("<I4s")


def inspect_glb(path: Path) -> tuple[int, int]:
    """Return (mesh nodes, triangles) of a GLB, or raise StepConversionError if it shows nothing."""
    with path.open("rb") as handle:
        magic, version, length = _GLB_HEADER.unpack(_read_exactly(handle, _GLB_HEADER.size))
        chunk_length, chunk_type = _GLB_CHUNK.unpack(_read_exactly(handle, _GLB_CHUNK.size))
        if magic != b"glTF" or version != 2 or chunk_type != b"JSON":
            raise _broken_output("it is not a glTF 2 binary")
        if length != path.stat().st_size or chunk_length > min(length, GLB_JSON_LIMIT):
            raise _broken_output("its length fields do not match the file")
        try:
            gltf = json.loads(_read_exactly(handle, chunk_length))
        except ValueError as exc:
            raise _broken_output("its JSON chunk does not parse") from exc
    return _count_geometry(gltf)


def _count_geometry(gltf: Any) -> tuple[int, int]:
    try:
        accessors = gltf.get("accessors", [])
        mesh_triangles = [
            sum(_primitive_triangles(prim, accessors) for prim in mesh.get("primitives", []))
            for mesh in gltf.get("meshes", [])
        ]
        instances = [node["mesh"] for node in gltf.get("nodes", []) if "mesh" in node]
        triangles = sum(mesh_triangles[index] for index in instances)
    except (AttributeError, IndexError, KeyError, TypeError) as exc:
        raise _broken_output("its mesh description is inconsistent") from exc
    if not instances or triangles <= 0:
        raise StepConversionError(
            "The STEP file contains no solid or surface geometry that could be shown "
            "(it may hold only an assembly structure, wireframes or annotations).",
            code="no_geometry",
        )
    return len(instances), triangles


def _primitive_triangles(primitive: dict[str, Any], accessors: list[dict[str, Any]]) -> int:
    if primitive.get("mode", 4) != 4:  # only plain triangle lists carry surfaces here
        return 0
    index = primitive.get("indices", primitive["attributes"]["POSITION"])
    return int(accessors[index]["count"]) // 3


def _read_exactly(handle: Any, size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise _broken_output("it is truncated")
    return data


def _broken_output(reason: str) -> StepConversionError:
    return StepConversionError(
        f"The converter produced an unusable 3D model ({reason}).", code="bad_output"
    )
