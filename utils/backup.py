"""`flask backup`: one private archive of the SQLite database and the durable uploads."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import tempfile
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from models.part import Part
from utils.backup_archive import DATABASE_MEMBER, archived_uploads, write_archive
from utils.files_io import fsync_directory
from utils.storage import Storage, StorageError

ARCHIVE_NAME = re.compile(r"^aerie-backup-(\d{8}T\d{6}\.\d{6}Z)\.tar\.gz$")
STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
FORMAT, VERSION = "aerie-backup", 1
# A part deleted while its files are being copied spoils that attempt; the next one is clean.
ATTEMPTS = 3
SQLITE_BUSY_SECONDS = 30.0
# MySQL URLs run on the same dialect as MariaDB: one kind, so their archives match.
KIND_ALIASES = {"mysql": "mariadb"}


class BackupError(Exception):
    """The backup or restore could not be done; the message says why."""


class _ChangedDuringBackup(Exception):
    """A file the database copy points at vanished while the archive was written."""


@dataclass(frozen=True, kw_only=True)
class BackupSource:
    """What a backup reads: the database (its URL and the live engine) and the file store
    (local disk under UPLOAD_FOLDER unless `store` is an object store).

    Built by keyword only: a URL and a folder are easy to swap by position."""

    database_url: str
    live: Engine
    upload_root: Path
    files_only: bool = False
    store: Storage | None = None

    @property
    def files(self) -> Storage:
        return self.store or Storage(self.upload_root)

    @property
    def kind(self) -> str:
        return database_kind(self.database_url)


@dataclass(frozen=True)
class BackupResult:
    """The archive written, files that were already missing, and archives retention removed."""

    archive: Path
    missing_files: list[str]
    removed: list[Path]


def database_kind(database_url: str) -> str:
    name = make_url(database_url).get_backend_name()
    return KIND_ALIASES.get(name, name)


def sqlite_path(database_url: str) -> Path:
    """The file behind a sqlite:/// URL, or BackupError for other databases."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError(
            "flask backup copies SQLite files; for PostgreSQL or MariaDB run pg_dump or "
            "mariadb-dump, then `flask backup --files-only` for the uploads"
        )
    return Path(url.database)


def default_destination(source: BackupSource) -> Path:
    """backups/ beside the SQLite file (or beside UPLOAD_FOLDER for server databases)."""
    if source.kind == "sqlite":
        return sqlite_path(source.database_url).parent / "backups"
    return source.upload_root.parent / "backups"


def write_backup(source: BackupSource, dest: Path, keep_days: int) -> BackupResult:
    """Write and verify one archive (database first, then files), then apply retention."""
    if not source.files_only:
        sqlite_path(source.database_url)  # server databases: the dump tools' job
    try:
        prepare_destination(dest, source.upload_root)
        archive, missing = _write_with_retries(source, dest)
        return BackupResult(archive, missing, prune_archives(dest, keep_days))
    except (OSError, sqlite3.Error, SQLAlchemyError, StorageError) as exc:
        raise BackupError(f"backup failed: {exc}") from exc


def _write_with_retries(source: BackupSource, dest: Path) -> tuple[Path, list[str]]:
    for _attempt in range(ATTEMPTS - 1):
        with suppress(_ChangedDuringBackup):
            return _write_once(source, dest)
    try:
        return _write_once(source, dest)
    except _ChangedDuringBackup as exc:
        raise BackupError(f"files kept changing in every attempt: {exc}") from None


def prepare_destination(dest: Path, upload_root: Path) -> None:
    """A private folder outside UPLOAD_FOLDER (a wipe must not take the backups with it)."""
    root, target = upload_root.resolve(), dest.resolve()
    if target == root or root in target.parents:
        raise BackupError(f"--dest must be outside UPLOAD_FOLDER ({root})")
    if not dest.is_dir():
        dest.mkdir(parents=True, mode=0o700)
        os.chmod(dest, 0o700)  # mkdir's mode passes through the umask


def _write_once(source: BackupSource, dest: Path) -> tuple[Path, list[str]]:
    final = dest / f"aerie-backup-{datetime.now(UTC).strftime(STAMP_FORMAT)}.tar.gz"
    partial = dest / f".{final.name}.partial"
    with tempfile.TemporaryDirectory(dir=dest, prefix=".aerie-backup-work-") as work:
        # The database first: every file it points at was on disk before its row was
        # committed, and is deleted only after its row is gone; a file added meanwhile is
        # an orphan that `flask files --clean` removes.
        db_copy = None if source.files_only else copy_sqlite(source, Path(work, DATABASE_MEMBER))
        referenced = _referenced_in_copy(db_copy, source)
        # Local disk: the folder itself; an object store: its objects fetched into work/.
        files_root = source.files.snapshot(Path(work, "uploads"))
        missing = _missing_before_copy(referenced, source, files_root)
        try:
            write_archive(partial, _manifest(source, db_copy, missing), db_copy, files_root)
            absent = referenced - missing - archived_uploads(partial)
            if absent:
                raise _ChangedDuringBackup(", ".join(sorted(absent)[:5]))
            os.replace(partial, final)
            fsync_directory(dest)
        finally:
            partial.unlink(missing_ok=True)
    return final, sorted(missing)


def copy_sqlite(source: BackupSource, target: Path) -> Path:
    """SQLite's online backup API: one consistent snapshot while the server keeps writing."""
    live_file = sqlite_path(source.database_url).resolve()
    if not live_file.is_file():
        raise BackupError(f"database file {live_file} does not exist")
    # mode=rw: a mistyped path must fail, not create an empty database to back up.
    live = sqlite3.connect(f"{live_file.as_uri()}?mode=rw", uri=True, timeout=SQLITE_BUSY_SECONDS)
    with closing(live), closing(sqlite3.connect(target)) as copy:
        live.backup(copy)
        # One self-contained file; the server switches to WAL again when it opens it.
        copy.execute("PRAGMA journal_mode=DELETE")
    return target


def referenced_files(engine: Engine, upload_root: Path) -> set[str]:
    """Upload paths (relative to UPLOAD_FOLDER, with /) that the parts table points at."""
    storage = Storage(upload_root)
    query = select(Part.uuid, Part.file_sha256, Part.file_ext, Part.model_key, Part.model_status)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    paths = {
        storage.file_path(row.uuid, row.file_sha256, row.file_ext)
        for row in rows
        if row.file_sha256 and row.file_ext
    }
    paths |= {
        storage.model_path(row.model_key)
        for row in rows
        if row.model_key and row.model_status == "ready"
    }
    return {path.relative_to(storage.root).as_posix() for path in paths}


def _referenced_in_copy(db_copy: Path | None, source: BackupSource) -> set[str]:
    if db_copy is None:
        return referenced_files(source.live, source.upload_root)
    engine = create_engine(f"sqlite:///{db_copy}", poolclass=NullPool)
    try:
        return referenced_files(engine, source.upload_root)
    finally:
        engine.dispose()


def _missing_before_copy(referenced: set[str], source: BackupSource, files: Path) -> set[str]:
    """Files already gone before the copy: recorded, not fatal (the archive is still the best
    copy there is). One the live database no longer points at was deleted since the database
    copy: that attempt starts over."""
    missing = {path for path in referenced if not (files / path).is_file()}
    if missing:
        deleted_since = missing - referenced_files(source.live, source.upload_root)
        if deleted_since:
            raise _ChangedDuringBackup(", ".join(sorted(deleted_since)[:5]))
    return missing


def _manifest(source: BackupSource, db_copy: Path | None, missing: set[str]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "database_kind": source.kind,
        "database_included": db_copy is not None,
        "schema_revision": _schema_revision(db_copy) if db_copy else None,
        "missing_files": sorted(missing),
    }


def _schema_revision(db_copy: Path) -> str | None:
    """The Alembic revision, so whoever restores knows which code version fits."""
    with closing(sqlite3.connect(db_copy)) as connection:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:  # made by create_all (tests): no migrations table
            return None
    return row[0] if row else None


def prune_archives(dest: Path, keep_days: int) -> list[Path]:
    """Remove this command's archives (by the time in their name) older than keep_days; the
    newest always stays. Anything else in the folder is left alone."""
    cutoff = datetime.now(UTC) - timedelta(days=keep_days)
    ours = sorted((when, path) for path in dest.iterdir() if (when := archive_time(path)))
    removed = [path for when, path in ours[:-1] if when < cutoff]
    for path in removed:
        path.unlink()
    return removed


def archive_time(path: Path) -> datetime | None:
    """When one of our archives was made, or None for any other name."""
    match = ARCHIVE_NAME.match(path.name)
    if match is None or not stat.S_ISREG(path.lstat().st_mode):
        return None
    return datetime.strptime(match.group(1), STAMP_FORMAT).replace(tzinfo=UTC)
