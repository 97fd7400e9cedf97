"""`flask restore`: unpack a backup beside the live data, check it, then swap it in by renames."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import sqlite3
import tarfile
import zlib
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from utils.backup import (
    FORMAT,
    STAMP_FORMAT,
    VERSION,
    BackupError,
    database_kind,
    sqlite_path,
)
from utils.backup_archive import DATABASE_MEMBER, DURABLE_FOLDERS, MANIFEST, UPLOADS
from utils.files_io import fsync_directory
from utils.storage import Storage, StorageError

SQLITE_MAGIC = b"SQLite format 3\x00"
# Our own names only: uuids, hashes, model keys, view_<n>.png. Rules out "..", "", "/x".
SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
UNREADABLE = (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error)


@dataclass(frozen=True)
class Restored:
    """What a restore put back."""

    database: Path | None
    files: bool
    missing_files: list[str] = field(default_factory=list)


def restore_backup(
    archive: Path, database_url: str, upload_root: Path, store: Storage | None = None
) -> Restored:
    """Put an archive (or an old *.sqlite3.bak database file) back; stop the server first.

    Nothing live changes until the whole archive is unpacked and checked; then the database
    and parts/, models/ are renamed into place, the replaced ones kept as .pre-restore-<time>
    until every rename succeeded (a failed one undoes the others). With an object store the
    archive's files are put first, and the objects it lacks are deleted once the swap is done.
    """
    stamp = datetime.now(UTC).strftime(STAMP_FORMAT)
    try:
        if is_sqlite_file(archive):
            _put_back(archive, None, database_url, upload_root, stamp)
            return Restored(sqlite_path(database_url), files=False)
        return _restore_archive(archive, database_url, store or Storage(upload_root), stamp)
    except (OSError, sqlite3.Error, StorageError) as exc:
        raise BackupError(f"restore failed: {exc}") from exc


def _restore_archive(archive: Path, database_url: str, store: Storage, stamp: str) -> Restored:
    upload_root = store.root
    upload_root.mkdir(parents=True, exist_ok=True)
    staging = upload_root / f".restore-{stamp}"
    try:
        manifest = _extract_checked(archive, staging)
        _check_manifest(manifest, database_kind(database_url), staging)
        db_file = staging / DATABASE_MEMBER if manifest["database_included"] else None
        restored = store.upload_restored(staging / UPLOADS)
        _put_back(db_file, staging / UPLOADS, database_url, upload_root, stamp)
        store.prune_restored(restored)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    database = sqlite_path(database_url) if db_file else None
    return Restored(database, files=True, missing_files=list(manifest["missing_files"]))


def is_sqlite_file(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def _extract_checked(archive: Path, staging: Path) -> dict[str, Any]:
    """Unpack into staging, refusing the whole archive at the first entry that could land
    outside it or is not a plain file or folder (tar slip, links, devices)."""
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                check_member(member)
                # The standard library's "data" filter is a second, independent guard.
                tar.extract(member, staging, filter="data")
    except UNREADABLE as exc:
        raise BackupError(f"cannot read {archive}: {exc}") from None
    try:
        return json.loads((staging / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        raise BackupError(f"{archive} is not an Aerie backup (no readable {MANIFEST})") from None


def check_member(member: tarfile.TarInfo) -> None:
    """Only our own layout: manifest, database, uploads/parts/…, uploads/models/…"""
    parts = member.name.split("/")
    names_safe = all(SAFE_COMPONENT.match(part) for part in parts)
    ours = member.name in (MANIFEST, DATABASE_MEMBER, UPLOADS) or (
        parts[0] == UPLOADS and len(parts) > 1 and parts[1] in DURABLE_FOLDERS
    )
    if not (names_safe and ours and (member.isreg() or member.isdir())):
        raise BackupError(f"refusing the archive: unsafe or unexpected entry {member.name!r}")


def _check_manifest(manifest: dict[str, Any], kind: str, staging: Path) -> None:
    if (manifest.get("format"), manifest.get("version")) != (FORMAT, VERSION):
        raise BackupError("not an Aerie backup archive, or one from a newer version")
    if manifest.get("database_kind") != kind:
        raise BackupError(
            f"the archive was made on {manifest.get('database_kind')}; this server uses {kind}"
        )
    if manifest.get("database_included") and not (staging / DATABASE_MEMBER).is_file():
        raise BackupError(f"the archive lacks {DATABASE_MEMBER}")


def _put_back(
    db_file: Path | None, uploads: Path | None, database_url: str, upload_root: Path, stamp: str
) -> None:
    target = sqlite_path(database_url) if db_file else None
    ready = _stage_database(db_file, target, stamp) if db_file and target else None
    swap = _Swap()
    try:
        if ready and target:
            _swap_database(swap, ready, target, stamp)
        if uploads is not None:
            _swap_uploads(swap, uploads, upload_root, stamp)
    except BaseException:
        swap.undo()
        raise
    finally:
        if ready:
            ready.unlink(missing_ok=True)
    swap.discard_replaced()


def _stage_database(db_file: Path, target: Path, stamp: str) -> Path:
    """A checked copy beside the live file, so the final step is one rename on one disk."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    ready = target.with_name(f".{target.name}.restore-{stamp}")
    shutil.copyfile(db_file, ready)
    os.chmod(ready, 0o600)
    try:
        check_sqlite(ready)
        with ready.open("rb+") as handle:
            os.fsync(handle.fileno())
    except BaseException:
        ready.unlink(missing_ok=True)
        raise
    return ready


def check_sqlite(path: Path) -> None:
    """A database that opens, passes SQLite's quick check and has the parts table."""
    try:
        with closing(sqlite3.connect(path)) as connection:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
            parts = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'parts'"
            ).fetchone()
            # One file, no WAL beside it, whatever mode the copy was made in.
            connection.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the database in the backup is not usable: {exc}") from None
    if verdict != "ok" or parts is None:
        raise BackupError(f"the database in the backup is not usable: {verdict}, parts={parts}")


def _swap_database(swap: _Swap, ready: Path, target: Path, stamp: str) -> None:
    old = target.with_name(f"{target.name}.pre-restore-{stamp}")
    swap.retire(target, old)
    # Committed changes may live only in the WAL: it moves with its database file, so the
    # kept copy (and an undo) stays whole; -shm is an index SQLite rebuilds from the WAL.
    for suffix in ("-wal", "-journal"):
        swap.retire(Path(f"{target}{suffix}"), Path(f"{old}{suffix}"))
    Path(f"{target}-shm").unlink(missing_ok=True)
    swap.move(ready, target)
    fsync_directory(target.parent)


def _swap_uploads(swap: _Swap, uploads: Path, upload_root: Path, stamp: str) -> None:
    old = upload_root / f".pre-restore-{stamp}"
    swap.make_folder(old)
    for name in DURABLE_FOLDERS:
        swap.retire(upload_root / name, old / name)
        if (uploads / name).is_dir():
            swap.move(uploads / name, upload_root / name)
    fsync_directory(upload_root)


class _Swap:
    """Renames done so far, to undo in reverse; the replaced originals, to drop at the end."""

    def __init__(self) -> None:
        self.moves: list[tuple[Path, Path]] = []
        self.replaced: list[Path] = []
        self.made: list[Path] = []

    def move(self, source: Path, target: Path) -> None:
        os.rename(source, target)
        self.moves.append((source, target))

    def retire(self, live: Path, old: Path) -> None:
        if live.exists():
            self.move(live, old)
            self.replaced.append(old)

    def make_folder(self, folder: Path) -> None:
        folder.mkdir()
        self.made.append(folder)
        self.replaced.append(folder)

    def undo(self) -> None:
        for source, target in reversed(self.moves):
            os.rename(target, source)
        for folder in self.made:
            folder.rmdir()

    def discard_replaced(self) -> None:
        for path in self.replaced:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
