"""Benchmark GET one part and GET all parts against a bare Flask app serving the same bytes.

Run: .venv/bin/python -m bench.bench_parts_api [--parts 5000] [--seconds 10] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.http import unquote_etag

from app import create_app
from app.startup import prepare
from bench.dataset import populate_parts
from bench.load import Call, Sample, add_load_arguments, run_load
from bench.report import Measured, Run, render_run, run_and_record, write_benchmarks
from bench.servers import HOST, Served, ServerProcess, our_settings, start_bare, start_ours

# How many different parts the single-part cases cycle through.
SAMPLED_PARTS = 100
CASE_KEYS = ("one", "all", "one-304", "all-304")


@dataclass(frozen=True)
class Case:
    """One request shape, sent the same way to both servers.

    Writes (bench_scale) set `own_slices` (each client cycles over its own part of `calls`),
    `pool` (at most that many requests per run: each call once) and `reset` (run before every
    timed run on our server, e.g. to put the parts an approve takes back in review).
    """

    key: str
    name: str
    calls: list[Call]
    headline: bool
    own_slices: bool = False
    pool: int | None = None
    reset: Callable[[], None] | None = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; the defaults are the numbers the issue asks for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_load_arguments(parser, parts=5000, seconds=10.0, warmup=2.0, per="case and server")
    parser.add_argument(
        "--max-requests", type=int, default=500_000, help="upper bound on requests in one timed run"
    )
    parser.add_argument(
        "--cases",
        default=",".join(CASE_KEYS),
        help=f"comma-separated subset of {','.join(CASE_KEYS)}",
    )
    parser.add_argument(
        "--write", action="store_true", help="record this run in BENCHMARKS.md at the project root"
    )
    args = parser.parse_args(argv)
    unknown = set(args.cases.split(",")) - set(CASE_KEYS)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    if args.write and args.cases != ",".join(CASE_KEYS):
        parser.error("--write records full runs only: leave --cases out")
    return args


def fetch(port: int, path: str, headers: dict[str, str], require_etag: bool = True) -> Served:
    """One GET; the body, ETag and Content-Encoding exactly as the server sent them."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {body[:200]!r}")
        etag, _weak = unquote_etag(response.getheader("ETag"))
        if not etag and require_etag:
            raise RuntimeError(f"GET {path} sent no ETag")
        return Served(body, etag or "", response.getheader("Content-Encoding"))
    finally:
        connection.close()


def fetch_reference(
    port: int, headers: dict[str, str], expected: int
) -> tuple[Served, dict[int, Served]]:
    """Our list body and a spread of single-part bodies, for the bare app to replay."""
    parts_list = fetch(port, "/api/parts/", headers)
    envelope = json.loads(parts_list.body)
    if envelope["total"] != expected or len(envelope["parts"]) != expected:
        raise RuntimeError(f"expected {expected} parts, the list has {envelope['total']}")
    ids = sorted(part["id"] for part in envelope["parts"])
    step = max(1, len(ids) // SAMPLED_PARTS)
    sampled = ids[::step][:SAMPLED_PARTS]
    return parts_list, {
        part_id: fetch(port, f"/api/parts/{part_id}", headers) for part_id in sampled
    }


def build_cases(
    key_header: dict[str, str], parts_list: Served, parts: dict[int, Served]
) -> list[Case]:
    """The two cases the target is about, then their conditional-GET variants."""

    def revalidate(served: Served) -> dict[str, str]:
        return {**key_header, "If-None-Match": f'"{served.etag}"'}

    one = [Call(f"/api/parts/{pid}", key_header, 200, len(s.body)) for pid, s in parts.items()]
    one_304 = [Call(f"/api/parts/{pid}", revalidate(s), 304, 0) for pid, s in parts.items()]
    return [
        Case("one", "GET one part", one, headline=True),
        Case(
            "all",
            "GET all parts",
            [Call("/api/parts/", key_header, 200, len(parts_list.body))],
            headline=True,
        ),
        Case("one-304", "GET one part, If-None-Match (304)", one_304, headline=False),
        Case(
            "all-304",
            "GET all parts, If-None-Match (304)",
            [Call("/api/parts/", revalidate(parts_list), 304, 0)],
            headline=False,
        ),
    ]


def check_same_bytes(
    ours: ServerProcess, bare: ServerProcess, headers: dict[str, str], part_id: int
) -> None:
    """The comparison is fair only if both servers send identical bodies and validators."""
    for path in ("/api/parts/", f"/api/parts/{part_id}"):
        if fetch(ours.port, path, headers) != fetch(bare.port, path, headers):
            raise RuntimeError(f"ours and bare differ on {path}")


def timed_run(
    case: Case, server: ServerProcess, seconds: float, args: argparse.Namespace
) -> Sample:
    """One run of a case on one server (its every process counted for CPU)."""
    if case.reset is not None and server.name.startswith("ours"):
        case.reset()
    limit = min(case.pool or args.max_requests, args.max_requests)
    return run_load(
        server.port, server.pids(), case.calls, args.clients, seconds, limit, case.own_slices
    )


def measure_case(
    case: Case, servers: list[ServerProcess], args: argparse.Namespace
) -> dict[str, Sample]:
    """Warm both servers up, then alternate them (ABBA...) so drift hits both alike."""
    per_round = args.seconds / args.rounds
    pooled = {server.name: Sample() for server in servers}
    for server in servers if args.warmup > 0 else ():
        timed_run(case, server, args.warmup, args)
    for round_number in range(args.rounds):
        order = servers if round_number % 2 == 0 else list(reversed(servers))
        for server in order:
            pooled[server.name].add(timed_run(case, server, per_round, args))
    return pooled


def bench_database(folder: str, parts: int) -> tuple[dict[str, Any], dict[str, str]]:
    """A SQLite file of `parts` parts in `folder`: our server settings and the key header."""
    settings = our_settings(f"sqlite:///{folder}/bench.db", folder)
    builder = create_app("testing", settings)
    prepare(builder)
    populate_parts(builder, parts)
    return settings, {"X-API-Key": str(builder.config["SECRET_KEY"])}


def run_benchmark(args: argparse.Namespace) -> Run:
    """Build the database, start both servers, measure every case, stop the servers."""
    with tempfile.TemporaryDirectory(prefix="aerie-bench-") as folder:
        settings, key_header = bench_database(folder, args.parts)
        servers: list[ServerProcess] = []
        load_before = os.getloadavg()[0]
        try:
            servers.append(start_ours(settings))
            parts_list, parts = fetch_reference(servers[0].port, key_header, args.parts)
            servers.append(start_bare(parts_list, parts))
            check_same_bytes(servers[0], servers[1], key_header, next(iter(parts)))
            wanted = args.cases.split(",")
            cases = [
                case for case in build_cases(key_header, parts_list, parts) if case.key in wanted
            ]
            measured = [
                Measured(case.name, case.headline, measure_case(case, servers, args))
                for case in cases
            ]
        finally:
            for server in servers:
                server.stop()
    return Run(
        args=vars(args),
        list_bytes=len(parts_list.body),
        measured=measured,
        finished=time.time(),
        load=(load_before, os.getloadavg()[0]),
    )


def main(argv: list[str] | None = None) -> int:
    """Run, print the report, and record it in BENCHMARKS.md when asked."""
    args = parse_args(argv)
    return run_and_record(run_benchmark(args), render_run, write_benchmarks, args.write)


if __name__ == "__main__":
    raise SystemExit(main())
