#!/usr/bin/env python3
"""CI stage: schemathesis against a real production server, checked by its own OpenAPI document.

Starts `deploy.py prod` (waitress) on a free 127.0.0.1 port with every file in a temporary
folder, seeds a few parts (one with a PDF) so the part routes have data, then runs
`schemathesis run /api/openapi.json --checks all` over every operation with the API key
header. Any failure, or fewer than MIN_CASES generated requests, fails the stage. The server
is stopped by its process id. Usage: `.venv/bin/python .ci/api_fuzz.py` (from anywhere).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
SCHEMATHESIS = PYTHON.parent / "schemathesis"
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
KEY = "fuzz-" + "0123456789abcdef" * 3  # a throwaway server's key: long enough for production
MAX_EXAMPLES = 110  # fuzzing cases per operation: 24 operations, over 2,000 in all
MIN_CASES = 2000
START_SECONDS = 90
SEED = int(os.environ.get("FUZZ_SEED", "20261206"))
# A tiny valid PDF: uploads check the content, not only the extension.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def say(message: str) -> None:
    print(f"api-fuzz: {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(method: str, url: str, body: bytes | None = None, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 - our own http://127.0.0.1 URLs
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def server_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "RATELIMIT_"))}
    env.update(
        CONFIG_FILE=os.devnull,  # no settings file, not this machine's config.json
        DATABASE_URL=f"sqlite:///{folder / 'fuzz.db'}",
        UPLOAD_FOLDER=str(folder / "uploads"),
        SECRET_KEY=KEY,
        # Limits would answer 429 to a fuzzer's thousands of requests; they are documented,
        # but a run that only sees 429s tests nothing else.
        RATELIMIT_DEFAULT="1000000 per minute",
        AUTH_FAILURE_LIMIT="1000000 per minute",
        AUTH_CHECK_INTERVAL_SECONDS="0",
        MODEL_WAIT_SECONDS="0",
        LOG_LEVEL="WARNING",
        LOG_FILE="",
    )
    return env


def start_server(folder: Path, port: int) -> subprocess.Popen[bytes]:
    log = (folder / "server.log").open("wb")
    command = [str(PYTHON), str(PROJECT / "deploy.py"), "prod", "--host", "127.0.0.1"]
    return subprocess.Popen(  # noqa: S603 - our own interpreter and project files
        [*command, "--port", str(port)],
        cwd=folder,
        env=server_env(folder),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before /health was 200")
        if http("GET", f"{base}/health")[0] == 200:
            return
        time.sleep(0.3)
    raise RuntimeError(f"/health was not 200 within {START_SECONDS} s")


def seed(base: str) -> None:
    """A few parts in different states, one with a PDF, so part routes find real data."""
    auth = {"X-API-Key": KEY, "Content-Type": "application/json"}
    ids = []
    for n, kind in enumerate(("cnc", "hand", "misc", "hand")):
        body = {"name": f"Fuzz {n}", "material": "Aluminium", "subsystem": "Drive", "type": kind}
        status, answer = http("POST", f"{base}/api/parts/", json.dumps(body).encode(), **auth)
        if status != 201:
            raise RuntimeError(f"seeding a part answered {status}: {answer[:200]!r}")
        ids.append(json.loads(answer)["id"])
    boundary = uuid.uuid4().hex
    upload = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.pdf"\r\n'
            f"Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + PDF
        + f"\r\n--{boundary}--\r\n".encode()
    )
    content_type = f"multipart/form-data; boundary={boundary}"
    status, answer = http(
        "POST", f"{base}/api/parts/{ids[1]}/upload", upload, **{"X-API-Key": KEY,
        "Content-Type": content_type}
    )  # fmt: skip
    if status != 201:
        raise RuntimeError(f"seeding an upload answered {status}: {answer[:200]!r}")
    say(f"seeded parts {ids} (part {ids[1]} has a PDF)")


def run_schemathesis(base: str, folder: Path) -> tuple[int, str]:
    command = [
        str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{base}/api/openapi.json",
        "--checks", "all",
        "--header", f"X-API-Key: {KEY}",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        # One worker: CPython 3.11 can trip over concurrent AST work inside hypothesis.
        "--workers", "1",
        "--request-timeout", "30",
        "--suppress-health-check", "all",
        "--no-color",
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": ""}
    result = subprocess.run(  # noqa: S603 - the venv's schemathesis, fixed arguments
        command, cwd=folder, env=env, capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    print(output, flush=True)
    return result.returncode, output


def case_counts(output: str) -> tuple[int, int, int]:
    """(generated, passed, failed) from schemathesis' "Test cases:" summary."""
    found = re.search(r"Test cases:\s*([^\n]+)", output)
    text = found.group(1) if found else ""

    def number(pattern: str) -> int:
        match = re.search(pattern, text)
        return int(match.group(1)) if match else 0

    generated = number(r"(\d+) generated")
    failing_cases = number(r"(\d+) found")
    unique_failures = number(r"(\d+) unique failures?")
    skipped = number(r"(\d+) skipped")
    return generated, generated - failing_cases - skipped, unique_failures


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> int:
    if not SCHEMATHESIS.exists():
        say(f"{SCHEMATHESIS} is missing: pip install -r requirements-dev.txt")
        return 1
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aerie-fuzz-") as tmp:
        folder = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = start_server(folder, port)
        say(f"server pid {process.pid} on {base}")
        try:
            wait_healthy(process, base)
            seed(base)
            code, output = run_schemathesis(base, folder)
        except RuntimeError as exc:
            say(str(exc))
            print((folder / "server.log").read_text(errors="replace")[-4000:], file=sys.stderr)
            return 1
        finally:
            stop(process)
        log = (folder / "server.log").read_text(errors="replace")
    generated, passed, failed = case_counts(output)
    elapsed = time.monotonic() - started
    if "Traceback" in log:
        print(log[-4000:], file=sys.stderr)
        say("the server logged a traceback")
        code = code or 1
    if generated < MIN_CASES:
        say(f"only {generated} requests generated; at least {MIN_CASES} are required")
        code = code or 1
    print(
        f"schemathesis: {passed} passed, {failed} failed ({generated} generated, {elapsed:.0f} s)"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
