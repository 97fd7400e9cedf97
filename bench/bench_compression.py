"""Benchmark compression (issue 13): the full list to a gzip-accepting client against an identity
client, on the same server in the same run; and the costs the settings were chosen from.

Run: .venv/bin/python -m bench.bench_compression [--parts 10000] [--seconds 10] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import zlib
from typing import Any

from bench.bench_parts_api import bench_database
from bench.load import Call, Sample, add_load_arguments, run_load
from bench.report import markdown_table, percentile_ms, run_context
from bench.servers import HOST, THREADS, ServerProcess, start_ours
from utils.compressed_bodies import gzip_bytes

VARIANTS = {"identity": "identity", "gzip": "gzip, deflate, br"}
LEVELS = (1, 3, 4, 5, 6, 9)
BROTLI_QUALITIES = (1, 3, 4, 5)
SMALL_LISTS = (1, 2, 3, 5, 10, 25, 100)
# Node's zlib has brotli: the same C library a Python binding would wrap, so the cost of
# brotli is measured without installing a dependency just to rule it out.
BROTLI_SCRIPT = """
const zlib = require("node:zlib"); const body = require("node:fs").readFileSync(0);
for (const q of JSON.parse(process.argv[1])) { let best = Infinity, out;
  for (let i = 0; i < 3; i++) { const t = process.cpuUsage();
    out = zlib.brotliCompressSync(body, {params: {[zlib.constants.BROTLI_PARAM_QUALITY]: q}});
    const u = process.cpuUsage(t); best = Math.min(best, (u.user + u.system) / 1000); }
  console.log(JSON.stringify([q, out.length, best])); }
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_load_arguments(parser, parts=10_000, seconds=10.0, warmup=2.0, per="variant")
    parser.add_argument("--first", type=int, default=5, help="writes for the first-read cost")
    return parser.parse_args(argv)


def send(port: int, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    """One request; (status, headers, body bytes as sent, seconds)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=120)
    payload = None if body is None else json.dumps(body)
    if payload is not None:
        headers = {**headers, "Content-Type": "application/json"}
    try:
        began = time.perf_counter()
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), data, time.perf_counter() - began
    finally:
        connection.close()


def variant_calls(port: int, key: dict[str, str]) -> tuple[dict[str, Call], dict[str, bytes]]:
    """The list as each variant receives it (checked to decode alike), and its load call."""
    calls, bodies = {}, {}
    for name, accept in VARIANTS.items():
        headers = {**key, "Accept-Encoding": accept}
        status, sent, body, _ = send(port, "GET", "/api/parts/", headers)
        if status != 200 or sent.get("Content-Encoding") != (None if name == "identity" else name):
            raise RuntimeError(
                f"{name}: status {status}, Content-Encoding {sent.get('Content-Encoding')}"
            )
        calls[name], bodies[name] = Call("/api/parts/", headers, 200, len(body)), body
    if zlib.decompress(bodies["gzip"], 31) != bodies["identity"]:
        raise RuntimeError("the gzip body does not decode to the identity body")
    return calls, bodies


def measure_variants(
    server: ServerProcess, calls: dict[str, Call], args: argparse.Namespace
) -> dict[str, Sample]:
    """Warm up each variant, then alternate them (ABBA...) on the one server."""
    pooled = {name: Sample() for name in calls}
    for call in calls.values():
        run_load(server.port, server.pid, [call], args.clients, args.warmup, 500_000)
    names = list(calls)
    for round_number in range(args.rounds):
        for name in names if round_number % 2 == 0 else names[::-1]:
            seconds = args.seconds / args.rounds
            sample = run_load(
                server.port, server.pid, [calls[name]], args.clients, seconds, 500_000
            )
            pooled[name].add(sample)
    return pooled


def first_reads(port: int, key: dict[str, str], part_id: int, writes: int) -> dict[str, float]:
    """Median ms of the first list read after a change (body rendered, and for gzip compressed,
    once), per variant; each variant reads after a write of its own."""
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for number in range(writes):
        for name, accept in VARIANTS.items():
            change = {"notes": f"bench write {number} {name}"}
            if send(port, "PUT", f"/api/parts/{part_id}", key, change)[0] != 200:
                raise RuntimeError("the write before a first read failed")
            headers = {**key, "Accept-Encoding": accept}
            times[name].append(send(port, "GET", "/api/parts/", headers)[3] * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def cpu_ms(work: Any, repeat: int = 3) -> float:
    """Least process CPU time of `repeat` calls of work(), in ms."""
    best = float("inf")
    for _ in range(repeat):
        began = time.process_time()
        work()
        best = min(best, time.process_time() - began)
    return best * 1000


def level_rows(body: bytes) -> list[list[str]]:
    """gzip at each level (and brotli, when node is there): bytes, ratio, CPU once."""
    rows = []
    for level in LEVELS:
        packed = gzip_bytes(body, level)
        ms = cpu_ms(lambda level=level: gzip_bytes(body, level))
        rows.append(
            [f"gzip {level}", f"{len(packed):,}", f"{len(body) / len(packed):.1f}×", f"{ms:.0f}"]
        )
    for quality, size, ms in brotli_costs(body):
        rows.append([f"brotli {quality}", f"{size:,}", f"{len(body) / size:.1f}×", f"{ms:.0f}"])
    return rows


def brotli_costs(body: bytes) -> list[tuple[int, int, float]]:
    """(quality, bytes, CPU ms) from node's zlib; empty without node."""
    node = shutil.which("node")
    if node is None:
        return []
    command = [node, "-e", BROTLI_SCRIPT, json.dumps(BROTLI_QUALITIES)]
    done = subprocess.run(command, input=body, capture_output=True, check=True, timeout=300)  # noqa: S603
    return [tuple(json.loads(line)) for line in done.stdout.decode().splitlines()]


def small_body_rows(identity: bytes) -> list[list[str]]:
    """What gzip saves and costs per request on bodies around the threshold."""
    envelope = json.loads(identity)
    rows = []
    for count in SMALL_LISTS:
        page = {**envelope, "limit": count, "parts": envelope["parts"][:count]}
        body = (json.dumps(page, sort_keys=True, separators=(",", ":")) + "\n").encode()
        if count == 1:
            body = (
                json.dumps(page["parts"][0], sort_keys=True, separators=(",", ":")) + "\n"
            ).encode()
        packed = gzip_bytes(body, 6)
        micro = cpu_ms(lambda body=body: [gzip_bytes(body, 6) for _ in range(200)]) * 5
        label = "one part" if count == 1 else f"list of {count}"
        rows.append(
            [
                label,
                f"{len(body):,}",
                f"{len(packed):,}",
                f"{len(body) - len(packed):,}",
                f"{micro:.0f}",
            ]
        )
    return rows


def variant_rows(samples: dict[str, Sample], bodies: dict[str, bytes]) -> list[list[str]]:
    rows = []
    for name, sample in samples.items():
        rate = sample.requests / sample.seconds if sample.seconds else 0.0
        cpu = sample.server_cpu / sample.requests * 1000 if sample.requests else float("nan")
        rows.append(
            [
                name,
                f"{len(bodies[name]):,}",
                f"{rate:.1f}",
                f"{percentile_ms(sample.latencies, 50):.0f}",
                f"{percentile_ms(sample.latencies, 95):.0f}",
                f"{cpu:.1f}",
                str(sample.errors),
            ]
        )
    return rows


VARIANT_HEADER = ["client", "bytes on the wire", "req/s", "p50 ms", "p95 ms"]
VARIANT_HEADER += ["server CPU ms/req", "errors"]


def render_load(args: argparse.Namespace, results: dict[str, Any]) -> list[str]:
    """The headline: bytes and latency per variant, and the goals."""
    samples, bodies, first = results["samples"], results["bodies"], results["first"]
    fewer = len(bodies["identity"]) / len(bodies["gzip"])
    p95 = {name: percentile_ms(sample.latencies, 95) for name, sample in samples.items()}
    decode = cpu_ms(lambda: zlib.decompress(bodies["gzip"], 31))
    return [
        f"{args.parts:,} parts; ours under waitress (threads={THREADS}); {args.clients} "
        f"keep-alive clients in a separate process; {args.seconds:g} s per variant in "
        f"{args.rounds} alternating rounds after {args.warmup:g} s warm-up.",
        *run_context(results["load"]),
        markdown_table(VARIANT_HEADER, "lrrrrrr", variant_rows(samples, bodies)),
        "",
        f"- **{fewer:.1f}× fewer bytes** (goal ≥ 5×); p95 gzip/identity "
        f"**{p95['gzip'] / p95['identity']:.2f}** (goal ≤ 1).",
        f"- First read after a change (median of {args.first}): identity "
        f"{first['identity']:.0f} ms, gzip {first['gzip']:.0f} ms (render + compress, once).",
        f"- Decompressing the gzip list here: {decode:.1f} ms of CPU.",
    ]


def render(args: argparse.Namespace, results: dict[str, Any]) -> str:
    """The whole report: the load, then the costs the settings were chosen from."""
    identity = results["bodies"]["identity"]
    return "\n".join(
        [
            *render_load(args, results),
            "",
            "Compressing the list once (CPU ms, least of 3):",
            "",
            markdown_table(["coding", "bytes", "smaller", "CPU ms"], "lrrr", level_rows(identity)),
            "",
            "Small bodies, gzip level 6 (per request, µs of CPU):",
            "",
            markdown_table(
                ["body", "bytes", "gzip bytes", "saved", "µs"], "lrrrr", small_body_rows(identity)
            ),
        ]
    )


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Build the database, start ours, measure both variants and the first reads, stop it."""
    with tempfile.TemporaryDirectory(prefix="aerie-bench-gzip-") as folder:
        settings, key = bench_database(folder, args.parts)
        load_before = os.getloadavg()[0]
        server = start_ours(settings)
        try:
            calls, bodies = variant_calls(server.port, key)
            samples = measure_variants(server, calls, args)
            part_id = json.loads(bodies["identity"])["parts"][0]["id"]
            first = first_reads(server.port, key, part_id, args.first)
        finally:
            server.stop()
    load = (load_before, os.getloadavg()[0])
    return {"samples": samples, "bodies": bodies, "first": first, "load": load}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(render(args, run_benchmark(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
