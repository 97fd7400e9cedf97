"""DATABASE_URL: bare schemes get our drivers, relative SQLite paths the project folder."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from config import PROJECT_ROOT, ConfigError, load_settings


def _resolved(tmp_path, url: str) -> str:
    settings = load_settings(
        "development", environ={"DATABASE_URL": url}, config_file=tmp_path / "n"
    )
    return settings["DATABASE_URL"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p%40ss@h:5433/db", "postgresql+psycopg://u:p%40ss@h:5433/db"),
        ("postgresql://u@h/db?sslmode=require", "postgresql+psycopg://u@h/db?sslmode=require"),
        ("mysql://u:pw@h/db?charset=utf8mb4", "mysql+pymysql://u:pw@h/db?charset=utf8mb4"),
        ("mariadb://u@h/db", "mariadb+pymysql://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("sqlite:////var/lib/aerie/parts.db", "sqlite:////var/lib/aerie/parts.db"),
        ("sqlite:///data/parts.db", f"sqlite:///{PROJECT_ROOT / 'data' / 'parts.db'}"),
    ],
)
def test_database_url_is_resolved(tmp_path, given, expected):
    assert _resolved(tmp_path, given) == expected


def test_password_is_kept_exactly(tmp_path):
    url = _resolved(tmp_path, "postgres://aerie:s%2Fe%3Acr%40et@db.example/parts")
    assert make_url(url).password == "s/e:cr@et"


@pytest.mark.parametrize("given", ["not a url", "oracle://u@h/db"])
def test_unusable_url_is_a_config_error(tmp_path, given):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        _resolved(tmp_path, given)
