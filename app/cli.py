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
