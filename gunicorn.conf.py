"""gunicorn settings: `gunicorn -c /path/to/backend/gunicorn.conf.py run_prod:app`.

deploy.py prod-gunicorn passes the same choices on its command line; this file is for
running gunicorn directly. Values given on gunicorn's command line win over these.
"""

import os
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent
pythonpath = str(PROJECT_DIR)
# Threads, not sync workers: one slow client must not freeze a whole worker. One worker
# unless RATELIMIT_STORAGE_URI is a file or Redis (with memory:// each would count alone).
worker_class = "gthread"
threads = 16
workers = 1
# A 200 MB upload over shop Wi-Fi must not be killed as a hung worker.
timeout = 120
graceful_timeout = 30
# No client names the app's root: gunicorn would take SCRIPT_NAME and PATH_INFO from headers
# of any client on this host (its forwarded_allow_ips), so GET /api/parts/ with a header
# SCRIPT_NAME: /api/parts routed as / (the web app). BASE_PATH is the app's own setting.
forwarder_headers = ""
# Without the query string (it may hold api_key); the app writes its own redacted line.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms pid=%(p)s'


# deploy.py prod-gunicorn has checked the configuration before it starts gunicorn.
CHECKED_BY_DEPLOY = "AERIE_CONFIG_CHECKED"


def on_starting(server):
    """Check the configuration once in the master, so a mistake is one line and exit 2
    instead of every worker failing to boot (gunicorn's own status 3); then make this run's
    folder for the whole list the workers share (HOST_BODIES_FOLDER, utils/host_bodies.py)."""
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    if not os.environ.get(CHECKED_BY_DEPLOY):
        from app.startup import check_before_serving
        from config import ConfigError

        try:
            share_limits_between_workers(server.cfg.workers)
            check_before_serving("production")
        except ConfigError as exc:
            print(f"run_prod: configuration error: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)
    if not os.environ.get("HOST_BODIES_FOLDER"):
        from utils.host_bodies import make_run_folder

        # The workers inherit the master's environment; a new run starts with an empty folder.
        folder = make_run_folder()  # None: not writable, each worker makes its own list
        if folder is not None:
            os.environ["HOST_BODIES_FOLDER"] = str(folder)


def share_limits_between_workers(workers):
    """`gunicorn -w 4 run_prod:app` with the default memory:// limits: each worker would
    count alone (the wrong-key lockout 4 times over), so they share the host's file, as
    deploy.py prod-gunicorn arranges. The workers inherit the master's environment."""
    from config import load_settings
    from utils.file_limits import limits_for_workers

    settings = load_settings("production")
    uri, database = str(settings["RATELIMIT_STORAGE_URI"]), str(settings["DATABASE_URL"])
    shared = limits_for_workers(uri, database, workers, PROJECT_DIR / "instance")
    if shared != uri:
        os.environ["RATELIMIT_STORAGE_URI"] = shared
        print(f"run_prod: {workers} workers share their rate limits in {shared}", flush=True)


def on_exit(_server):
    """Remove the folder this master made (one set by the operator stays). By its name, not
    a variable of this file: a SIGHUP reloads this file and forgets its variables."""
    from utils.host_bodies import remove_run_folder, run_folder_of_this_process

    folder = Path(os.environ.get("HOST_BODIES_FOLDER", ""))
    if run_folder_of_this_process(folder):
        remove_run_folder(folder)
