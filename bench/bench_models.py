"""Smaller models (issue 13): GLB bytes served per variant, and upload → model ready with the
optimisation on and off, in one run.

Run: .venv/bin/python -m bench.bench_models [--rounds 5] [--files a.step ...] [--include-plate]

Two servers (MODEL_OPTIMISE on, off), each with its own database and upload folder, take turns
(ABBA) on a fresh upload of each file; the time is from the upload's first byte to the GLB
arriving at a GET /model that waits for it (bench.uploads.fetch_model). Then the three variants
are fetched from the optimising server, and the optimiser alone is timed in this process on the
raw GLB. Prints Markdown for BENCHMARKS.md; nothing here is a test.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.bench_files import FIXTURES, GEAR, PLATE, Bench
from bench.files_report import FileRun
from bench.report import markdown_table, run_context
from bench.servers import HOST
from utils.glb_optimize import optimise_glb

SMALL_PLATE = FIXTURES / "step" / "occt_xr2-ct-214_plate.stp"
ASSEMBLY = FIXTURES / "step" / "occt_as1-oc-214-mat.stp"
TARGET_SMALLER = 4.0
TARGET_SLOWER = 1.15
QUERIES = {"raw": "?variant=raw", "quantized": "", "meshopt": "?compression=meshopt"}


class ModelBench(Bench):
    """bench_files' Bench with MODEL_OPTIMISE set for its server."""

    def __init__(self, folder: Path, optimise: bool) -> None:
        folder.mkdir()
        super().__init__(folder)
        self.optimise = optimise
        self.server_settings = {"MODEL_OPTIMISE": optimise}
        self.last_part = 0
        self.fresh_ids = self._numbered()

    def _numbered(self) -> Iterator[int]:
        """Part ids 1, 2, ... (the benchmark's parts), remembering the last one handed out."""
        while True:
            self.last_part += 1
            yield self.last_part


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", nargs="+", type=Path, default=[GEAR, SMALL_PLATE, ASSEMBLY])
    parser.add_argument("--include-plate", action="store_true", help="add the 2400-hole plate")
    parser.add_argument("--rounds", type=int, default=5, help="runs per file and server")
    args = parser.parse_args(argv)
    if args.include_plate:
        args.files.append(PLATE)
    return args


def variants(bench: Bench, part_id: int) -> dict[str, bytes]:
    """Each variant GET /model sends for a ready part."""
    bodies = {}
    for variant, query in QUERIES.items():
        connection = http.client.HTTPConnection(HOST, bench.port, timeout=120)
        try:
            connection.request("GET", f"/api/parts/{part_id}/model{query}", headers=bench.headers)
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200, (variant, response.status)
            assert response.getheader("Model-Variant") == variant, response.getheader(
                "Model-Variant"
            )
            bodies[variant] = body
        finally:
            connection.close()
    return bodies


def optimiser_seconds(raw: bytes, rounds: int) -> float:
    """The fastest of `rounds` optimisations of the raw GLB, here in this process."""
    best = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        optimise_glb(raw, 0.0005)
        best = min(best, time.perf_counter() - began)
    return best


def measure(on: ModelBench, off: ModelBench, src: Path, rounds: int) -> dict[str, Any]:
    times: dict[bool, list[float]] = {True: [], False: []}
    for round_number in range(rounds):
        order = (on, off) if round_number % 2 == 0 else (off, on)
        for bench in order:
            times[bench.optimise].append(bench.via_api(src, FileRun(src.name, 0), poll=0.05))
    # The last model of the optimising server is still stored (via_api clears before a run).
    bodies = variants(on, on.last_part)
    result = {"name": src.name, "sizes": {name: len(body) for name, body in bodies.items()}}
    print(f"  {src.name}: {result['sizes']}; on {times[True]}, off {times[False]}", flush=True)
    return result | {
        "on": statistics.median(times[True]),
        "off": statistics.median(times[False]),
        "best_off": min(times[False]),
        # Runs next to each other share the machine's load: the median of their ratios.
        "paired": statistics.median(a / b for a, b in zip(times[True], times[False], strict=True)),
        "optimiser": optimiser_seconds(bodies["raw"], rounds),
    }


def render(results: list[dict[str, Any]], rounds: int, load: tuple[float, float]) -> str:
    header = ["file", "raw", "quantized", "meshopt", "raw/meshopt", "raw/quantized"]
    header += ["ready off / on, median (s)", "on/off, paired runs (median)"]
    header += ["optimiser alone (s)", "optimiser / ready off"]
    rows = [_row(result) for result in results]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    intro = (
        f"Run of {stamp}: {rounds} uploads per file and server (ABBA); bytes as GET /model "
        f"sends them. Targets: raw/meshopt ≥ {TARGET_SMALLER:g}×, on/off ≤ {TARGET_SLOWER:g}."
    )
    table = markdown_table(header, "lrrrrrrrrr", rows)
    return "\n".join([intro, *run_context(load), table])


def _row(result: dict[str, Any]) -> list[str]:
    sizes = result["sizes"]
    return [
        f"`{result['name']}`",
        f"{sizes['raw']:,}",
        f"{sizes['quantized']:,}",
        f"{sizes['meshopt']:,}",
        f"{sizes['raw'] / sizes['meshopt']:.2f}×",
        f"{sizes['raw'] / sizes['quantized']:.2f}×",
        f"{result['off']:.2f} / {result['on']:.2f}",
        f"{result['paired']:.3f}",
        f"{result['optimiser']:.3f}",
        f"{result['optimiser'] / result['best_off']:.1%}",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-models-") as folder:
        on = ModelBench(Path(folder, "on"), optimise=True)
        off = ModelBench(Path(folder, "off"), optimise=False)
        try:
            on.start(workers=1)
            off.start(workers=1)
            results = [measure(on, off, src, args.rounds) for src in args.files]
        finally:
            on.stop()
            off.stop()
    print(render(results, args.rounds, (load_start, os.getloadavg()[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
