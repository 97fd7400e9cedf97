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
        check_waitress_address()
        return start_serving(application)
    except ConfigError as exc:
        print(f"run_prod: configuration error: {exc}", file=sys.stderr, flush=True)
        under_gunicorn = "gunicorn.arbiter" in sys.modules
        raise SystemExit(
            GUNICORN_BOOT_ERROR_EXIT_CODE if under_gunicorn else CONFIG_ERROR_EXIT_CODE
        ) from None


def check_waitress_address() -> None:
    """Under `waitress-serve`, whose command line names the address: a busy port was a
    20-line OSError from waitress after the app was built; checked first, it is one line.
    (waitress-serve imports the app before it listens, so the port is not ours yet.)"""
    if "waitress.runner" not in sys.modules:
        return
    from waitress.adjustments import Adjustments

    from utils.listen_check import check_port_free

    try:
        given, _names = Adjustments.parse_args(sys.argv[1:])
        runner_only = ("call", "help")  # the runner's own flags, not the server's
        addresses = Adjustments(**{k: v for k, v in given.items() if k not in runner_only}).listen
    except Exception:  # noqa: BLE001 - waitress reports its own usage mistakes
        return
    for _family, _kind, _protocol, address in addresses:
        if isinstance(address, tuple):  # an IP address and port, not a unix socket
            check_port_free(address[0], address[1])


if __name__ == "__main__":
    print(USAGE, end="")
    sys.exit(1)

app = load_app()
