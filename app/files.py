"""File storage and the conversion runner, attached to the app at start."""

from __future__ import annotations

import logging

from flask import Flask

from utils.jobs import ConversionRunner
from utils.step_converter import DEFAULT_SETTINGS
from utils.storage import Storage

log = logging.getLogger("aerie.files")


def register_file_services(app: Flask) -> None:
    """Storage under UPLOAD_FOLDER; a runner that converts in the background unless told not to.

    With CONVERSION_IN_BACKGROUND off (tests), jobs wait until something calls
    `app.extensions["conversion_runner"].run_one()`.
    """
    storage = Storage(app.config["UPLOAD_FOLDER"])
    removed = storage.clear_tmp()
    removed += storage.clear_stale_conversions(float(app.config["CONVERSION_TIMEOUT_SECONDS"]) + 60)
    if removed:
        log.info("removed %d half-written uploads left by a stopped server", removed)
    app.extensions["storage"] = storage
    app.extensions["conversion_settings"] = DEFAULT_SETTINGS
    runner = ConversionRunner(app)
    app.extensions["conversion_runner"] = runner
    if app.config["CONVERSION_IN_BACKGROUND"]:
        runner.start()
        app.extensions["conversion_runner_notify"] = runner.notify
    else:
        app.extensions["conversion_runner_notify"] = lambda: None
