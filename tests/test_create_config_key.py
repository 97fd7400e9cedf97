"""create_config.py shows a new key once to a person at a terminal, never to a log."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

CREATE_CONFIG = Path(__file__).resolve().parents[1] / "create_config.py"


def _command(output: Path) -> list[str]:
    return [sys.executable, str(CREATE_CONFIG), "--non-interactive", "--output", str(output)]


def test_key_goes_to_a_terminal_once(tmp_path):
    output = tmp_path / "config.json"
    leader, follower = pty.openpty()
    try:
        process = subprocess.run(
            _command(output), stdout=follower, stderr=subprocess.PIPE, timeout=60, check=True
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    key = json.loads(output.read_text())["SECRET_KEY"]
    assert shown.decode().count(key) == 1
    assert key.encode() not in process.stderr


def test_key_never_reaches_redirected_output(tmp_path):
    output = tmp_path / "config.json"
    result = subprocess.run(_command(output), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    key = json.loads(output.read_text())["SECRET_KEY"]
    assert key not in result.stdout + result.stderr
    command = result.stdout.strip().splitlines()[-1].removeprefix("Read it again with: ")
    again = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60)  # noqa: S602 - the printed command, as a person would paste it
    assert again.stdout.strip() == key
