"""Development server: `python run.py` (SQLite and sample data unless configured otherwise)."""

from __future__ import annotations

import sys

from app import create_app
from app.startup import start_serving
from config import ConfigError


def main() -> int:
    try:
        application = start_serving(create_app())
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    port = int(application.config["PORT"])
    debug = application.config["FLASK_ENV"] == "development"
    application.run(host=application.config["HOST"], port=port, debug=debug, use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
