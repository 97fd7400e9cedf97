"""The values create_config.py refuses before writing config.json: those the server would
refuse at start, checked by the server's own code (config.py calls check_settings); and the
folders a server with those values writes to, for the systemd unit. The standard library
only (create_config.py runs on the system Python before the venv exists); messages never
repeat a value."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import config
from utils.file_store_url import check_endpoint_url, is_object_store, parse_s3_url
from utils.settings_values import (
    LIMIT_SETTINGS,
    check_task_queue_url,
    compression_level,
    log_level,
    rate_limit_text,
)


def check_value(key: str, value: Any) -> Any:
    """Reject values the server would refuse later; messages never repeat the value."""
    if key == "SECRET_KEY" and (problem := secret_key_problem(value)):
        raise config.ConfigError(problem)
    if key == "FLASK_ENV":
        value = value.lower()
        if value not in config.CONFIG_CLASSES:
            raise config.ConfigError(f"FLASK_ENV must be one of {', '.join(config.CONFIG_CLASSES)}")
    if key == "PORT" and not 1 <= value <= 65535:
        raise config.ConfigError("PORT must be between 1 and 65535")
    if key == "FILE_STORE_URL" and is_object_store(value):
        parse_s3_url(value, "")  # the endpoint is checked as S3_ENDPOINT_URL
    if key == "S3_ENDPOINT_URL":
        check_endpoint_url(value)
    if key == "TASK_QUEUE_URL":
        check_task_queue_url(value)
    if key == "LOG_LEVEL":
        value = log_level(value)
    if key == "COMPRESSION_LEVEL":
        compression_level(value)
    if key in LIMIT_SETTINGS:
        rate_limit_text(key, value)
    if key == "PARTS_MAX_PAGE_SIZE" and value == 0:
        raise config.ConfigError("PARTS_MAX_PAGE_SIZE must be at least 1")
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        raise config.ConfigError(f"{key} must not be negative")
    return value


def check_settings(settings: dict[str, Any], names: list[str]) -> None:
    """The server's settings, from whatever layer: refused as create_config.py refuses them
    (values from the environment never passed through it). The key and FLASK_ENV are judged
    by config.py itself: development runs on the published key."""
    for key in names:
        if key not in ("SECRET_KEY", "FLASK_ENV", *OWN_CHECKS):
            check_value(key, settings[key])


# Settings the code that uses them checks when the app is built, with a message that says
# more than "must not be negative" (the unit, what 0 means, the lowest useful value).
OWN_CHECKS = ("FILE_CACHE_MAX_MB", "MODEL_OPTIMISE_IN_PROCESS_MAX_MB", "JOB_STALE_SECONDS")


def secret_key_problem(key: Any) -> str | None:
    """Why this SECRET_KEY cannot protect a server, or None when it can."""
    if not isinstance(key, str) or not key:
        return "SECRET_KEY is empty"
    if key in config.PLACEHOLDER_SECRET_KEYS or key.lower() in config.PLACEHOLDER_SECRET_KEYS:
        return "SECRET_KEY is a published placeholder"
    if len(key) < config.MIN_SECRET_KEY_LENGTH:
        return f"SECRET_KEY is shorter than {config.MIN_SECRET_KEY_LENGTH} characters"
    return None


def writable_folders(values: Mapping[str, Any], default_database_url: str) -> list[Path]:
    """Folders (for the systemd unit) a server with these config.json values writes to."""
    upload = Path(values.get("UPLOAD_FOLDER") or config.BaseConfig.UPLOAD_FOLDER)
    found = [
        config.PROJECT_ROOT / "data",
        config.PROJECT_ROOT / "instance",
        config.PROJECT_ROOT / upload,
    ]
    url = str(values.get("DATABASE_URL") or default_database_url)
    if url.startswith("sqlite:///") and ":memory:" not in url:
        found.append((config.PROJECT_ROOT / url[len("sqlite:///") :].partition("?")[0]).parent)
    if values.get("LOG_FILE"):
        found.append((config.PROJECT_ROOT / str(values["LOG_FILE"])).parent)
    return list(dict.fromkeys(path.resolve() for path in found))  # in order, each once
