"""Production WSGI entry point: `gunicorn run_prod:app` or `waitress-serve run_prod:app`."""

from __future__ import annotations

import sys
from pathlib import Path

from flask import Flask

PROJECT_DIR = Path(__file__).resolve().parent
# The server may be started from any folder (a service, a container, a cron job).
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

import os  # noqa: E402

from app import create_app  # noqa: E402 - needs the project folder on sys.path
from app.startup import start_serving  # noqa: E402
from config import ConfigError  # noqa: E402

# A configuration error exits 2, as every entry point does; except in a gunicorn worker,
# where only 3 makes the arbiter stop instead of restarting the worker for ever.
CONFIG_ERROR_EXIT_CODE = 2
GUNICORN_BOOT_ERROR_EXIT_CODE = 3
USAGE = f"""\
run_prod.py exposes the production app as `run_prod:app` for a WSGI server; it does not
serve on its own. Start a server with one of:

  {sys.executable} {PROJECT_DIR / "deploy.py"} prod-gunicorn --port 8000
  {sys.executable} {PROJECT_DIR / "deploy.py"} prod-waitress --port 8000
  gunicorn --pythonpath {PROJECT_DIR} -w 4 -b 0.0.0.0:8000 run_prod:app
  PYTHONPATH={PROJECT_DIR} waitress-serve --host 0.0.0.0 --port 8000 run_prod:app
"""


def load_app() -> Flask:
    """The production app, ready to serve; a bad configuration exits with its one-line reason.

    Under the `flask` command (`flask --app run_prod:app files`) the app is only built: a
    maintenance command must not migrate, sweep files or start converting.
    """
    try:
        application = create_app("production")
        if os.environ.get("FLASK_RUN_FROM_CLI") == "true":
            return application
        return start_serving(application)
    except ConfigError as exc:
        print(f"run_prod: configuration error: {exc}", file=sys.stderr, flush=True)
        under_gunicorn = "gunicorn.arbiter" in sys.modules
        raise SystemExit(
            GUNICORN_BOOT_ERROR_EXIT_CODE if under_gunicorn else CONFIG_ERROR_EXIT_CODE
        ) from None


if __name__ == "__main__":
    print(USAGE, end="")
    sys.exit(1)

app = load_app()
