"""Child-process entry point: convert one STEP file to GLB with cascadio, then report."""

# Run only by utils.step_converter as `python -I step_worker.py ...`; it imports nothing from
# the project so that it works in isolated mode, and it never raises: every outcome ends up in
# the status file, except the ones that kill the process (signals, the OOM killer).

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

MESSAGE_LIMIT = 500


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--status", type=Path, required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--tol-linear", type=float, required=True)
    parser.add_argument("--tol-angular", type=float, required=True)
    parser.add_argument("--tol-relative", action="store_true")
    parser.add_argument("--no-merge-primitives", action="store_true")
    return parser.parse_args(argv)


def _limit_resources(memory_mb: int) -> None:
    cap = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    # A crash inside OpenCASCADE must not leave a multi-gigabyte core file on the server.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _convert(args: argparse.Namespace) -> dict[str, Any]:
    # Imported after the memory cap is set, so OpenCASCADE's start-up counts against it too.
    import cascadio

    glb = cascadio.load(
        args.src.read_bytes(),
        file_type="step",
        tol_linear=args.tol_linear,
        tol_angular=args.tol_angular,
        tol_relative=args.tol_relative,
        merge_primitives=not args.no_merge_primitives,
    )
    if not glb:
        return {"status": "empty"}
    with args.out.open("wb") as handle:
        handle.write(glb)
        handle.flush()
        os.fsync(handle.fileno())
    return {"status": "ok", "bytes": len(glb)}


def _run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        _limit_resources(args.memory_mb)
        return _convert(args)
    except MemoryError:
        return {"status": "memory"}
    except Exception as exc:  # noqa: BLE001 - any failure is reported to the parent, not raised
        return {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:MESSAGE_LIMIT]}


def main(argv: list[str]) -> int:
    """Convert, then write the outcome as JSON to the status file; exit 0 if it was written."""
    args = _parse_args(argv)
    result = _run(args)
    result["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.flush()
    args.status.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
