"""Rate limits in a SQLite file (utils/file_limits.py): fixed windows counted exactly by
every process of a host, the wrong-key lockout included, and a start refused with the reason
when the file cannot be written."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from pathlib import Path

import pytest

from app.startup import check_services
from config import ConfigError
from tests.test_auth_lockout import _assert_exact_lockout, slow_storage  # noqa: F401
from utils.file_limits import FileWindows, file_path
from utils.rate_limits import storage_for_uri

PROCESSES = 4
HITS_EACH = 150


def _uri(folder: Path) -> str:
    return f"sqlite:///{folder}/limits/rate-limits.db"


def test_the_uri_names_a_file_relative_or_absolute():
    assert file_path("sqlite:////var/lib/aerie/limits.db") == Path("/var/lib/aerie/limits.db")
    assert file_path("sqlite:///instance/limits.db") == Path("instance/limits.db")
    for wrong in ("sqlite://", "sqlite:///", "memory://", "sqlite://host/limits.db"):
        with pytest.raises(ValueError):
            file_path(wrong)


def test_a_window_counts_then_starts_again_when_it_ends(tmp_path):
    storage = storage_for_uri(_uri(tmp_path))
    assert isinstance(storage, FileWindows)
    assert [storage.incr("k", 1) for _ in range(3)] == [1, 2, 3]
    assert storage.incr("k", 1, amount=2) == 5 and storage.get("k") == 5
    assert storage.get("other") == 0
    ends = storage.get_expiry("k")
    assert time.time() < ends <= time.time() + 1
    time.sleep(ends - time.time() + 0.05)
    assert storage.get("k") == 0
    assert storage.incr("k", 60) == 1 and storage.get_expiry("k") > time.time() + 50


def test_one_statement_counts_a_hit_and_reads_live_windows(tmp_path):
    storage = FileWindows(_uri(tmp_path))
    assert storage.incr_and_read("hit", 60, []) == (1, ())
    storage.incr("failures", 60, amount=7)
    storage.incr("ended", 1)
    assert storage.incr_and_read("hit", 60, ["failures", "ended", "never"]) == (2, (7, 1, 0))
    time.sleep(storage.get_expiry("ended") - time.time() + 0.05)
    # An ended window reads 0; the hit's window keeps its end.
    assert storage.incr_and_read("hit", 60, ["failures", "ended"]) == (3, (7, 0))
    assert storage.get("hit") == 3 and storage.get_expiry("hit") > time.time() + 50


def test_a_keyed_request_counts_and_reads_the_file_once(tmp_path, monkeypatch):
    from limits import parse

    from utils.rate_limits import LimitCounters

    storage = FileWindows(_uri(tmp_path))
    counters = LimitCounters(storage)
    statements: list[str] = []
    connection = storage._connection()
    monkeypatch.setattr(storage, "_connection", lambda: _Recording(connection, statements))
    default, failures = parse("2 per minute"), parse("3 per minute")
    storage.incr(failures.key_for("p", "auth-failure", "1.2.3.4"), 60, amount=3)
    statements.clear()
    first = counters.count_and_read(
        (default,), ("p", "x"), (failures,), ("p", "auth-failure", "1.2.3.4")
    )
    assert first == (None, (3,)) and len(statements) == 1
    counters.count_and_read((default,), ("p", "x"), (failures,), ("p", "auth-failure", "1.2.3.4"))
    spent = counters.count_and_read((default,), ("p", "x"), (failures,), ("p", "auth-failure", "9"))
    assert spent == (default, (0,)) and len(statements) == 3


class _Recording:
    """A connection that notes each statement it runs."""

    def __init__(self, connection, statements: list[str]) -> None:
        self._connection, self._statements = connection, statements

    def execute(self, sql: str, *args):
        self._statements.append(sql)
        return self._connection.execute(sql, *args)


def test_clear_and_reset_forget_windows(tmp_path):
    storage = FileWindows(_uri(tmp_path))
    storage.incr("a", 60)
    storage.incr("b", 60)
    storage.clear("a")
    assert (storage.get("a"), storage.get("b")) == (0, 1)
    assert storage.reset() == 1 and storage.get("b") == 0
    assert storage.check()


def _count(uri: str, hits: int, answers: multiprocessing.Queue) -> None:
    storage = FileWindows(uri)
    answers.put([storage.incr("shared", 60) for _ in range(hits)])


def test_processes_count_one_window_exactly(tmp_path):
    """Each hit, from any process, gets its own count: no two see the same number."""
    uri = _uri(tmp_path)
    FileWindows(uri).check()  # the file exists before they race to create it
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    workers = [
        context.Process(target=_count, args=(uri, HITS_EACH, answers)) for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    counted = [n for _ in workers for n in answers.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=30)
    assert sorted(counted) == list(range(1, PROCESSES * HITS_EACH + 1))
    assert FileWindows(uri).get("shared") == PROCESSES * HITS_EACH


def test_concurrent_wrong_keys_get_exactly_the_limit_of_401s_in_a_file(
    make_app,
    tmp_path,
    slow_storage,  # noqa: F811
):
    app = make_app(RATELIMIT_STORAGE_URI=_uri(tmp_path))
    _assert_exact_lockout(app, slow_storage)


def test_a_default_limit_counts_in_the_file(make_app, tmp_path):
    app = make_app(RATELIMIT_STORAGE_URI=_uri(tmp_path), RATELIMIT_DEFAULT="3 per minute")
    client = app.test_client()
    key = {"X-API-Key": app.config["SECRET_KEY"]}
    statuses = [client.get("/api/parts/stats", headers=key).status_code for _ in range(5)]
    assert Counter(statuses) == {200: 3, 429: 2}
    # Another app (another worker) on the same file finds the window spent.
    other = make_app(RATELIMIT_STORAGE_URI=_uri(tmp_path), RATELIMIT_DEFAULT="3 per minute")
    other.config["SECRET_KEY"] = app.config["SECRET_KEY"]
    assert other.test_client().get("/api/parts/stats", headers=key).status_code == 429


def test_one_missing_folder_is_made_a_deeper_one_is_a_mistake(tmp_path):
    assert FileWindows(f"sqlite:///{tmp_path}/new/limits.db").check()
    assert (tmp_path / "new" / "limits.db").is_file()
    assert not FileWindows(f"sqlite:///{tmp_path}/typo/deeper/limits.db").check()
    assert not (tmp_path / "typo").exists()


def test_an_unwritable_file_refuses_the_start_with_its_path(make_app, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    uri = f"sqlite:///{blocker}/rate-limits.db"
    app = make_app(RATELIMIT_STORAGE_URI=uri)
    with pytest.raises(ConfigError, match=f"rate-limit storage at {blocker}/rate-limits.db"):
        check_services(app)


@pytest.mark.parametrize("uri", ["sqlite://limits.db", "sqlite:///", "nonsense://x"])
def test_a_mistyped_uri_is_a_setting_error(make_app, uri):
    with pytest.raises(ConfigError, match="^RATELIMIT_STORAGE_URI: "):
        make_app(RATELIMIT_STORAGE_URI=uri)
