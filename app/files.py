"""File storage and the conversion runner, attached to the app (started by app.startup)."""

from __future__ import annotations

from flask import Flask

from utils.jobs import ConversionRunner
from utils.step_converter import DEFAULT_SETTINGS
from utils.storage import Storage


def register_file_services(app: Flask) -> None:
    """Storage under UPLOAD_FOLDER and a conversion runner that is not running yet.

    app.startup.start_background starts the runner in serving processes; elsewhere (tests,
    CLI commands) jobs wait until something calls
    `app.extensions["conversion_runner"].run_one()`.
    """
    app.extensions["storage"] = Storage(app.config["UPLOAD_FOLDER"])
    app.extensions["conversion_settings"] = DEFAULT_SETTINGS
    runner = ConversionRunner(app)
    app.extensions["conversion_runner"] = runner
    # Waking a runner that is not started only sets an event: harmless.
    app.extensions["conversion_runner_notify"] = runner.notify
