"""/stats and /stats/detailed are computed (and gzipped) once per parts revision: a repeated
read is a lookup, and every kind of write (create, update, workflow, delete, wipe) shows at
once."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import pytest

import routes.stats as stats_views
from app.extensions import db


@pytest.fixture
def computed(monkeypatch) -> dict[str, int]:
    """How many times each statistics body was computed."""
    counts = {"summary": 0, "detailed": 0}

    def counting(name: str, compute: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(session: Any) -> Any:
            counts[name] += 1
            return compute(session)

        return wrapper

    monkeypatch.setattr(
        stats_views, "summary_stats", counting("summary", stats_views.summary_stats)
    )
    monkeypatch.setattr(
        stats_views, "detailed_stats", counting("detailed", stats_views.detailed_stats)
    )
    return counts


def _both(call) -> tuple[dict[str, Any], dict[str, Any]]:
    status, summary = call("GET", "/stats")
    assert status == 200
    status, detailed = call("GET", "/stats/detailed")
    assert status == 200
    return summary, detailed


def test_repeated_reads_at_one_revision_compute_once(make_part, call, computed):
    make_part(amount=3)
    first = _both(call)
    assert _both(call) == first
    assert _both(call) == first
    assert computed == {"summary": 1, "detailed": 1}
    assert first[0]["total"] == 1 and first[1]["total_parts"] == 3


def test_the_cached_body_is_the_bytes_jsonify_sends(client, auth_headers, make_part):
    make_part()
    first = client.get("/api/parts/stats", headers=auth_headers)
    again = client.get("/api/parts/stats", headers=auth_headers)
    assert first.data == again.data
    assert first.data.endswith(b"}\n") and b'"by_category":{' in first.data
    assert first.mimetype == "application/json"


def test_each_kind_of_write_shows_in_the_next_read(make_part, call, api_key, computed):
    part = make_part(type="hand", amount=2)
    summary, detailed = _both(call)
    assert (summary["total"], detailed["total_parts"]) == (1, 2)

    make_part(amount=5)  # create
    summary, detailed = _both(call)
    assert (summary["total"], detailed["total_parts"]) == (2, 7)

    assert call("PUT", f"/{part['id']}", {"amount": 4})[0] == 200  # update
    assert _both(call)[1]["total_parts"] == 9

    assert call("POST", f"/{part['id']}/approve", {})[0] == 200  # workflow
    summary, detailed = _both(call)
    assert summary["by_category"]["hand"] == 1 and detailed["by_category"]["hand"] == 4
    assert call("POST", f"/{part['id']}/assign", {"assigned": "Zoë"})[0] == 200  # claim
    assert _both(call)[0]["assignment"] == {"assigned": 1, "unassigned": 1}
    assert call("POST", f"/{part['id']}/complete", {})[0] == 200
    assert _both(call)[1]["top_contributors"] == [{"name": "Zoë", "count": 4}]

    assert call("DELETE", f"/{part['id']}")[0] == 200  # delete
    summary, detailed = _both(call)
    assert (summary["total"], detailed["total_parts"]) == (1, 5)

    assert call("POST", "/wipe", {"password": api_key})[0] == 200  # wipe
    summary, detailed = _both(call)
    assert (summary["total"], detailed["total_parts"]) == (0, 0)
    # One computation per revision read: eight writes, eight reads of each body.
    assert computed == {"summary": 8, "detailed": 8}


def test_requests_arriving_together_compute_one_body(app, make_part, computed, monkeypatch):
    import threading
    import time

    make_part()
    slow = stats_views.summary_stats

    def slowly(session: Any) -> Any:
        time.sleep(0.2)  # long enough for every thread to arrive while it runs
        return slow(session)

    monkeypatch.setattr(stats_views, "summary_stats", slowly)
    headers = {"X-API-Key": app.config["SECRET_KEY"]}
    answers: list[int] = []

    def read() -> None:
        answers.append(app.test_client().get("/api/parts/stats", headers=headers).status_code)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 4
    assert computed["summary"] == 1


@pytest.mark.parametrize(("path", "name"), [("/stats", "summary"), ("/stats/detailed", "detailed")])
def test_the_gzip_of_a_stats_body_is_made_once_per_revision(make_app, path, name):
    app = make_app(COMPRESSION_MIN_BYTES=64)  # one part's statistics are a few hundred bytes
    client, headers = app.test_client(), {"X-API-Key": app.config["SECRET_KEY"]}
    gzip_headers = {**headers, "Accept-Encoding": "gzip"}

    def add_part(part_name: str) -> None:
        body = {"name": part_name, "material": "PLA", "subsystem": "Arm", "type": "hand"}
        assert client.post("/api/parts/", json=body, headers=headers).status_code == 201

    def cached() -> Any:
        """The cache's entry at the committed revision; it must not be computed again here."""
        with app.app_context():
            return app.extensions["parts_cache"].stats(db.session, name, pytest.fail)

    add_part("Bracket")
    plain = client.get("/api/parts" + path, headers=headers).data
    packed = [client.get("/api/parts" + path, headers=gzip_headers) for _ in range(3)]
    assert {response.headers["Content-Encoding"] for response in packed} == {"gzip"}
    assert {gzip.decompress(response.data) for response in packed} == {plain}
    first = cached()
    # Three gzip requests, one compression, and it is the one the cache holds.
    assert (first.body, first.gzips_made) == (plain, 1)
    assert first.gzipped(app.config["COMPRESSION_LEVEL"]) == packed[0].data

    add_part("Spacer")  # a write moves the revision: a new body and a new gzip
    fresh = client.get("/api/parts" + path, headers=gzip_headers)
    assert gzip.decompress(fresh.data) == client.get("/api/parts" + path, headers=headers).data
    assert gzip.decompress(fresh.data) != plain
    second = cached()
    assert second is not first and second.gzips_made == 1
    assert first.gzips_made == 1
