"""Configuration: precedence, types, unknown keys and the production refusals."""

import json
import logging

import pytest

from app import create_app
from app.startup import prepare
from config import DEV_SECRET_KEY, PROJECT_ROOT, ConfigError, load_settings

STRONG_KEY = "k" * 40


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_class_defaults_apply_without_file_or_env(tmp_path):
    settings = load_settings("development", environ={}, config_file=tmp_path / "none.json")
    assert settings["PORT"] == 5000
    assert settings["SECRET_KEY"] == DEV_SECRET_KEY
    assert settings["DATABASE_URL"].startswith("sqlite:////")


def test_config_file_beats_defaults_and_env_beats_file(tmp_path):
    config_file = _write(
        tmp_path / "config.json",
        {"PORT": 6060, "BASE_PATH": "/pms", "CORS_ORIGINS": ["https://a.example"]},
    )
    from_file = load_settings("development", environ={}, config_file=config_file)
    assert from_file["PORT"] == 6060 and from_file["BASE_PATH"] == "/pms"
    env = {"PORT": "7070", "CORS_ORIGINS": "https://b.example, https://c.example"}
    from_env = load_settings("development", environ=env, config_file=config_file)
    assert from_env["PORT"] == 7070
    assert from_env["CORS_ORIGINS"] == ["https://b.example", "https://c.example"]
    assert from_env["BASE_PATH"] == "/pms"


def test_overrides_beat_environment(tmp_path):
    settings = load_settings(
        "development", {"PORT": 9}, environ={"PORT": "8"}, config_file=tmp_path / "x.json"
    )
    assert settings["PORT"] == 9


@pytest.mark.parametrize(
    "key", ["FLASK_ENV", "DATABASE_URL", "SECRET_KEY", "PORT", "CORS_ORIGINS", "BASE_PATH"]
)
def test_every_seed_key_is_read_from_config_file(tmp_path, key):
    values = {
        "FLASK_ENV": "production",
        "DATABASE_URL": "sqlite:////tmp/p.db",
        "SECRET_KEY": STRONG_KEY,
        "PORT": 8123,
        "CORS_ORIGINS": ["https://x.example"],
        "BASE_PATH": "/sub",
    }
    config_file = _write(tmp_path / "config.json", values)
    settings = load_settings(None, environ={}, config_file=config_file)
    assert settings[key] == values[key]


def test_flask_env_from_environment_selects_class(tmp_path):
    settings = load_settings(None, environ={"FLASK_ENV": "testing"}, config_file=tmp_path / "n")
    assert settings["FLASK_ENV"] == "testing"


def test_json_list_in_environment(tmp_path):
    settings = load_settings(
        "development", environ={"CORS_ORIGINS": '["https://j.example"]'}, config_file=tmp_path / "n"
    )
    assert settings["CORS_ORIGINS"] == ["https://j.example"]


def test_bad_number_in_environment_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="PORT"):
        load_settings("development", environ={"PORT": "eighty"}, config_file=tmp_path / "n")


def test_unknown_config_file_key_is_warned_and_ignored(tmp_path, caplog):
    config_file = _write(tmp_path / "config.json", {"SECRET_KYE": "typo"})
    with caplog.at_level(logging.WARNING):
        settings = load_settings("development", environ={}, config_file=config_file)
    assert "SECRET_KYE" not in settings
    assert any("SECRET_KYE" in r.getMessage() for r in caplog.records)


# Settings added for the scale-out (issue 14), each with a value unlike its default.
SCALE_OUT_VALUES = {"JOB_STALE_SECONDS": 45, "FILE_CACHE_MAX_MB": 512}


@pytest.mark.parametrize(("key", "value"), SCALE_OUT_VALUES.items())
def test_scale_out_setting_in_config_file_is_read_without_a_warning(tmp_path, caplog, key, value):
    config_file = _write(tmp_path / "config.json", {key: value})
    with caplog.at_level(logging.WARNING):
        settings = load_settings("development", environ={}, config_file=config_file)
    assert settings[key] == value
    assert not [r.getMessage() for r in caplog.records if key in r.getMessage()]


def test_testing_ignores_machine_environment(monkeypatch):
    monkeypatch.setenv("PORT", "1234")
    assert load_settings("testing")["PORT"] == 5000


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"DATABASE_URL": "sqlite:////tmp/p.db"}, "SECRET_KEY is not set"),
        ({"DATABASE_URL": "sqlite:////tmp/p.db", "SECRET_KEY": "short"}, "shorter than 32"),
        ({"DATABASE_URL": "sqlite:////tmp/p.db", "SECRET_KEY": DEV_SECRET_KEY}, "placeholder"),
        (  # the published placeholder in capitals is as public
            {"DATABASE_URL": "sqlite:////tmp/p.db", "SECRET_KEY": DEV_SECRET_KEY.upper()},
            "placeholder",
        ),
        ({"SECRET_KEY": STRONG_KEY}, "DATABASE_URL is not set"),
    ],
)
def test_production_refuses_unsafe_settings(tmp_path, env, reason):
    with pytest.raises(ConfigError, match=reason) as caught:
        load_settings("production", environ=env, config_file=tmp_path / "none.json")
    assert "\n" not in str(caught.value)
    assert STRONG_KEY not in str(caught.value)


def test_production_starts_with_strong_key_and_database(tmp_path):
    env = {"SECRET_KEY": STRONG_KEY, "DATABASE_URL": f"sqlite:///{tmp_path}/prod.db"}
    settings = load_settings("production", environ=env, config_file=tmp_path / "none.json")
    assert settings["FLASK_ENV"] == "production"
    assert settings["SAMPLE_DATA"] is False


@pytest.mark.parametrize(
    ("given", "expected_prefix"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://"),
        ("postgresql://u@h/db", "postgresql+psycopg://"),
        ("mysql://u@h/db", "mysql+pymysql://"),
        ("mariadb://u@h/db", "mariadb+pymysql://"),
    ],
)
def test_database_url_schemes_pick_our_drivers(tmp_path, given, expected_prefix):
    settings = load_settings(
        "development", environ={"DATABASE_URL": given}, config_file=tmp_path / "n"
    )
    assert settings["DATABASE_URL"].startswith(expected_prefix)


def prepared(application):
    prepare(application)
    return application


def test_sample_data_only_in_development(tmp_path):
    dev = prepared(create_app("development", {"DATABASE_URL": f"sqlite:///{tmp_path}/dev.db"}))
    test = prepared(
        create_app(
            "testing", {"DATABASE_URL": f"sqlite:///{tmp_path}/test.db", "SAMPLE_DATA": True}
        )
    )
    headers_dev = {"X-API-Key": dev.config["SECRET_KEY"]}
    parts = dev.test_client().get("/api/parts/", headers=headers_dev).get_json()["parts"]
    assert {p["category"] for p in parts} == {"review", "cnc", "hand", "misc", "completed"}
    assert any(p["assigned"] and p["category"] == "hand" for p in parts)
    headers_test = {"X-API-Key": test.config["SECRET_KEY"]}
    assert test.test_client().get("/api/parts/", headers=headers_test).get_json()["total"] == 0
    # A second start does not add the samples again.
    again = prepared(create_app("development", {"DATABASE_URL": f"sqlite:///{tmp_path}/dev.db"}))
    total = again.test_client().get("/api/parts/", headers=headers_dev).get_json()["total"]
    assert total == len(parts)


PRODUCTION_FILE = {"FLASK_ENV": "production", "SECRET_KEY": STRONG_KEY}


@pytest.mark.parametrize(
    ("production", "environ", "database", "uploads"),
    [
        # Production on data/parts.db with the default uploads/: development keeps its
        # database and takes its own folder.
        ({"DATABASE_URL": "sqlite:///data/parts.db"}, {}, "parts.db", "uploads-dev"),
        # Production pointed at development's very database and folder: both move.
        ({"DATABASE_URL": "sqlite:///parts.db", "UPLOAD_FOLDER": "uploads"}, {},
         "parts-dev.db", "uploads-dev"),
        # Production elsewhere: development as it always was.
        ({"DATABASE_URL": "postgresql://db/parts", "UPLOAD_FOLDER": "/srv/aerie/uploads"}, {},
         "parts.db", "uploads"),
        # Set on purpose in the environment: kept, even beside production.
        ({"DATABASE_URL": "sqlite:///parts.db"}, {"UPLOAD_FOLDER": "uploads"},
         "parts-dev.db", "uploads"),
    ],
)  # fmt: skip
def test_development_beside_a_production_config_never_shares_its_database_or_files(
    tmp_path, production, environ, database, uploads
):
    config_file = _write(tmp_path / "config.json", {**PRODUCTION_FILE, **production})
    settings = load_settings("development", environ=environ, config_file=config_file)
    assert settings["DATABASE_URL"] == f"sqlite:///{PROJECT_ROOT / database}"
    assert settings["UPLOAD_FOLDER"] == str(PROJECT_ROOT / uploads)


def test_production_itself_and_a_development_file_keep_their_folders(tmp_path):
    production = _write(
        tmp_path / "prod.json", {**PRODUCTION_FILE, "DATABASE_URL": "sqlite:///parts.db"}
    )
    settings = load_settings("production", environ={}, config_file=production)
    assert settings["UPLOAD_FOLDER"] == str(PROJECT_ROOT / "uploads")
    development = _write(tmp_path / "dev.json", {"FLASK_ENV": "development", "PORT": 5001})
    settings = load_settings("development", environ={}, config_file=development)
    assert settings["UPLOAD_FOLDER"] == str(PROJECT_ROOT / "uploads")


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("RATELIMIT_DEFAULT", "lots", "RATELIMIT_DEFAULT must be like"),
        ("AUTH_FAILURE_LIMIT", "bad", "AUTH_FAILURE_LIMIT must be like"),
        ("AUTH_FAILURE_LIMIT", "0 per minute", "AUTH_FAILURE_LIMIT must be like"),
        ("RATELIMIT_DEFAULT", "3000 per minute; ten per second", "RATELIMIT_DEFAULT must be"),
        ("PARTS_MAX_PAGE_SIZE", "0", "PARTS_MAX_PAGE_SIZE must be at least 1"),
        ("AUTH_CHECK_INTERVAL_SECONDS", "-1", "AUTH_CHECK_INTERVAL_SECONDS must not be negative"),
        ("CONVERSION_WORKERS", "-2", "CONVERSION_WORKERS must not be negative"),
        ("COMPRESSION_MIN_BYTES", "-5", "COMPRESSION_MIN_BYTES must not be negative"),
        ("TRUSTED_PROXY_COUNT", "-1", "TRUSTED_PROXY_COUNT must not be negative"),
    ],
)
def test_the_server_refuses_what_create_config_refuses(tmp_path, key, value, reason):
    """A value from the environment is checked as create_config.py checks it: a rate limit
    the limits library cannot parse started the server and failed every API request (500)."""
    for environment in ("development", "production"):
        env = {key: value, "SECRET_KEY": "k" * 40, "DATABASE_URL": "sqlite:///x.db"}
        with pytest.raises(ConfigError, match=reason):
            load_settings(environment, environ=env, config_file=tmp_path / "none.json")


@pytest.mark.parametrize(
    "text", ["", "3000 per minute", "10/second; 3000 per minute", "5 per 2 hours", "1 PER DAY"]
)
def test_rate_limit_settings_in_the_limits_syntax_are_taken(tmp_path, text):
    from utils.rate_limits import parsed_limits

    given = {"RATELIMIT_DEFAULT": text, "AUTH_FAILURE_LIMIT": text}  # "" = no limit
    settings = load_settings("development", given, environ={}, config_file=tmp_path / "n.json")
    assert settings["RATELIMIT_DEFAULT"] == text
    assert len(parsed_limits(text)) == len([part for part in text.split(";") if part.strip()])
