"""Settings as text and files: the one reading of a setting's value for config.py and
create_config.py. The standard library only: create_config.py runs it on the system Python
before the project's venv exists (setup_backend_service.sh)."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
# What TASK_QUEUE_URL may name: a Redis server (Huey's RedisHuey, utils.tasks).
QUEUE_SCHEMES = ("redis", "rediss", "unix")
# CONFIG_FILE set to this reads no file: the defaults and the environment only (tests, tools).
NO_CONFIG_FILE = os.devnull


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message is one line saying why."""


def coerce_value(name: str, raw: Any, default: Any) -> Any:
    """Turn text (environment, flags, prompts) into the type of the default; JSON values pass.

    Messages never repeat the value: it may be a secret typed under the wrong name.
    """
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if isinstance(default, bool):
        # A typo must not quietly read as false: "ture" is refused like "eighty" for a port.
        if text.lower() not in TRUE_WORDS | FALSE_WORDS:
            raise ConfigError(f"{name} must be true or false")
        return text.lower() in TRUE_WORDS
    if isinstance(default, int | float):
        try:
            return type(default)(text)
        except ValueError:
            kind = "a whole number" if isinstance(default, int) else "a number"
            raise ConfigError(f"{name} must be {kind}") from None
    if isinstance(default, list):
        return _parse_list(name, text)
    return raw


def _parse_list(name: str, text: str) -> list[str]:
    """A JSON list, or comma-separated items."""
    if not text.startswith("["):
        return [item.strip() for item in text.split(",") if item.strip()]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} is not a valid JSON list") from exc
    if not isinstance(value, list):
        raise ConfigError(f"{name} must be a list")
    return [str(item) for item in value]


def config_file_path(value: str | None, default: Path) -> Path:
    """The settings file to read: CONFIG_FILE's `value`, else (unset or empty) `default`,
    which may be missing (no file = the defaults). A file CONFIG_FILE names must exist: a
    mistyped path read as "no file" started the server on the defaults without a word."""
    if value == NO_CONFIG_FILE:
        return Path(value)
    path = Path(value).expanduser().resolve() if value else default.resolve()
    if value and not path.is_file():
        found = "not a file:" if path.exists() else "no file at"  # a folder, a pipe
        raise ConfigError(
            f"CONFIG_FILE: {found} {path} (unset CONFIG_FILE for config.json beside "
            f"config.py, or set it to {NO_CONFIG_FILE} for no file)"
        )
    return path


_WARNED: set[tuple[Any, ...]] = set()


def warn_once(log: logging.Logger, message: str, *args: Any) -> None:
    """Log a warning about the settings once per process: a start loads them several times
    (deploy.py's checks, the app it builds), and each load would say the same again."""
    if (message, *args) not in _WARNED:
        _WARNED.add((message, *args))
        log.warning(message, *args)


def read_json_object(path: Path) -> dict[str, Any]:
    """A config file's JSON object, every key included; {} when there is no file."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


def normalise_base_path(value: str) -> str:
    """BASE_PATH as the app mounts it: "" for the root, else "/sub" (no trailing slash)."""
    value = (value or "").strip().rstrip("/")
    if value and not value.startswith("/"):
        value = "/" + value
    return value


def whole_megabytes(name: str, value: Any, zero_means: str) -> int:
    """A size setting in whole MB, or ConfigError: config.json and overrides are not coerced,
    so a fraction, a boolean or a negative number reaches the code that uses the setting."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} must be a whole number of MB (0 = {zero_means})")
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(value: Any) -> str:
    """LOG_LEVEL in any case ("debug" as "DEBUG"); anything else stops the start in one line."""
    level = str(value).strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    return level


def compression_level(value: Any) -> int:
    """COMPRESSION_LEVEL: gzip's levels 1-9, or 0 for off."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 9:
        raise ConfigError("COMPRESSION_LEVEL must be a whole number from 0 (off) to 9")
    return value


def check_task_queue_url(url: str) -> str:
    """TASK_QUEUE_URL as given (empty = in each server process), or ConfigError; the message
    never repeats the URL, which may hold the Redis password."""
    if url and urlsplit(url).scheme not in QUEUE_SCHEMES:
        raise ConfigError("TASK_QUEUE_URL: use redis://host:6379/0, or leave it empty")
    return url


# The limits library's syntax ("3000 per minute", "10/second", several joined by ; , or |),
# checked here with the standard library: create_config.py has no `limits` to ask.
_ONE_LIMIT = re.compile(
    r"\s*([0-9]+)\s*(?:/|per)\s*([0-9]+)?\s*(?:second|minute|hour|day|month|year)s?\s*",
    re.IGNORECASE,
)
LIMIT_SETTINGS = ("RATELIMIT_DEFAULT", "AUTH_FAILURE_LIMIT")


def rate_limit_text(name: str, value: Any) -> str:
    """A rate-limit setting ("" = no limit), or ConfigError: a value the server cannot parse
    failed every API request with a 500; a count of 0 refused every one."""
    text = value if isinstance(value, str) else None
    items = re.split(r"[,;|]", text) if text and text.strip() else []
    for item in items:
        match = _ONE_LIMIT.fullmatch(item)
        if match is None or int(match[1]) == 0 or match[2] is not None and int(match[2]) == 0:
            raise ConfigError(f'{name} must be like "3000 per minute" (";" between several)')
    if text is None:
        raise ConfigError(f'{name} must be text like "3000 per minute"')
    return text
