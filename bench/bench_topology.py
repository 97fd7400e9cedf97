"""Scale-out throughput (issue 14): GET one part, and upload → model ready, through HAProxy
over 1, 2 and 3 app hosts with 1 and 2 conversion workers, on bench/topology.py.

One topology start (3 app hosts), three balancers (over app1; app1-2; app1-3), a second
worker started for the second half. Upload → ready sends `--uploads` STEP files at once,
each a copy of one fixture with a comment of its own (a new content hash: a new conversion),
and waits for every GET /model to answer 200.

    .venv/bin/python -m bench.bench_topology            # about 3 minutes
    .venv/bin/python -m bench.bench_topology --write    # the same, recorded in BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.load import ANY_LENGTH, Call, Sample, descendants, run_load
from bench.report import PROJECT_ROOT, markdown_table, percentile_ms, replace_block, run_context
from bench.topology import KEY, Service, Topology
from bench.topology_client import create_part, upload_step, wait_for_model

FIXTURE = PROJECT_ROOT.parent / "shared" / "fixtures" / "step" / "so100_STS3215_03a.step"
HOSTS = (1, 2, 3)
START = "<!-- bench_topology:latest (rewritten by --write) -->"
END = "<!-- /bench_topology:latest -->"
UNLIMITED = {"RATELIMIT_DEFAULT": "100000000 per minute", "AUTH_FAILURE_LIMIT": "100000 per minute"}


def get_one_part(balancer: Service, apps: list[Service], ids: list[int], args) -> Sample:
    calls = [Call(f"/api/parts/{i}", {"X-API-Key": KEY}, 200, ANY_LENGTH) for i in ids]
    pids = [pid for app in apps for pid in (app.process.pid, *descendants(app.process.pid))]
    pids.append(balancer.process.pid)
    port = balancer.port or 0
    run_load(port, pids, calls, args.clients, args.warmup, 10**7)
    return run_load(port, pids, calls, args.clients, args.seconds, 10**7)


def nonced_copies(folder: Path, count: int) -> list[Path]:
    """Copies of the fixture, each with a comment of its own: a conversion each."""
    folder.mkdir(parents=True, exist_ok=True)
    data, copies = FIXTURE.read_bytes(), []
    for _ in range(count):
        path = folder / f"{uuid.uuid4().hex}.step"
        path.write_bytes(data.replace(b"HEADER;", f"HEADER;\n/* {path.stem} */".encode(), 1))
        copies.append(path)
    return copies


def upload_to_ready(port: int, files: list[Path]) -> tuple[float, list[float]]:
    """Every file uploaded at once to a new part; (seconds until the last model was ready,
    each part's seconds from its upload to its model)."""
    latencies: list[float] = []
    failures: list[str] = []

    def one(path: Path) -> None:
        try:
            part_id = create_part(port, name="Bench")["id"]
            began = time.perf_counter()
            assert upload_step(port, part_id, path) == 201
            assert wait_for_model(port, part_id, 300)[:4] == b"glTF"
            latencies.append(time.perf_counter() - began)
        except Exception as exc:  # reported below, not lost in a thread
            failures.append(repr(exc))

    began = time.perf_counter()
    threads = [threading.Thread(target=one, args=(path,)) for path in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"uploads failed: {failures}")
    return time.perf_counter() - began, latencies


def measure(root: Path, args) -> dict[str, list[list[str]]]:
    rows: dict[str, list[list[str]]] = {"get": [], "upload": []}
    with Topology(root, apps=3, workers=1, settings=UNLIMITED) as topology:
        balancers = {n: topology.start_balancer(topology.apps[:n], f"haproxy{n}") for n in HOSTS}
        ids = [create_part(topology.port, name=f"Bench {n}")["id"] for n in range(50)]
        for n in HOSTS:
            sample = get_one_part(balancers[n], topology.apps[:n], ids, args)
            rate = sample.requests / sample.seconds
            cpu = sample.server_cpu / max(sample.requests, 1) * 1000
            p50, p95 = percentile_ms(sample.latencies, 50), percentile_ms(sample.latencies, 95)
            row = [str(n), f"{rate:,.0f}", f"{p50:.1f}", f"{p95:.1f}", f"{cpu:.2f}"]
            rows["get"].append([*row, str(sample.errors)])
        for workers in (1, 2):
            if workers == 2:
                topology.workers.append(topology.start_worker())
            for n in HOSTS:
                files = nonced_copies(root / "files", args.uploads)
                total, latencies = upload_to_ready(balancers[n].port or 0, files)
                per_minute = len(files) / total * 60
                median = statistics.median(latencies)
                rows["upload"].append(
                    [str(n), str(workers), f"{total:.1f}", f"{per_minute:.1f}", f"{median:.1f}"]
                )
    return rows


def render(rows: dict[str, list[list[str]]], args, load: tuple[float, float]) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    get = markdown_table(
        ["app hosts", "GET one part / s", "p50 ms", "p95 ms", "server CPU ms / request",
         "errors"],
        "rrrrrr", rows["get"],
    )  # fmt: skip
    upload = markdown_table(
        ["app hosts", "workers", f"{args.uploads} models ready after s", "models / min",
         "median upload → ready s"],
        "rrrrr", rows["upload"],
    )  # fmt: skip
    return "\n".join(
        [
            f"Run of {stamp}: one topology (bench/topology.py: gunicorn app hosts, 1 worker "
            f"× 8 threads each; HAProxy; PostgreSQL; Redis; moto S3 when FILE_STORE_URL "
            f"exists), {args.clients} keep-alive clients, {args.seconds:g} s measured after "
            f"{args.warmup:g} s warm-up per GET case; {args.uploads} copies of "
            f"{FIXTURE.name} uploaded at once per upload case (CONVERSION_WORKERS=1 per worker).",
            *run_context(load),
            get,
            "",
            upload,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="measured s per GET case")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured s per GET case")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--uploads", type=int, default=8, help="uploads at once per case")
    parser.add_argument("--write", action="store_true", help="record the run in BENCHMARKS.md")
    args = parser.parse_args(argv)
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-topology-") as root:
        rows = measure(Path(root), args)
    report = render(rows, args, (before, os.getloadavg()[0]))
    print(report)
    if args.write:
        target = PROJECT_ROOT / "BENCHMARKS.md"
        target.write_text(replace_block(target.read_text(), START, END, report))
        print(f"\nRecorded in {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
