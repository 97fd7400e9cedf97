"""Preview images: validated PNGs stored atomically, with the manifest kept in miscInfo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from werkzeug.datastructures import MultiDict

from models.part import Part
from models.types import utcnow
from utils.errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from utils.part_files import VIEW_SLOTS
from utils.storage import Storage, looks_like_png

# A browser decodes a PNG to width × height × 4 bytes whatever the file's size: a 5 KB file
# declaring 100,000 × 100,000 pixels would stall every phone that opens the part. A preview
# is a canvas the size of the viewer (times the screen's pixel ratio), far below these.
VIEW_MAX_SIDE = 8192
VIEW_MAX_PIXELS = 4096 * 4096


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header chunk (IHDR, first after the signature), or None
    where there is none to read (nothing would decode such a file)."""
    if len(data) < 24 or data[12:16] != b"IHDR" or int.from_bytes(data[8:12], "big") != 13:
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _read_png(field: str, upload: Any, limit: int) -> bytes:
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError(f"{field} is larger than {limit} bytes")
    if not looks_like_png(data):
        raise UnsupportedMediaTypeError(f"{field} is not a PNG image")
    size = declared_size(data)
    if size is not None and (max(size) > VIEW_MAX_SIDE or size[0] * size[1] > VIEW_MAX_PIXELS):
        raise PayloadTooLargeError(
            f"{field} is {size[0]} × {size[1]} pixels: a preview may have at most "
            f"{VIEW_MAX_SIDE} on a side and {VIEW_MAX_PIXELS:,} in all",
            max_side=VIEW_MAX_SIDE,
            max_pixels=VIEW_MAX_PIXELS,
        )
    return data


def save_views(
    store: Storage, part: Part, files: MultiDict[str, Any], limit: int
) -> dict[str, Any]:
    """Validate every given view (at most `limit` bytes each) first, then write them; merge
    into the stored manifest."""
    images = {
        index: _read_png(f"view_{index}", files[f"view_{index}"], limit)
        for index in VIEW_SLOTS
        if f"view_{index}" in files
    }
    if not images:
        raise BadRequestError("No views provided", details="Send view_0 … view_7 as PNG files")
    now = utcnow().isoformat()
    info = dict(part.misc_info or {})
    # Only this function writes the manifest, but a restored or hand-edited row may hold
    # anything there: what is not a manifest is replaced, never a crash after the writes.
    manifest = _as_dict(info.get("views"))
    entries = _as_dict(manifest.get("files"))
    entries.update({str(i): {"filename": f"view_{i}.png", "timestamp": now} for i in images})
    manifest.update({"files": entries, "updated_at": now, "source": part.file_sha256})
    info["views"] = manifest
    for index, data in images.items():
        store.write_atomic(store.view_path(part.uuid, index), data)
    # A new dict, so the JSON column sees the change and saves it (BUG-M2).
    part.misc_info = info
    return manifest


def _as_dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def view_file(store: Storage, part: Part, index: int) -> Path | None:
    """The stored preview, or None."""
    if index not in VIEW_SLOTS:
        return None
    return store.local_copy(store.view_path(part.uuid, index))
