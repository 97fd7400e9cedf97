"""Command-line tools: `flask --app run:app <command>`."""

from __future__ import annotations

import click
from flask import Flask

from app.extensions import db


def register_cli(app: Flask) -> None:
    """Attach the project's commands to the app."""

    @app.cli.command("seed")
    def seed() -> None:
        """Load the sample parts into an empty database."""
        from app.sample_data import load_sample_parts

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
