"""This host's cache of an object store's files (UPLOAD_FOLDER with FILE_STORE_URL=s3://…),
kept under FILE_CACHE_MAX_MB by dropping the least recently used copies.

Use is recorded in each copy's access time, set by us (mount options such as noatime do not
matter), so every process of the host sees the same order. A copy is only dropped when it is
complete (parts/ and models/ hold only renamed, finished files; work in flight lives under
tmp/ or in dot-named folders), not used in the last RECENT_USE_SECONDS (a request or a
conversion may be about to open it; one already open reads on after the unlink on POSIX,
and Windows refuses the unlink), and still in the bucket: a file that exists only here (left
from local-disk days) is never the one removed.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from utils.host_locks import try_lock, unlock

log = logging.getLogger("aerie.files")
# Copies used this recently are kept whatever the cap: they may be in use now.
RECENT_USE_SECONDS = 60.0
# A copy's access time is rewritten at most this often (one utime, not one per request).
TOUCH_EVERY_SECONDS = 10.0
CACHED_FOLDERS = ("parts", "models")


def touch(path: Path) -> bool:
    """Record a use of this cached copy; False when there is none."""
    try:
        found = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    now = time.time()
    if now - found.st_atime >= TOUCH_EVERY_SECONDS:
        try:
            os.utime(path, ns=(time.time_ns(), found.st_mtime_ns))
        except OSError:  # dropped meanwhile by another process: the caller fetches it again
            return path.is_file()
    return True


def cached_copies(root: Path) -> Iterator[tuple[float, int, Path]]:
    """(access time, size, path) of every finished copy under parts/ and models/."""
    for folder in CACHED_FOLDERS:
        for where, dirs, names in os.walk(root / folder):
            dirs[:] = [name for name in dirs if not name.startswith(".")]
            for name in names:
                if name.startswith(".") or name.endswith(".part"):
                    continue
                try:
                    found = os.lstat(os.path.join(where, name))
                except FileNotFoundError:
                    continue
                yield found.st_atime, found.st_size, Path(where, name)


def trim(root: Path, max_bytes: int, keep: Path, still_stored: Callable[[Path], bool]) -> int:
    """Drop least recently used copies until the cache fits max_bytes (0 = no cap); one
    process of the host at a time (the others skip). Returns the bytes freed."""
    if max_bytes <= 0:
        return 0
    lock = root / "locks" / "file-cache-trim.lock"
    held = try_lock(lock)
    if held is None:
        return 0
    try:
        return _drop_oldest(root, max_bytes, keep, still_stored)
    finally:
        unlock(lock, held)


def _drop_oldest(
    root: Path, max_bytes: int, keep: Path, still_stored: Callable[[Path], bool]
) -> int:
    copies = sorted(cached_copies(root))
    over = sum(size for _atime, size, _path in copies) - max_bytes
    freed = 0
    for _atime, size, path in copies:
        if freed >= over:
            break
        if path != keep and _unused(path) and still_stored(path) and _drop(path):
            freed += size
    if freed < over:
        log.info("file cache: %d bytes over the cap, all in recent use or only here", over - freed)
    return freed


def _unused(path: Path) -> bool:
    """Not used in the last RECENT_USE_SECONDS (read again: another process may have just)."""
    try:
        return time.time() - path.stat().st_atime > RECENT_USE_SECONDS
    except FileNotFoundError:
        return False


def _drop(path: Path) -> bool:
    try:
        path.unlink()
    except OSError:  # gone already, or open on Windows
        return False
    return True
