"""Soak: a real server under a mixed load (reads, writes, workflow, uploads, history) for a
configurable time; reports errors, latency percentiles per kind of request, and the RSS of
every server process over time (flat within --rss-tolerance after the warm-up, or it says so).

    .venv/bin/python -m bench.soak --seconds 600                  # the 10-minute soak
    .venv/bin/python -m bench.soak --seconds 60 --mode prod       # waitress, one process
    .venv/bin/python -m bench.soak --database-url postgresql+psycopg://…/soak   # an EMPTY db

A measurement, not a test: it exits 1 when a request failed or an RSS grew too much, so a
script can tell, but nothing in CI runs it. The server is started from deploy.py on
127.0.0.1 in a temporary folder and stopped by its process id.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
KEY = "soak-" + "0123456789abcdef" * 3
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
UNLIMITED = "100000000 per minute"
# Weights of the request kinds a client picks from (the shop: mostly reads).
MIX = {
    "list": 30,
    "one": 20,
    "history": 8,
    "create": 8,
    "update": 12,
    "workflow": 14,
    "upload": 5,
    "delete": 3,
}
# Past this many parts a create deletes instead: the data set (and so the memory) stays bounded.
MAX_PARTS = 300
# Statuses that are the state's answer, not a failure: another client moved the part first.
EXPECTED_REFUSALS = {404, 409, 412}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="load duration")
    parser.add_argument("--warmup", type=float, default=30, help="seconds before RSS baseline")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--mode", default="prod-gunicorn", choices=["prod", "prod-gunicorn"])
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--sample", type=float, default=10, help="seconds between RSS samples")
    parser.add_argument("--rss-tolerance", type=float, default=0.10, help="allowed growth")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    parser.add_argument("--seed", type=int, default=12)
    return parser.parse_args()


class Client:
    """One keep-alive connection to the server; requests return (status, JSON or None)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: Any = None, **extra: Any) -> tuple[int, Any]:
        headers = {"X-API-Key": KEY, "X-Actor": "soak", **extra.pop("headers", {})}
        payload = extra.pop("raw", None)
        if body is not None:
            payload, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        try:
            self.connection.request(method, f"/api/parts{path}", body=payload, headers=headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            raise
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        return response.status, json.loads(raw) if is_json and raw else None


class Load:
    """The shared state of the clients: known part ids, timings and failures per kind."""

    def __init__(self, seed: int) -> None:
        self.ids: list[int] = []
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.refusals: dict[str, int] = defaultdict(int)
        self.errors: list[str] = []
        self.random = random.Random(seed)

    def pick(self) -> int | None:
        with self.lock:
            return self.random.choice(self.ids) if self.ids else None

    def record(self, kind: str, seconds: float, status: int, expected: set[int]) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if status in EXPECTED_REFUSALS:
                self.refusals[kind] += 1
            elif status not in expected:
                self.errors.append(f"{kind}: HTTP {status}")


def one_request(client: Client, load: Load, kind: str, rng: random.Random) -> tuple[int, set]:
    """Send one request of `kind`; (status, the statuses that count as success)."""
    part_id = load.pick()
    if kind == "create" and len(load.ids) >= MAX_PARTS:
        kind = "delete"
    if kind == "create" or part_id is None:
        status, body = client.call(
            "POST",
            "/",
            {"material": "Al", "subsystem": "Soak", "type": rng.choice(["cnc", "hand", "misc"])},
        )
        if status == 201:
            with load.lock:
                load.ids.append(body["id"])
        return status, {201}
    if kind == "delete":
        status, _ = client.call("DELETE", f"/{part_id}")
        if status == 200:
            with load.lock:
                load.ids.remove(part_id) if part_id in load.ids else None
        return status, {200}
    return _other_request(client, kind, part_id, rng)


def _other_request(client: Client, kind: str, part_id: int, rng: random.Random) -> tuple[int, set]:
    if kind == "list":
        return client.call("GET", "/")[0], {200}
    if kind == "one":
        return client.call("GET", f"/{part_id}")[0], {200}
    if kind == "history":
        return client.call("GET", f"/{part_id}/history?limit=20")[0], {200}
    if kind == "update":
        return client.call("PUT", f"/{part_id}", {"notes": f"n{rng.random()}"})[0], {200}
    if kind == "upload":
        return _upload(client, part_id), {201}
    action = rng.choice(["approve", "assign", "unclaim", "complete", "revert"])
    body = {"assigned": f"worker{rng.randint(1, 5)}"} if action == "assign" else {}
    return client.call("POST", f"/{part_id}/{action}", body)[0], {200}


def _upload(client: Client, part_id: int) -> int:
    boundary = "soakboundary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.pdf"\r\n'
    form = (head + "Content-Type: application/pdf\r\n\r\n").encode() + PDF
    form += f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return client.call("POST", f"/{part_id}/upload", raw=form, headers=headers)[0]


def client_loop(port: int, load: Load, stop: threading.Event, seed: int) -> None:
    client, rng = Client(port), random.Random(seed)
    kinds, weights = list(MIX), list(MIX.values())
    while not stop.is_set():
        kind = rng.choices(kinds, weights)[0]
        started = time.perf_counter()
        try:
            status, expected = one_request(client, load, kind, rng)
        except (OSError, http.client.HTTPException) as exc:
            with load.lock:
                load.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            continue
        load.record(kind, time.perf_counter() - started, status, expected)


def descendants(pid: int) -> list[int]:
    """pid and every live process below it (gunicorn's workers)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children[int(fields[1])].append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(args: argparse.Namespace, folder: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "RATELIMIT_"))}
    env.update(
        FLASK_ENV="production",
        SECRET_KEY=KEY,
        CONFIG_FILE=os.devnull,  # no settings file, not this machine's config.json
        DATABASE_URL=args.database_url or f"sqlite:///{folder / 'soak.db'}",
        UPLOAD_FOLDER=str(folder / "uploads"),
        RATELIMIT_DEFAULT=UNLIMITED,
        AUTH_FAILURE_LIMIT=UNLIMITED,
        AUTH_CHECK_INTERVAL_SECONDS="0",
        LOG_FILE="",
    )
    command = [
        sys.executable,
        str(PROJECT / "deploy.py"),
        args.mode,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if args.mode == "prod-gunicorn":
        command += ["--workers", str(args.workers)]
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        command,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,  # noqa: S603 - our deploy.py
        start_new_session=True,
    )
    for _ in range(300):
        try:
            if Client(port).call("GET", "/stats")[0] == 200:
                return process
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
    stop_server(process)
    raise SystemExit(f"server did not start:\n{(folder / 'server.log').read_text()[-2000:]}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server we started (its process group: gunicorn's workers too)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


def report(
    load: Load, samples: list[tuple[float, dict[int, int]]], args: argparse.Namespace
) -> bool:
    print(
        f"{'kind':<9}{'count':>8}{'refused':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    )
    for kind, values in sorted(load.latencies.items()):
        print(
            f"{kind:<9}{len(values):>8}{load.refusals[kind]:>9}"
            + "".join(f"{percentile(values, q):>9.1f}" for q in (0.5, 0.9, 0.99, 1.0))
        )
    print(f"errors: {len(load.errors)}", *load.errors[:20], sep="\n  ")
    pids = sorted({pid for _, row in samples for pid in row})
    print("RSS (MB) over time:\n" + f"{'t (s)':>7}" + "".join(f"{pid:>10}" for pid in pids))
    for moment, row in samples:
        print(f"{moment:>7.0f}" + "".join(f"{row.get(pid, 0) / 1024:>10.1f}" for pid in pids))
    flat = rss_flat(samples, args)
    return flat and not load.errors


def rss_flat(samples: list[tuple[float, dict[int, int]]], args: argparse.Namespace) -> bool:
    after = [row for moment, row in samples if moment >= args.warmup]
    flat = True
    for pid in after[0] if after else {}:
        base, peak = after[0][pid], max(row.get(pid, 0) for row in after)
        growth = (peak - base) / base
        print(
            f"pid {pid}: {base / 1024:.1f} MB after warm-up, peak {peak / 1024:.1f} MB "
            f"({growth:+.1%})"
        )
        flat = flat and growth <= args.rss_tolerance
    print("RSS flat" if flat else f"RSS grew more than {args.rss_tolerance:.0%}")
    return flat


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="aerie-soak-") as folder:
        port = free_port()
        server = start_server(args, Path(folder), port)
        load, stop, samples = Load(args.seed), threading.Event(), []
        threads = [
            threading.Thread(target=client_loop, args=(port, load, stop, args.seed + n))
            for n in range(args.clients)
        ]
        try:
            started = time.monotonic()
            for thread in threads:
                thread.start()
            while (elapsed := time.monotonic() - started) < args.seconds:
                samples.append((elapsed, {p: rss_kb(p) or 0 for p in descendants(server.pid)}))
                time.sleep(min(args.sample, max(0.0, args.seconds - elapsed)))
            samples.append(
                (time.monotonic() - started, {p: rss_kb(p) or 0 for p in descendants(server.pid)})
            )
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            stop_server(server)
        passed = report(load, samples, args)
        if load.errors:
            print_server_errors(Path(folder) / "server.log")
        return 0 if passed else 1


def print_server_errors(log: Path) -> None:
    """The server's own account of the failures (its log goes with the temporary folder)."""
    lines = log.read_text(errors="replace").splitlines()
    marks = [n for n, line in enumerate(lines) if "Traceback" in line or " ERROR " in line]
    for start in marks[:5]:
        print("\n".join(lines[start : start + 40]), end="\n---\n")


if __name__ == "__main__":
    sys.exit(main())
