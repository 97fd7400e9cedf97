"""Search, sorting, deep pages and statistics at 100,000 parts (issue 13), on SQLite and
PostgreSQL, through a real server (waitress), loaded by client threads in this process.

Each database gets the season archive of bench/scale_dataset.py, and three servers in turn:
- **as deployed**: every cache on; a repeated request at an unchanged revision is a lookup.
- **no body cache**: the app without the list-body cache, so every list request runs its query
  (the page; the count is kept per revision and filter, as deployed); stats as deployed.
- **no cache at all**: also without the totals and the stats bodies: every request counts and
  aggregates, what the first request after a write pays.

    .venv/bin/python -m bench.bench_search                  # 100k parts, 2 s per case
    .venv/bin/python -m bench.bench_search --write          # the same, recorded in BENCHMARKS.md
    .venv/bin/python -m bench.bench_search --parts 10k --seconds 1 --databases sqlite
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import os
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.load import Call, Sample, run_load
from bench.report import markdown_table, percentile_ms, replace_block, run_context
from bench.scale_dataset import build_dataset, parse_size, scratch_database
from bench.servers import HOST, Layout, ServerProcess, _run
from utils.schemas import SORT_FIELDS

LIST = "/api/parts/"
SERVERS = {
    "as deployed": (),
    "no body cache": ("list_bodies",),
    "no cache at all": ("list_bodies", "list_totals", "stats_bodies"),
}
START, END = "<!-- bench_search:latest (rewritten by --write) -->", "<!-- /bench_search:latest -->"
GOAL_MS = {"search": 25.0, "stats": 50.0}


def _build(settings: dict[str, Any], off: tuple[str, ...]) -> Any:
    from dataclasses import replace

    from app import create_app
    from app.extensions import db
    from app.startup import start_serving
    from utils.parts_cache import PartsCache, Tricks

    app = start_serving(create_app("testing", settings))
    app.extensions["parts_cache"].close()
    with app.app_context():
        engine = db.engine
    app.extensions["parts_cache"] = PartsCache(
        engine, replace(Tricks(), **dict.fromkeys(off, False))
    )
    return app


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    connection = http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, (path, response.status, body[:300])
        return body, dict(response.getheaders())
    finally:
        connection.close()


def case_paths(port: int, headers: dict[str, str], parts: int) -> dict[str, str]:
    """Case name → path; the keyset cases start where the deep offset lands."""
    deep = parts // 2
    paths = {
        "search `Gear`": "search=Gear&limit=25",
        "search `9999`": "search=9999&limit=25",
        "search `ab` (2 characters)": "search=ab&limit=25",
        "search `Müller`": "search=" + urllib.parse.quote("Müller") + "&limit=25",
        "category cnc": "category=cnc&limit=25",
    }
    for column in sorted(set(SORT_FIELDS.values())):
        paths[f"sort by {column}"] = f"sort_by={column}&sort_order=asc&limit=25"
    for column in ("created_at", "subsystem"):
        offset = f"sort_by={column}&limit=25&offset={deep - 25}"
        _, answer = _get(port, f"{LIST}?{offset}", headers)
        paths[f"{column}: offset {deep:,}"] = f"sort_by={column}&limit=25&offset={deep}"
        after = urllib.parse.quote(answer["X-Next-After"])
        paths[f"{column}: keyset at {deep:,}"] = f"sort_by={column}&limit=25&after={after}"
    result = {name: f"{LIST}?{query}" for name, query in paths.items()}
    result["GET /stats"] = "/api/parts/stats"
    result["GET /stats/detailed"] = "/api/parts/stats/detailed"
    return result


@dataclass
class Measured:
    database: str
    server: str
    case: str
    sample: Sample
    total: int | None = None


@dataclass
class SearchRun:
    args: dict[str, Any]
    measured: list[Measured] = field(default_factory=list)
    builds: dict[str, float] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)
    finished: float = 0.0


def measure_server(run: SearchRun, database: str, data: Any, server: str) -> None:
    args = run.args
    process = ServerProcess(
        server, _run, functools.partial(_build, data.settings, SERVERS[server]), Layout()
    )
    try:
        paths = case_paths(process.port, data.key_header, data.parts)
        chosen = [c for c in args["cases"].split(",") if c] if args.get("cases") else []
        for case, path in paths.items():
            if chosen and not any(part in case for part in chosen):
                continue
            body, _ = _get(process.port, path, data.key_header)
            total = json.loads(body).get("total") if path.startswith(LIST) else None
            call = Call(path, data.key_header, 200, len(body))
            run_load(process.port, process.pid, [call], args["clients"], args["warmup"], 10**6)
            sample = run_load(
                process.port, process.pid, [call], args["clients"], args["seconds"], 10**6
            )
            run.measured.append(Measured(database, server, case, sample, total))
            p95 = percentile_ms(sample.latencies, 95)
            print(f"{database:10s} {server:16s} {case:32s} p95 {p95:8.1f} ms", flush=True)
    finally:
        process.stop()


def run_benchmark(args: argparse.Namespace) -> SearchRun:
    run = SearchRun(vars(args) | {"parts": parse_size(args.parts)})
    started = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-search-") as folder:
        for database in args.databases.split(","):
            with scratch_database(database, folder) as url:
                data = build_dataset(url, folder, run.args["parts"])
                run.builds[database] = data.build_seconds
                for server in args.servers.split(","):
                    measure_server(run, database, data, server)
    run.load, run.finished = (started, os.getloadavg()[0]), time.time()
    return run


def _goal(case: str) -> float | None:
    if case.startswith("search"):
        return GOAL_MS["search"]
    return GOAL_MS["stats"] if case.startswith("GET /stats") else None


def _row(m: Measured) -> list[str]:
    s = m.sample
    p95 = percentile_ms(s.latencies, 95)
    goal = _goal(m.case)
    verdict = "" if goal is None else ("met" if p95 <= goal else f"not met (≤ {goal:g})")
    cpu = 1000 * s.server_cpu / s.requests if s.requests else 0.0
    cells = [f"{percentile_ms(s.latencies, q):.1f}" for q in (50, 95, 99)]
    rate = s.requests / s.seconds if s.seconds else 0.0
    total = "" if m.total is None else f"{m.total:,}"
    return [
        m.database,
        m.server,
        m.case,
        total,
        *cells,
        f"{rate:.0f}",
        f"{cpu:.1f}",
        str(s.errors),
        verdict,
    ]


def render(run: SearchRun) -> str:
    a = run.args
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(run.finished))
    builds = ", ".join(f"{db} {seconds:.0f} s" for db, seconds in run.builds.items())
    header = [
        "database",
        "server",
        "case",
        "total",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "req/s",
        "server CPU ms/req",
        "errors",
        "goal",
    ]
    rows = [_row(m) for m in run.measured]
    return "\n".join([
        f"Run of {stamp}: {a['parts']:,} parts (bench/scale_dataset.py; built in {builds}), "
        f"waitress with 4 threads, {a['clients']} keep-alive clients in a separate process, "
        f"{a['seconds']:g} s measured per case after {a['warmup']:g} s warm-up.",
        *run_context(run.load),
        markdown_table(header, "lllrrrrrrrl", rows),
    ])  # fmt: skip


def record(path: Path, run: SearchRun) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(replace_block(text, START, END, render(run)), encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="100k", help="1k, 10k, 100k or a number")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help="a subset of " + ", ".join(SERVERS)
    )
    parser.add_argument("--cases", default="", help="only cases whose name contains one of these")
    parser.add_argument("--write", action="store_true", help="record the run in BENCHMARKS.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = run_benchmark(args)
    print(render(run))
    if args.write:
        record(Path(__file__).resolve().parents[1] / "BENCHMARKS.md", run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
