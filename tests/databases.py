"""Which databases the suite runs on, and whether each one can be reached."""

from __future__ import annotations

import os
from dataclasses import dataclass

import sqlalchemy
from sqlalchemy.exc import SQLAlchemyError

DEFAULT_SERVER_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mariadb+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4",
}


@dataclass(frozen=True)
class TestDatabase:
    """One database backend the suite is parametrised over."""

    name: str
    url: str | None  # None: a fresh SQLite file per test

    __test__ = False  # not a test class, whatever its name says


def selected_databases() -> list[TestDatabase]:
    """TEST_DATABASES=sqlite,postgresql,mariadb (default: all three); URLs overridable."""
    names = os.environ.get("TEST_DATABASES", "sqlite,postgresql,mariadb").split(",")
    chosen = []
    for name in (n.strip() for n in names if n.strip()):
        if name == "sqlite":
            chosen.append(TestDatabase("sqlite", None))
        else:
            env_key = f"TEST_{name.upper()}_URL"
            chosen.append(TestDatabase(name, os.environ.get(env_key, DEFAULT_SERVER_URLS[name])))
    return chosen


def servers_required() -> bool:
    """In CI an unreachable database fails the run; on a laptop it is a visible skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"} or bool(
        os.environ.get("REQUIRE_ALL_DATABASES")
    )


def unreachable_reason(url: str) -> str | None:
    """None when the server answers, else a one-line reason."""
    engine = sqlalchemy.create_engine(url, connect_args=_fast_connect_args(url))
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    finally:
        engine.dispose()
    return None


def _fast_connect_args(url: str) -> dict[str, int]:
    if url.startswith("postgresql"):
        return {"connect_timeout": 3}
    if url.startswith(("mysql", "mariadb")):
        return {"connect_timeout": 3}
    return {}


def create_private_database(url: str, name: str) -> str:
    """A database of our own on the server, so parallel runs never empty each other's
    tables; falls back to the configured database when we may not create one."""
    base = sqlalchemy.make_url(url)
    engine = sqlalchemy.create_engine(
        base, isolation_level="AUTOCOMMIT", connect_args=_fast_connect_args(url)
    )
    charset = " CHARACTER SET utf8mb4" if base.get_backend_name() != "postgresql" else ""
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name}"))
            connection.execute(sqlalchemy.text(f"CREATE DATABASE {name}{charset}"))
    except SQLAlchemyError:
        return url
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_private_database(admin_url: str, name: str) -> None:
    """Remove a database made by create_private_database (best effort)."""
    base = sqlalchemy.make_url(admin_url)
    force = " WITH (FORCE)" if base.get_backend_name() == "postgresql" else ""
    engine = sqlalchemy.create_engine(
        base, isolation_level="AUTOCOMMIT", connect_args=_fast_connect_args(admin_url)
    )
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name}{force}"))
    except SQLAlchemyError:
        pass
    finally:
        engine.dispose()
