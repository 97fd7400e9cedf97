"""The whole list shared by gunicorn's workers (utils.host_bodies), on against off, in one
session: after each change (a PUT), phones on new connections fetch the whole list, as the
board does when it polls; the server's CPU per change and the wall time until every phone
has its list.

Run: .venv/bin/python -m bench.bench_host_bodies [--parts 10000] [--cycles 12] [--phones 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import threading
import time

from bench.bench_parts_api import bench_database
from bench.load import processes_cpu_seconds
from bench.servers import HOST, Layout, ServerProcess, start_ours
from deploy import DEFAULT_GUNICORN_THREADS, default_workers


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=10_000, help="parts in the database")
    parser.add_argument("--cycles", type=int, default=12, help="measured changes per round")
    parser.add_argument("--phones", type=int, default=10, help="list fetches after each change")
    parser.add_argument("--rounds", type=int, default=4, help="rounds, alternating (ABBA)")
    parser.add_argument("--plain", action="store_true", help="phones without Accept-Encoding")
    return parser.parse_args(argv)


def _call(port: int, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> int:
    """One request on a new connection (a phone's poll lands on any worker); the byte count."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return len(data)
    finally:
        connection.close()


def cycle(port: int, headers: dict[str, str], step: int, args: argparse.Namespace) -> float:
    """One change, then every phone's list at once; the wall seconds until the last has it."""
    change = json.dumps({"notes": f"bench step {step}"}).encode()
    put_headers = {**headers, "Content-Type": "application/json"}
    _call(port, "PUT", "/api/parts/1", put_headers, change)
    list_headers = dict(headers) if args.plain else {**headers, "Accept-Encoding": "gzip"}
    start = time.perf_counter()
    phones = [
        threading.Thread(target=_call, args=(port, "GET", "/api/parts/", list_headers))
        for _ in range(args.phones)
    ]
    for phone in phones:
        phone.start()
    for phone in phones:
        phone.join()
    return time.perf_counter() - start


def measure(server: ServerProcess, headers: dict[str, str], args: argparse.Namespace, step: int):
    """(server CPU seconds per change, wall seconds per change) over args.cycles changes."""
    cycle(server.port, headers, step, args)  # warm: every worker booted and connected
    pids = [server.pid, *server.pids()]
    before = processes_cpu_seconds(pids)
    walls = [cycle(server.port, headers, step + n + 1, args) for n in range(args.cycles)]
    return (processes_cpu_seconds(pids) - before) / args.cycles, walls


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    layouts = {
        share: Layout("gunicorn", DEFAULT_GUNICORN_THREADS, default_workers(), share_list=share)
        for share in (True, False)
    }
    results: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
    with tempfile.TemporaryDirectory(prefix="aerie-bench-") as folder:
        settings, headers = bench_database(folder, args.parts)
        # The file limits, as deploy.py prod-gunicorn counts them for its workers.
        settings["RATELIMIT_STORAGE_URI"] = f"sqlite:///{folder}/limits.db"
        order = [True, False, False, True] * (args.rounds // 4 + 1)
        for step, share in enumerate(order[: args.rounds]):
            server = start_ours(settings, layout=layouts[share])
            try:
                server.wait_ready()
                cpu, walls = measure(server, headers, args, 1000 * step)
            finally:
                server.stop()
            results[share][0].append(cpu)
            results[share][1].extend(walls)
    report(args, results)
    return 0


def report(args: argparse.Namespace, results: dict[bool, tuple[list[float], list[float]]]) -> None:
    kind = "plain" if args.plain else "gzip"
    workers = default_workers()
    print(f"{args.parts} parts, {workers} gunicorn workers, {args.phones} phones ({kind})")
    print("| whole list | server CPU ms per change | wall ms per change, p50 / max |")
    print("|---|---|---|")
    for share, label in ((True, "shared (on)"), (False, "per worker (off)")):
        cpu, walls = results[share]
        wall = f"{1000 * statistics.median(walls):.0f} / {1000 * max(walls):.0f}"
        print(f"| {label} | {1000 * statistics.mean(cpu):.0f} | {wall} |")
    cpu_on, cpu_off = (statistics.mean(results[share][0]) for share in (True, False))
    wall_on, wall_off = (statistics.median(results[share][1]) for share in (True, False))
    print(f"on/off: CPU {cpu_on / cpu_off:.2f}, wall p50 {wall_on / wall_off:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
