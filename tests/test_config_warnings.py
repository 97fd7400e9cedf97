"""What loading the settings warns about is said once per process, however often they load."""

from __future__ import annotations

import json
import logging

from config import load_settings, values_for_environment

# Production beside development: on the default uploads/ (development takes uploads-dev/).
PRODUCTION_FILE = {
    "FLASK_ENV": "production",
    "SECRET_KEY": "k" * 40,
    "DATABASE_URL": "sqlite:///data/parts.db",
    "UNKNOWN_SETTING": 1,
}


def warnings_said(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def test_a_production_file_is_reported_once_however_often_development_loads(tmp_path, caplog):
    """deploy.py dev loads the settings three times before it becomes run.py (its checks, the
    file's port, the app it builds), and said each warning every time."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(PRODUCTION_FILE))
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            load_settings("development", environ={}, config_file=config_file)
        values_for_environment("development", PRODUCTION_FILE, config_file)
    said = warnings_said(caplog)
    assert said.count(f"{config_file} is for production: development settings ignore it") == 1
    apart = "development uses uploads-dev instead"
    assert said.count(f"UPLOAD_FOLDER: production's {config_file} uses uploads too; {apart}") == 1
    assert said.count(f"{config_file}: unknown key UNKNOWN_SETTING ignored") == 1
    assert len(said) == 3, said


def test_another_file_is_reported_again(tmp_path, caplog):
    """Once per file: a second file (a test's, another CONFIG_FILE) still gets its warning."""
    files = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in files:
        path.write_text(json.dumps({"FLASK_ENV": "development"}))
    with caplog.at_level(logging.WARNING):
        for path in files:
            load_settings(
                "production",
                environ={"SECRET_KEY": "k" * 40, "DATABASE_URL": "sqlite://"},
                config_file=path,
            )
    said = warnings_said(caplog)
    assert said == [f"{path} is for development: production settings ignore it" for path in files]
