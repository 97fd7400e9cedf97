"""Command-line tools: `flask --app run:create_app <command>` (or `run_prod:app`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.extensions import db


def register_cli(app: Flask) -> None:
    """Attach the project's commands to the app."""
    for command in (seed, files, backup, worker, restore, models):
        app.cli.add_command(command)


def _app() -> Flask:
    """The app the command runs in (the object, for helpers that take an app)."""
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _require_database() -> None:
    """A maintenance command on a database no server prepared (a mistyped DATABASE_URL, a
    new SQLite path) says so in one line: it printed a 77-line traceback, and SQLite left an
    empty file where the path pointed."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    where = url.render_as_string()  # the password masked
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        if not Path(url.database).is_file():
            raise click.ClickException(f"DATABASE_URL: no database at {url.database}")
    try:
        prepared = inspect(db.engine).has_table("parts")
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise click.ClickException(f"DATABASE_URL: cannot use {where}: {reason}") from None
    if not prepared:
        hint = "start the server once, or run `flask db upgrade --directory migrations`"
        raise click.ClickException(f"DATABASE_URL: {where} has no parts table: {hint}")


@click.command("seed")
@with_appcontext
def seed() -> None:
    """Load the sample parts into an empty database (created or migrated first)."""
    from app.database import prepare_schema
    from app.sample_data import load_sample_parts

    prepare_schema(_app())

    added = load_sample_parts(db.session)
    click.echo(f"added {added} sample parts" if added else "database not empty: nothing added")


@click.command("files")
@click.option("--clean", is_flag=True, help="Delete the orphans found.")
@with_appcontext
def files(clean: bool) -> None:
    """Report files no part owns and parts whose file is missing (--clean removes orphans)."""
    _require_database()
    from utils.file_audit import audit_files, remove_orphans

    storage = current_app.extensions["storage"]
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


@click.group("models")
def models() -> None:
    """Stored 3D models (GLBs)."""


@models.command("optimise")
@click.option("--dry-run", is_flag=True, help="Only count the models missing variants.")
@with_appcontext
def optimise_models(dry_run: bool) -> None:
    """Add the optimised variants (quantised, meshopt) every stored model is missing."""
    from utils.model_backfill import backfill_variants

    config = current_app.config
    report = backfill_variants(
        current_app.extensions["storage"],
        float(config["MODEL_MAX_ERROR"]),
        current_app.extensions["optimiser_caps"],
        dry_run=dry_run,
        progress=lambda key, outcome: click.echo(f"model {key}: {outcome}"),
    )
    click.echo(report.summary(dry_run))


@click.command("backup")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the archives (default: backups/ beside the SQLite database).",
)
@click.option(
    "--keep-days",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Remove this command's archives older than this (the newest always stays).",
)
@click.option(
    "--files-only",
    is_flag=True,
    help="Only the uploads (PostgreSQL, MariaDB: dump the database just before).",
)
@with_appcontext
def backup(dest: Path | None, keep_days: int, files_only: bool) -> None:
    """Write one private archive: the SQLite database (online copy), then the uploads."""
    from utils.backup import BackupError, BackupSource, default_destination, write_backup

    if files_only or str(current_app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        _require_database()  # (a server database without --files-only: pg_dump's advice)

    source = BackupSource(
        database_url=current_app.config["SQLALCHEMY_DATABASE_URI"],
        live=db.engine,
        upload_root=current_app.extensions["storage"].root,
        files_only=files_only,
        store=current_app.extensions["storage"],
    )
    try:
        result = write_backup(source, dest or default_destination(source), keep_days)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    for path in result.missing_files:
        click.echo(f"warning: {path} was already missing (see `flask files`)", err=True)
    click.echo(f"backup written to {result.archive}")
    if result.removed:
        click.echo(f"removed {len(result.removed)} backups older than {keep_days} days")


@click.command("worker")
@with_appcontext
def worker() -> None:
    """Run background tasks from TASK_QUEUE_URL (Redis) until SIGINT or SIGTERM."""
    from app.database import prepare_schema
    from app.startup import database_errors_as_config_errors, ensure_sqlite_folder
    from config import ConfigError
    from utils.tasks import check_reachable, is_shared

    app = _app()
    if not is_shared(app.extensions["task_queue"]):
        raise click.ClickException(
            "TASK_QUEUE_URL is empty: the server converts in its own process; set"
            " TASK_QUEUE_URL=redis://host:6379/0 for the server and its workers"
        )
    try:
        check_reachable(app.extensions["task_queue"])
        app.extensions["storage"].check_reachable()  # the STEP files and GLBs live there
        # Migrated under the same lock as servers: a worker may start first. No sweep
        # of the upload folder: a server may be receiving into it right now.
        with database_errors_as_config_errors(app):
            ensure_sqlite_folder(app)
            prepare_schema(app)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    runner = app.extensions["conversion_runner"]
    click.echo(f"worker {runner.worker_id}: {runner.slots} conversion threads")
    runner.run_worker()


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore(archive: Path, yes: bool) -> None:
    """Replace the database and the uploads with ARCHIVE (stop the server first)."""
    from utils.backup import BackupError
    from utils.backup_restore import restore_backup

    if not yes:
        click.confirm("Replace the current database and files with this backup?", abort=True)
    try:
        restored = restore_backup(
            archive,
            current_app.config["SQLALCHEMY_DATABASE_URI"],
            current_app.extensions["storage"].root,
            current_app.extensions["storage"],
        )
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        # Pooled connections would still read the replaced database file.
        db.engine.dispose()
    _report_restore(restored)


def _report_restore(restored: Any) -> None:
    if restored.database is not None:
        click.echo(f"restored the database into {restored.database}")
    else:
        click.echo("the archive holds no database: restore it with pg_restore or mariadb")
    if restored.files:
        click.echo("restored the uploaded files (parts/ and models/)")
    else:
        click.echo("a database-only backup: the uploaded files were left as they are")
    for path in restored.missing_files:
        click.echo(f"warning: {path} was already missing when the backup was made", err=True)
