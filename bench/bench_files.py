"""Benchmark uploads: API upload → model ready vs direct convert_step, re-upload, memory, latency.

Run: .venv/bin/python -m bench.bench_files [--write] [--files a.step b.stp] [--include-plate]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from flask import Flask

from app import create_app
from app.startup import prepare
from bench.dataset import populate_parts
from bench.files_report import FileRun, FilesRun, MemoryStep, render_run, write_section
from bench.load import Call, Sample, run_load
from bench.report import PROJECT_ROOT, run_and_record
from bench.servers import HOST, ServerProcess, our_settings, start_ours
from bench.uploads import (
    clear_model_cache,
    fetch_model,
    get_part,
    job_times,
    memory_kb,
    padding_pdf,
    padding_step,
    upload,
    wait_for_model,
)
from utils.part_files import model_key_for
from utils.step_converter import convert_step

# Shared fixtures live beside the checkout.
FIXTURES = PROJECT_ROOT.parent / "shared" / "fixtures"
GEAR = FIXTURES / "step-large" / "gen_gear_assembly_72_parts.step"
PLATE = FIXTURES / "step-large" / "gen_perforated_plate_2400_holes.step"
BIG_FILE_BYTES = 1_000_000
PADDING_BYTES = 100 * 1024 * 1024
# The two slow fixtures converted at once while GET latency is measured.
SLOW_FILES = (
    GEAR,
    FIXTURES / "step" / "kicad_Samtec_FMC_ASP-134602-01_10x40_P1.27mm_Vertical.step",
)
PARTS = 200
MODEL_TIMEOUT_SECONDS = 600
START_WAIT_SECONDS = 60


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", nargs="+", type=Path, help="STEP files (default: > 1 MB + gear)")
    parser.add_argument("--include-plate", action="store_true", help="add the 2400-hole plate")
    parser.add_argument("--rounds", type=int, default=3, help="API runs and direct runs per file")
    parser.add_argument("--poll", type=float, default=0.05, help="client poll interval, seconds")
    parser.add_argument("--clients", type=int, default=2, help="client threads for GET latency")
    parser.add_argument(
        "--latency-seconds", type=float, default=4.0, help="seconds per latency window"
    )
    parser.add_argument(
        "--padding-as", choices=("pdf", "step"), default="pdf", help="type of the 100 MB upload"
    )
    parser.add_argument("--write", action="store_true", help="record the run in BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.files is None:
        step = sorted((FIXTURES / "step").glob("*.st*p"), key=lambda p: p.stat().st_size)
        args.files = [p for p in step if p.stat().st_size > BIG_FILE_BYTES] + [GEAR]
    if args.include_plate:
        args.files.append(PLATE)
    if args.write and (args.rounds < 2 or args.poll > 0.05):
        parser.error("--write records full runs only: keep --rounds ≥ 2 and --poll ≤ 0.05")
    return args


class Bench:
    """One database and upload folder; the server under test; fresh part ids on demand."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.database = folder / "bench.db"
        self.settings = our_settings(f"sqlite:///{self.database}", str(folder))
        self.uploads = Path(self.settings["UPLOAD_FOLDER"])
        self.app: Flask = create_app("testing", self.settings)  # builder: no runner here
        prepare(self.app)
        populate_parts(self.app, PARTS)
        self.headers = {"X-API-Key": str(self.app.config["SECRET_KEY"])}
        self.fresh_ids: Iterator[int] = itertools.count(1)
        self.server: ServerProcess | None = None
        # Settings a variant of this benchmark gives its server on top (bench_models).
        self.server_settings: dict[str, object] = {}

    def start(self, workers: int) -> ServerProcess:
        self.stop()
        self.server = start_ours(
            {
                **self.settings,
                "CONVERSION_IN_BACKGROUND": True,
                "CONVERSION_WORKERS": workers,
                "MODEL_WAIT_SECONDS": 60.0,
                **self.server_settings,
            }
        )
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def model_key(self, sha256: str) -> str:
        return model_key_for(sha256, self.app.extensions["conversion_settings"].cache_key())

    def direct(self, src: Path) -> float:
        """convert_step with the app's own settings and limits, timed like the API run."""
        began = time.perf_counter()
        convert_step(
            src,
            self.folder / "direct.glb",
            settings=self.app.extensions["conversion_settings"],
            timeout_s=float(self.app.config["CONVERSION_TIMEOUT_SECONDS"]),
            memory_mb=int(self.app.config["CONVERSION_MEMORY_MB"]),
        )
        return time.perf_counter() - began

    def via_api(self, src: Path, run: FileRun, poll: float) -> float:
        """Upload to a fresh part with no cached GLB, then GET /model until the GLB arrives."""
        clear_model_cache(self.uploads)
        part_id = next(self.fresh_ids)
        began = time.time()
        sent = upload(self.port, part_id, src, self.headers)
        if sent.status != 201 or sent.body["conversion"]["status"] != "pending":
            raise RuntimeError(f"{src.name}: upload answered {sent.status} {sent.body}")
        status, seen, polls = fetch_model(self.port, part_id, self.headers, MODEL_TIMEOUT_SECONDS)
        if status != "ready":
            raise RuntimeError(f"{src.name}: conversion through the API {status}")
        job = job_times(self.database, self.model_key(sent.body["sha256"]))
        answered = began + sent.seconds
        run.phases.append(
            (
                sent.seconds,
                job["started"] - answered,
                job["finished"] - job["started"],
                seen - job["finished"],
            )
        )
        run.polls.append(polls)
        return seen - began

    def reupload(self, src: Path) -> tuple[str, float]:
        """The same bytes to another part: modelStatus in the POST answer, time to confirm."""
        part_id = next(self.fresh_ids)
        began = time.perf_counter()
        sent = upload(self.port, part_id, src, self.headers)
        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            status = get_part(connection, part_id, self.headers)["modelStatus"]
        finally:
            connection.close()
        elapsed = time.perf_counter() - began
        answered = sent.body["conversion"]["status"]
        return (answered if answered == status else f"{answered}, then {status}"), elapsed


def measure_files(bench: Bench, args: argparse.Namespace) -> list[FileRun]:
    """Direct and API runs alternate (ABBA...) per file, so drift hits both alike."""
    runs = []
    for src in args.files:
        run = FileRun(src.name, src.stat().st_size)
        for round_number in range(args.rounds):
            order = ("direct", "api") if round_number % 2 == 0 else ("api", "direct")
            for kind in order:
                if kind == "direct":
                    run.direct.append(bench.direct(src))
                else:
                    run.api.append(bench.via_api(src, run, args.poll))
        run.reupload = bench.reupload(src)
        print(f"  {run.name}: direct {min(run.direct):.2f} s, API {min(run.api):.2f} s", flush=True)
        runs.append(run)
    return runs


def measure_latency(bench: Bench, args: argparse.Namespace) -> tuple[Sample, Sample, bool]:
    """GET one part idle (before and after, pooled) and while two slow files convert."""
    connection = http.client.HTTPConnection(HOST, bench.port, timeout=30)
    calls = []
    for part_id in range(PARTS - 20, PARTS):  # parts no benchmark upload touches
        connection.request("GET", f"/api/parts/{part_id}", headers=bench.headers)
        calls.append(
            Call(f"/api/parts/{part_id}", bench.headers, 200, len(connection.getresponse().read()))
        )
    connection.close()
    assert bench.server is not None
    pid, seconds = bench.server.pid, args.latency_seconds
    idle = run_load(bench.port, pid, calls, args.clients, seconds, 1_000_000)
    clear_model_cache(bench.uploads)
    keys, part_ids = [], []
    for src in SLOW_FILES:
        part_ids.append(next(bench.fresh_ids))
        keys.append(
            bench.model_key(upload(bench.port, part_ids[-1], src, bench.headers).body["sha256"])
        )
    deadline = time.monotonic() + START_WAIT_SECONDS
    while any(job_times(bench.database, k)["status"] != "running" for k in keys):
        if time.monotonic() > deadline:
            raise RuntimeError("the two conversions did not both start")
        time.sleep(0.02)
    busy = run_load(bench.port, pid, calls, args.clients, seconds, 1_000_000)
    covered = all(job_times(bench.database, k)["status"] == "running" for k in keys)
    for part_id in part_ids:
        wait_for_model(bench.port, part_id, bench.headers, args.poll, MODEL_TIMEOUT_SECONDS)
    idle.add(run_load(bench.port, pid, calls, args.clients, seconds, 1_000_000))
    return idle, busy, covered


def measure_memory(
    bench: Bench, args: argparse.Namespace
) -> tuple[dict[str, int], list[MemoryStep]]:
    """A fresh server, warmed with a small upload; then the largest fixture and 100 MB."""
    server = bench.start(workers=1)
    small = min(FIXTURES.glob("step/*.st*p"), key=lambda p: p.stat().st_size)
    warm_id = next(bench.fresh_ids)
    upload(bench.port, warm_id, small, bench.headers)
    wait_for_model(bench.port, warm_id, bench.headers, args.poll, MODEL_TIMEOUT_SECONDS)
    baseline = memory_kb(server.pid)
    largest = max(args.files, key=lambda p: p.stat().st_size)
    make = padding_pdf if args.padding_as == "pdf" else padding_step
    padding = make(bench.folder, PADDING_BYTES)
    steps = []
    for label, src in ((largest.name, largest), (f"generated 100 MB .{args.padding_as}", padding)):
        clear_model_cache(bench.uploads)
        part_id = next(bench.fresh_ids)
        before = memory_kb(server.pid)
        sent = upload(bench.port, part_id, src, bench.headers)
        outcome = f"{sent.status}"
        if sent.status == 201 and "conversion" in sent.body:
            status, _seen, _polls = wait_for_model(
                bench.port, part_id, bench.headers, args.poll, MODEL_TIMEOUT_SECONDS
            )
            outcome += f", model {status}"
        steps.append(
            MemoryStep(
                label, src.stat().st_size, before, memory_kb(server.pid), sent.seconds, outcome
            )
        )
    padding.unlink()
    return baseline, steps


def main(argv: list[str] | None = None) -> int:
    """Run, print the report, and record it in BENCHMARKS.md when asked."""
    args = parse_args(argv)
    return run_and_record(run_benchmark(args), render_run, write_section, args.write)


def run_benchmark(args: argparse.Namespace) -> FilesRun:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="aerie-bench-files-") as folder:
        bench = Bench(Path(folder))
        try:
            bench.start(workers=2)
            print("upload → ready vs direct:", flush=True)
            files = measure_files(bench, args)
            print("GET latency, idle and while converting", flush=True)
            idle, busy, covered = measure_latency(bench, args)
            print("server memory", flush=True)
            baseline, memory = measure_memory(bench, args)
        finally:
            bench.stop()
    return FilesRun(
        args=vars(args) | {"files": [str(p) for p in args.files]},
        files=files,
        memory=memory,
        memory_baseline=baseline,
        idle=idle,
        busy=busy,
        busy_files=[p.name for p in SLOW_FILES],
        busy_covered=covered,
        finished=time.time(),
        load=(load_before, os.getloadavg()[0]),
    )


if __name__ == "__main__":
    raise SystemExit(main())
