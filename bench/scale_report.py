"""The scale benchmark's report: datasets, issue 13's goals (met or missed), every case against
the bare ceiling, memory per server process; and its block in BENCHMARKS.md."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.load import Sample
from bench.report import markdown_table, percentile_ms, replace_block, run_context
from deploy import default_workers

START = "<!-- bench_scale:latest (rewritten by --write) -->"
END = "<!-- /bench_scale:latest -->"
# Our app's processes in a block's RSS: gunicorn's worker(s) ("ours worker 1", ...) or waitress.
OUR_WORKERS = ("ours worker", "ours server")
HEADING = "## Scale (issue 13)"
INTRO = (
    "Season-archive sizes: `.venv/bin/python -m bench.bench_scale` (method in `bench/README.md`)."
    " The block below is rewritten by `--write`."
)
SEARCH_KEYS_PREFIXES = ("search-", "category", "offset", "sort-", "keyset")
TEN_K, HUNDRED_K = 10_000, 100_000


def _rate(sample: Sample) -> float:
    return sample.requests / sample.seconds if sample.seconds else 0.0


def _cpu_ms(sample: Sample) -> float:
    return 1000 * sample.server_cpu / sample.requests if sample.requests else math.nan


def _p(sample: Sample, percent: float) -> float:
    return percentile_ms(sample.latencies, percent)


def _where(block: Any) -> str:
    return f"{block.db}, {block.server}"


def _blocks(run: Any, parts: int, tier: str) -> Iterator[Any]:
    return (b for b in run.blocks if b.parts == parts and b.tier == tier)


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def goal_ratio(run: Any, key: str, target: float) -> list[list[str]]:
    """ours/bare req/s of one case at 10k against `target`."""
    rows = []
    for block in _blocks(run, TEN_K, "list"):
        ratio = block.measured[key].ratio()
        rows.append([_where(block), f"{ratio:.2f}×", _verdict(ratio >= target)])
    return rows


def goal_p95(run: Any, keys: Callable[[str], bool], limit_ms: float) -> list[list[str]]:
    """The worst p95 of ours over the chosen cases at 100k against `limit_ms`."""
    rows = []
    for block in _blocks(run, HUNDRED_K, "search"):
        chosen = {k: m for k, m in block.measured.items() if keys(k)}
        worst = max(chosen.values(), key=lambda m: _p(m.samples["ours"], 95))
        p95 = _p(worst.samples["ours"], 95)
        rows.append(
            [_where(block), f"{p95:.1f} ms (worst: {worst.name})", _verdict(p95 <= limit_ms)]
        )
    return rows


def goal_gzip(run: Any) -> list[list[str]]:
    """gzip list at 10k: bytes plain/gzip ≥ 5×, and its p95 no worse than the plain list's."""
    rows = []
    for block in _blocks(run, TEN_K, "list"):
        plain, gzip = block.list_bytes.get("plain", 0), block.list_bytes.get("gzip")
        if not gzip:
            rows.append([_where(block), "no gzip offered", _verdict(False)])
            continue
        p95_plain = _p(block.measured["list"].samples["ours"], 95)
        p95_gzip = _p(block.measured["list-gzip"].samples["ours"], 95)
        met = plain / gzip >= 5 and p95_gzip <= p95_plain
        result = f"{plain / gzip:.1f}× fewer bytes; p95 {p95_gzip:.1f} vs {p95_plain:.1f} ms"
        rows.append([_where(block), result, _verdict(met)])
    return rows


def goal_memory(run: Any) -> list[list[str]]:
    """Our worker's RSS after the 100k cases within 1.5× of its size after start (the worker
    that grew most, where there are several)."""
    rows = []
    for block in _blocks(run, HUNDRED_K, "search"):
        ours = [kb for name, kb in block.rss_kb.items() if name.startswith(OUR_WORKERS)]
        idle, after = max(ours, key=lambda sizes: sizes[1] / max(sizes[0], 1))
        growth = after / idle if idle else math.nan
        result = f"{growth:.2f}× ({idle / 1024:.0f} → {after / 1024:.0f} MB)"
        rows.append([_where(block), result, _verdict(growth <= 1.5)])
    return rows


def render_goals(run: Any) -> str:
    """One row per goal and database/server; "not measured" when the run lacked the size."""
    goals = [
        ("GET one part ≥ 0.6× bare at 10k", goal_ratio(run, "one", 0.6)),
        ("full list ≥ 0.9× bare at 10k", goal_ratio(run, "list", 0.9)),
        ("search, limit 25, at 100k: p95 ≤ 25 ms", goal_p95(run, _is_search, 25)),
        ("stats at 100k: p95 ≤ 50 ms", goal_p95(run, lambda k: k == "stats", 50)),
        ("detailed stats at 100k: p95 ≤ 50 ms", goal_p95(run, lambda k: k == "stats-detailed", 50)),
        ("full list at 10k, gzip: ≥ 5× fewer bytes, p95 no worse", goal_gzip(run)),
        ("our worker's RSS after the 100k runs ≤ 1.5× after start", goal_memory(run)),
    ]
    rows = []
    for goal, found in goals:
        rows += [[goal, *row] for row in found] or [[goal, "—", "not measured", "—"]]
    return markdown_table(["goal", "database, server", "result", "verdict"], "llll", rows)


def _is_search(key: str) -> bool:
    return key.startswith(SEARCH_KEYS_PREFIXES)


def _case_row(block: Any, measured: Any) -> list[str]:
    ours, bare = measured.samples["ours"], measured.samples["bare"]
    return [
        block.db,
        f"{block.parts:,}",
        block.server,
        measured.name,
        f"{_rate(ours):,.0f}",
        f"{_rate(bare):,.0f}",
        f"{measured.ratio():.2f}×",
        *(f"{_p(ours, percent):.1f}" for percent in (50, 95, 99)),
        f"{_p(bare, 95):.1f}",
        f"{_cpu_ms(ours):.2f} / {_cpu_ms(bare):.2f}",
        f"{100 * ours.client_cpu / ours.seconds:.0f}" if ours.seconds else "—",
        f"{ours.errors} / {bare.errors}",
    ]


def render_cases(run: Any) -> str:
    """Every case of every block: ours against bare."""
    header = ["database", "parts", "server", "case", "ours req/s", "bare req/s", "ours/bare"]
    header += ["p50 ms", "p95 ms", "p99 ms", "bare p95 ms", "CPU ms/req ours / bare"]
    header += ["client CPU %", "errors ours / bare"]
    rows = [_case_row(b, m) for b in run.blocks for m in b.measured.values()]
    return markdown_table(header, "llll" + "r" * 10, rows)


def render_memory(run: Any) -> str:
    """VmRSS of each server process after start and after its cases."""
    rows = [
        [b.db, f"{b.parts:,}", b.server, b.tier, name, f"{idle / 1024:.0f}", f"{after / 1024:.0f}"]
        for b in run.blocks
        for name, (idle, after) in b.rss_kb.items()
    ]
    header = ["database", "parts", "server", "tier", "process", "RSS after start MB"]
    return markdown_table([*header, "RSS after the cases MB"], "lllllrr", rows)


def render_datasets(run: Any) -> str:
    """What each dataset held and how long it took to build."""
    sizes = {(b.db, b.parts): b.list_bytes for b in run.blocks if b.list_bytes}
    rows = []
    for data in run.datasets:
        db = data.url.split(":", 1)[0].split("+", 1)[0]
        listed = sizes.get((db, data.parts), {})
        plain, gzip = (f"{listed[k] / 1e6:.2f}" if k in listed else "—" for k in ("plain", "gzip"))
        rows.append(
            [db, f"{data.parts:,}", f"{data.events:,}", f"{data.build_seconds:.1f}", plain, gzip]
        )
    header = ["database", "parts", "history events", "build s", "full list MB", "gzip MB"]
    return markdown_table(header, "lrrrrr", rows)


def render_scale(run: Any) -> str:
    """The whole report."""
    args = run.args
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(run.finished))
    settings = (
        f"Run of {stamp}: sizes {args['sizes']}, databases {args['db']}, servers "
        f"{args['server']} (waitress 8 threads; gunicorn {default_workers()} gthread workers"
        " × 16 threads with limits in a shared SQLite file, gunicorn-redis the same with Redis"
        " limits, gunicorn-1 one such worker with memory limits; ours and bare alike), "
        f"{args['clients']} keep-alive clients in a separate process, "
        f"{args['seconds']:g} s measured per case and server in {args['rounds']} alternating "
        f"rounds after {args['warmup']:g} s warm-up. p50/p95/p99 are ours, as the client saw them."
        " List tier: ours as deployed. Search tier: ours without the"
        " list-body cache, so every request runs its query."
    )
    return "\n".join(
        [
            settings,
            *run_context(run.load),
            render_datasets(run),
            "",
            "Goals (issue 13):",
            "",
            render_goals(run),
            "",
            render_cases(run),
            "",
            "Memory (VmRSS per server process):",
            "",
            render_memory(run),
        ]
    )


def write_scale(path: Path, run: Any) -> None:
    """Rewrite the Scale block of BENCHMARKS.md (adding its section the first time)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if START not in text:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n{INTRO}\n"
    path.write_text(replace_block(text, START, END, render_scale(run)), encoding="utf-8")
