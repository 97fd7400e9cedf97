"""Leased hits of the default limit (utils/limit_leases.py): a process reserves a few hits of a
client's window at once, never serves more than the limit, serves nothing reserved after the
window ends, and a forked child never serves its parent's reservations."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from limits import parse

from utils import limit_leases
from utils.limit_leases import lease_size
from utils.rate_limits import LimitCounters, counters_of, storage_for_uri

SHARED = ["file", "redis"]


def _uri(kind: str, tmp_path: Path, request: Any) -> tuple[str, str]:
    """The storage URI of `kind` and a scope prefix its clean-up knows."""
    if kind == "memory":
        return "memory://", "lease-test"
    if kind == "file":
        return f"sqlite:///{tmp_path}/limits.db", "lease-test"
    settings = request.getfixturevalue("redis_settings")
    return settings["RATELIMIT_STORAGE_URI"], settings["RATELIMIT_KEY_PREFIX"]


def _hits(counters: LimitCounters, limit: str, scope: tuple[str, ...], times: int) -> list[bool]:
    item = parse(limit)
    return [counters.leases.hit(item, *scope) for _ in range(times)]


def _stored(counters: LimitCounters, limit: str, scope: tuple[str, ...]) -> int:
    return counters.storage.get(parse(limit).key_for(*scope))


def test_lease_sizes_grow_with_the_limit_and_small_limits_are_exact():
    assert [lease_size(n) for n in (1, 5, 199, 200, 500, 1600, 3000, 10**6)] == [
        1, 1, 1, 2, 5, 16, 16, 16,
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["memory", *SHARED])
def test_one_process_serves_exactly_the_limit(kind, tmp_path, request):
    uri, prefix = _uri(kind, tmp_path, request)
    counters, scope = LimitCounters(storage_for_uri(uri)), (prefix, "one", "10.0.0.1")
    first = _hits(counters, "400 per minute", scope, 1)
    assert first == [True]
    assert _stored(counters, "400 per minute", scope) == lease_size(400) == 4  # one reservation
    rest = _hits(counters, "400 per minute", scope, 409)
    assert rest == [True] * 399 + [False] * 10


@pytest.mark.parametrize("kind", SHARED)
def test_a_process_near_the_limit_counts_one_by_one(kind, tmp_path, request):
    """Another process's unused reservation is the only hits a client can lose."""
    uri, prefix = _uri(kind, tmp_path, request)
    scope = (prefix, "near", "10.0.0.2")
    first, second = (LimitCounters(storage_for_uri(uri)) for _ in range(2))
    assert _hits(first, "400 per minute", scope, 1) == [True]  # holds 3 more
    assert _hits(second, "400 per minute", scope, 400) == [True] * 396 + [False] * 4
    assert _hits(first, "400 per minute", scope, 4) == [True] * 3 + [False]


def _spend(uri: str, scope: tuple[str, ...], hits: int, answers: Any) -> None:
    counters = LimitCounters(storage_for_uri(uri))
    answers.put(sum(_hits(counters, "600 per minute", scope, hits)))


@pytest.mark.parametrize("kind", SHARED)
def test_processes_together_never_pass_the_limit(kind, tmp_path, request):
    uri, prefix = _uri(kind, tmp_path, request)
    scope, processes = (prefix, "together", "10.0.0.3"), 3
    LimitCounters(storage_for_uri(uri)).storage.check()  # the file exists before they start
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    workers = [
        context.Process(target=_spend, args=(uri, scope, 400, answers)) for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    served = sum(answers.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    # At most the limit; short of it by no more than the others' unused reservations.
    assert 600 - (processes - 1) * (lease_size(600) - 1) <= served <= 600


def test_threads_of_one_process_serve_exactly_the_limit():
    counters, scope = LimitCounters(storage_for_uri("memory://")), ("t", "threads", "10.0.0.4")
    served: list[bool] = []

    def client() -> None:
        served.extend(_hits(counters, "400 per minute", scope, 100))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert served.count(True) == 400 and len(served) == 800


@pytest.mark.parametrize("kind", ["memory", *SHARED])
def test_nothing_reserved_is_served_after_the_window_ends(kind, tmp_path, request):
    uri, prefix = _uri(kind, tmp_path, request)
    counters, scope = LimitCounters(storage_for_uri(uri)), (prefix, "window", "10.0.0.5")
    assert _hits(counters, "1600 per 1 second", scope, 2) == [True, True]
    assert _stored(counters, "1600 per 1 second", scope) == 16
    time.sleep(1.1)  # the window ends with 14 reserved hits unused
    assert _hits(counters, "1600 per 1 second", scope, 1) == [True]
    # Counted in the new window: a new reservation, not the old window's leftovers.
    assert _stored(counters, "1600 per 1 second", scope) == 16


def test_a_forked_child_reserves_its_own_hits(tmp_path):
    uri = f"sqlite:///{tmp_path}/limits.db"
    counters, scope = LimitCounters(storage_for_uri(uri)), ("f", "fork", "10.0.0.6")
    assert _hits(counters, "1600 per minute", scope, 1) == [True]  # 15 more reserved here
    child = multiprocessing.get_context("fork").Process(
        target=_hits, args=(counters, "1600 per minute", scope, 1)
    )
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0
    assert _stored(counters, "1600 per minute", scope) == 32  # the child reserved anew


def test_a_process_forgets_ended_leases_past_its_bound(monkeypatch):
    monkeypatch.setattr(limit_leases, "LEASES_KEPT_MAX", 3)
    counters = LimitCounters(storage_for_uri("memory://"))
    for client in range(10):
        assert _hits(counters, "1600 per minute", ("b", "bound", str(client)), 1) == [True]
    assert len(counters.leases._leases) <= 3


def test_the_default_limit_is_leased_through_the_app(make_app):
    app = make_app()  # RATELIMIT_DEFAULT 3000 per minute
    client, key = app.test_client(), {"X-API-Key": app.config["SECRET_KEY"]}
    assert client.get("/api/parts/", headers=key).status_code == 200
    counters = counters_of(app)
    stored = {k: counters.storage.get(k) for k in list(counters.storage.storage)}
    assert list(stored.values()) == [lease_size(3000)]
    assert client.get("/api/parts/", headers=key).status_code == 200
    assert {k: counters.storage.get(k) for k in stored} == stored  # from the lease


def test_a_keyed_request_on_a_lease_only_reads_the_wrong_key_counts(tmp_path, monkeypatch):
    """In the host's file a leased hit writes nothing: the request reads the wrong-key counts
    (exact, as the lockout must be) in one statement that takes no write lock."""
    from tests.test_file_limits import _Recording

    counters = LimitCounters(storage_for_uri(f"sqlite:///{tmp_path}/limits.db"))
    storage, statements = counters.storage, []
    connection = storage._connection()
    monkeypatch.setattr(storage, "_connection", lambda: _Recording(connection, statements))
    default, failures = parse("400 per minute"), parse("3 per minute")
    guesses = failures.key_for("p", "auth-failure", "10.0.0.7")

    def request() -> tuple[Any, Any]:
        return counters.count_and_read(
            (default,), ("p", "x", "10.0.0.7"), (failures,), ("p", "auth-failure", "10.0.0.7")
        )

    assert request() == (None, (0,))  # reserves 4, reads
    storage.incr(guesses, 60, amount=2)  # two wrong keys, counted by another process
    statements.clear()
    assert [request() for _ in range(3)] == [(None, (2,))] * 3  # the lease's other 3 hits
    assert len(statements) == 3 and not any("INSERT" in sql for sql in statements)
    assert request() == (None, (2,))  # the next reservation
    assert any("INSERT" in sql for sql in statements[3:])
