"""create_config.py and the scale-out settings: FILE_STORE_URL, S3_ENDPOINT_URL and
TASK_QUEUE_URL asked for (or given as flags), checked by the server's own code, and a file the
server then reads as written. Run for real, in a subprocess (tests/test_create_config.py)."""

from __future__ import annotations

import json
import logging

import pytest

from config import load_settings
from tests.test_create_config import PROMPT_ORDER, assert_not_printed, read_json, run_script

STRONG_KEY = "store-key-" + "k" * 40
STORE_FLAGS = (
    "--file-store-url=s3://aerie-parts/team",
    "--s3-endpoint-url=http://127.0.0.1:9000",
    "--task-queue-url=redis://127.0.0.1:6379/0?queue=aerie",
)


def answers(**given: str) -> str:
    """stdin for the prompts in order: the given answers, Enter for the rest asked about."""
    asked = [key for key in PROMPT_ORDER if key != "S3_ENDPOINT_URL" or "S3_ENDPOINT_URL" in given]
    return "".join(f"{given.get(key, '')}\n" for key in asked)


@pytest.mark.parametrize(
    "flags",
    [
        STORE_FLAGS,
        (
            "--set=FILE_STORE_URL=s3://aerie-parts/team",
            "--set=S3_ENDPOINT_URL=http://127.0.0.1:9000",
            "--set=TASK_QUEUE_URL=redis://127.0.0.1:6379/0?queue=aerie",
        ),
    ],
    ids=["named flags", "--set"],
)
def test_store_and_queue_flags_write_a_file_the_server_reads(tmp_path, caplog, flags):
    target = tmp_path / "config.json"
    result = run_script(tmp_path, "--non-interactive", f"--output={target}", *flags)
    assert result.returncode == 0, result.stderr
    written = read_json(target)
    assert written["FILE_STORE_URL"] == "s3://aerie-parts/team"
    assert written["S3_ENDPOINT_URL"] == "http://127.0.0.1:9000"
    assert written["TASK_QUEUE_URL"] == "redis://127.0.0.1:6379/0?queue=aerie"
    with caplog.at_level(logging.WARNING):
        settings = load_settings(None, environ={}, config_file=target)
    assert settings["FILE_STORE_URL"] == "s3://aerie-parts/team"
    assert settings["TASK_QUEUE_URL"] == "redis://127.0.0.1:6379/0?queue=aerie"
    assert not caplog.records, [record.getMessage() for record in caplog.records]


@pytest.mark.parametrize(
    ("flag", "message", "secret"),
    [
        ("--file-store-url=s3://Bad_Bucket/x", "the bucket name is 3-63", None),
        ("--file-store-url=s3://AKIAX:wJalrXUtn@bucket/x", "the bucket name", "wJalrXUtn"),
        ("--set=FILE_STORE_URL=gs://bucket/x", "FILE_STORE_URL: use s3://bucket/prefix", None),
        ("--file-store-url=s3://bucket/../x", "the prefix may hold", None),
        ("--s3-endpoint-url=minio:9000", "S3_ENDPOINT_URL: use http(s)://host:port", None),
        ("--s3-endpoint-url=http://ak:sk-hunter2@minio:9000", "AWS_ACCESS_KEY_ID", "sk-hunter2"),
        ("--task-queue-url=amqp://guest:q-hunter2@mq/", "TASK_QUEUE_URL: use redis://", "hunter2"),
    ],
)
def test_bad_store_and_queue_urls_are_refused_without_echoing_them(tmp_path, flag, message, secret):
    target = tmp_path / "config.json"
    result = run_script(tmp_path, "--non-interactive", f"--output={target}", flag)
    assert result.returncode == 2
    assert message in result.stderr
    assert not target.exists()
    if secret:
        assert_not_printed(result, secret)


def test_s3_store_is_asked_for_with_its_endpoint_and_a_bad_url_asked_again(tmp_path):
    target = tmp_path / "config.json"
    stdin = answers(
        FILE_STORE_URL="s3://Not A Bucket\ns3://aerie-parts/team",
        S3_ENDPOINT_URL="http://minio:9000",
        TASK_QUEUE_URL="redis://redis:6379/0",
    )
    result = run_script(tmp_path, "--output", str(target), stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert "FILE_STORE_URL: use s3://bucket/prefix" in result.stderr
    # The question says where the bucket's keys go: never into this file.
    assert "AWS_* keys: in the environment only" in result.stdout
    values = read_json(target)
    assert values["FILE_STORE_URL"] == "s3://aerie-parts/team"
    assert values["S3_ENDPOINT_URL"] == "http://minio:9000"
    assert values["TASK_QUEUE_URL"] == "redis://redis:6379/0"
    assert not any(key.startswith("AWS_") for key in values)


def test_local_store_is_not_asked_for_an_s3_endpoint(tmp_path):
    target = tmp_path / "config.json"
    stdin = answers(FILE_STORE_URL="/srv/aerie/files", TASK_QUEUE_URL="redis://redis:6379/0")
    result = run_script(tmp_path, "--output", str(target), stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert "S3_ENDPOINT_URL [" not in result.stdout
    values = read_json(target)
    assert values["FILE_STORE_URL"] == "/srv/aerie/files"
    assert values["S3_ENDPOINT_URL"] == ""
    # The answers stayed in step: the queue answer landed on the queue question.
    assert values["TASK_QUEUE_URL"] == "redis://redis:6379/0"


def test_queue_password_in_a_prompt_default_is_masked(tmp_path):
    target = tmp_path / "config.json"
    queue = "redis://:q-hunter2-pass@redis:6379/0"
    target.write_text(json.dumps({"SECRET_KEY": STRONG_KEY, "TASK_QUEUE_URL": queue}))
    result = run_script(tmp_path, "--output", str(target), stdin="")
    assert result.returncode == 0, result.stderr
    assert "TASK_QUEUE_URL [redis://:***@redis:6379/0]" in result.stdout
    assert_not_printed(result, "q-hunter2-pass")
    assert read_json(target)["TASK_QUEUE_URL"] == queue
