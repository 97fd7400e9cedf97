"""Host-wide locks (conversion slots): an exclusive flock on a file under UPLOAD_FOLDER/locks,
which is this host's own folder, never shared between hosts."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no conversions there, so no slots to share
    fcntl = None  # type: ignore[assignment]


def try_lock(path: Path) -> int | None:
    """Take an exclusive flock on `path` without waiting: the descriptor holding it, or None
    when another thread or process holds it. Release with unlock()."""
    if fcntl is None:
        return -1
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        # unlock() removes the file: if the holder before us did so after we opened it, our
        # lock is on a name nobody else can find, so take the current file instead.
        if _same_file(path, fd):
            return fd
        os.close(fd)


def unlock(path: Path, fd: int) -> None:
    """Release a try_lock(); the file goes first, so the folder holds only locks in use."""
    if fd < 0:
        return
    path.unlink(missing_ok=True)
    os.close(fd)


def _same_file(path: Path, fd: int) -> bool:
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


@contextlib.contextmanager
def waiting_lock(path: str) -> Iterator[None]:
    """Hold an exclusive flock on `path`, waiting for it: one holder at a time among every
    thread and process of this host (the file stays, for the next holder). Windows has no
    flock; its one waitress process needs a lock of its own there."""
    if fcntl is None:
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
