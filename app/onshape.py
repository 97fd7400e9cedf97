"""The Onshape export runner, attached to the app (its task is registered on the task queue
wherever an app is built, so servers and `flask worker`s agree on it)."""

from __future__ import annotations

from flask import Flask

from app.database import write_transaction
from utils.onshape_exports import OnshapeExporter


def register_onshape(app: Flask) -> None:
    """app.extensions["onshape_exporter"]: queues and runs exports (after the task queue)."""
    app.extensions["onshape_exporter"] = OnshapeExporter(app, write_transaction)
