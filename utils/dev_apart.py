"""Development beside a production set-up: never on production's database or files.

`python run.py` in the folder of a production server ignores its config.json, so with the
defaults both would use `uploads/` (and `parts.db`, if production was pointed there): a
development wipe would delete production's files, and `flask files --clean` on either side
would take the other's folders for orphans. Where the production file (or its defaults) names
the very database or folder development would use, development takes its own instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from utils.settings_values import warn_once

log = logging.getLogger("config")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# What development uses instead, relative to the project folder.
APART = {"DATABASE_URL": "sqlite:///parts-dev.db", "UPLOAD_FOLDER": "uploads-dev"}


def keep_apart(
    settings: dict[str, Any], file_values: Mapping[str, Any], chosen: set[str], path: Path
) -> dict[str, Any]:
    """Development's resolved `settings`, off the database and folder that a production
    config.json (`file_values`, read from `path`, which development ignores) would use; keys
    in `chosen` (the environment, overrides) were set on purpose and stay."""
    production = str(file_values.get("FLASK_ENV") or "").lower() == "production"
    if settings["FLASK_ENV"] != "development" or not production:
        return settings
    from config import BaseConfig  # loaded: config calls this function

    for key, apart in APART.items():
        theirs = file_values.get(key) or getattr(BaseConfig, key)
        if key in chosen or not theirs:
            continue
        if _resolved(key, str(theirs)) == settings[key]:
            settings[key] = _resolved(key, apart)
            warn_once(
                log, "%s: production's %s uses %s too; development uses %s instead",
                key, path, theirs, apart,
            )  # fmt: skip
    return settings


def _resolved(key: str, value: str) -> str:
    if key == "DATABASE_URL":
        # Here, not above: create_config.py imports config on the system Python (no SQLAlchemy).
        from utils.database_url import resolve_database_url

        return resolve_database_url(value, PROJECT_ROOT)
    folder = Path(value)
    return str(folder if folder.is_absolute() else PROJECT_ROOT / folder)
