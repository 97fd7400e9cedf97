"""The load generator: client threads on keep-alive http.client connections, loopback only."""

from __future__ import annotations

import http.client
import os
import resource
import threading
import time
from dataclasses import dataclass, field

from bench.servers import HOST

CLIENT_TIMEOUT_SECONDS = 30
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Call:
    """One request a client sends, and what a correct answer looks like."""

    path: str
    headers: dict[str, str]
    status: int
    length: int


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


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
        try:
            connection.request("GET", call.path, headers=call.headers)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            out.errors += 1
            connection.close()
            continue
        out.latencies.append(clock() - began)
        if response.status == call.status and len(body) == call.length:
            out.requests += 1
        else:
            out.errors += 1
    connection.close()


def run_load(
    port: int,
    server_pid: int,
    calls: list[Call],
    clients: int,
    seconds: float,
    max_requests: int,
) -> Sample:
    """Drive `clients` threads for `seconds` (or `max_requests` in all) and measure."""
    per_client = [Sample() for _ in range(clients)]
    stop_at = [0.0]
    start = threading.Barrier(clients + 1)
    threads = [
        threading.Thread(
            target=_client,
            args=(
                port,
                calls,
                number * len(calls) // clients,
                stop_at,
                max(1, max_requests // clients),
                start,
                per_client[number],
            ),
            daemon=True,
        )
        for number in range(clients)
    ]
    for thread in threads:
        thread.start()
    server_before, client_before = process_cpu_seconds(server_pid), _own_cpu_seconds()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    total = Sample(seconds=time.perf_counter() - began)
    total.server_cpu = process_cpu_seconds(server_pid) - server_before
    total.client_cpu = _own_cpu_seconds() - client_before
    for sample in per_client:
        total.requests += sample.requests
        total.errors += sample.errors
        total.latencies.extend(sample.latencies)
    return total
