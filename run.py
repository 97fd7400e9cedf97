"""Development server: `python run.py` (SQLite and sample data unless configured otherwise)."""

from __future__ import annotations

import ipaddress
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

from app import create_app
from app.logging import RedactingRequestHandler
from app.startup import start_serving
from config import ConfigError


def main() -> int:
    try:
        application = start_serving(create_app(development_config_name()))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    port = int(application.config["PORT"])
    debug = debug_enabled(application.config)
    # Stopped by a terminal, a test or deploy.py's caller: exit cleanly, not by the signal.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    application.run(
        host=application.config["HOST"],
        port=port,
        debug=debug,
        use_reloader=False,
        request_handler=RedactingRequestHandler,
    )
    return 0


def development_config_name() -> str:
    """run.py is the development server: development settings, whatever config.json (the
    production set-up) says; FLASK_ENV=testing is allowed, production is refused."""
    name = (os.environ.get("FLASK_ENV") or "development").lower()
    if name == "production":
        raise ConfigError("run.py is the development server: start production with deploy.py prod")
    return name


def debug_enabled(config: Mapping[str, Any]) -> bool:
    """The interactive debugger runs code for whoever reaches it: on this machine only."""
    return config["FLASK_ENV"] == "development" and is_loopback(str(config["HOST"]))


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


if __name__ == "__main__":
    sys.exit(main())
