"""Online SQLite backups with retention (PostgreSQL and MariaDB use their own dump tools)."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

BACKUP_SUFFIX = ".sqlite3.bak"


class BackupError(Exception):
    """The backup could not be made; the message says why."""


def sqlite_path(database_url: str) -> Path:
    """The file behind a sqlite:/// URL, or BackupError for other databases."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError(
            "flask backup copies SQLite files; use pg_dump (PostgreSQL) or "
            "mariadb-dump (MariaDB) for server databases"
        )
    return Path(url.database)


def backup_sqlite(database_url: str, destination: Path, keep_days: int) -> Path:
    """Copy the live database with SQLite's backup API (consistent while the server
    writes), then delete backups older than keep_days. Returns the new file."""
    source = sqlite_path(database_url)
    if not source.is_file():
        raise BackupError(f"database file {source} does not exist")
    destination.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = destination / f"{source.stem}-{stamp}{BACKUP_SUFFIX}"
    partial = target.with_suffix(".partial")
    with sqlite3.connect(source) as live, sqlite3.connect(partial) as copy:
        live.backup(copy)
    partial.replace(target)
    prune_backups(destination, keep_days)
    return target


def prune_backups(destination: Path, keep_days: int) -> list[Path]:
    """Remove backups older than keep_days (the newest one always stays)."""
    backups = sorted(destination.glob(f"*{BACKUP_SUFFIX}"), key=lambda p: p.stat().st_mtime)
    cutoff = time.time() - keep_days * 86400
    removed = [path for path in backups[:-1] if path.stat().st_mtime < cutoff]
    for path in removed:
        path.unlink()
    return removed


def restore_sqlite(backup: Path, database_url: str) -> Path:
    """Replace the database with a backup (stop the server first)."""
    target = sqlite_path(database_url)
    if not backup.is_file():
        raise BackupError(f"backup {backup} does not exist")
    with sqlite3.connect(backup) as saved, sqlite3.connect(target) as live:
        saved.backup(live)
    return target
