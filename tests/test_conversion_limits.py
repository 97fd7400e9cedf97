"""Limits around the converter: a lower inherited memory limit, host-wide conversion slots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

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
from utils.step_converter import ConversionSettings, StepConversionError, convert_step
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
