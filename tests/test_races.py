"""Races under gunicorn with several workers, on SQLite, PostgreSQL and MariaDB (issue 12):
one winner of many claimers, no lost write or event among concurrent writers, one winner of
concurrent PUTs with the same If-Match."""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.databases import (
    create_private_database,
    drop_private_database,
    selected_databases,
)
from tests.test_e2e_servers import DEPLOY, KEY, free_port, running, server_env

pytestmark = pytest.mark.skipif(os.name == "nt", reason="gunicorn")

WORKERS = 4
CLAIMERS = 50
WRITERS = 32
EDITS_PER_WRITER = 3
SAME_ETAG_WRITERS = 12
RACING_PAIRS = 16
UNLIMITED = "1000000 per minute"  # the limits are per worker without Redis: out of the way


def call(port: int, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    """One request on its own connection; (status, JSON body, ETag in body['_etag'])."""
    headers = {"X-API-Key": KEY, **headers}
    payload = None
    if body is not None:
        payload, headers["Content-Type"] = json.dumps(body), "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, f"/api/parts{path}", body=payload, headers=headers)
        response = connection.getresponse()
        raw, etag = response.read(), response.getheader("ETag")
    finally:
        connection.close()
    answer = json.loads(raw) if raw else None
    if isinstance(answer, dict) and etag:
        answer["_etag"] = etag
    return response.status, answer


def all_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..count-1) in threads released together by a barrier; their results."""
    results: list[Any] = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@contextmanager
def database_url(test_database: Any, tmp_path: Path) -> Iterator[str]:
    """A database nobody else uses, empty, so the server migrates it from nothing."""
    if test_database.url is None:
        yield f"sqlite:///{tmp_path / 'races.db'}"
        return
    admin = next(d.url for d in selected_databases() if d.name == test_database.name)
    name = f"aerie_races_{os.getpid()}"
    url = create_private_database(admin, name)
    if url == admin:
        pytest.skip(f"no right to create a database of our own on {test_database.name}")
    try:
        yield url
    finally:
        drop_private_database(admin, name)


@pytest.fixture
def server(test_database, tmp_path: Path) -> Iterator[int]:
    """deploy.py prod-gunicorn, WORKERS gthread workers, on a migrated database of its own."""
    with database_url(test_database, tmp_path) as url:
        port = free_port()
        env = server_env(
            tmp_path,
            DATABASE_URL=url,
            RATELIMIT_DEFAULT=UNLIMITED,
            AUTH_FAILURE_LIMIT=UNLIMITED,
            AUTH_CHECK_INTERVAL_SECONDS="0",
            # Its own limits file: on PostgreSQL and MariaDB the default would be the
            # repository's instance/rate-limits.db, shared with other workers' servers.
            RATELIMIT_STORAGE_URI=f"sqlite:///{tmp_path / 'rate-limits.db'}",
        )
        command = [sys.executable, DEPLOY, "prod-gunicorn", "--port", str(port), "--host",
                   "127.0.0.1", "--workers", str(WORKERS), "--threads", "8"]  # fmt: skip
        with running(command, tmp_path, env, port) as log:
            yield port
            text = log.read_text(errors="replace")
            assert "database is locked" not in text and "Traceback" not in text, text[-3000:]


def new_part(port: int, **fields: Any) -> dict[str, Any]:
    body = {"material": "Al", "subsystem": "Arm", "type": "hand", "name": "Race", **fields}
    status, part = call(port, "POST", "/", body)
    assert status == 201, part
    return part


def history(port: int, part_id: int) -> list[dict[str, Any]]:
    status, body = call(port, "GET", f"/{part_id}/history")
    assert status == 200, body
    return body["events"]


def test_races_under_gunicorn(server: int):
    """One server start for the three races: starting gunicorn costs more than racing."""
    port = server
    fifty_claimers_one_winner_one_event(port)
    concurrent_writers_lose_nothing(port)
    same_if_match_one_winner(port)
    writes_racing_deletes_never_fail(port)


def fifty_claimers_one_winner_one_event(port: int) -> None:
    part = new_part(port)
    assert call(port, "POST", f"/{part['id']}/approve", {})[0] == 200
    results = all_at_once(
        CLAIMERS,
        lambda n: call(port, "POST", f"/{part['id']}/assign", {"assigned": f"C{n}"}, **{
            "X-Actor": f"C{n}"}),
    )  # fmt: skip
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * (CLAIMERS - 1), statuses
    winner = next(body for status, body in results if status == 200)["assigned"]
    claims = [event for event in history(port, part["id"]) if event["action"] == "claim"]
    assert [
        (event["actor"], event["details"]["changes"]["assigned"]["to"]) for event in claims
    ] == [(winner, winner)]


def concurrent_writers_lose_nothing(port: int) -> None:
    def writer(n: int) -> list[int]:
        statuses = []
        status, part = call(port, "POST", "/", {"material": "Al", "subsystem": f"W{n}"},
                            **{"X-Actor": f"W{n}"})  # fmt: skip
        statuses.append(status)
        for edit in range(EDITS_PER_WRITER):
            body = {"notes": f"W{n} edit {edit}"}
            statuses.append(call(port, "PUT", f"/{part['id']}", body, **{"X-Actor": f"W{n}"})[0])
        return statuses

    results = all_at_once(WRITERS, writer)
    assert all(status in (200, 201) for statuses in results for status in statuses), results
    status, listing = call(port, "GET", "/?search=W&limit=1000")
    written = [p for p in listing["parts"] if (p["subsystem"] or "").startswith("W")]
    assert len(written) == WRITERS
    for part in written:
        assert part["notes"] == f"{part['subsystem']} edit {EDITS_PER_WRITER - 1}"
        events = history(port, part["id"])
        assert [e["action"] for e in events] == ["update"] * EDITS_PER_WRITER + ["create"]
        assert {e["actor"] for e in events} == {part["subsystem"]}


def same_if_match_one_winner(port: int) -> None:
    part = new_part(port)
    etag = call(port, "GET", f"/{part['id']}")[1]["_etag"]
    results = all_at_once(
        SAME_ETAG_WRITERS,
        lambda n: call(port, "PUT", f"/{part['id']}", {"notes": f"E{n}"}, **{"If-Match": etag}),
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [412] * (SAME_ETAG_WRITERS - 1), statuses
    updates = [event for event in history(port, part["id"]) if event["action"] == "update"]
    assert len(updates) == 1


def writes_racing_deletes_never_fail(port: int) -> None:
    """A part deleted while another request changes it: 404 or success, never a 500 (the
    answer is rendered before the commit, when the row is still there to read)."""
    parts = [new_part(port) for _ in range(RACING_PAIRS)]

    def work(n: int) -> int:
        part_id = parts[n // 2]["id"]
        if n % 2:
            return call(port, "DELETE", f"/{part_id}")[0]
        return call(port, "PUT", f"/{part_id}", {"notes": "racing"})[0]

    statuses = all_at_once(2 * RACING_PAIRS, work)
    assert set(statuses) <= {200, 404}, statuses
    assert statuses[1::2] == [200] * RACING_PAIRS
