"""The benchmark's table, ratios and machine description, and their place in BENCHMARKS.md."""

from __future__ import annotations

import math
import os
import platform
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.load import Sample
from bench.servers import THREADS

TARGET_RATIO = 0.5
LATEST_START = "<!-- bench_parts_api:latest (rewritten by --write) -->"
LATEST_END = "<!-- /bench_parts_api:latest -->"
HISTORY_START = "<!-- bench_parts_api:history (one row appended by each --write) -->"
HISTORY_END = "<!-- /bench_parts_api:history -->"
HISTORY_HEADER = (
    "| date (UTC) | parts | clients | s per case | one part ours/bare | all parts ours/bare "
    "| one part p50 ours / bare (ms) | all parts p50 ours / bare (ms) |\n"
    "|---|---|---|---|---|---|---|---|"
)
PROJECT_ROOT = Path(__file__).resolve().parents[1]
VERSIONED = ("flask", "werkzeug", "waitress", "sqlalchemy", "flask-smorest", "limits")


@dataclass(frozen=True)
class Measured:
    """One case's pooled samples, by server name (ours, bare)."""

    name: str
    headline: bool
    samples: dict[str, Sample]

    def ratio(self) -> float:
        """ours/bare in requests per second."""
        return _rate(self.samples["ours"]) / max(_rate(self.samples["bare"]), 1e-9)

    def cpu_ratio(self) -> float:
        """bare/ours in server CPU time per request: the same ratio, less moved by other load."""
        return _cpu_per_request(self.samples["bare"]) / max(
            _cpu_per_request(self.samples["ours"]), 1e-12
        )


@dataclass(frozen=True)
class Run:
    """Everything one benchmark run produced."""

    args: dict[str, Any]
    list_bytes: int
    measured: list[Measured]
    finished: float
    # The machine's 1-minute load average when the run started and ended: other work on a
    # 2-core machine shifts absolute numbers (the ratios less, since ours and bare alternate).
    load: tuple[float, float]


def _rate(sample: Sample) -> float:
    return sample.requests / sample.seconds if sample.seconds else 0.0


def _cpu_per_request(sample: Sample) -> float:
    return sample.server_cpu / sample.requests if sample.requests else math.nan


def percentile_ms(latencies: list[float], percent: float) -> float:
    """Nearest-rank percentile of latencies given in seconds, in milliseconds."""
    if not latencies:
        return math.nan
    ordered = sorted(latencies)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1] * 1000


def _row(case: str, server: str, sample: Sample) -> list[str]:
    rate = _rate(sample)
    return [
        case,
        server,
        f"{rate:,.0f}",
        f"{percentile_ms(sample.latencies, 50):.2f}",
        f"{percentile_ms(sample.latencies, 95):.2f}",
        f"{_cpu_per_request(sample) * 1000:.3f}",
        f"{100 * sample.server_cpu / sample.seconds:.0f}",
        f"{100 * sample.client_cpu / sample.seconds:.0f}",
        str(sample.errors),
    ]


def markdown_table(header: list[str], aligns: str, rows: list[list[str]]) -> str:
    """A Markdown table; `aligns` has one letter per column: l (left) or r (right)."""
    rule = "|" + "|".join("--:" if a == "r" else "---" for a in aligns) + "|"
    lines = ["| " + " | ".join(header) + " |", rule]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def render_table(run: Run) -> str:
    """One row per case and server."""
    header = ["case", "server", "req/s", "p50 ms", "p95 ms", "server CPU ms/req"]
    header += ["server CPU %", "client CPU %", "errors"]
    rows = [
        _row(measured.name, server, measured.samples[server])
        for measured in run.measured
        for server in ("ours", "bare")
    ]
    return markdown_table(header, "llrrrrrrr", rows)


def render_ratios(run: Run) -> str:
    """ours/bare per case with the medians; the headline cases are checked against the target."""
    lines = []
    for measured in run.measured:
        ours, bare = measured.samples["ours"], measured.samples["bare"]
        verdict = ""
        if measured.headline:
            met = measured.ratio() >= TARGET_RATIO
            verdict = f" (target ≥ {TARGET_RATIO}×: {'met' if met else 'NOT met'})"
        lines.append(
            f"- {measured.name}: **{measured.ratio():.2f}×** req/s{verdict}; median "
            f"{percentile_ms(ours.latencies, 50):.2f} ms ours vs "
            f"{percentile_ms(bare.latencies, 50):.2f} ms bare; server CPU per request "
            f"bare/ours {measured.cpu_ratio():.2f}×"
        )
    return "\n".join(lines)


def machine_description() -> str:
    """CPU, cores, OS and the versions that shape the numbers."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(
                line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in VERSIONED)
    return (
        f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {versions}"
    )


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=PROJECT_ROOT, check=True, capture_output=True, text=True
    ).stdout


def code_version() -> str:
    """The commit measured, and whether the work tree differed from it."""
    try:
        commit = _git("rev-parse", "--short", "HEAD").strip()
        changed = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {commit}" + (" with uncommitted changes" if changed.strip() else "")


def run_context(load: tuple[float, float]) -> list[str]:
    """A report's machine and code lines, with the load average at the start and the end."""
    return [
        "",
        f"Machine: {machine_description()}",
        "",
        f"Code: {code_version()}; 1-minute load average {load[0]:.1f} at the start, "
        f"{load[1]:.1f} at the end.",
        "",
    ]


def render_run(run: Run) -> str:
    """The whole report: settings, machine, table, ratios."""
    args = run.args
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(run.finished))
    return "\n".join(
        [
            f"Run of {stamp}: {args['parts']} parts (list body {run.list_bytes / 1e6:.2f} MB), "
            f"waitress threads={THREADS} for both servers, {args['clients']} keep-alive clients "
            f"in a separate process, {args['seconds']:g} s measured per case and server in "
            f"{args['rounds']} alternating rounds after {args['warmup']:g} s warm-up.",
            *run_context(run.load),
            render_table(run),
            "",
            "Ratios ours/bare:",
            "",
            render_ratios(run),
        ]
    )


def _history_row(run: Run) -> str:
    cells = [
        time.strftime("%Y-%m-%d %H:%M", time.gmtime(run.finished)),
        str(run.args["parts"]),
        str(run.args["clients"]),
        f"{run.args['seconds']:g}",
    ]
    headline = [measured for measured in run.measured if measured.headline]
    cells += [f"{measured.ratio():.2f}×" for measured in headline]
    for measured in headline:
        ours, bare = measured.samples["ours"], measured.samples["bare"]
        cells.append(
            f"{percentile_ms(ours.latencies, 50):.2f} / {percentile_ms(bare.latencies, 50):.2f}"
        )
    return "| " + " | ".join(cells) + " |"


def replace_block(text: str, start: str, end: str, body: str) -> str:
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        return head + block + rest.split(end, 1)[1]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def run_and_record(
    run: Any, render: Callable[[Any], str], record: Callable[[Path, Any], None], write: bool
) -> int:
    """A benchmark's main: print the run, and record it in BENCHMARKS.md when asked."""
    print(render(run))
    if write:
        target = PROJECT_ROOT / "BENCHMARKS.md"
        record(target, run)
        print(f"\nRecorded in {target}")
    return 0


def write_benchmarks(path: Path, run: Run) -> None:
    """Rewrite the latest-run block and append a history row; other text is left alone."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    text = replace_block(text, LATEST_START, LATEST_END, render_run(run))
    rows = HISTORY_HEADER
    if HISTORY_START in text and HISTORY_END in text:
        rows = text.split(HISTORY_START, 1)[1].split(HISTORY_END, 1)[0].strip("\n")
    text = replace_block(text, HISTORY_START, HISTORY_END, rows + "\n" + _history_row(run))
    path.write_text(text, encoding="utf-8")
