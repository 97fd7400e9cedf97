"""The end-of-run log audit finds a key in a log file and ignores other files."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.log_audit import handed_over_secrets, known_secrets, leaked_secrets, write_secrets

KEY = "log-audit-test-key-0123456789abcdef"


@pytest.fixture
def folder() -> Iterator[Path]:
    """Outside pytest's temporary folder, which the real audit reads at the end of the run."""
    with tempfile.TemporaryDirectory(prefix="log-audit-") as name:
        yield Path(name)


def test_audit_reports_a_key_in_a_log_file(folder):
    (folder / "server").mkdir()
    (folder / "server" / "server-8000.log").write_text(f"GET /?api_key={KEY} 200\n")
    (folder / "app.log.1").write_text(f"X-API-Key: {KEY} {KEY}\n")
    (folder / "config.json").write_text(f'{{"SECRET_KEY": "{KEY}"}}')  # not a log
    found = leaked_secrets(folder, [KEY])
    assert found == [
        f"{folder / 'app.log.1'}: 2 occurrence(s)",
        f"{folder / 'server' / 'server-8000.log'}: 1 occurrence(s)",
    ]


def test_audit_passes_redacted_logs(folder):
    (folder / "access.log").write_text("GET /?api_key=[redacted] 200\n")
    assert leaked_secrets(folder, [KEY]) == []


def test_known_secrets_include_this_modules_key_and_the_testing_key():
    secrets = known_secrets()
    assert KEY in secrets
    assert "testing-secret-key-0123456789abcdef" in secrets


def test_secrets_handed_over_by_workers_are_read_back(folder):
    worker = folder / "popen-gw1"
    worker.mkdir()
    write_secrets(worker, {KEY, "another-worker-only-key-0123456789"})
    assert handed_over_secrets(folder) == {KEY, "another-worker-only-key-0123456789"}
    assert leaked_secrets(folder, handed_over_secrets(folder)) == []  # the list is not a log


def test_a_key_leaked_in_a_pytest_xdist_worker_fails_the_run(folder):
    """The controller never imports the worker's test modules: their keys reach its audit
    only through the handed-over list."""
    probe = Path(__file__).with_name("xdist_leak_probe.py")
    command = [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", str(probe)]
    command += ["--basetemp", str(folder / "run"), "-q"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert "1 passed" in run.stdout, run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout + run.stderr
    assert "API keys found in log files" in run.stderr
    assert "server-probe.log: 1 occurrence(s)" in run.stderr
