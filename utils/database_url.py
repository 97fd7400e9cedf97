"""DATABASE_URL as the app uses it: our drivers for bare scheme names, relative SQLite paths
anchored to the project folder, and a one-line error for a URL we cannot use."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from utils.settings_values import ConfigError

# Bare scheme names in DATABASE_URL get the drivers we ship.
OUR_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}


def resolve_database_url(url: str, project_root: Path) -> str:
    """Pick our drivers for bare scheme names and anchor relative SQLite paths."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # check_database_url says what is wrong with it
    if parsed.drivername in OUR_DRIVERS:
        parsed = parsed.set(drivername=OUR_DRIVERS[parsed.drivername])
    elif parsed.drivername == "sqlite" and _relative_sqlite_file(parsed.database):
        parsed = parsed.set(database=str((project_root / str(parsed.database)).resolve()))
    else:
        return url
    return parsed.render_as_string(hide_password=False)


def _relative_sqlite_file(database: str | None) -> bool:
    return bool(database) and not str(database).startswith(("/", ":memory:"))


def check_database_url(url: str) -> None:
    """A URL SQLAlchemy can use, with a driver we ship; the message names the setting."""
    try:
        make_url(url).get_dialect().import_dbapi()
    except NoSuchModuleError:  # a subclass of ArgumentError: first
        scheme = url.partition(":")[0]
        raise ConfigError(
            f"DATABASE_URL: unknown database type {scheme!r} (use sqlite, postgresql or mariadb)"
        ) from None
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a database URL (e.g. sqlite:///parts.db)") from None
    except ImportError as exc:
        raise ConfigError(f"DATABASE_URL: the driver is not installed ({exc.name})") from None
