"""Start-up steps the entry points run after create_app: services, schema, background tasks.

create_app only wires; whatever touches the network, the database schema, the disk or starts
threads happens here, called explicitly by run.py, run_prod.py, deploy.py and the CLI commands
that need it. So building an app (tests, `flask` commands, deploy.py's checks) never claims a
conversion job or migrates behind the caller's back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.database import load_development_samples, prepare_schema
from app.extensions import limiter
from config import ConfigError
from utils.tasks import check_reachable, is_shared

log = logging.getLogger("aerie.startup")


def check_services(app: Flask) -> None:
    """Refuse to start when the shared rate-limit storage or the file store cannot be reached."""
    app.extensions["storage"].check_reachable()  # FILE_STORE_URL's bucket
    storage_uri = str(app.config["RATELIMIT_STORAGE_URI"])
    # Limits are only shared when every worker reaches the storage.
    if storage_uri != "memory://" and not limiter.check(app):
        parts = urlsplit(storage_uri)
        # A file (utils.file_limits) by its path; a server by its host, never its password.
        where = (
            str(getattr(limiter.storage_for(app), "path", "")) or parts.netloc.rpartition("@")[2]
        )
        raise ConfigError(f"RATELIMIT_STORAGE_URI: cannot reach the rate-limit storage at {where}")


def prepare(app: Flask) -> None:
    """Everything a server needs before its first request, in order; safe to repeat."""
    with database_errors_as_config_errors(app):
        ensure_sqlite_folder(app)  # first: the rate limits' file may sit beside the database
    check_services(app)
    # Before the samples: their files pass through this process's own tmp folder.
    storage = app.extensions["storage"]
    timeout = float(app.config["CONVERSION_TIMEOUT_SECONDS"])
    removed = storage.clear_tmp() + storage.clear_stale_conversions(timeout + 60)
    if removed:
        log.info("removed %d half-written uploads left by a stopped server", removed)
    with database_errors_as_config_errors(app):
        prepare_schema(app)
        load_development_samples(app)


def ensure_sqlite_folder(app: Flask) -> None:
    """Create a SQLite file's missing folder (data/ on a fresh server), one level only: a
    deeper missing path is a typo in DATABASE_URL, not a folder to conjure up."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    folder = Path(url.database).parent
    if folder.is_dir():
        return
    if not folder.parent.is_dir():
        raise ConfigError(f"DATABASE_URL: the folder {folder} does not exist")
    try:
        folder.mkdir(mode=0o700, exist_ok=True)  # two servers starting at once both make it
    except OSError as exc:
        raise ConfigError(f"DATABASE_URL: cannot create {folder}: {exc.strerror}") from None


@contextmanager
def database_errors_as_config_errors(app: Flask) -> Iterator[None]:
    """A database that cannot be reached or used is a configuration error: one line that
    names the setting and the server (never the password), not a driver traceback."""
    try:
        yield
    except (DBAPIError, OSError) as exc:
        where = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string()
        raise ConfigError(f"DATABASE_URL: cannot use {where}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(original).__name__


def start_background(app: Flask) -> None:
    """Consume background tasks in this process: only with the embedded queue (empty
    TASK_QUEUE_URL) and CONVERSION_IN_BACKGROUND on; with a shared queue, `flask worker`
    processes consume and a server only enqueues."""
    if not app.config["CONVERSION_IN_BACKGROUND"]:
        return
    if check_task_queue(app):
        log.info("background tasks go to TASK_QUEUE_URL: run `flask worker` to process them")
        return
    app.extensions["conversion_runner"].start()


def check_task_queue(app: Flask) -> bool:
    """Whether a server's tasks go to a shared queue; ConfigError when it cannot be reached
    (an upload would be accepted and never converted)."""
    queue = app.extensions["task_queue"]
    if not (app.config["CONVERSION_IN_BACKGROUND"] and is_shared(queue)):
        return False
    check_reachable(queue)
    return True


def start_serving(app: Flask) -> Flask:
    """prepare() then start_background(): what a serving process runs once."""
    prepare(app)
    start_background(app)
    return app


def check_before_serving(config_name: str) -> None:
    """Build an app and prepare() it, in a process that is about to become (or fork) the
    server: every configuration mistake surfaces here as one ConfigError. Nothing is left
    running and no connection stays open (a forking server must not share them)."""
    from app import create_app
    from app.extensions import db

    application = create_app(config_name)
    prepare(application)
    check_task_queue(application)
    with application.app_context():
        db.engine.dispose()
