"""The scale-out topology of deploy/docker-compose.yml on one machine, without Docker (issue 14).

App hosts (`deploy.py prod-gunicorn`, each in a folder of its own with its own empty
UPLOAD_FOLDER), HAProxy from Debian's package in front (deploy/haproxy.cfg with loopback
addresses), PostgreSQL (a database of our own, dropped after), Redis (a queue name and key
prefix of our own), an S3 endpoint (moto's server mode) and `flask worker` processes. Every
process is started here and stopped by its PID; `kill_app` and `kill_worker` are kill -9 of
a host's whole process group. Used by tests/test_topology.py and bench/bench_topology.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import config

PROJECT_DIR = Path(__file__).resolve().parents[1]
HAPROXY_TEMPLATE = PROJECT_DIR / "deploy" / "haproxy.cfg"
FLASK = str(Path(sys.executable).parent / "flask")
KEY = "topology-" + "k" * 40
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = 2  # away from the suite's db 0; the queue name and key prefix are ours too
BUCKET = "aerie-topology"
START_SECONDS = 60
STOP_SECONDS = 20
KEPT_ENV = ("PATH", "HOME", "LANG", "TMPDIR")


class TopologyUnavailable(Exception):
    """Something the topology needs is missing on this machine; the message says what."""


def object_store_landed() -> bool:
    """Whether this checkout has the S3 file store (FILE_STORE_URL) yet."""
    return "FILE_STORE_URL" in config.setting_names()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def missing_services() -> str | None:
    """None when haproxy, PostgreSQL and Redis are here, else the first thing missing."""
    if shutil.which("haproxy") is None:
        return "haproxy is not installed (apt-get install -y haproxy)"
    for name, port in (("PostgreSQL", 5432), ("Redis", REDIS_PORT)):
        if not port_open(port):
            return f"{name} is not listening on 127.0.0.1:{port}"
    return None


def wait_until(predicate: Callable[[], object], seconds: float, what: str) -> object:
    deadline = time.monotonic() + seconds
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {seconds:.0f} s")
        time.sleep(0.1)
    return value


@dataclass
class Service:
    """One process we started, in its own session (kill -9 reaches its children too)."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """kill -9 of the whole host: the process, its workers and converters."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=STOP_SECONDS)

    def stop(self) -> None:
        """SIGTERM as a service manager sends it, then kill -9 of what is left."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text.splitlines()[-lines:])


def start(name: str, command: list[str], folder: Path, env: dict[str, str]) -> Service:
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{name}.log"
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return Service(name, process, log)


def haproxy_config(port: int, app_ports: list[int]) -> str:
    """deploy/haproxy.cfg with loopback addresses for the listener and the app hosts."""
    lines = []
    for line in HAPROXY_TEMPLATE.read_text().splitlines():
        words = line.split()
        if words[:1] == ["bind"]:
            line = f"    bind 127.0.0.1:{port}"
        elif words[:1] == ["server"]:
            if words[1] != "app1":
                continue
            line = "\n".join(
                f"    server app{n} 127.0.0.1:{app_port} check"
                for n, app_port in enumerate(app_ports, start=1)
            )
        lines.append(line)
    return "\n".join(lines) + "\n"


class Topology:
    """Start with `with Topology(root, apps=3, workers=2) as topology:`; `topology.port` is
    the balancer's. `settings` are environment values every app host and worker gets."""

    def __init__(
        self, root: Path, apps: int = 3, workers: int = 2, settings: dict[str, str] | None = None
    ) -> None:
        self.root, self.app_count, self.worker_count = root, apps, workers
        self.name = f"topology_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.settings = settings or {}
        self.object_store = object_store_landed()
        self.database_url = ""
        self.apps: list[Service] = []
        self.workers: list[Service] = []
        self.others: list[Service] = []
        self.port = 0
        self._stack = ExitStack()

    def __enter__(self) -> Topology:
        reason = missing_services()
        if reason:
            raise TopologyUnavailable(reason)
        try:
            self._start_everything()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        for service in [*self.workers, *self.apps, *self.others]:
            service.stop()
        self._stack.close()

    def _start_everything(self) -> None:
        from bench.topology_services import object_store, private_database, redis_keys

        self.database_url = self._stack.enter_context(private_database(self.name))
        self._stack.enter_context(redis_keys(self.name))
        if self.object_store:
            endpoint, moto = object_store(self.root / "s3")
            self.others.append(moto)
            self.s3_endpoint = endpoint
        self.apps = [self._start_app(n) for n in range(1, self.app_count + 1)]
        for app in self.apps:
            self._wait_healthy(app)
        self.port = self.start_balancer(self.apps).port or 0
        for _ in range(self.worker_count):
            self.workers.append(self.start_worker())

    def environment(self, folder: Path) -> dict[str, str]:
        """What every app host and worker is given: the same database, queue, limits, store
        and key; a folder of its own."""
        env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
        redis = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
        env.update(
            FLASK_ENV="production",
            SECRET_KEY=KEY,
            DATABASE_URL=self.database_url,
            TASK_QUEUE_URL=f"{redis}?queue={self.name}",
            RATELIMIT_STORAGE_URI=redis,
            RATELIMIT_KEY_PREFIX=self.name,
            TRUSTED_PROXY_COUNT="1",
            UPLOAD_FOLDER=str(folder / "uploads"),
            CONFIG_FILE=os.devnull,  # no settings file, not this machine's config.json
            CONVERSION_WORKERS="1",
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(PROJECT_DIR),
        )
        if self.object_store:
            env.update(
                FILE_STORE_URL=f"s3://{BUCKET}/{self.name}",
                S3_ENDPOINT_URL=self.s3_endpoint,
                AWS_ACCESS_KEY_ID="topology",
                AWS_SECRET_ACCESS_KEY="topology-secret",  # noqa: S106 - moto takes any
                AWS_DEFAULT_REGION="us-east-1",
            )
        else:
            # Until the object store lands, the hosts share one folder as a NAS would.
            env["UPLOAD_FOLDER"] = str(self.root / "shared-uploads")
        env.update(self.settings)
        return env

    def _start_app(self, number: int) -> Service:
        folder, port = self.root / f"app{number}", free_port()
        command = [sys.executable, str(PROJECT_DIR / "deploy.py"), "prod-gunicorn",
                   "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                   "--threads", "8"]  # fmt: skip
        service = start(f"app{number}", command, folder, self.environment(folder))
        service.port = port
        return service

    def _wait_healthy(self, app: Service) -> None:
        from bench.topology_client import call

        def healthy() -> bool:
            if not app.alive():
                raise RuntimeError(f"{app.name} exited\n{app.tail()}")
            try:
                return call(app.port or 0, "GET", "/health", key=None)[0] == 200
            except OSError:
                return False

        wait_until(healthy, START_SECONDS, f"/health from {app.name}")

    def start_balancer(self, apps: list[Service], name: str = "haproxy") -> Service:
        """HAProxy on a free port over `apps` (the benchmark adds balancers over 1 and 2)."""
        folder, port = self.root / name, free_port()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "haproxy.cfg").write_text(haproxy_config(port, [a.port or 0 for a in apps]))
        command = ["haproxy", "-db", "-f", str(folder / "haproxy.cfg")]
        service = start(name, command, folder, {"PATH": os.environ.get("PATH", "")})
        service.port = port
        self.others.append(service)
        wait_until(lambda: port_open(port), START_SECONDS, f"{name} listening")
        return service

    def start_worker(self) -> Service:
        number = len(self.workers) + 1
        folder = self.root / f"worker{number}"
        command = [FLASK, "--app", "run_prod:app", "worker"]
        service = start(f"worker{number}", command, folder, self.environment(folder))
        wait_until(
            lambda: b"conversion threads" in service.log.read_bytes() or not service.alive(),
            START_SECONDS,
            f"{service.name} start",
        )
        if not service.alive():
            raise RuntimeError(f"{service.name} exited\n{service.tail()}")
        return service

    def logs(self) -> str:
        """The end of every process's log, for a failure message."""
        return "\n".join(s.tail() for s in [*self.apps, *self.workers, *self.others])
