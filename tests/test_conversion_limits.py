"""Limits around the converter: a lower inherited memory limit, host-wide conversion slots."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.extensions import db
from models.part import Part
from tests.conftest import FIXTURES, build_app, close_app
from tests.databases import TestDatabase
from tests.helpers import upload_ok
from utils.conversion_capacity import time_budget_s
from utils.storage import try_lock, unlock

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CUBE = FIXTURES / "step" / "cadquery_red_cube_blue_cylinder.step"
HUGE_EXTENT = FIXTURES / "step-bad" / "occt_as1_motor_huge_extent.step"
CLAMP_LOG = "conversions are capped at"
# Lowers its own hard RLIMIT_AS (like `ulimit -v` in a container's shell), then converts
# argv[3] twice with the default CONVERSION_MEMORY_MB; prints one JSON line per conversion.
CAPPED_SCRIPT = """
import json, logging, resource, sys
from pathlib import Path
cap = int(sys.argv[1]) * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
from config import BaseConfig
from utils.conversion_errors import StepConversionError
from utils.step_converter import ConversionSettings, convert_step
settings = ConversionSettings(0.01, 0.5, sys.argv[2] == "relative")
for attempt in range(2):
    dst = Path(sys.argv[4]) / f"model{attempt}.glb"
    try:
        result = convert_step(Path(sys.argv[3]), dst, settings=settings,
                              memory_mb=BaseConfig.CONVERSION_MEMORY_MB)
        print(json.dumps({"triangles": result.triangles, "size": dst.stat().st_size}))
    except StepConversionError as exc:
        print(json.dumps({"code": exc.code, "error": str(exc)}))
"""


def need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"fixture {path} missing")
    return path


def convert_under_hard_limit(
    hard_mb: int, src: Path, out: Path, tolerance: str = "relative"
) -> tuple[list[dict], str]:
    """Run CAPPED_SCRIPT in a fresh interpreter; returns (one result per conversion, stderr)."""
    done = subprocess.run(
        [sys.executable, "-c", CAPPED_SCRIPT, str(hard_mb), tolerance, str(src), str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def test_hard_memory_limit_below_setting_still_converts_and_logs_once(tmp_path: Path) -> None:
    from config import BaseConfig

    hard_mb = 3000
    assert hard_mb < BaseConfig.CONVERSION_MEMORY_MB
    results, log = convert_under_hard_limit(hard_mb, need(CUBE), tmp_path)
    assert [("error" in result) for result in results] == [False, False], results
    for index, result in enumerate(results):
        glb = tmp_path / f"model{index}.glb"
        assert glb.read_bytes()[:4] == b"glTF"
        assert (result["size"], result["triangles"] > 0) == (glb.stat().st_size, True)
    # Said once per process, with the cap really applied, not once per conversion.
    assert log.count(CLAMP_LOG) == 1, log
    assert f"capped at {hard_mb} MB" in log


def test_memory_failure_names_the_cap_really_applied(tmp_path: Path) -> None:
    # With absolute tolerances this 209 m wide model needs more than 6 GB of address space.
    hard_mb = 1000
    results, _log = convert_under_hard_limit(hard_mb, need(HUGE_EXTENT), tmp_path, "absolute")
    assert results[0]["code"] == "memory", results
    assert f"the {hard_mb} MB memory limit" in results[0]["error"]
    assert not list(tmp_path.iterdir())


# Different contents (one job each) that take a moment to convert, so threads overlap.
SLOT_FIXTURES = [
    "occt_bug29715_slow.stp",
    "so100_STS3215_03a.step",
    "occt_as1-oc-214-mat.stp",
    "so101_Upper_arm_SO101.step",
]


class ChildRecorder:
    """Wraps the real run_worker: counts converter children alive at once, and checks that
    each one runs while its thread holds a slot lock."""

    def __init__(self, real: Callable[..., Any], locks: Path) -> None:
        self.real, self.locks = real, locks
        self.lock = threading.Lock()
        self.alive = 0
        self.peak = 0
        self.started = 0
        self.slot_files: list[list[str]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.alive += 1
            self.started += 1
            self.peak = max(self.peak, self.alive)
            self.slot_files.append(sorted(p.name for p in self.locks.glob("*.lock")))
        try:
            return self.real(*args, **kwargs)
        finally:
            with self.lock:
                self.alive -= 1


def upload_steps(application: Any, names: list[str]) -> list[int]:
    client = application.test_client()
    headers = {"X-API-Key": application.config["SECRET_KEY"]}
    ids = []
    for name in names:
        response = client.post(
            "/api/parts/",
            json={"name": name, "material": "PLA", "subsystem": "Arm"},
            headers=headers,
        )
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
        # Encoded up front: the test client's own encoder leaves a temp file open past 500 KB.
        upload = FileStorage(io.BytesIO(need(FIXTURES / "step" / name).read_bytes()), name, "file")
        boundary, body = encode_multipart({"file": upload})
        response = client.post(
            f"/api/parts/{ids[-1]}/upload",
            data=body,
            headers=headers,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        assert response.status_code == 201, response.get_json()
    return ids


def model_statuses(application: Any) -> list[str]:
    with application.app_context():
        statuses = list(db.session.execute(select(Part.model_status)).scalars())
        db.session.rollback()
        return statuses


def wait_until_all_ready(application: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout  # a failure guard only
    while set(model_statuses(application)) != {"ready"}:
        assert time.monotonic() < deadline, model_statuses(application)
        time.sleep(0.1)


def test_two_servers_sharing_a_folder_never_convert_more_than_the_slots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import utils.step_converter as converter

    sqlite = TestDatabase("sqlite", None)
    # Two server processes' apps: the same database file and upload folder, one slot.
    servers = [build_app(sqlite, tmp_path, CONVERSION_WORKERS=1) for _ in range(2)]
    recorder = ChildRecorder(converter.run_worker, tmp_path / "uploads" / "locks")
    monkeypatch.setattr(converter, "run_worker", recorder)
    upload_steps(servers[0], SLOT_FIXTURES)
    runners = [application.extensions["conversion_runner"] for application in servers]
    # Both start (and run their start-up recovery) before either can claim a job: in one
    # test process the second's recovery would take the first's running job for a dead one.
    slot = servers[0].extensions["storage"].lock_path("convert-slot-0")
    held = try_lock(slot)
    try:
        for runner in runners:
            runner.start()
        unlock(slot, held)
        for runner in runners:
            runner.notify()
        wait_until_all_ready(servers[0], timeout=300)
    finally:
        for runner, application in zip(runners, servers, strict=True):
            runner.stop(timeout=60)
            close_app(application)
    assert recorder.started == len(SLOT_FIXTURES)
    assert recorder.peak == 1
    assert recorder.slot_files == [["convert-slot-0.lock"]] * len(SLOT_FIXTURES)
    # A released slot leaves nothing behind in the upload folder.
    assert list((tmp_path / "uploads" / "locks").iterdir()) == []


HOLD_SLOT = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def test_slot_held_by_another_process_keeps_the_job_pending(app, client, auth_headers, make_part):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], need(CUBE).read_bytes(), "cube.step")
    runner = app.extensions["conversion_runner"]
    lock_files = [
        app.extensions["storage"].lock_path(f"convert-slot-{index}")
        for index in range(runner.slots)
    ]
    lock_files[0].parent.mkdir(parents=True, exist_ok=True)
    holders = [
        subprocess.Popen(
            [sys.executable, "-c", HOLD_SLOT, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for path in lock_files
    ]
    try:
        assert [holder.stdout.readline() for holder in holders] == ["held\n"] * len(holders)
        assert runner.run_one() is False
        assert (
            client.get(f"/api/parts/{part['id']}", headers=auth_headers).get_json()["modelStatus"]
            == "pending"
        )
    finally:
        for holder in holders:
            holder.communicate("", timeout=30)
    assert runner.run_one() is True
    response = client.get(f"/api/parts/{part['id']}", headers=auth_headers)
    assert response.get_json()["modelStatus"] == "ready"


MB = 2**20


@pytest.mark.parametrize(
    ("size", "per_mb", "cap", "budget"),
    [
        (18_700, 30, 300, 30),  # the 18 KB overflow fixture: one started MB
        (0, 30, 300, 30),
        (MB, 30, 300, 30),
        (MB + 1, 30, 300, 60),
        (10_223_506, 30, 300, 300),  # the 10 MB perforated plate: the cap
        (21 * MB, 30, 300, 300),
        (18_700, 0, 300, 300),  # 0 per MB: every file gets the cap
        (18_700, 30, 8, 8),  # a cap below one MB's budget wins
    ],
)
def test_a_conversion_may_run_its_files_size_worth_within_the_cap(
    size: int, per_mb: float, cap: float, budget: float
) -> None:
    assert time_budget_s(size, per_mb, cap) == budget
