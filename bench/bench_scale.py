"""Scale benchmark (issue 13): 1k-100k parts with history, SQLite and PostgreSQL, gunicorn and
waitress, every case against the bare-Flask ceiling on the same server in the same run.

Run: .venv/bin/python -m bench.bench_scale --sizes 1k,10k --db sqlite,postgresql \\
         --server gunicorn,waitress --seconds 4 [--write]
     .venv/bin/python -m bench.bench_scale --quick     # 1k, SQLite, waitress, short runs
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine

from bench.bench_parts_api import fetch, measure_case
from bench.report import Measured, run_and_record
from bench.scale_cases import (
    LIST,
    Pools,
    Reference,
    list_reads,
    make_pools,
    search_reads,
    write_cases,
    write_replays,
)
from bench.scale_dataset import Dataset, build_dataset, parse_size, scratch_database
from bench.scale_report import render_scale, write_scale
from bench.servers import Layout, ServerProcess, start_ours, start_replay
from bench.soak import rss_kb
from deploy import DEFAULT_GUNICORN_THREADS, DEFAULT_WAITRESS_THREADS, default_workers

# deploy.py prod-gunicorn as it runs: its default worker count, the limits shared in a
# SQLite file (utils/file_limits.py) or on Redis; bare gets as many workers. "gunicorn-1" is
# one worker counting limits in memory (deploy.py prod-gunicorn --workers 1).
FILE_LIMITS = f"sqlite:///{tempfile.gettempdir()}/aerie-bench-limits-{os.getpid()}.db"
REDIS_LIMITS = "redis://127.0.0.1:6379/14"
LAYOUTS = {
    "gunicorn": Layout("gunicorn", DEFAULT_GUNICORN_THREADS, default_workers(), limits=FILE_LIMITS),
    "waitress": Layout("waitress", DEFAULT_WAITRESS_THREADS),
    "gunicorn-redis": Layout(
        "gunicorn", DEFAULT_GUNICORN_THREADS, default_workers(), limits=REDIS_LIMITS
    ),
    "gunicorn-1": Layout("gunicorn", DEFAULT_GUNICORN_THREADS),
}
DATABASES = ("sqlite", "postgresql")
TIERS = ("list", "search")
# Tiers by size when --tiers is auto: the list tier where a phone loads every part, the
# search tier where a season archive is searched.
LIST_MAX_PARTS = 10_000
SEARCH_MIN_PARTS = 100_000
QUICK = {"sizes": "1k", "db": "sqlite", "server": "waitress", "seconds": 1.0, "warmup": 0.2}


@dataclass
class Block:
    """One tier measured on one dataset under one server layout."""

    db: str
    parts: int
    server: str
    tier: str
    load: float
    measured: dict[str, Measured] = field(default_factory=dict)
    rss_kb: dict[str, tuple[int, int]] = field(default_factory=dict)
    list_bytes: dict[str, int] = field(default_factory=dict)


@dataclass
class ScaleRun:
    """Everything one run produced, for the report."""

    args: dict[str, Any]
    datasets: list[Dataset]
    blocks: list[Block]
    load: tuple[float, float]
    finished: float = 0.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; --quick fills in whatever was not given with a short local run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--sizes", help="comma-separated part counts: 1k,10k,100k (or plain numbers)")
    add("--db", help="comma-separated: sqlite,postgresql")
    add("--server", help="comma-separated: gunicorn,waitress")
    add("--tiers", default="auto", help="auto (list ≤ 10k, search ≥ 100k) or list,search")
    add("--seconds", type=float, help="measured seconds per case and server (default 4)")
    add("--warmup", type=float, help="unmeasured seconds per case and server (default 1)")
    add("--rounds", type=int, default=2, help="alternating ours/bare rounds per case")
    add("--clients", type=int, default=8, help="client threads (keep-alive connections)")
    add("--max-requests", type=int, default=500_000, help="cap per timed run")
    add("--quick", action="store_true", help="defaults for a short look: " + str(QUICK))
    add("--write", action="store_true", help="rewrite the Scale block of BENCHMARKS.md")
    args = parser.parse_args(argv)
    full = {"sizes": "1k,10k,100k", "db": "sqlite", "server": "waitress"}
    defaults = QUICK if args.quick else {**full, "seconds": 4.0, "warmup": 1.0}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    _check_choices(parser, args)
    return args


def _check_choices(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for option, allowed in (("db", DATABASES), ("server", tuple(LAYOUTS)), ("tiers", TIERS)):
        wanted = set(getattr(args, option).split(","))
        if option == "tiers" and args.tiers == "auto":
            continue
        if not wanted <= set(allowed):
            parser.error(f"--{option} takes {','.join(allowed)}")


def tiers_for(parts: int, args: argparse.Namespace) -> list[str]:
    """Which tiers run at this size."""
    if args.tiers != "auto":
        return args.tiers.split(",")
    chosen = ["list"] if parts <= LIST_MAX_PARTS else []
    return chosen + (["search"] if parts >= SEARCH_MIN_PARTS else [])


def _rss(server: ServerProcess) -> dict[str, int]:
    """VmRSS (kB) of each of the server's processes: 'server', or gunicorn's master/worker."""
    pids = server.pids()
    workers = [f"worker {n}" for n in range(1, len(pids))] if len(pids) > 2 else ["worker"]
    names = ["server"] if len(pids) == 1 else ["master", *workers]
    return {
        f"{server.name} {name}": rss_kb(pid) or 0 for name, pid in zip(names, pids, strict=True)
    }


def reference_for(tier: str, ours: ServerProcess, data: Dataset, pools: Pools | None) -> Reference:
    """The tier's read bodies from ours, plus the bare answers to its writes."""
    if tier == "search" or pools is None:
        return search_reads(ours.port, data.key_header, data.parts)
    reference = list_reads(ours.port, data.key_header, list(range(1, data.parts + 1)))
    one_part = next(served for path, served in reference.bodies.items() if path != LIST)
    reference.writes = write_replays(pools, one_part)
    return reference


def check_same_bytes(
    ours: ServerProcess, bare: ServerProcess, reference: Reference, headers: dict[str, str]
) -> None:
    """Every read body (and its gzip variant) is byte for byte what ours sends."""
    checks = [(path, headers) for path in reference.bodies]
    checks += [(path, {**headers, "Accept-Encoding": "gzip"}) for path in reference.gzipped]
    for path, sent in checks:
        mine, theirs = (fetch(s.port, path, sent, require_etag=False) for s in (ours, bare))
        if mine != theirs:
            raise RuntimeError(f"ours and bare differ on {path}")


def start_pair(
    block: Block, data: Dataset, layout: Layout, args: argparse.Namespace, engine: Engine
) -> tuple[list[ServerProcess], Reference, Pools | None]:
    """Ours (without the list-body cache in the search tier) and bare, checked to agree;
    appended to the returned list as soon as each starts, so the caller can stop them."""
    search = block.tier == "search"
    ours = start_ours(data.settings, "list_bodies" if search else None, layout)
    ours.name = "ours"
    servers = [ours]
    try:
        ours.wait_ready()
        block.rss_kb = {name: (kb, 0) for name, kb in _rss(ours).items()}
        pools = None if search else make_pools(engine, args.clients)
        reference = reference_for(block.tier, ours, data, pools)
        servers.append(
            start_replay({**reference.writes, **reference.bodies}, reference.gzipped, layout)
        )
        servers[1].wait_ready()
        block.rss_kb |= {name: (kb, 0) for name, kb in _rss(servers[1]).items()}
        check_same_bytes(ours, servers[1], reference, data.key_header)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers, reference, pools


def run_tier(
    block: Block, data: Dataset, layout: Layout, args: argparse.Namespace, engine: Engine
) -> None:
    """Start ours and bare under `layout`, measure the tier's cases, note memory."""
    servers, reference, pools = start_pair(block, data, layout, args, engine)
    try:
        cases = list(reference.cases)
        if pools is not None:
            cases += write_cases(pools, data.key_header, engine)
        for case in cases:
            samples = measure_case(case, servers, args)
            block.measured[case.key] = Measured(case.name, case.headline, samples)
        idle = {name: kb for name, (kb, _after) in block.rss_kb.items()}
        after = _rss(servers[0]) | _rss(servers[1])
        block.rss_kb = {name: (idle.get(name, 0), kb) for name, kb in after.items()}
        for kind, bodies in (("plain", reference.bodies), ("gzip", reference.gzipped)):
            if LIST in bodies:
                block.list_bytes[kind] = len(bodies[LIST].body)
    finally:
        for server in servers:
            server.stop()


def run_dataset(db: str, parts: int, args: argparse.Namespace, run: ScaleRun) -> None:
    """Build one dataset, then measure each tier under each server layout on it."""
    with tempfile.TemporaryDirectory(prefix="aerie-scale-") as folder:
        with scratch_database(db, folder) as url:
            data = build_dataset(url, folder, parts)
            run.datasets.append(data)
            took = f"{data.events:,} events in {data.build_seconds:.1f} s"
            print(f"built {db}: {parts:,} parts, {took}", flush=True)
            engine = create_engine(url)
            try:
                for tier in tiers_for(parts, args):
                    for server in args.server.split(","):
                        block = Block(db, parts, server, tier, os.getloadavg()[0])
                        run.blocks.append(block)
                        run_tier(block, data, LAYOUTS[server], args, engine)
                        print(f"  measured {tier} under {server}", flush=True)
            finally:
                engine.dispose()


def run_scale(args: argparse.Namespace) -> ScaleRun:
    """Every dataset, tier and layout asked for."""
    run = ScaleRun(vars(args), [], [], (os.getloadavg()[0], 0.0))
    for db in args.db.split(","):
        for size in args.sizes.split(","):
            run_dataset(db, parse_size(size), args, run)
    run.load = (run.load[0], os.getloadavg()[0])
    run.finished = time.time()
    return run


def main(argv: list[str] | None = None) -> int:
    """Run, print the report, and record it in BENCHMARKS.md when asked."""
    args = parse_args(argv)
    return run_and_record(run_scale(args), render_scale, write_scale, args.write)


if __name__ == "__main__":
    raise SystemExit(main())
