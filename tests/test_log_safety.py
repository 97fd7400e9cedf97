"""Log safety: no key in any access line however it is encoded, and no forged lines."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import unquote_plus

import pytest

from app.logging import escape_for_log, redact_query

KEYED_ENDPOINT = "/api/parts/stats"
# One access line per record: the time, the level, the logger, then the request.
TEXT_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def _log_lines(logger: logging.Logger, log_file) -> list[str]:
    for handler in logger.handlers:
        handler.flush()
    return log_file.read_text(encoding="utf-8").splitlines()


# Every way Werkzeug still reads the parameter name as api_key, and a few it does not.
KEY_NAME_SPELLINGS = [
    "api_key",
    "api%5Fkey",
    "api%5fkey",
    "%61%70%69%5F%6B%65%79",
    "API_KEY",
    "Api%5FKey",
    "api_key+",
    "password",
    "pass%77ord",
]


@pytest.mark.parametrize("name", KEY_NAME_SPELLINGS)
def test_access_line_redacts_the_key_however_the_name_is_encoded(
    make_app, tmp_path, clean_aerie_logger, name
):
    log_file = tmp_path / "access.log"
    app = make_app(LOG_FILE=str(log_file), LOG_LEVEL="INFO")
    key = app.config["SECRET_KEY"]
    response = app.test_client().get(f"{KEYED_ENDPOINT}?limit=2&{name}={key}&{name}={key}x")
    if unquote_plus(name) == "api_key":
        assert response.status_code == 200  # Werkzeug reads this spelling as the key
    lines = [line for line in _log_lines(clean_aerie_logger, log_file) if "aerie.access" in line]
    assert len(lines) == 1
    assert key not in lines[0]
    assert f"?limit=2&{name}=[redacted]&{name}=[redacted] " in lines[0]


def test_decoded_key_name_authenticates_and_is_never_logged(make_app, caplog):
    app = make_app()
    key = app.config["SECRET_KEY"]
    with caplog.at_level(logging.INFO, logger="aerie"):
        response = app.test_client().get(f"{KEYED_ENDPOINT}?api%5Fkey={key}")
    assert response.status_code == 200
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "api%5Fkey=[redacted]" in text
    assert key not in text


@pytest.mark.parametrize(
    "where", ["/api/parts/{key}", "/{key}/api/parts/", "/api/parts/?search={key}&limit=1"]
)
def test_key_anywhere_else_in_the_address_is_never_logged(make_app, caplog, where):
    app = make_app()
    key = app.config["SECRET_KEY"]
    with caplog.at_level(logging.INFO, logger="aerie"):
        app.test_client().get(where.format(key=key), headers={"X-API-Key": key})
    lines = [r.getMessage() for r in caplog.records if r.name == "aerie.access"]
    assert len(lines) == 1
    assert key not in lines[0]
    assert where.format(key="[redacted]") in lines[0]


def test_key_in_headers_and_request_id_never_reaches_the_log(make_app, caplog):
    app = make_app()
    key = app.config["SECRET_KEY"]
    with caplog.at_level(logging.DEBUG, logger="aerie"):
        response = app.test_client().get(
            KEYED_ENDPOINT, headers={"X-API-Key": key, "X-Request-ID": key}
        )
    assert response.status_code == 200
    # A client that sends its key as the request id gets a fresh id, not its key back.
    assert response.headers["X-Request-ID"] != key
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert key not in text
    assert f"id={response.headers['X-Request-ID']}" in text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("api%5Fkey=abc", "api%5Fkey=[redacted]"),
        ("a=1&API%5fKEY=abc&api_key=def&b=2", "a=1&API%5fKEY=[redacted]&api_key=[redacted]&b=2"),
        ("pass%77ord=x&password=y", "pass%77ord=[redacted]&password=[redacted]"),
        ("api+key=abc", "api+key=abc"),
        ("api_key", "api_key"),
        ("q=api_key%3Dabc", "q=api_key%3Dabc"),
    ],
)
def test_redact_query_by_decoded_name(query, expected):
    assert redact_query(query) == expected


FORGED = "/x%0a2026-12-01 10:00:00,000 INFO aerie.access: 10.0.0.9 POST /api/parts/wipe 200"


@pytest.mark.parametrize(
    ("path", "visible"),
    [
        (FORGED, "/x\\x0a2026-12-01"),
        ("/x%0d%0aINFO fake", "/x\\x0d\\x0aINFO fake"),
        ("/x%00y", "/x\\x00y"),
        ("/x%1b[31mred", "/x\\x1b[31mred"),
        ("/x%e2%80%a8y", "/x\\u2028y"),
        ("/x%e2%80%a9y", "/x\\u2029y"),
        ("/x%c2%85y", "/x\\x85y"),
    ],
    ids=["lf", "crlf", "nul", "ansi", "u2028", "u2029", "nel"],
)
def test_forged_path_gives_exactly_one_access_line_with_visible_escapes(
    make_app, tmp_path, clean_aerie_logger, path, visible
):
    log_file = tmp_path / "forged.log"
    app = make_app(LOG_FILE=str(log_file), LOG_LEVEL="INFO")
    response = app.test_client().get(path)
    lines = _log_lines(clean_aerie_logger, log_file)
    assert len(lines) == 1, lines
    assert TEXT_RECORD_START.match(lines[0]) and "aerie.access" in lines[0]
    assert visible in lines[0] and f" {response.status_code} " in lines[0]


def test_forged_method_is_escaped(make_app, tmp_path, clean_aerie_logger):
    log_file = tmp_path / "method.log"
    app = make_app(LOG_FILE=str(log_file), LOG_LEVEL="INFO")
    app.test_client().open("/health", method="GET\nPOST")
    lines = _log_lines(clean_aerie_logger, log_file)
    assert len(lines) == 1 and "GET\\x0aPOST /health" in lines[0]


def test_text_formatter_keeps_every_message_on_one_line(make_app, tmp_path, clean_aerie_logger):
    log_file = tmp_path / "app.log"
    make_app(LOG_FILE=str(log_file), LOG_LEVEL="INFO")
    logger = logging.getLogger("aerie.test")
    logger.warning("part %s\r\nERROR fake\u2028line", "a\nb")
    try:
        raise ValueError("bad\n2026-12-01 10:00:00,000 INFO aerie.access: forged")
    except ValueError:
        logger.exception("failed\nhere")
    lines = _log_lines(clean_aerie_logger, log_file)
    records = [line for line in lines if TEXT_RECORD_START.match(line)]
    assert len(records) == 2
    assert "part a\\x0ab\\x0d\\x0aERROR fake\\u2028line" in records[0]
    assert records[1].endswith("failed\\x0ahere")
    # Traceback lines follow the record, indented: none can pass for a record of its own.
    traceback_lines = lines[lines.index(records[1]) + 1 :]
    assert traceback_lines and all(line.startswith("  ") for line in traceback_lines)
    assert any("forged" in line for line in traceback_lines)


def test_json_lines_stay_one_line_with_forged_path_and_exception(
    make_app, tmp_path, clean_aerie_logger
):
    log_file = tmp_path / "app.jsonl.log"
    app = make_app(LOG_FILE=str(log_file), LOG_LEVEL="INFO", LOG_JSON=True)
    app.test_client().get(FORGED)
    try:
        raise ValueError("bad\u2028\nforged")
    except ValueError:
        logging.getLogger("aerie.test").exception("failed")
    raw = log_file.read_bytes()
    assert b"\xe2\x80\xa8" not in raw and b"\x85" not in raw
    entries = [json.loads(line) for line in raw.decode("ascii").splitlines()]
    assert len(entries) == 2
    assert "/x\\x0a2026-12-01" in entries[0]["message"]
    assert entries[1]["exception"].endswith("ValueError: bad\u2028\nforged")


def test_escape_for_log_leaves_ordinary_text_alone():
    text = "GET /api/parts/ünïcode-✓ 200 id=a.b-c"
    assert escape_for_log(text) == text
    assert escape_for_log("a\tb\x7fc\u202ed") == "a\\x09b\\x7fc\\u202ed"
