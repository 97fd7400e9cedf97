#!/usr/bin/env python3
"""Start the backend: `deploy.py dev|prod|prod-waitress|prod-gunicorn|prod-gevent [options]`."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

PROJECT_DIR = Path(__file__).resolve().parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

import config  # noqa: E402 - needs the project folder on sys.path
import create_config  # noqa: E402
from create_config import is_special_file  # noqa: E402
from utils.file_limits import limits_for_workers  # noqa: E402
from utils.listen_check import check_port_free  # noqa: E402

# "prod" is the recommended production server: waitress (see DEFAULT_PRODUCTION_MODE).
MODES = ("dev", "prod", "prod-waitress", "prod-gunicorn", "prod-gevent")
# waitress reads every request in full on its event loop before a thread sees it, so slow
# or stalled clients (phones on shop Wi-Fi, or an attacker) cost a socket, not a thread; one
# process also keeps the in-memory limits exact and the conversion slots in one place.
DEFAULT_PRODUCTION_MODE = "prod-waitress"
DEV_PORT, PROD_PORT = 5000, 8000
# More workers than this only add memory: SQLite has one writer, and a shop server is small.
MAX_DEFAULT_WORKERS = 8
# gunicorn threads per worker (gthread): a thread reading a slow client's body is blocked,
# so several, and gunicorn belongs behind a buffering proxy when it faces the internet.
DEFAULT_GUNICORN_THREADS = 16
# Downloads that wait for a STEP conversion hold a thread; keep others answering meanwhile.
DEFAULT_WAITRESS_THREADS = 8
# Seconds gunicorn gives running requests after SIGTERM before it kills the workers.
GRACEFUL_TIMEOUT_SECONDS = 30
# A 200 MB upload over shop Wi-Fi must not be killed as a hung worker.
WORKER_TIMEOUT_SECONDS = 120
# The path without the query string (it may hold api_key) and without the referrer; the
# worker's pid says which process served a request.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms pid=%(p)s'
EPILOG = """\
Settings come from the environment, then config.json ($CONFIG_FILE), then defaults; --port
and --host beat both. Production modes generate a SECRET_KEY into config.json (0600) when
none is set. Exit status: 2 for a configuration error (settings, a busy port, an unreachable
database or Redis), 1 when a server package is missing; one line on stderr says why.
"""
# Bytes waitress accepts beyond MAX_CONTENT_LENGTH before refusing a body on its own.
WAITRESS_BODY_SLACK = 1024 * 1024
# Internal first argument: deploy.py re-executes itself as the waitress server process.
WAITRESS_ENTRY = "_serve-waitress"


class DeployError(Exception):
    """A reason not to start; the message is one line."""


def say(message: str) -> None:
    print(f"deploy: {message}", file=sys.stderr, flush=True)


def port_number(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is a number from 1 to 65535")
    return value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, epilog=EPILOG)
    parser.add_argument("mode", choices=MODES, help="which server to run")
    parser.add_argument("--port", type=port_number, help="default: PORT, else 5000 dev / 8000")
    parser.add_argument("--host", help="interface to listen on (default: HOST, else 0.0.0.0)")
    parser.add_argument(
        "--workers",
        type=positive,
        help="gunicorn workers (default 2 x CPUs + 1, max 8; limits shared in a file)",
    )
    parser.add_argument(
        "--threads", type=positive, help="threads: waitress 8, gunicorn 16 (1: sync workers)"
    )
    parser.add_argument(
        "--graceful-timeout",
        type=positive,
        default=GRACEFUL_TIMEOUT_SECONDS,
        help="seconds gunicorn lets requests finish after SIGTERM",
    )
    args = parser.parse_args(argv)
    if args.mode == "prod":
        args.mode = DEFAULT_PRODUCTION_MODE
    return args


def ensure_secret_key(path: Path, stored: dict[str, Any]) -> None:
    """Generate and store a key when neither the environment nor config.json has one (with
    CONFIG_FILE=/dev/null there is no file to store it in: production refuses the lack)."""
    if os.environ.get("SECRET_KEY") or stored.get("SECRET_KEY") or is_special_file(path):
        return
    key = secrets.token_urlsafe(48)
    # A configuration refused for another reason must not leave a new file behind.
    config.load_settings("production", {"SECRET_KEY": key})
    try:
        create_config.write_config_atomically(path, {**stored, "SECRET_KEY": key})
    except OSError as exc:
        raise DeployError(
            f"cannot store a new SECRET_KEY in {path}: {exc.strerror or exc}"
        ) from exc
    say(f"no SECRET_KEY was set: generated one and stored it in {path} (mode 0600)")


def resolve_address(
    args: argparse.Namespace, settings: dict[str, Any], stored: dict[str, Any]
) -> tuple[str, int]:
    """(host, port): the command line, else the environment, else config.json, else defaults."""
    host = args.host or str(settings["HOST"])
    if args.port:
        return host, args.port
    if os.environ.get("PORT") or "PORT" in stored:
        return host, int(settings["PORT"])
    return host, DEV_PORT if args.mode == "dev" else PROD_PORT


def default_workers() -> int:
    if hasattr(os, "sched_getaffinity"):
        cpus = len(os.sched_getaffinity(0))  # the CPUs this process may use (containers)
    else:
        cpus = os.cpu_count() or 1
    return min(2 * cpus + 1, MAX_DEFAULT_WORKERS)


def require_module(name: str, hint: str) -> None:
    if importlib.util.find_spec(name) is None:
        raise DeployError(f"{name} is not installed in {sys.prefix}: {hint}")


def gunicorn_command(
    args: argparse.Namespace, host: str, port: int, settings: dict[str, Any]
) -> list[str]:
    if os.name == "nt":
        raise DeployError("gunicorn does not run on Windows: use prod-waitress")
    require_module("gunicorn", f"{sys.executable} -m pip install -r requirements.txt")
    command = [sys.executable, "-m", "gunicorn", "--pythonpath", str(PROJECT_DIR)]
    # Its hooks make the workers' shared folder (flags below win; config checked here).
    command += ["--config", str(PROJECT_DIR / "gunicorn.conf.py")]
    os.environ["AERIE_CONFIG_CHECKED"] = "1"
    command += ["--bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    limits = shared_limits_uri(settings, args.workers)
    os.environ["RATELIMIT_STORAGE_URI"] = limits  # the workers read the same settings
    command += ["--workers", str(args.workers or default_workers())]  # memory:// only for 1
    command += ["--graceful-timeout", str(args.graceful_timeout)]
    command += ["--timeout", str(WORKER_TIMEOUT_SECONDS)]
    # The app writes its own access line with api_key redacted; gunicorn's stays off, and
    # if an operator turns it on it still leaves out the query string.
    command += ["--access-logformat", ACCESS_LOG_FORMAT]
    return [*command, *worker_class_flags(args), "run_prod:app"]


def worker_class_flags(args: argparse.Namespace) -> list[str]:
    if args.mode == "prod-gevent":
        hint = f"it is not in requirements.txt; run {sys.executable} -m pip install gevent"
        require_module("gevent", hint)
        return ["--worker-class", "gevent"]
    if args.threads == 1:
        # One request per process; threads 1 too, or gunicorn.conf.py's 16 make it gthread.
        return ["--worker-class", "sync", "--threads", "1"]
    # Threads, not sync workers: one slow client must not freeze a whole worker.
    threads = args.threads or DEFAULT_GUNICORN_THREADS
    return ["--worker-class", "gthread", "--threads", str(threads)]


def shared_limits_uri(settings: dict[str, Any], requested: int | None) -> str:
    """The limits' storage for gunicorn's workers: a SQLite file beside a SQLite database,
    else in instance/ (folders the systemd unit may write), unless one worker is asked for."""
    uri, database = str(settings["RATELIMIT_STORAGE_URI"]), str(settings["DATABASE_URL"])
    return limits_for_workers(uri, database, requested, PROJECT_DIR / "instance")


def server_command(
    args: argparse.Namespace, host: str, port: int, settings: dict[str, Any]
) -> list[str]:
    if args.mode == "dev":
        # run.py reads HOST and PORT from the environment, which beats config.json.
        os.environ.update(HOST=host, PORT=str(port))
        return [sys.executable, str(PROJECT_DIR / "run.py")]
    if args.mode == "prod-waitress":
        require_module("waitress", f"{sys.executable} -m pip install -r requirements.txt")
        threads = str(args.threads or DEFAULT_WAITRESS_THREADS)
        entry = [sys.executable, str(Path(__file__).resolve()), WAITRESS_ENTRY]
        return [*entry, "--host", host, "--port", str(port), "--threads", threads]
    return gunicorn_command(args, host, port, settings)


def exec_server(command: list[str]) -> NoReturn:
    """Replace this process, so the service manager's signals reach the server itself."""
    say("starting: " + " ".join(command))
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "nt":
        # Windows has no real exec: os.execv would return to the shell at once.
        sys.exit(subprocess.call(command))  # noqa: S603 - our own interpreter and arguments
    os.execv(command[0], command)  # noqa: S606 - our own interpreter and arguments


def config_name_for(mode: str) -> str:
    # The dev mode means development settings and data, whatever the environment or the
    # production config.json say (config.load_settings ignores a file written for another).
    return "development" if mode == "dev" else "production"


def prepare(args: argparse.Namespace) -> list[str]:
    """Every check and start-up step; returns the server command to exec."""
    config_name = config_name_for(args.mode)
    os.environ["FLASK_ENV"] = config_name  # the server process reads the same settings
    path = create_config.output_path(None)
    stored = create_config.read_existing(path)
    if config_name == "production":
        ensure_secret_key(path, stored)
    settings = config.load_settings(config_name)
    applicable = config.values_for_environment(config_name, stored, path)
    host, port = resolve_address(args, settings, applicable)
    check_port_free(host, port)
    command = server_command(args, host, port, settings)
    # Only the preparation: no conversion runner starts here, so no job is claimed by this
    # process just before it becomes the server (the server starts its own runner).
    from app.startup import check_before_serving

    check_before_serving(config_name)
    return command


def serve_waitress(argv: Sequence[str]) -> int:
    """The prod-waitress server process: SIGTERM stops it after the requests it has begun
    finish (utils/graceful_waitress.py)."""
    parser = argparse.ArgumentParser(prog=f"deploy.py {WAITRESS_ENTRY}")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=port_number, required=True)
    parser.add_argument("--threads", type=positive, default=DEFAULT_WAITRESS_THREADS)
    args = parser.parse_args(argv)
    # A stop while the app is being built exits at once; once serving, the server drains.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    from run_prod import app
    from utils.graceful_waitress import serve_gracefully

    # The server gives the root logger a handler for its lines; the app's logger has its own.
    logging.getLogger("aerie").propagate = False
    logging.getLogger("waitress").setLevel(logging.INFO)  # as waitress-serve does
    serve_gracefully(
        app,
        host=args.host,
        port=args.port,
        threads=args.threads,
        # waitress buffers a body (to a temporary file past 512 KB) before the app sees it:
        # refuse what the app would refuse anyway instead of spooling up to waitress's 1 GB.
        # The slack lets the app answer its own JSON 413 for bodies just over the limit.
        max_request_body_size=int(app.config["MAX_CONTENT_LENGTH"]) + WAITRESS_BODY_SLACK,
        # waitress drops X-Forwarded-* it was not told to trust; the app's ProxyFix trusts
        # exactly TRUSTED_PROXY_COUNT hops, so let the headers through when that is set.
        clear_untrusted_proxy_headers=not app.config["TRUSTED_PROXY_COUNT"],
    )
    return 0


def _exit_on_signal(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [WAITRESS_ENTRY]:
        return serve_waitress(argv[1:])
    args = parse_args(argv)
    try:
        command = prepare(args)
    except config.ConfigError as exc:
        say(f"configuration error: {exc}")
        return 2
    except DeployError as exc:
        say(str(exc))
        return 1
    exec_server(command)


if __name__ == "__main__":
    sys.exit(main())
