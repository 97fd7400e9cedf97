"""The whole list's body and its gzip, shared by the server processes of one host in files.

Each gunicorn worker keeps its own parts cache, so after every write each worker made the
whole list (about 100 ms of CPU at 10k parts) and its gzip (about 115 ms) for itself: with five
workers, five times the work for every claim. gunicorn's master makes a folder for its run and
removes it at exit (gunicorn.conf.py, setting HOST_BODIES_FOLDER); the first worker to need the
list at a revision makes it under a lock on that folder and writes it there, and the others
read it.

Files are named by the parts revision, which only grows while the server runs: the assumption
the in-process cache makes too, and why the folder lives for one run only (a database restored
from a dump repeats revisions, and a restart forgets them). Writing a newer revision removes
the older files. POSIX only (flock); without the setting each process keeps its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: waitress serves from one process, so nothing to share
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_FILE = ".lock"
_REVISION = re.compile(r"^list-(\d+)\.")
RUN_FOLDER_PREFIX = "aerie-bodies-"
_RUN_FOLDER = re.compile(rf"^{RUN_FOLDER_PREFIX}(\d+)-")


def make_run_folder() -> Path | None:
    """A new folder for one server run, named by this (the master's) process id, after
    removing those of masters no longer running (killed before they could remove theirs).
    None, with the reason logged, where the temporary folder is not writable."""
    root = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            found = _RUN_FOLDER.match(entry.name)
            if found and entry.is_dir() and not _running(int(found.group(1))):
                shutil.rmtree(entry, ignore_errors=True)
    try:
        return Path(tempfile.mkdtemp(prefix=f"{RUN_FOLDER_PREFIX}{os.getpid()}-", dir=root))
    except OSError as exc:
        _log_unshared(exc)
        return None


def run_folder_of_this_process(folder: Path) -> bool:
    """Whether make_run_folder made `folder` in this process (the master)."""
    return folder.name.startswith(f"{RUN_FOLDER_PREFIX}{os.getpid()}-")


def remove_run_folder(folder: Path) -> None:
    """At the run's end (the master's exit)."""
    shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def host_bodies_for(folder: str) -> HostBodies | None:
    """The shared bodies in `folder` (HOST_BODIES_FOLDER), or None: no setting, or no flock."""
    if not folder or fcntl is None:
        return None
    return HostBodies(Path(folder))


class HostBodies:
    """One server run's whole-list files: `list-<revision>.json` (the ETag, a newline, the
    body) and `list-<revision>.gz<level>` (that body gzipped)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made = 0  # bodies and gzips this process made and wrote (the others were read)

    def whole_list(self, revision: int, make: Callable[[], tuple[bytes, str]]) -> tuple[bytes, str]:
        """The list's body and ETag at `revision`: read, or made by `make` and written."""
        path = self.folder / f"list-{revision}.json"
        made: tuple[bytes, str] | None = None
        try:
            with self._turn():
                kept = _read(path)
                if kept is not None:
                    etag, _newline, body = kept.partition(b"\n")
                    return body, etag.decode("ascii")
                made = body, etag = make()
                self._write(path, etag.encode("ascii") + b"\n" + body, revision)
        except OSError as exc:
            _log_unshared(exc)
        return made if made is not None else make()

    def gzip_of(self, revision: int) -> Callable[[int, Callable[[], bytes]], bytes]:
        """A loader for the list's gzip at `revision`: (level, make) → the gzip, read or made
        by `make` and written (utils.compressed_bodies.GzipOnce calls it)."""

        def load(level: int, make: Callable[[], bytes]) -> bytes:
            path = self.folder / f"list-{revision}.gz{int(level)}"
            kept: bytes | None = None
            try:
                with self._turn():
                    kept = _read(path)
                    if kept is None:
                        kept = make()
                        self._write(path, kept, revision)
            except OSError as exc:
                _log_unshared(exc)
            return kept if kept is not None else make()

        return load

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """One process at a time makes a file; the others wait, then read it."""
        with open(self.folder / LOCK_FILE, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, path: Path, data: bytes, revision: int) -> None:
        # Whole or not at all: a reader never sees half a file (rename within one folder).
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        self.made += 1
        self._remove_older(revision)

    def _remove_older(self, revision: int) -> None:
        # A reader that opened an older file keeps its bytes (POSIX unlink).
        for entry in os.scandir(self.folder):
            found = _REVISION.match(entry.name)
            if found and int(found.group(1)) < revision:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def _log_unshared(exc: OSError) -> None:
    # The folder was removed or is full: this process serves what it makes, as without it.
    log.warning("whole list not shared between processes: %s", exc)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
