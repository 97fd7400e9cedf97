"""The task queue TASK_QUEUE_URL picks, the wake-up messages, and the poison-job limit."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from huey import MemoryHuey, RedisHuey

from app.extensions import db
from app.startup import start_background
from config import ConfigError
from models.conversion import (
    MAX_ATTEMPTS,
    ConversionJob,
    count_pending,
    recover_stale_jobs,
)
from models.types import utcnow
from tests.databases import servers_required
from tests.helpers import upload_ok
from tests.test_e2e_servers import redis_reachable
from tests.test_models_api import part_json
from utils.tasks import build_queue, is_shared

STEP = b"ISO-10303-21;\nHEADER;\n" + b"x" * 64


def test_empty_url_builds_the_embedded_memory_queue():
    queue = build_queue("")
    assert isinstance(queue, MemoryHuey) and not is_shared(queue)


def test_redis_url_builds_a_shared_queue_named_by_its_queue_parameter():
    queue = build_queue("redis://127.0.0.1:1/3?queue=staging")
    assert isinstance(queue, RedisHuey) and is_shared(queue)
    assert queue.name == "staging"
    # Nothing is contacted while building: port 1 answers nothing.
    assert queue.storage.conn.connection_pool.connection_kwargs["db"] == 3


@pytest.mark.parametrize("url", ["amqp://host/", "sqlite:///tasks.db", "host:6379"])
def test_other_urls_are_a_configuration_error(url):
    with pytest.raises(ConfigError, match="TASK_QUEUE_URL"):
        build_queue(url)


def test_an_upload_sends_one_wake_up_and_consumes_nothing_without_a_consumer(
    app, client, auth_headers, make_part
):
    queue = app.extensions["task_queue"]
    part = make_part()
    upload_ok(client, auth_headers, part["id"], STEP, "a.step")
    assert queue.pending_count() == 1
    assert part_json(client, auth_headers, part["id"])["modelStatus"] == "pending"


def test_top_up_sends_wake_ups_for_pending_jobs_no_message_covers(
    app, client, auth_headers, make_part
):
    queue, runner = app.extensions["task_queue"], app.extensions["conversion_runner"]
    part = make_part()
    upload_ok(client, auth_headers, part["id"], STEP, "a.step")
    queue.flush()  # lost, as a restart loses the memory queue
    assert runner.top_up() == 1
    assert runner.top_up() == 0  # covered now: no flood
    assert queue.pending_count() == 1


def test_the_wake_up_task_converts_the_pending_job(app, client, auth_headers, make_part):
    queue = app.extensions["task_queue"]
    part = make_part()
    upload_ok(client, auth_headers, part["id"], STEP, "a.step")
    message = queue.dequeue()
    queue.execute(message)
    with app.app_context():
        assert count_pending(db.session) == 0
    assert part_json(client, auth_headers, part["id"])["modelStatus"] == "failed"


def test_a_job_that_killed_max_attempts_workers_fails_instead_of_looping(
    app, client, auth_headers, make_part
):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], STEP, "a.step")
    with app.app_context():
        job = db.session.execute(db.select(ConversionJob)).scalar_one()
        job.status, job.worker, job.attempts = "running", "elsewhere:4242", MAX_ATTEMPTS
        job.heartbeat_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
        assert recover_stale_jobs(db.session, timedelta(seconds=60)) == 0
        db.session.commit()
        job = db.session.execute(db.select(ConversionJob)).scalar_one()
        assert (job.status, job.worker) == ("failed", None)
        assert f"{MAX_ATTEMPTS} times" in (job.error or "")
    stored = part_json(client, auth_headers, part["id"])
    assert stored["modelStatus"] == "failed" and f"{MAX_ATTEMPTS} times" in stored["modelError"]


def test_a_job_below_the_limit_goes_back_to_pending(app, client, auth_headers, make_part):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], STEP, "a.step")
    with app.app_context():
        job = db.session.execute(db.select(ConversionJob)).scalar_one()
        job.status, job.worker, job.attempts = "running", "elsewhere:4242", MAX_ATTEMPTS - 1
        job.heartbeat_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
        assert recover_stale_jobs(db.session, timedelta(seconds=60)) == 1
        db.session.commit()
    assert part_json(client, auth_headers, part["id"])["modelStatus"] == "pending"


def test_a_server_with_a_shared_queue_starts_no_consumer(make_app):
    if reason := redis_reachable():  # only pinged below: nothing is written
        if servers_required():
            pytest.fail(f"Redis unreachable: {reason} (CI requires it)", pytrace=False)
        pytest.skip(f"Redis unreachable: {reason}")
    application = make_app(
        TASK_QUEUE_URL="redis://127.0.0.1:6379/0?queue=aerie-test-never-written",
        CONVERSION_IN_BACKGROUND=True,
    )
    before = {thread.name for thread in threading.enumerate()}
    start_background(application)
    # None started; an earlier test's thread may end meanwhile (it did, in a CI run).
    assert {thread.name for thread in threading.enumerate()} - before == set()


def test_a_server_refuses_to_start_with_an_unreachable_shared_queue(make_app):
    url = "redis://:queue-secret@127.0.0.1:1/0"
    application = make_app(TASK_QUEUE_URL=url, CONVERSION_IN_BACKGROUND=True)
    with pytest.raises(ConfigError, match="cannot reach the task queue at 127.0.0.1:1") as caught:
        start_background(application)
    assert "queue-secret" not in str(caught.value)


def test_flask_worker_refuses_the_embedded_queue(make_app):
    result = make_app().test_cli_runner().invoke(args=["worker"])
    assert result.exit_code == 1
    assert "TASK_QUEUE_URL is empty" in result.output


def test_flask_worker_refuses_an_unreachable_shared_queue(make_app):
    application = make_app(TASK_QUEUE_URL="redis://127.0.0.1:1/0")
    result = application.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code == 1
    assert "cannot reach the task queue at 127.0.0.1:1" in result.output


def test_wake_ups_never_pile_up_beyond_the_slots(make_app):
    application = make_app(CONVERSION_WORKERS=2)
    runner = application.extensions["conversion_runner"]
    for _ in range(10):
        runner.notify()
    assert application.extensions["task_queue"].pending_count() == 2
