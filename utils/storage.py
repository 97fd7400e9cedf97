"""Files on disk: streamed, hashed, atomically written uploads; models; previews; clean-up.

Layout under UPLOAD_FOLDER:
  parts/<part uuid>/<sha256>.<ext>       the uploaded STEP or PDF
  parts/<part uuid>/views/view_<n>.png   browser-rendered previews
  models/<content key>.glb               converted models, shared by equal content
  models/<content key>.<variant>.glb     their optimised variants (MODEL_VARIANTS)
  tmp/<pid>/                             uploads and conversions in flight (a dead pid's swept)
  locks/<name>.lock                      host-wide locks (conversion slots), present while held
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from utils.errors import ApiError
from utils.files_io import fsync_directory, write_atomic
from utils.host_locks import try_lock, unlock  # noqa: F401 - their old home, still imported
from utils.processes import pid_alive
from utils.store_sweep import NOTHING, Owned, remove_unowned

CHUNK_BYTES = 1024 * 1024
SNIFF_BYTES = 4096
# Optimised variants stored beside a raw model (utils.model_variants says what each is).
MODEL_VARIANTS = ("quantized", "meshopt")


class StorageError(Exception):
    """A file could not be stored; the message is for the user."""


class FileTooLargeError(StorageError):
    """The stream grew past the allowed size."""


class WrongContentError(StorageError):
    """The bytes are not what the extension claims."""


class FileStoreUnavailableError(
    StorageError, ApiError, status_code=503, code="file_store_unavailable"
):
    """The object store could not be reached or refused a request: the API's JSON 503."""

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


@dataclass(frozen=True)
class StoredFile:
    """Where an upload landed and what it is."""

    path: Path
    sha256: str
    size: int


class Storage:
    """All paths derive from a part's uuid and a content hash, never from a client's name."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def part_dir(self, part_uuid: str) -> Path:
        return self.root / "parts" / _safe_token(part_uuid)

    def file_path(self, part_uuid: str, sha256: str, ext: str) -> Path:
        return self.part_dir(part_uuid) / f"{_safe_token(sha256)}.{_safe_token(ext)}"

    def views_dir(self, part_uuid: str) -> Path:
        return self.part_dir(part_uuid) / "views"

    def view_path(self, part_uuid: str, index: int) -> Path:
        return self.views_dir(part_uuid) / f"view_{int(index)}.png"

    def model_path(self, key: str, variant: str | None = None) -> Path:
        """The raw GLB of a model key, or (variant given) one of its MODEL_VARIANTS."""
        return self.root / "models" / _model_name(key, variant)

    def remove_model(self, key: str) -> None:
        """The raw GLB and every variant of a model key."""
        for variant in (None, *MODEL_VARIANTS):
            self.model_path(key, variant).unlink(missing_ok=True)

    def lock_path(self, name: str) -> Path:
        return self.root / "locks" / f"{_safe_token(name)}.lock"

    @property
    def tmp_dir(self) -> Path:
        # One folder per process: a starting worker must not sweep another's upload.
        return self.root / "tmp" / str(os.getpid())

    def save_stream(
        self,
        stream: BinaryIO,
        final_dir: Path,
        ext: str,
        *,
        max_bytes: int,
        check_head: Callable[[bytes], bool] | None = None,
    ) -> StoredFile:
        """Copy a stream to <final_dir>/<sha256>.<ext>: chunked, hashed, fsynced, renamed.

        Nothing is visible under the final name until every byte is on disk.
        """
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=self.tmp_dir, suffix=".part")
        temp = Path(temp_name)
        try:
            digest, size = _copy_hashing(stream, handle, max_bytes, check_head)
            final = final_dir / f"{digest}.{_safe_token(ext)}"
            self.place(temp, final)
            return StoredFile(final, digest, size)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def place(self, finished: Path, final: Path) -> None:
        """Move a finished local file to its stored name in one rename (fsynced)."""
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(finished, final)
        fsync_directory(final.parent)

    def write_atomic(self, path: Path, data: bytes) -> None:
        """Small files (previews): temp file in the same folder, fsync, rename."""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)

    def has(self, path: Path) -> bool:
        """Whether the store holds this file: the source of truth, for decisions."""
        return path.is_file()

    def local_copy(self, path: Path) -> Path | None:
        """A local file with the stored content (to send or convert), or None if not stored."""
        return path if path.is_file() else None

    def remove_file(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def stored_files(self, folder: str) -> list[str]:
        """Names (relative to the root, with /) of every file stored under parts/ or models/."""
        found = []
        for where, _dirs, names in os.walk(self.root / folder):  # never follows links
            for name in names:
                path = Path(where, name)
                if stat.S_ISREG(path.lstat().st_mode):
                    found.append(path.relative_to(self.root).as_posix())
        return found

    def check_reachable(self) -> None:
        """Refuse to start when the store cannot be used (local disk: nothing to check)."""

    def snapshot(self, into: Path) -> Path:
        """A folder holding parts/ and models/ as stored now, for a backup to read."""
        return self.root

    def upload_restored(self, uploads: Path) -> set[str]:
        """Before a restore swaps folders: put the archive's files into a remote store."""
        return set()

    def prune_restored(self, keep: set[str]) -> None:
        """After a restore: remove what a remote store holds beyond the archive's files."""

    def staging_model_path(self, key: str, variant: str | None = None) -> Path:
        """Where a conversion writes before publish_model: this process's tmp folder, so a
        server killed mid-conversion leaves nothing under models/ and the next start sweeps it."""
        folder = self.tmp_dir
        folder.mkdir(parents=True, exist_ok=True)
        return folder / _model_name(key, variant)

    def publish_model(self, staged: Path, key: str, variant: str | None = None) -> Path:
        """Move a finished GLB (or variant) to its shared name in one atomic rename."""
        final = self.model_path(key, variant)
        self.place(staged, final)
        return final

    def clear_tmp(self) -> int:
        """Remove uploads that a killed process left half-written; returns how many folders."""
        tmp_root = self.root / "tmp"
        if not tmp_root.is_dir():
            return 0
        removed = 0
        for folder in tmp_root.iterdir():
            if not folder.name.isdigit() or not _earlier_process_alive(int(folder.name)):
                # A stopped server's empty folder is no half-written upload: not counted.
                removed += int(folder.is_dir() and any(folder.iterdir()))
                shutil.rmtree(folder, ignore_errors=True)
        return removed

    def clear_stale_conversions(self, older_than_s: float) -> int:
        """Remove work folders of conversions whose server was killed (the converter kills
        its child with the parent); a live conversion is never older than its timeout."""
        models = self.root / "models"
        if not models.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        stale = [p for p in models.glob(".*.converting") if p.stat().st_mtime < cutoff]
        for folder in stale:
            shutil.rmtree(folder, ignore_errors=True)
        return len(stale)

    def remove_part(self, part_uuid: str) -> None:
        shutil.rmtree(self.part_dir(part_uuid), ignore_errors=True)

    def remove_views(self, part_uuid: str, keep: Iterable[int] = ()) -> None:
        """A part's previews, but those in the slots `keep`."""
        kept = {self.view_path(part_uuid, slot).name for slot in keep}
        if not kept:
            shutil.rmtree(self.views_dir(part_uuid), ignore_errors=True)
            return
        for stored in self.views_dir(part_uuid).glob("*"):
            if stored.name not in kept:
                stored.unlink(missing_ok=True)

    def remove_everything(self, still_owned: Callable[[], Owned] = lambda: NOTHING) -> None:
        """Every part's files and every model but those of parts added since the wipe's
        commit (utils.store_sweep); not tmp/, where running uploads stage their files."""
        remove_unowned(self.root, still_owned)

    def part_uuids_on_disk(self) -> Iterator[str]:
        parts = self.root / "parts"
        if parts.is_dir():
            yield from (entry.name for entry in parts.iterdir() if entry.is_dir())

    def model_keys_on_disk(self) -> Iterator[str]:
        models = self.root / "models"
        if models.is_dir():
            # A variant's name starts with its key: each key once, whatever it has.
            yield from {entry.name.split(".", 1)[0] for entry in models.glob("*.glb")}


def _copy_hashing(
    stream: BinaryIO, handle: int, max_bytes: int, check_head: Callable[[bytes], bool] | None
) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(handle, "wb") as out:
        head = stream.read(SNIFF_BYTES)
        if check_head is not None and not check_head(head):
            raise WrongContentError("The file's content does not match its type")
        chunk = head
        while chunk:
            size += len(chunk)
            if size > max_bytes:
                raise FileTooLargeError(f"The file is larger than {max_bytes} bytes")
            digest.update(chunk)
            out.write(chunk)
            chunk = stream.read(CHUNK_BYTES)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def _earlier_process_alive(pid: int) -> bool:
    # Our own pid is "dead" here: at start-up nothing of ours is in flight yet.
    return pid != os.getpid() and pid_alive(pid)


def _model_name(key: str, variant: str | None) -> str:
    if variant is not None and variant not in MODEL_VARIANTS:
        raise StorageError(f"unknown model variant {variant!r}")
    return f"{_safe_token(key)}.{variant}.glb" if variant else f"{_safe_token(key)}.glb"


def _safe_token(value: str) -> str:
    """Path components we build from our own ids; refuse anything that could walk."""
    if not value or not all(ch.isalnum() or ch in "-_" for ch in value):
        raise StorageError(f"unsafe path component {value!r}")
    return value


def looks_like_pdf(head: bytes) -> bool:
    """PDF files start with %PDF- (some writers put a little junk before it)."""
    return b"%PDF-" in head[:1024]


def looks_like_png(head: bytes) -> bool:
    return head.startswith(b"\x89PNG\r\n\x1a\n")
