"""Durable file writes: a temporary file, fsync, one atomic rename, then the folder's fsync."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(
    path: Path, data: bytes, before_write: Callable[[int], None] | None = None
) -> None:
    """Put `data` under `path` so a reader sees the old file or the new one, never a part.

    The temporary file is created mode 0600 in the same folder (a rename never crosses file
    systems) and named with a leading dot, so backups and listings skip it. `before_write`
    gets its descriptor first (create_config keeps the old file's owner with it).
    """
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            if before_write is not None:
                before_write(out.fileno())
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(folder: Path) -> None:
    """Make a rename in `folder` survive a power cut, not only the file's bytes."""
    if os.name == "nt":  # Windows cannot open a folder; NTFS journals the rename itself.
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
