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
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from utils.host_locks import try_lock, unlock

log = logging.getLogger("aerie.files")
# Copies used this recently are kept whatever the cap: they may be in use now.
RECENT_USE_SECONDS = 60.0
# A copy's access time is rewritten at most this often (one utime, not one per request).
TOUCH_EVERY_SECONDS = 10.0
# A process walks the folder at least this often (the host's other processes add copies too).
RESYNC_SECONDS = 60.0
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


class HostCache:
    """This host's copies kept under max_bytes (0 = no cap). Walking the folder costs 25-70
    us a file here, so a process walks it only when its running estimate (the last walk's total
    plus what it added since) passes the cap, and every RESYNC_SECONDS for what the host's
    other processes added; after a walk that could not get under the cap (every copy in
    recent use), not again for RECENT_USE_SECONDS."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root, self.max_bytes = root, max_bytes
        self._lock = threading.Lock()
        self._estimate: int | None = None
        self._walked_at = 0.0

    def added(self, path: Path, still_stored: Callable[[Path], bool]) -> int:
        """After `path` entered the cache: trim when due; returns the bytes freed."""
        if self.max_bytes <= 0 or not self._walk_due(path):
            return 0
        lock = self.root / "locks" / "file-cache-trim.lock"
        held = try_lock(lock)
        if held is None:  # another process of the host is trimming
            return 0
        try:
            freed, left = _drop_oldest(self.root, self.max_bytes, path, still_stored)
        finally:
            unlock(lock, held)
        with self._lock:
            self._estimate = left
        return freed

    def _walk_due(self, path: Path) -> bool:
        now = time.monotonic()
        with self._lock:
            since = now - self._walked_at
            if self._estimate is not None and since < RESYNC_SECONDS:
                was_over = self._estimate > self.max_bytes
                self._estimate += _size(path)
                if self._estimate <= self.max_bytes or (was_over and since < RECENT_USE_SECONDS):
                    return False
            self._walked_at = now
            return True


def _drop_oldest(
    root: Path, max_bytes: int, keep: Path, still_stored: Callable[[Path], bool]
) -> tuple[int, int]:
    """Drop least recently used copies until the cache fits; (bytes freed, bytes left)."""
    copies = sorted(cached_copies(root))
    total = sum(size for _atime, size, _path in copies)
    freed = 0
    for _atime, size, path in copies:
        if total - freed <= max_bytes:
            break
        if path != keep and _unused(path) and still_stored(path) and _drop(path):
            freed += size
    if total - freed > max_bytes:
        log.info("file cache: %d bytes over the cap, in recent use or only here", total - freed)
    return freed, total - freed


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


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
