"""Layered configuration: class defaults, then config.json, then environment, then overrides.

The file is config.json beside this module (none there = the defaults), or the one the
environment's CONFIG_FILE names, which must exist: a missing one stops the start in one line.
CONFIG_FILE=/dev/null (os.devnull) reads no file, as tests and tools do to leave this
machine's config.json out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from utils.dev_apart import keep_apart
from utils.settings_values import (
    ConfigError,
    coerce_value,
    config_file_path,
    normalise_base_path,
    read_json_object,
    warn_once,
)

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "config.json"
DEV_SECRET_KEY = "dev-secret-key-change-in-production"  # noqa: S105 - published; production refuses it
# Keys published in docs, tutorials and today's code: never acceptable in production.
PLACEHOLDER_SECRET_KEYS = frozenset(
    {
        DEV_SECRET_KEY,
        "your-secure-secret-key-here",
        "your-secure-production-secret-key-here",
        "your-secure-secret-key",
        "change-me",
        "changeme",
        "secret",
    }
)
MIN_SECRET_KEY_LENGTH = 32

log = logging.getLogger(__name__)


class BaseConfig:
    """Every setting with its default; the other classes change only what differs."""

    FLASK_ENV = "production"  # which class applies: development, testing or production
    # SQLAlchemy URL; relative sqlite paths resolve against the project folder.
    DATABASE_URL: str | None = None
    # The shared API key (also the wipe password). Required in production.
    SECRET_KEY: str | None = None
    PORT = 5000  # where run.py and deploy.py listen
    # Interface run.py and deploy.py bind to.
    HOST = "0.0.0.0"  # noqa: S104 - phones on the shop LAN must reach the laptop
    # Browser origins allowed to call the API.
    CORS_ORIGINS: list[str] = ["http://localhost:5000", "http://localhost:5173"]
    # Sub-path the whole app is served under, e.g. /pms ("" = root).
    BASE_PATH = ""
    LOG_LEVEL = "INFO"  # the app's and the access log's level
    # Write log lines as JSON objects (for log shippers).
    LOG_JSON = False
    # Also log to this file, rotated at 10 MB ("" = console only).
    LOG_FILE = ""
    # The built web UI served at the root (or BASE_PATH).
    FRONTEND_DIST = "dist"
    # Where uploaded files, models and previews live (with an object store: this host's cache).
    UPLOAD_FOLDER = "uploads"
    # Files: empty = in UPLOAD_FOLDER; a folder = there; s3://bucket/prefix = object store.
    FILE_STORE_URL = ""
    # The S3 server's URL for a non-AWS store (MinIO, Garage, Ceph); empty = AWS itself.
    S3_ENDPOINT_URL = ""
    # With an object store: cap on this host's cached copies, in MB (0 = no cap).
    FILE_CACHE_MAX_MB = 2048
    # Largest accepted request body (uploads included), in bytes.
    UPLOAD_MAX_BYTES = 200 * 1024 * 1024
    # File extensions accepted by the upload endpoint.
    ALLOWED_EXTENSIONS: list[str] = ["step", "stp", "pdf"]
    # Largest accepted preview PNG, in bytes.
    VIEW_MAX_BYTES = 5 * 1024 * 1024
    # Largest miscInfo object, in bytes of JSON.
    MISC_INFO_MAX_BYTES = 64 * 1024
    # Upper bound for ?limit= on list endpoints (no limit given still returns every part).
    PARTS_MAX_PAGE_SIZE = 1000
    # gzip level for JSON responses (1-9; 0 = never compress); 6 measured best, BENCHMARKS.md.
    COMPRESSION_LEVEL: int = 6
    # Smallest JSON body sent gzipped: below 1 KB, body and headers fit one packet anyway.
    COMPRESSION_MIN_BYTES: int = 1024
    # Seconds a client must wait between two /auth/check calls (0 = no wait).
    AUTH_CHECK_INTERVAL_SECONDS = 2.0
    # Wrong API keys allowed per client before 429 (limits syntax).
    AUTH_FAILURE_LIMIT = "30 per minute"
    # Default limit per client for every API route (limits syntax, ";" separates several).
    RATELIMIT_DEFAULT = "3000 per minute"
    # Limiter storage: memory:// (one process), sqlite:///file (one host), redis://host:6379.
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_KEY_PREFIX = "aerie"  # so several servers (or test runs) can share one Redis
    HOST_BODIES_FOLDER = ""  # one run's processes share the whole list here (gunicorn.conf.py)
    # Reverse proxies in front of the app whose X-Forwarded-For is trusted (0 = none).
    TRUSTED_PROXY_COUNT = 0
    # Load the sample parts into an empty database (development only).
    SAMPLE_DATA = False
    # Task queue: empty = in each server process; redis://host:6379/0 = shared, run `flask worker`.
    TASK_QUEUE_URL = ""
    CONVERSION_IN_BACKGROUND = True  # in threads of the server process (off in tests)
    CONVERSION_TIMEOUT_SECONDS = 300  # a STEP conversion running longer is stopped and failed
    # A file's own limit: this many seconds per started MB of STEP, within that (0 = that).
    CONVERSION_SECONDS_PER_MB = 30
    # Address-space cap for one conversion process, in MB (lowered to an inherited hard limit).
    CONVERSION_MEMORY_MB = 12 * 1024
    # Conversions at once on this host, over every process sharing UPLOAD_FOLDER (0 = CPUs - 1).
    CONVERSION_WORKERS = 0
    # Seconds without a heartbeat before a running conversion is taken over (at least 30).
    JOB_STALE_SECONDS = 60
    # Seconds GET /model waits for a pending conversion before answering 202.
    MODEL_WAIT_SECONDS = 10.0
    # GET /model requests per process allowed to wait at once; the rest get 202 at once.
    MODEL_WAITERS_MAX = 2
    # Store quantised and meshopt-compressed variants of each new GLB (GET /model, README).
    MODEL_OPTIMISE: bool = True
    # Largest variant position error per bounding-box diagonal (0.05%: half of what shows).
    MODEL_MAX_ERROR: float = 0.0005
    # Raw GLBs up to this many MB are optimised in the job's process, larger ones in a child
    # capped like a conversion (0 = every GLB in the child); BENCHMARKS.md "Smaller models".
    MODEL_OPTIMISE_IN_PROCESS_MAX_MB = 1
    # Onshape OAuth app (README "Onshape OAuth App Setup"); empty client id = OAuth off.
    ONSHAPE_CLIENT_ID = ""
    ONSHAPE_CLIENT_SECRET = ""
    ONSHAPE_REDIRECT_URI = ""
    # Onshape's OAuth server and API (a test server can stand in for either).
    ONSHAPE_OAUTH_BASE_URL = "https://oauth.onshape.com"
    ONSHAPE_API_BASE_URL = "https://cad.onshape.com"
    # Static Onshape API keys, used when no OAuth connection exists.
    ONSHAPE_ACCESS_KEY = ""
    ONSHAPE_SECRET_KEY = ""
    # What the OAuth app asks for (read documents; read the user's name for /status).
    ONSHAPE_OAUTH_SCOPE = "OAuth2Read OAuth2ReadPII"
    # Seconds: one Onshape HTTP call; between translation polls; a whole translation;
    # how long /drawing and /onshape/import wait for an export before answering 202.
    ONSHAPE_TIMEOUT_SECONDS = 30.0
    ONSHAPE_POLL_SECONDS = 2.0
    ONSHAPE_TRANSLATION_TIMEOUT_SECONDS = 300.0
    ONSHAPE_WAIT_SECONDS = 10.0


class DevelopmentConfig(BaseConfig):
    """A laptop: SQLite, sample data, a well-known key."""

    FLASK_ENV = "development"
    DATABASE_URL = "sqlite:///parts.db"
    SECRET_KEY = DEV_SECRET_KEY
    SAMPLE_DATA = True
    LOG_LEVEL = "DEBUG"


class TestingConfig(BaseConfig):
    """The test suite: in-memory SQLite unless the test picks a database."""

    FLASK_ENV = "testing"
    DATABASE_URL = "sqlite://"
    SECRET_KEY = "testing-secret-key-0123456789abcdef"  # noqa: S105 - the test suite's key
    LOG_LEVEL = "WARNING"
    MODEL_WAIT_SECONDS = 0.0
    CONVERSION_IN_BACKGROUND = False


class ProductionConfig(BaseConfig):
    """A shop server: every secret must come from config.json or the environment."""

    FLASK_ENV = "production"


CONFIG_CLASSES: dict[str, type[BaseConfig]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def setting_names() -> list[str]:
    """Every configurable key, in declaration order."""
    return [name for name in vars(BaseConfig) if name.isupper()] + [
        name for name in dir(BaseConfig) if name.isupper() and name not in vars(BaseConfig)
    ]


def unknown_keys(values: Mapping[str, Any]) -> list[str]:
    """Keys that name no setting, sorted."""
    return sorted(set(values) - set(setting_names()))


def read_config_file(path: Path) -> dict[str, Any]:
    """Read config.json; unknown keys are warned about and left out."""
    data = read_json_object(path)
    unknown = unknown_keys(data)
    for key in unknown:
        warn_once(log, "%s: unknown key %s ignored", path, key)
    return {key: value for key, value in data.items() if key not in unknown}


def validate_production(settings: Mapping[str, Any]) -> None:
    """Refuse settings a shop server must not run with; the message is one line."""
    key = settings.get("SECRET_KEY") or ""
    if not key:
        raise ConfigError("SECRET_KEY is not set: run create_config.py or set SECRET_KEY")
    if key in PLACEHOLDER_SECRET_KEYS or key.lower() in PLACEHOLDER_SECRET_KEYS:
        raise ConfigError("SECRET_KEY is a published placeholder: generate a real one")
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters")
    if not settings.get("DATABASE_URL"):
        raise ConfigError("DATABASE_URL is not set: production needs an explicit database")


def load_settings(
    config_name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> dict[str, Any]:
    """Resolve every setting: class defaults < config.json < environment < overrides.

    The testing class ignores config.json and the environment unless they are passed in,
    so a developer's machine never leaks into the suite.
    """
    overrides = dict(overrides or {})
    env_given = environ is not None
    environ = os.environ if environ is None else environ
    name = (config_name or overrides.get("FLASK_ENV") or environ.get("FLASK_ENV") or "").lower()
    isolated = name == "testing" and not env_given and config_file is None
    named = None if isolated else environ.get("CONFIG_FILE")  # isolated: not even looked at
    path = config_file or config_file_path(named, DEFAULT_CONFIG_FILE)
    file_values = {} if isolated else read_config_file(path)
    if not name:
        name = str(file_values.get("FLASK_ENV") or "development").lower()
    unfiltered = file_values
    file_values = values_for_environment(name, file_values, path)
    if name not in CONFIG_CLASSES:
        raise ConfigError(f"FLASK_ENV must be one of {', '.join(CONFIG_CLASSES)}, got {name!r}")
    settings = _layered(CONFIG_CLASSES[name], file_values, {} if isolated else environ, overrides)
    settings["FLASK_ENV"] = name
    chosen = {*overrides, *(key for key, value in environ.items() if value)}
    return keep_apart(_checked(settings), unfiltered, chosen, path)


def _layered(
    cls: type[BaseConfig],
    file_values: Mapping[str, Any],
    environ: Mapping[str, str],
    overrides: Mapping[str, Any],
) -> dict[str, Any]:
    """Each setting from the last layer giving it (empty env gives none), typed as its default."""
    settings: dict[str, Any] = {}
    for key in setting_names():
        value = default = getattr(cls, key)
        if key in file_values:
            value = coerce_value(key, file_values[key], default)
        if environ.get(key, "") != "":
            value = coerce_value(key, environ[key], default)
        settings[key] = overrides.get(key, value)
    settings.update({k: v for k, v in overrides.items() if k not in settings})
    return settings


def _checked(settings: dict[str, Any]) -> dict[str, Any]:
    """Normalised paths and URL, refused when production cannot run with them."""
    # Imported here: create_config.py imports this module on the system Python (no SQLAlchemy).
    from utils.database_url import check_database_url, resolve_database_url
    from utils.setting_checks import check_settings

    check_settings(settings, setting_names())  # what create_config.py refuses, refused here
    settings["BASE_PATH"] = normalise_base_path(settings["BASE_PATH"])
    if settings["FLASK_ENV"] == "production":
        validate_production(settings)
    if settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = resolve_database_url(settings["DATABASE_URL"], PROJECT_ROOT)
        check_database_url(settings["DATABASE_URL"])
    for key in ("UPLOAD_FOLDER", "FRONTEND_DIST", "FILE_STORE_URL"):
        folder = Path(settings[key])
        if key != "FILE_STORE_URL" or settings[key] and "://" not in settings[key]:
            settings[key] = str(folder if folder.is_absolute() else PROJECT_ROOT / folder)
    return settings


def values_for_environment(name: str, file_values: dict[str, Any], path: Path) -> dict[str, Any]:
    """A file written for one environment (its FLASK_ENV) says nothing to another: the
    production config.json must never turn `python run.py` into a production server on
    production's database and key. A file without FLASK_ENV applies to every environment."""
    written_for = str(file_values.get("FLASK_ENV") or name).lower()
    if written_for == name:
        return file_values
    warn_once(log, "%s is for %s: %s settings ignore it", path, written_for, name)
    return {}
