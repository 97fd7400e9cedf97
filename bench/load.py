"""The load generator: client threads on keep-alive http.client connections, loopback only."""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.servers import HOST

CLIENT_TIMEOUT_SECONDS = 30
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ANY_LENGTH = -1


@dataclass(frozen=True)
class Call:
    """One request a client sends, and what a correct answer looks like."""

    path: str
    headers: dict[str, str]
    status: int
    length: int  # the body's exact length, or ANY_LENGTH (a write's answer varies)
    method: str = "GET"
    body: bytes | None = None


@dataclass
class Sample:
    """What one timed run measured."""

    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def add(self, other: Sample) -> None:
        """Pool another run of the same case and app into this one."""
        self.requests += other.requests
        self.errors += other.errors
        self.seconds += other.seconds
        self.server_cpu += other.server_cpu
        self.client_cpu += other.client_cpu
        self.latencies.extend(other.latencies)


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """Every process below pid (a gunicorn master's workers, their converters), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone while we looked
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def processes_cpu_seconds(pids: int | Sequence[int]) -> float:
    """CPU time so far of one process or several (a gunicorn master and its workers)."""
    return sum(process_cpu_seconds(pid) for pid in ([pids] if isinstance(pids, int) else pids))


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _exchange(connection: http.client.HTTPConnection, call: Call) -> bool | None:
    """Send one call; whether the answer was right, or None when the connection failed."""
    try:
        connection.request(call.method, call.path, body=call.body, headers=call.headers)
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        return None
    return response.status == call.status and call.length in (ANY_LENGTH, len(body))


def _client(
    port: int,
    calls: list[Call],
    first: int,
    stop_at: list[float],
    limit: int,
    start: threading.Barrier,
    out: Sample,
) -> None:
    connection = http.client.HTTPConnection(HOST, port, timeout=CLIENT_TIMEOUT_SECONDS)
    index = first
    start.wait()
    deadline = stop_at[0]
    clock = time.perf_counter
    while out.requests + out.errors < limit and clock() < deadline:
        call = calls[index % len(calls)]
        index += 1
        began = clock()
        right = _exchange(connection, call)
        if right is not None:
            out.latencies.append(clock() - began)
        if right:
            out.requests += 1
        else:
            out.errors += 1
    connection.close()


def _slices(calls: list[Call], clients: int, own: bool) -> list[tuple[list[Call], int]]:
    """Each client's calls and where it starts: all calls from staggered starting points, or
    with `own` one contiguous slice each (writes that must not meet another client's)."""
    if not own:
        return [(calls, number * len(calls) // clients) for number in range(clients)]
    size = len(calls) // clients
    return [(calls[number * size : (number + 1) * size], 0) for number in range(clients)]


def _clients(
    port: int, work: list[tuple[list[Call], int]], limit: int
) -> tuple[list[threading.Thread], list[Sample], list[float], threading.Barrier]:
    """The client threads, started and waiting at the barrier; their samples; the stop time
    they read once the barrier opens."""
    per_client = [Sample() for _ in work]
    stop_at, start = [0.0], threading.Barrier(len(work) + 1)
    threads = [
        threading.Thread(target=_client, args=(port, *calls, stop_at, limit, start, out))
        for calls, out in zip(work, per_client, strict=True)
    ]
    for thread in threads:
        thread.start()
    return threads, per_client, stop_at, start


def run_load(
    port: int,
    server_pid: int | Sequence[int],
    calls: list[Call],
    clients: int,
    seconds: float,
    max_requests: int,
    own_slices: bool = False,
) -> Sample:
    """Drive `clients` threads for `seconds` (or `max_requests` in all) and measure; the
    server's CPU is that of `server_pid` (one process or several)."""
    work = _slices(calls, clients, own_slices)
    threads, per_client, stop_at, start = _clients(port, work, max(1, max_requests // clients))
    server_before, client_before = processes_cpu_seconds(server_pid), _own_cpu_seconds()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    total = Sample(
        seconds=time.perf_counter() - began,
        server_cpu=processes_cpu_seconds(server_pid) - server_before,
        client_cpu=_own_cpu_seconds() - client_before,
    )
    for sample in per_client:
        total.add(sample)  # requests, errors, latencies (a client's times and CPU are zero)
    return total


def add_load_arguments(
    parser: argparse.ArgumentParser, *, parts: int, seconds: float, warmup: float, per: str
) -> None:
    """--parts, --seconds, --clients, --rounds and --warmup, as every read benchmark takes
    them; `per` names what one measurement is of ("case and server", "variant")."""
    parser.add_argument("--parts", type=int, default=parts, help="parts in the database")
    parser.add_argument("--seconds", type=float, default=seconds, help=f"measured s per {per}")
    parser.add_argument("--clients", type=int, default=8, help="client threads (connections)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds, alternating (ABBA)")
    parser.add_argument("--warmup", type=float, default=warmup, help=f"unmeasured s per {per}")
