"""The scale benchmark (bench/bench_scale.py) runs end to end in its quick mode: every case is
measured on ours and bare with no failed request, and the report names every case and goal.
No timing assertion: the machine is shared, and numbers belong in BENCHMARKS.md."""

from __future__ import annotations

import contextlib
import math
import sqlite3

import pytest

from bench.bench_scale import parse_args, run_scale
from bench.scale_cases import search_paths
from bench.scale_report import render_scale

PARTS = 50
LIST_TIER = {"list", "list-304", "list-gzip", "one", "put", "claim", "approve"}


@pytest.fixture(scope="module")
def quick_run():
    argv = ["--quick", "--sizes", str(PARTS), "--tiers", "list,search"]
    return run_scale(parse_args([*argv, "--seconds", "0.1", "--warmup", "0", "--rounds", "1"]))


def test_quick_run_measures_every_case_of_both_tiers(quick_run) -> None:
    measured = {block.tier: set(block.measured) for block in quick_run.blocks}
    assert measured["list"] == LIST_TIER
    # "keyset" joins once the list sends X-Next-After (keyset pages, issue 13)
    assert measured["search"] - {"keyset"} == set(search_paths(PARTS))


def test_every_case_answered_without_an_error_on_both_servers(quick_run) -> None:
    for block in quick_run.blocks:
        for key, case in block.measured.items():
            for server in ("ours", "bare"):
                sample = case.samples[server]
                assert sample.requests > 0, (key, server)
                assert sample.errors == 0, (key, server)
                assert min(sample.latencies) > 0, (key, server)
                assert sample.server_cpu >= 0, (key, server)


def test_report_shows_datasets_goals_cases_and_memory(quick_run) -> None:
    report = render_scale(quick_run)
    for block in quick_run.blocks:
        for case in block.measured.values():
            assert f"| {case.name} |" in report
        assert all(idle > 0 and after > 0 for idle, after in block.rss_kb.values())
    assert "| sqlite | 50 |" in report
    assert "GET one part ≥ 0.6× bare at 10k | — | not measured" in report
    assert not any(math.isnan(v) for v in (quick_run.load[0], quick_run.load[1]))
    assert quick_run.datasets[0].events > PARTS  # create plus workflow events per part


def test_the_redis_layout_runs_several_workers_counting_limits_in_redis() -> None:
    import redis

    from bench.bench_scale import LAYOUTS
    from tests.databases import servers_required

    client = redis.Redis.from_url(LAYOUTS["gunicorn-redis"].limits)
    try:
        client.flushdb()  # the benchmark's own database number
    except redis.ConnectionError as exc:
        if servers_required():
            pytest.fail(f"Redis unreachable: {exc}", pytrace=False)
        pytest.skip(f"Redis unreachable: {exc}")
    argv = ["--quick", "--sizes", str(PARTS), "--tiers", "search", "--server", "gunicorn-redis"]
    run = run_scale(parse_args([*argv, "--seconds", "0.1", "--warmup", "0", "--rounds", "1"]))
    (block,) = run.blocks
    workers = [name for name in block.rss_kb if name.startswith("ours worker")]
    assert len(workers) == LAYOUTS["gunicorn-redis"].workers > 1
    assert all(case.samples["ours"].errors == 0 for case in block.measured.values())
    assert client.dbsize() > 0  # ours counted its limits there
    assert "gunicorn-redis" in render_scale(run)


def test_the_gunicorn_layout_runs_several_workers_sharing_a_limits_file() -> None:
    from bench.bench_scale import LAYOUTS
    from utils.file_limits import file_path

    layout = LAYOUTS["gunicorn"]
    argv = ["--quick", "--sizes", str(PARTS), "--tiers", "search", "--server", "gunicorn"]
    run = run_scale(parse_args([*argv, "--seconds", "0.1", "--warmup", "0", "--rounds", "1"]))
    (block,) = run.blocks
    workers = [name for name in block.rss_kb if name.startswith("ours worker")]
    assert len(workers) == layout.workers > 1
    assert all(case.samples["ours"].errors == 0 for case in block.measured.values())
    with contextlib.closing(sqlite3.connect(file_path(layout.limits))) as counters:
        (windows,) = counters.execute("SELECT count(*) FROM windows").fetchone()
    assert windows > 0  # ours counted its limits there
