"""The file benchmark's results, its verdict table and its own section of BENCHMARKS.md."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.load import Sample
from bench.report import markdown_table, percentile_ms, replace_block, run_context

TARGET_RATIO = 1.15
TARGET_RSS_MB = 30.0
TARGET_P95_RATIO = 1.5
SECTION_TITLE = "## Uploads and STEP conversion (bench_files)"
SECTION_INTRO = (
    "Upload → model ready through the API against `convert_step` called directly, an identical "
    "re-upload, the server's memory while large files arrive, and GET-part latency while two "
    "conversions run. Runner and method: `bench/bench_files.py` (see `bench/README.md`); the "
    "block below is rewritten by `.venv/bin/python -m bench.bench_files --write`, and each such "
    "run adds a history row."
)
LATEST_START = "<!-- bench_files:latest (rewritten by --write) -->"
LATEST_END = "<!-- /bench_files:latest -->"
HISTORY_START = "<!-- bench_files:history (one row appended by each --write) -->"
HISTORY_END = "<!-- /bench_files:history -->"
HISTORY_HEADER = (
    "| date (UTC) | files | worst API/direct | re-upload ready (ms) | RSS growth (MB) "
    "| p95 busy/idle |\n|---|---|---|---|---|---|"
)


@dataclass
class FileRun:
    """One fixture: its direct and API timings and where the API's extra time went."""

    name: str
    size: int
    direct: list[float] = field(default_factory=list)
    api: list[float] = field(default_factory=list)
    # Per API run: POST, queue (POST answered → job started), conversion, ready → client saw it.
    phases: list[tuple[float, float, float, float]] = field(default_factory=list)
    polls: list[int] = field(default_factory=list)
    reupload: tuple[str, float] | None = None  # (modelStatus right after the POST, seconds)

    def ratio(self) -> float:
        return statistics.median(self.api) / statistics.median(self.direct)


@dataclass(frozen=True)
class MemoryStep:
    """Server memory around one upload, in kB, from /proc/<pid>/status."""

    label: str
    size: int
    before: dict[str, int]
    after: dict[str, int]
    seconds: float
    status: str

    def growth_mb(self) -> float:
        return (self.after["VmHWM"] - self.before["VmHWM"]) / 1024


@dataclass
class FilesRun:
    """Everything one run of bench_files measured."""

    args: dict[str, Any]
    files: list[FileRun]
    memory: list[MemoryStep]
    memory_baseline: dict[str, int]
    idle: Sample
    busy: Sample
    busy_files: list[str]
    busy_covered: bool
    finished: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


def _verdict(met: bool) -> str:
    return "met" if met else "**NOT met**"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def headline(run: FilesRun) -> list[tuple[str, str, str, bool]]:
    """(measurement, target, result, met) for the four targets."""
    rows = []
    big = [f for f in run.files if f.size > 1_000_000]
    if big:
        worst = max(big, key=FileRun.ratio)
        rows.append(
            (
                "upload → model ready via API / direct convert_step, worst file > 1 MB",
                f"≤ {TARGET_RATIO}×",
                f"{worst.ratio():.2f}× ({worst.name})",
                worst.ratio() <= TARGET_RATIO,
            )
        )
    reups = [f.reupload for f in run.files if f.reupload]
    if reups:
        slowest = max(seconds for _status, seconds in reups)
        ready = all(status == "ready" for status, _seconds in reups)
        rows.append(
            (
                "identical re-upload to a second part: ready in the POST answer",
                "ready, no conversion",
                f"{'ready' if ready else 'not ready'} for {len(reups)}/{len(reups)} files, "
                f"slowest {_ms(slowest)} ms",
                ready,
            )
        )
    if run.memory:
        growth = (max(s.after["VmHWM"] for s in run.memory) - run.memory_baseline["VmHWM"]) / 1024
        rows.append(
            (
                "server peak RSS (VmHWM) growth over the large uploads",
                f"≤ {TARGET_RSS_MB:g} MB",
                f"{growth:.1f} MB",
                growth <= TARGET_RSS_MB,
            )
        )
    idle_p95 = percentile_ms(run.idle.latencies, 95)
    busy_p95 = percentile_ms(run.busy.latencies, 95)
    if run.busy.latencies:
        ratio = busy_p95 / idle_p95
        rows.append(
            (
                "GET /api/parts/<id> p95, two conversions running / idle",
                f"≤ {TARGET_P95_RATIO}×",
                f"{ratio:.2f}× ({busy_p95:.1f} vs {idle_p95:.1f} ms)",
                ratio <= TARGET_P95_RATIO,
            )
        )
    return rows


def _file_row(f: FileRun) -> list[str]:
    post, queue, convert, seen = (statistics.median(p[i] for p in f.phases) for i in range(4))
    reup = f"{f.reupload[0]} in {_ms(f.reupload[1])} ms" if f.reupload else "–"
    return [
        f.name,
        f"{f.size / 1e6:.2f}",
        f"{statistics.median(f.direct):.2f}",
        f"{statistics.median(f.api):.2f}",
        f"{f.ratio():.2f}×",
        _ms(post),
        _ms(queue),
        f"{convert:.2f}",
        _ms(seen),
        f"{statistics.median(f.polls):.0f}",
        reup,
    ]


def render_files(run: FilesRun) -> str:
    """One row per file: medians of the API and direct conversions."""
    header = ["file", "size MB", "direct s", "API s", "API/direct", "POST ms", "queue ms"]
    header += ["convert s", "seen after ms", "polls", "re-upload"]
    return markdown_table(header, "lrrrrrrrrrl", [_file_row(f) for f in run.files])


def render_memory(run: FilesRun) -> str:
    base = run.memory_baseline
    lines = [
        f"Server after warm-up: VmHWM {base['VmHWM'] / 1024:.1f} MB, "
        f"VmRSS {base['VmRSS'] / 1024:.1f} MB.",
        "",
        "| upload | size MB | POST s | outcome | VmHWM before → after MB | VmRSS before → after MB "
        "| peak growth MB |",
        "|---|--:|--:|---|--:|--:|--:|",
    ]
    for s in run.memory:
        lines.append(
            f"| {s.label} | {s.size / 1e6:.1f} | {s.seconds:.2f} | {s.status} "
            f"| {s.before['VmHWM'] / 1024:.1f} → {s.after['VmHWM'] / 1024:.1f} "
            f"| {s.before['VmRSS'] / 1024:.1f} → {s.after['VmRSS'] / 1024:.1f} "
            f"| {s.growth_mb():.1f} |"
        )
    return "\n".join(lines)


def render_latency(run: FilesRun) -> str:
    lines = [
        "| server state | requests | req/s | p50 ms | p95 ms | errors |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for label, s in (("idle", run.idle), (f"converting {' + '.join(run.busy_files)}", run.busy)):
        rate = s.requests / s.seconds if s.seconds else 0.0
        lines.append(
            f"| {label} | {s.requests} | {rate:,.0f} | {percentile_ms(s.latencies, 50):.2f} "
            f"| {percentile_ms(s.latencies, 95):.2f} | {s.errors} |"
        )
    covered = "yes" if run.busy_covered else "no (a conversion ended inside the window)"
    lines += ["", f"Both conversions still running when the busy window ended: {covered}."]
    return "\n".join(lines)


def render_verdict(run: FilesRun) -> str:
    lines = ["| measurement | target | result | verdict |", "|---|---|---|---|"]
    lines += [f"| {m} | {t} | {r} | {_verdict(ok)} |" for m, t, r, ok in headline(run)]
    return "\n".join(lines)


def render_run(run: FilesRun) -> str:
    a = run.args
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(run.finished))
    return "\n".join(
        [
            f"Run of {stamp}: {a['rounds']} API and {a['rounds']} direct conversions per file "
            "(interleaved ABBA), the client waits on GET /model, "
            f"CONVERSION_WORKERS=2, waitress threads=4; latency: {a['clients']} keep-alive "
            f"clients, {a['latency_seconds']:g} s idle before and after, "
            f"{a['latency_seconds']:g} s busy.",
            *run_context(run.load),
            render_verdict(run),
            "",
            "Per file (medians; queue = POST answered at the client → job started, negative when "
            "the runner starts before the answer arrives; seen after = job finished → the GLB "
            "reached the client; polls = GET /model requests):",
            "",
            render_files(run),
            "",
            "Server memory while large files arrive:",
            "",
            render_memory(run),
            "",
            "GET /api/parts/<id> latency:",
            "",
            render_latency(run),
        ]
    )


def _history_row(run: FilesRun) -> str:
    big = [f for f in run.files if f.size > 1_000_000] or run.files
    worst = max((f.ratio() for f in big), default=float("nan"))
    reups = [seconds for _s, seconds in (f.reupload for f in run.files if f.reupload)]
    growth = (
        (max(s.after["VmHWM"] for s in run.memory) - run.memory_baseline["VmHWM"]) / 1024
        if run.memory
        else float("nan")
    )
    p95 = percentile_ms(run.busy.latencies, 95) / percentile_ms(run.idle.latencies, 95)
    cells = [
        time.strftime("%Y-%m-%d %H:%M", time.gmtime(run.finished)),
        str(len(run.files)),
        f"{worst:.2f}×",
        _ms(max(reups)) if reups else "–",
        f"{growth:.1f}",
        f"{p95:.2f}×",
    ]
    return "| " + " | ".join(cells) + " |"


def write_section(path: Path, run: FilesRun) -> None:
    """Rewrite this benchmark's latest block and add a history row; other text stays as is."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if LATEST_START not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION_TITLE}\n\n{SECTION_INTRO}\n\n### Latest run\n"
    text = replace_block(text, LATEST_START, LATEST_END, render_run(run))
    rows = HISTORY_HEADER
    if HISTORY_START in text and HISTORY_END in text:
        rows = text.split(HISTORY_START, 1)[1].split(HISTORY_END, 1)[0].strip("\n")
    else:
        text = text.rstrip("\n") + "\n\n### History\n"
    text = replace_block(text, HISTORY_START, HISTORY_END, rows + "\n" + _history_row(run))
    path.write_text(text, encoding="utf-8")
