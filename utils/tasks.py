"""Background tasks on Huey: the queue TASK_QUEUE_URL picks, and the consumers that run them.

Embedded (TASK_QUEUE_URL empty): an in-memory queue per server process, consumed by threads
of that process (started by app.startup.start_background). Shared (`redis://host:6379/0`):
server processes only enqueue; `flask worker` processes, on any host that sees the upload
folder, consume.

A message only says "work is waiting". What to do, who is doing it and how far it got live
in the database (e.g. `conversion_jobs`), so a lost message (a restart empties the memory
queue; Redis forgets a message popped by a worker killed with -9) costs nothing: each
consumer's sweep re-sends one while its table still holds waiting work.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from huey import MemoryHuey, RedisHuey
from huey.api import Huey
from huey.consumer import Consumer

from config import ConfigError
from utils.settings_values import check_task_queue_url

log = logging.getLogger("aerie.tasks")
# Redis key names start with this queue name; `?queue=name` in the URL picks another, so
# several deployments (or test runs) can share one Redis database.
DEFAULT_QUEUE_NAME = "aerie"
# Idle consumer threads of the memory queue look again after at most this many seconds
# (Redis consumers block on the list instead of polling).
MAX_POLL_SECONDS = 0.5


def build_queue(url: str) -> Huey:
    """The queue for TASK_QUEUE_URL; connects to nothing yet (create_app only wires)."""
    if not url:
        return MemoryHuey(DEFAULT_QUEUE_NAME, results=False, utc=True)
    parts = urlsplit(check_task_queue_url(url))
    query = parse_qsl(parts.query)
    name = next((value for key, value in query if key == "queue"), DEFAULT_QUEUE_NAME)
    rest = urlunsplit(parts._replace(query=urlencode([kv for kv in query if kv[0] != "queue"])))
    # results=False: outcomes are recorded in our tables, not in Redis.
    return RedisHuey(name, results=False, utc=True, url=rest, blocking=True, read_timeout=1)


def check_reachable(queue: Huey) -> None:
    """Refuse to start when the shared queue cannot be reached (never echo a password)."""
    from redis.exceptions import RedisError

    if not is_shared(queue):
        return
    try:
        queue.storage.conn.ping()
    except RedisError as exc:
        kwargs = queue.storage.pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        raise ConfigError(f"TASK_QUEUE_URL: cannot reach the task queue at {where}") from exc


def is_shared(queue: Huey) -> bool:
    """True when other processes consume this queue (Redis), False for the embedded one."""
    return isinstance(queue, RedisHuey)


class EmbeddedConsumer(Consumer):
    """Huey's consumer for threads inside a server: the server owns SIGTERM, SIGINT, SIGHUP."""

    def _set_signal_handlers(self) -> None:
        pass


def consumer(queue: Huey, workers: int, *, embedded: bool) -> Consumer:
    """A consumer of `workers` threads; run() it (a worker process) or start() it (embedded)."""
    kind = EmbeddedConsumer if embedded else Consumer
    return kind(
        queue,
        workers=workers,
        worker_type="thread",
        periodic=False,  # periodic work belongs to one process; ours runs in our own threads
        initial_delay=0.05,
        backoff=1.5,
        max_delay=MAX_POLL_SECONDS,
    )


def stop_consumer(running: Consumer, timeout: float) -> None:
    """Ask an embedded consumer to stop and wait up to `timeout` seconds for each thread."""
    running.stop()
    for _, thread in running.worker_threads:
        thread.join(timeout)
    running.scheduler.join(timeout)
