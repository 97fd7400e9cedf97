"""Command-line tools: `flask --app run:create_app <command>` (or `run_prod:app`)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

from app.extensions import db


def register_cli(app: Flask) -> None:
    """Attach the project's commands to the app."""

    @app.cli.command("seed")
    def seed() -> None:
        """Load the sample parts into an empty database (created or migrated first)."""
        from app.database import prepare_schema
        from app.sample_data import load_sample_parts

        prepare_schema(app)

        added = load_sample_parts(db.session)
        click.echo(f"added {added} sample parts" if added else "database not empty: nothing added")

    @app.cli.command("files")
    @click.option("--clean", is_flag=True, help="Delete the orphans found.")
    def files(clean: bool) -> None:
        """Report files no part owns and parts whose file is missing (--clean removes orphans)."""
        from utils.file_audit import audit_files, remove_orphans

        storage = app.extensions["storage"]
        audit = audit_files(db.session, storage)
        for label, items in (
            ("orphan part folder", audit.orphan_part_dirs),
            ("orphan model", audit.orphan_models),
            ("stray file", audit.stray_files),
            ("part with missing file: id", audit.missing_files),
        ):
            for item in items:
                click.echo(f"{label} {item}")
        if clean:
            click.echo(f"removed {remove_orphans(storage, audit)} orphans")
        elif audit.clean:
            click.echo("files and parts agree")

    @app.cli.command("backup")
    @click.option(
        "--dest", default=None, help="Folder for backups (default: backups/ beside the database)."
    )
    @click.option(
        "--keep-days", default=10, show_default=True, help="Delete backups older than this."
    )
    def backup(dest: str | None, keep_days: int) -> None:
        """Back up the SQLite database online, keeping the last --keep-days days."""
        from utils.backup import BackupError, backup_sqlite, sqlite_path

        url = app.config["SQLALCHEMY_DATABASE_URI"]
        try:
            folder = Path(dest) if dest else sqlite_path(url).parent / "backups"
            click.echo(f"backup written to {backup_sqlite(url, folder, keep_days)}")
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc

    @app.cli.command("restore")
    @click.argument("backup_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def restore(backup_file: Path, yes: bool) -> None:
        """Replace the SQLite database with BACKUP_FILE (stop the server first)."""
        from utils.backup import BackupError, restore_sqlite

        if not yes:
            click.confirm("Replace the current database with this backup?", abort=True)
        try:
            target = restore_sqlite(backup_file, app.config["SQLALCHEMY_DATABASE_URI"])
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"restored {backup_file} into {target}")
