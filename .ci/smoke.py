#!/usr/bin/env python3
"""CI smoke stage: install requirements.txt alone, start every entry point, convert a STEP file.

The test suite runs with requirements-dev.txt, which can hide a runtime dependency that only a
test tool brings in. This stage does what a user does on a fresh machine, in a temporary
copy of the committed project (nothing is written into the checkout): the README's
`python3 -m venv .venv && .venv/bin/pip install -r requirements.txt`, then `run.py`,
`deploy.py prod-waitress` and `deploy.py prod-gunicorn` (after `create_config.py`), each
checked over HTTP: /health, the web UI, a part, a STEP upload and its GLB. Standard library
only, so it runs before any venv exists. Exit status 0 only when every server passed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_STEP = PROJECT.parent / "shared" / "fixtures" / "step" / "occt_screw.step"
DEV_KEY = "dev-secret-key-change-in-production"  # noqa: S105 - run.py's published development key
PART = {"name": "Smoke", "type": "cnc", "material": "6061 Aluminum", "subsystem": "Drive"}
# Only what a shell needs: a CI job's FLASK_ENV, DATABASE_URL, CONFIG_FILE, SECRET_KEY or
# VIRTUAL_ENV must not reach the servers, which read their settings from the environment.
KEPT_ENV = {"PATH", "HOME", "LANG", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR"}
KEPT_ENV_PREFIXES = ("LC_", "PIP_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
START_SECONDS = 90  # until /health answers 200 (production modes migrate first)
CONVERT_SECONDS = 180  # until /model answers 200 (the screw converts in a few seconds)
STOP_SECONDS = 20  # after SIGTERM, before SIGKILL (gunicorn lets requests finish)
LOG_TAIL_LINES = 40


class SmokeFailure(Exception):
    """A check failed; the message is one line saying what was expected and what came."""


def say(message: str) -> None:
    print(f"smoke: {message}", flush=True)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name in KEPT_ENV or name.upper().startswith(KEPT_ENV_PREFIXES)
    }
    return {**env, **extra}


def run(command: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> None:
    """Run a set-up command; on failure show the end of its output."""
    with log.open("ab") as out:
        code = subprocess.call(  # noqa: S603 - our own interpreter and project files
            command, cwd=cwd, env=env or clean_env(), stdout=out, stderr=subprocess.STDOUT
        )
    if code != 0:
        show_tail(log)
        raise SmokeFailure(f"`{' '.join(command)}` exited with {code}")


def show_tail(log: Path) -> None:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
    for line in lines:
        print(f"  | {line}", flush=True)


def copy_project(dest: Path, worktree: bool) -> None:
    """The committed tree (as a clean clone has it), or the working tree's files with --worktree."""
    git = ["git", "-C", str(PROJECT)]
    if not worktree:
        archive = subprocess.run([*git, "archive", "HEAD"], check=True, capture_output=True)  # noqa: S603, S607 - git from PATH, fixed arguments
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(dest, filter="data")
        return
    listing = subprocess.run(  # noqa: S603, S607 - git from PATH, fixed arguments
        [*git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    )
    for name in filter(None, listing.stdout.decode().split("\0")):
        source = PROJECT / name
        if source.is_file():  # a deleted, not yet committed file is still listed
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body); error statuses are answers too. Waits past MODEL_WAIT_SECONDS."""
    # S310: the URLs are http://127.0.0.1 ones this script builds.
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def multipart(field: str, path: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    )
    body = head.encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Server:
    """One server process in its own process group, its output in a log file."""

    def __init__(self, name: str, command: list[str], cwd: Path, env: dict[str, str], port: int):
        self.name, self.base = name, f"http://127.0.0.1:{port}"
        self.log = cwd / "smoke-server.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and project files
                command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def wait_healthy(self) -> float:
        started = time.monotonic()
        while time.monotonic() - started < START_SECONDS:
            if self.process.poll() is not None:
                raise SmokeFailure(f"exited with {self.process.returncode} before /health was 200")
            try:
                if http("GET", f"{self.base}/health")[0] == 200:
                    return time.monotonic() - started
            except OSError:
                pass  # not listening yet
            time.sleep(0.3)
        raise SmokeFailure(f"/health was not 200 within {START_SECONDS} s")

    def stop(self) -> str:
        """SIGTERM, then SIGKILL after STOP_SECONDS; whatever it left in its group is killed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return f"did not stop within {STOP_SECONDS} s of SIGTERM: killed"
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return f"stopped (exit {self.process.returncode})"
        os.killpg(self.process.pid, signal.SIGKILL)
        return f"stopped (exit {self.process.returncode}); left processes behind: killed them"


def check_upload_converts(server: Server, key: str, step: Path) -> None:
    """The user's path to a 3D model: web UI, new part, STEP upload, GLB."""
    status, headers, _ = http("GET", f"{server.base}/")
    if status != 200 or not headers.get("Content-Type", "").startswith("text/html"):
        raise SmokeFailure(f"GET / answered {status} {headers.get('Content-Type')}, not HTML")
    say(f"{server.name}: GET / 200 {headers['Content-Type']}")
    parts = f"{server.base}/api/parts"
    body = json.dumps(PART).encode()
    answer = expect(201, "POST", f"{parts}/", body, key, "application/json")
    part_id = json.loads(answer)["id"]
    say(f"{server.name}: created part {part_id}")
    body, content_type = multipart("file", step)
    expect(201, "POST", f"{parts}/{part_id}/upload", body, key, content_type)
    say(f"{server.name}: uploaded {step.name} ({len(body)} bytes)")
    seconds, glb = wait_for_model(f"{parts}/{part_id}/model", {"X-API-Key": key})
    say(f"{server.name}: GET /model 200, GLB of {len(glb)} bytes after {seconds:.1f} s")


def expect(status: int, method: str, url: str, body: bytes, key: str, content_type: str) -> bytes:
    headers = {"X-API-Key": key, "Content-Type": content_type}
    answer_status, _, answer = http(method, url, body, headers)
    if answer_status != status:
        path = url.split("/", 3)[3]
        raise SmokeFailure(f"{method} /{path} answered {answer_status}: {answer[:300]!r}")
    return answer


def wait_for_model(url: str, auth: dict[str, str]) -> tuple[float, bytes]:
    started = time.monotonic()
    while time.monotonic() - started < CONVERT_SECONDS:
        status, _, body = http("GET", url, headers=auth)  # the server itself waits a while
        if status == 200:
            if not body.startswith(b"glTF"):
                raise SmokeFailure(f"/model answered 200 but not a GLB: {body[:40]!r}")
            return time.monotonic() - started, body
        if status == 422:
            reason = " ".join(body.decode(errors="replace").split())  # one line
            raise SmokeFailure(f"the conversion failed: {reason}")
        if status != 202:
            raise SmokeFailure(f"/model answered {status}: {body[:300]!r}")
        time.sleep(0.5)
    raise SmokeFailure(f"/model still pending after {CONVERT_SECONDS} s")


def smoke_server(name: str, start: Callable[[int], tuple[Server, str]], step: Path) -> bool:
    """Start one server, check it, stop it; one line per step, True when it passed."""
    began = time.monotonic()
    server = None
    try:
        server, key = start(free_port())
        say(f"{name}: started pid {server.process.pid} on {server.base}")
        say(f"{name}: /health 200 after {server.wait_healthy():.1f} s")
        check_upload_converts(server, key, step)
    except (SmokeFailure, OSError, ValueError, KeyError) as exc:
        say(f"{name}: FAIL: {exc}")
        if server is not None:
            show_tail(server.log)
        return False
    finally:
        if server is not None:
            say(f"{name}: {server.stop()}")
    say(f"{name}: passed in {time.monotonic() - began:.1f} s")
    return True


def start_run_py(copy: Path, python: Path) -> Callable[[int], tuple[Server, str]]:
    """The README's run command (development settings, SQLite in the project folder)."""

    def start(port: int) -> tuple[Server, str]:
        env = clean_env(HOST="127.0.0.1", PORT=str(port))
        return Server("run.py", [str(python), "run.py"], copy, env, port), DEV_KEY

    return start


def start_deploy(copy: Path, python: Path, mode: str) -> Callable[[int], tuple[Server, str]]:
    """The README's deployment: create_config.py, then deploy.py in a production mode."""

    def start(port: int) -> tuple[Server, str]:
        run(
            [str(python), "create_config.py", "--non-interactive", "--set", "FLASK_ENV=production",
             "--set", "DATABASE_URL=sqlite:///data/parts.db"],
            copy, copy / "smoke-setup.log",
        )  # fmt: skip
        key = json.loads((copy / "config.json").read_text(encoding="utf-8"))["SECRET_KEY"]
        command = [str(python), "deploy.py", mode, "--port", str(port), "--host", "127.0.0.1"]
        return Server(f"deploy.py {mode}", command, copy, clean_env(), port), key

    return start


def install(root: Path, worktree: bool) -> Path:
    """A copy of the project with the README's venv; returns the venv's python."""
    copy = root / "run"
    copy.mkdir()
    copy_project(copy, worktree)
    say(f"copied the {'working tree' if worktree else 'committed tree (HEAD)'} to {copy}")
    began = time.monotonic()
    log = root / "pip.log"
    run([sys.executable, "-m", "venv", ".venv"], copy, log)
    run([".venv/bin/pip", "install", "-q", "-r", "requirements.txt"], copy, log)
    say(f"venv with requirements.txt only: installed in {time.monotonic() - began:.1f} s")
    return copy / ".venv" / "bin" / "python"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worktree", action="store_true", help="test uncommitted files too")
    parser.add_argument("--step", type=Path, default=DEFAULT_STEP, help="STEP file to upload")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="aerie-smoke-"))
    names = ["run.py", "deploy.py prod-waitress", "deploy.py prod-gunicorn"]
    passed = 0
    try:
        if not args.step.is_file():
            raise SmokeFailure(f"no STEP fixture at {args.step}")
        python = install(root, args.worktree)
        starts = [start_run_py(root / "run", python)]
        for mode in ("prod-waitress", "prod-gunicorn"):
            (root / mode).mkdir()
            copy_project(root / mode, args.worktree)  # a fresh install: own config and data
            starts.append(start_deploy(root / mode, python, mode))
        passed = sum(smoke_server(n, s, args.step) for n, s in zip(names, starts, strict=True))
    except (SmokeFailure, OSError, subprocess.CalledProcessError) as exc:
        say(f"FAIL: set-up: {exc}")
    finally:
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    failed = len(names) - passed
    say(f"{passed} passed, {failed} failed ({time.monotonic() - began:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
