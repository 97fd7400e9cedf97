"""The GLB optimiser's child process: the variants of a raw GLB made under the conversion's
memory and time caps, so a pathological GLB costs a child process, never the server (a raw GLB
up to MODEL_OPTIMISE_IN_PROCESS_MAX_MB is optimised in the job's own process)."""

# The child half runs as `python -I glb_worker.py RAW WORKDIR ...`. Isolated mode leaves the
# project off sys.path, so the child puts it there itself; numpy and meshopt are imported only
# after the memory cap is set, so their start-up counts against it too.

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: `utils` is not importable yet
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils.settings_values import whole_megabytes  # noqa: E402 - after the path above
from utils.step_worker import (  # noqa: E402 - after the path above
    MESSAGE_LIMIT,
    STATUS_NAME,
    WorkerOutcome,
    die_with_parent,
    limit_resources,
    run_capped,
)

WORKER_PATH = Path(__file__).resolve()
# The files the child writes into its work folder, by variant (utils.storage.MODEL_VARIANTS).
VARIANT_FILES = {"quantized": "quantized.glb", "meshopt": "meshopt.glb"}


@dataclass(frozen=True)
class OptimiserCaps:
    """How long and how much address space the optimiser's child may use, and the largest raw
    GLB optimised without one (0: every GLB goes to the child)."""

    timeout_s: float
    memory_mb: int
    in_process_max_bytes: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OptimiserCaps:
        """The caps of a conversion (CONVERSION_TIMEOUT_SECONDS, CONVERSION_MEMORY_MB) and
        MODEL_OPTIMISE_IN_PROCESS_MAX_MB; ConfigError when that is not a whole number of MB."""
        in_process_mb = whole_megabytes(
            "MODEL_OPTIMISE_IN_PROCESS_MAX_MB",
            config["MODEL_OPTIMISE_IN_PROCESS_MAX_MB"],
            "every GLB in a capped child",
        )
        return cls(
            timeout_s=float(config["CONVERSION_TIMEOUT_SECONDS"]),
            memory_mb=int(config["CONVERSION_MEMORY_MB"]),
            in_process_max_bytes=in_process_mb * 1024 * 1024,
        )


def optimise_in_child(
    raw: Path, workdir: Path, max_error: float, caps: OptimiserCaps
) -> dict[str, Path]:
    """The variants of `raw`, written into `workdir` by a capped child (variant → file).

    Raises ModelOptimisationError with the reason whenever the child made none: the optimiser
    refused the GLB, failed, ran out of memory or time, or died.
    """
    args = [str(raw.resolve()), str(workdir.resolve()), "--max-error", repr(max_error)]
    outcome = run_capped(
        WORKER_PATH, args, workdir, timeout_s=caps.timeout_s, memory_mb=caps.memory_mb
    )
    reason = failure_reason(outcome, caps.timeout_s)
    if reason is not None:
        from utils.glb_optimize import ModelOptimisationError  # numpy: not in the child's head

        raise ModelOptimisationError(reason)
    return {variant: workdir / name for variant, name in VARIANT_FILES.items()}


def failure_reason(outcome: WorkerOutcome, timeout_s: float) -> str | None:
    """Why the child made no variants (None: it made both)."""
    report = outcome.report or {}
    status = report.get("status")
    if outcome.timed_out:
        return f"the optimiser took longer than {timeout_s:g} s and was stopped"
    if status == "ok":
        return None
    if status == "memory":
        return f"the optimiser needed more than {outcome.memory_mb} MB of memory"
    if status in ("refused", "error"):
        return str(report.get("message") or "the optimiser failed")
    return f"the optimiser stopped without a result (wait status {outcome.wait_status})"


def write_variants(variants: Mapping[str, bytes], workdir: Path) -> dict[str, Path]:
    """Write each variant's bytes, synced, to its file in `workdir` (variant → file); the
    child does this, and so does a small GLB's optimisation in the job's own process."""
    paths = {variant: workdir / VARIANT_FILES[variant] for variant in variants}
    for variant, data in variants.items():
        with paths[variant].open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return paths


# ---- child side -------------------------------------------------------------------------


def _optimise(raw: Path, workdir: Path, max_error: float) -> dict[str, Any]:
    from utils.glb_optimize import ModelOptimisationError, optimise_glb

    try:
        variants = optimise_glb(raw.read_bytes(), max_error)
    except ModelOptimisationError as exc:
        return {"status": "refused", "message": str(exc)[:MESSAGE_LIMIT]}
    written = {"quantized": variants.quantized, "meshopt": variants.meshopt}
    write_variants(written, workdir)
    return {"status": "ok", **{variant: len(data) for variant, data in written.items()}}


def _run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        limit_resources(args.memory_mb)
        return _optimise(args.raw, args.workdir, args.max_error)
    except MemoryError:
        return {"status": "memory"}
    except Exception as exc:  # a bug in the optimiser: reported, the raw model is served
        message = f"the optimiser failed: {type(exc).__name__}: {exc}"
        return {"status": "error", "message": message[:MESSAGE_LIMIT]}


def main(argv: list[str]) -> int:
    """Child entry point: optimise, then write the outcome as JSON to workdir/STATUS_NAME."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--max-error", type=float, required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    args = parser.parse_args(argv)
    die_with_parent(args.parent_pid)
    report = _run(args)
    (args.workdir / STATUS_NAME).write_text(json.dumps(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
