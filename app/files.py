"""File storage, the task queue and the conversion runner, attached to the app (started by
app.startup)."""

from __future__ import annotations

from flask import Flask

from utils.file_store_url import build_storage
from utils.glb_worker import OptimiserCaps
from utils.jobs import ConversionRunner
from utils.step_converter import DEFAULT_SETTINGS
from utils.tasks import build_queue


def register_file_services(app: Flask) -> None:
    """The file store FILE_STORE_URL picks (local disk, or S3 with UPLOAD_FOLDER as this host's
    cache; nothing connected yet), the task queue TASK_QUEUE_URL picks (nothing connected
    yet), the GLB optimiser's caps (a bad MODEL_OPTIMISE_IN_PROCESS_MAX_MB refused now, not at
    the first conversion) and a conversion runner that is not running yet.

    app.startup.start_background starts the runner in serving processes (embedded mode) and
    `flask worker` in worker processes (shared mode); elsewhere (tests, CLI commands) jobs
    wait until something calls `app.extensions["conversion_runner"].run_one()`.
    """
    app.extensions["storage"] = build_storage(
        str(app.config["UPLOAD_FOLDER"]),
        str(app.config["FILE_STORE_URL"]),
        str(app.config["S3_ENDPOINT_URL"]),
        app.config["FILE_CACHE_MAX_MB"],
    )
    app.extensions["conversion_settings"] = DEFAULT_SETTINGS
    app.extensions["optimiser_caps"] = OptimiserCaps.from_config(app.config)
    app.extensions["task_queue"] = build_queue(str(app.config["TASK_QUEUE_URL"]))
    runner = ConversionRunner(app)
    app.extensions["conversion_runner"] = runner
    # Only sends a wake-up message: harmless when no consumer runs (tests, CLI commands).
    app.extensions["conversion_runner_notify"] = runner.notify
