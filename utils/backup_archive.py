"""The backup archive itself: a private .tar.gz of the manifest, the database and the uploads."""

from __future__ import annotations

import json
import os
import stat
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

MANIFEST, DATABASE_MEMBER, UPLOADS = "manifest.json", "database.sqlite3", "uploads"
# tmp/ (uploads in flight) and locks/ are not data: a restored server starts without them.
DURABLE_FOLDERS = ("parts", "models")


def write_archive(
    partial: Path, manifest: dict[str, Any], db_copy: Path | None, upload_root: Path
) -> None:
    """The manifest, the database copy (if any) and the durable uploads, fsynced."""
    with _private_file(partial) as raw:
        # Level 6: STEP text still shrinks a lot; 9 costs far more time for little gain.
        with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            if db_copy is not None:
                _add_file(tar, db_copy, DATABASE_MEMBER)
            for path in durable_files(upload_root):
                relative = path.relative_to(upload_root).as_posix()
                _add_file(tar, path, f"{UPLOADS}/{relative}")
        raw.flush()
        os.fsync(raw.fileno())


@contextmanager
def _private_file(path: Path) -> Iterator[BinaryIO]:
    """A new file only its owner can read, whatever the umask."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.chmod(path, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        yield handle


def durable_files(upload_root: Path) -> Iterator[Path]:
    """Regular files under parts/ and models/, without work in flight (hidden conversion
    folders, *.part temp files) and without links, which the storage never makes."""
    for name in DURABLE_FOLDERS:
        for folder, dirs, files in os.walk(upload_root / name):  # never follows links
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for file_name in sorted(files):
                if file_name.startswith(".") or file_name.endswith(".part"):
                    continue
                path = Path(folder, file_name)
                if stat.S_ISREG(path.lstat().st_mode):
                    yield path


def _add_file(tar: tarfile.TarFile, path: Path, arcname: str) -> None:
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return  # deleted since listed: the verification decides whether that matters
    with handle:
        # Size and content from the open file: a preview replaced by rename meanwhile
        # cannot make the header and the bytes disagree.
        info = tar.gettarinfo(arcname=arcname, fileobj=handle)
        tar.addfile(_neutral(info), handle)


def _add_bytes(tar: tarfile.TarFile, arcname: str, data: bytes) -> None:
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime = len(data), int(time.time())
    tar.addfile(_neutral(info), BytesIO(data))


def _neutral(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Restored files belong to whoever runs the restore (the service user), not to ids
    # from the machine that made the archive.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o600
    return info


def archived_uploads(archive: Path) -> set[str]:
    """Read the whole archive back (gzip checks every byte); the upload paths it holds."""
    prefix = f"{UPLOADS}/"
    with tarfile.open(archive, "r|gz") as tar:
        return {m.name[len(prefix) :] for m in tar if m.isreg() and m.name.startswith(prefix)}
