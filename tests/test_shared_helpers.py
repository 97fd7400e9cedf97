"""Helpers with one home: value coercion (app and create_config), pid_alive, atomic writes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import create_config
from config import ConfigError, coerce_value, load_settings
from utils.files_io import fsync_directory, write_atomic
from utils.processes import pid_alive

BOOLEAN_WORDS = [
    ("1", True),
    ("true", True),
    ("Yes", True),
    (" on ", True),
    ("0", False),
    ("FALSE", False),
    ("no", False),
    ("off", False),
]


@pytest.mark.parametrize(("text", "expected"), BOOLEAN_WORDS)
def test_booleans_read_alike_by_app_and_create_config(tmp_path, text, expected):
    settings = load_settings("development", environ={"LOG_JSON": text}, config_file=tmp_path / "n")
    assert settings["LOG_JSON"] is expected
    assert create_config.parse_value("LOG_JSON", text) is expected


@pytest.mark.parametrize("text", ["maybe", "ture", "2", "enabled"])
def test_unknown_boolean_word_is_refused_by_app_and_create_config(tmp_path, text):
    with pytest.raises(ConfigError, match="LOG_JSON must be true or false"):
        load_settings("development", environ={"LOG_JSON": text}, config_file=tmp_path / "n")
    with pytest.raises(ConfigError, match="LOG_JSON must be true or false"):
        create_config.parse_value("LOG_JSON", text)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("PORT", " 8080 ", 8080),
        ("MODEL_WAIT_SECONDS", "2", 2.0),
        (
            "CORS_ORIGINS",
            "https://a.example, https://b.example",
            ["https://a.example", "https://b.example"],
        ),
        ("CORS_ORIGINS", '["https://j.example"]', ["https://j.example"]),
    ],
)
def test_numbers_and_lists_read_alike_by_app_and_create_config(tmp_path, name, text, expected):
    settings = load_settings("development", environ={name: text}, config_file=tmp_path / "n")
    assert settings[name] == expected
    assert create_config.parse_value(name, text) == expected


def test_bad_number_message_does_not_repeat_the_value():
    with pytest.raises(ConfigError) as caught:
        coerce_value("PORT", "s3cret-typed-here", 5000)
    assert str(caught.value) == "PORT must be a whole number"


def test_json_values_from_config_file_pass_unchanged():
    assert coerce_value("LOG_JSON", True, False) is True
    assert coerce_value("CORS_ORIGINS", ["x"], []) == ["x"]


def test_pid_alive_for_a_running_process():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pid_alive(child.pid)
    finally:
        child.kill()
        child.wait()


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="zombies are seen through /proc")
def test_pid_alive_treats_an_unreaped_child_as_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while _state(child.pid) != "Z":  # exited, not waited for yet
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.01)
        assert not pid_alive(child.pid)
    finally:
        child.wait()
    assert not pid_alive(child.pid)


@pytest.mark.parametrize("pid", [0, -1])
def test_pid_alive_refuses_process_group_ids(pid):
    assert not pid_alive(pid)


def test_write_atomic_replaces_the_file_0600_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["out.bin"]


def test_write_atomic_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def refuse(_descriptor: int) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"new", refuse)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_fsync_directory_accepts_a_folder(tmp_path):
    fsync_directory(tmp_path)  # must not raise; durability itself cannot be observed here
    assert tmp_path.is_dir()
