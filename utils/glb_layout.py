"""Buffer layouts of an optimised GLB: plain buffer views, or EXT_meshopt_compression ones.

Buffer view n holds stream n. The compressed layout follows the extension's spec: the encoded
bytes live in buffer 0 (the GLB's binary chunk); the views point at a second, empty
"fallback" buffer of the decoded size that a meshopt decoder fills in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import meshopt
import numpy as np

from utils.glb_container import write_glb

MESHOPT = "EXT_meshopt_compression"


@dataclass(frozen=True)
class Stream:
    """One buffer view's data: vertex rows (ATTRIBUTES) or a triangle list (TRIANGLES)."""

    data: np.ndarray
    mode: Literal["ATTRIBUTES", "TRIANGLES"]
    target: int

    @property
    def stride(self) -> int:
        return self.data.nbytes // max(len(self.data), 1)


def quantized_glb(document: dict[str, Any], streams: list[Stream]) -> bytes:
    """Every stream stored as it is, in the binary chunk."""
    views, chunks, offset = [], [], 0
    for stream in streams:
        data = stream.data.tobytes()
        view = {"buffer": 0, "byteOffset": offset, "byteLength": len(data), "target": stream.target}
        if stream.mode == "ATTRIBUTES":
            view["byteStride"] = stream.stride
        views.append(view)
        chunks.append(_padded(data))
        offset += len(chunks[-1])
    buffers = [{"byteLength": offset}]
    return write_glb(document | {"bufferViews": views, "buffers": buffers}, b"".join(chunks))


def compressed_glb(document: dict[str, Any], streams: list[Stream]) -> bytes:
    """Every stream meshopt-encoded in the binary chunk; the extension is required."""
    views, chunks, offset, fallback = [], [], 0, 0
    for stream in streams:
        encoded = meshopt.encode_gltf_buffer(stream.data, stream.mode, version=0)
        plain_length = stream.data.nbytes
        extension = {
            "buffer": 0,
            "byteOffset": offset,
            "byteLength": len(encoded),
            "byteStride": stream.stride,
            "count": len(stream.data),
            "mode": stream.mode,
        }
        view = {"buffer": 1, "byteOffset": fallback, "byteLength": plain_length}
        view |= {"target": stream.target, "extensions": {MESHOPT: extension}}
        if stream.mode == "ATTRIBUTES":
            view["byteStride"] = stream.stride
        views.append(view)
        chunks.append(_padded(encoded))
        offset += len(chunks[-1])
        fallback += plain_length + (-plain_length % 4)
    buffers = [
        {"byteLength": offset},
        {"byteLength": fallback, "extensions": {MESHOPT: {"fallback": True}}},
    ]
    result = document | {"bufferViews": views, "buffers": buffers}
    result["extensionsUsed"] = [*document.get("extensionsUsed", []), MESHOPT]
    result["extensionsRequired"] = [*document.get("extensionsRequired", []), MESHOPT]
    return write_glb(result, b"".join(chunks))


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)
