"""Each speed trick of the read path on its own: our app with one trick off at a time, against
our app with all of them and the bare app, in one session.

Run: .venv/bin/python -m bench.bench_tricks [--parts 5000] [--seconds 6] [--write]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.bench_parts_api import bench_database, build_cases, fetch_reference, measure_case
from bench.load import Sample, add_load_arguments
from bench.report import markdown_table, replace_block, run_and_record, run_context
from bench.servers import TRICKS, ServerProcess, start_bare, start_ours

START = "<!-- bench_tricks:latest (rewritten by --write) -->"
END = "<!-- /bench_tricks:latest -->"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; shorter runs than bench_parts_api, as there are six servers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_load_arguments(parser, parts=5000, seconds=6.0, warmup=1.0, per="case and server")
    parser.add_argument("--max-requests", type=int, default=500_000, help="cap per timed run")
    parser.add_argument("--write", action="store_true", help="record the run in BENCHMARKS.md")
    return parser.parse_args(argv)


def _rate(sample: Sample) -> float:
    return sample.requests / sample.seconds if sample.seconds else 0.0


def _cpu_ms(sample: Sample) -> float:
    return 1000 * sample.server_cpu / sample.requests if sample.requests else float("nan")


def run_tricks(args: argparse.Namespace) -> dict[str, dict[str, Sample]]:
    """Samples by case name, then by server name (bare, ours, ours without <trick>)."""
    with tempfile.TemporaryDirectory(prefix="aerie-bench-") as folder:
        settings, key_header = bench_database(folder, args.parts)
        servers: list[ServerProcess] = []
        try:
            servers.append(start_ours(settings))
            parts_list, parts = fetch_reference(servers[0].port, key_header, args.parts)
            servers.append(start_bare(parts_list, parts))
            servers.extend(start_ours(settings, trick) for trick in TRICKS)
            cases = build_cases(key_header, parts_list, parts)
            return {case.name: measure_case(case, servers, args) for case in cases}
        finally:
            for server in servers:
                server.stop()


def _row(case: str, label: str, sample: Sample, bare: Sample, gain: str) -> list[str]:
    ratio = f"{_rate(sample) / max(_rate(bare), 1e-9):.2f}×"
    return [case, label, ratio, gain, f"{_cpu_ms(sample):.3f}"]


def render(results: dict[str, dict[str, Sample]], args: argparse.Namespace) -> str:
    """Per case and trick: req/s over bare, and the gain (all on ÷ this trick off)."""
    rows = []
    for case, samples in results.items():
        ours, bare = samples["ours"], samples["bare"]
        rows.append(_row(case, "all on", ours, bare, "—"))
        for trick in TRICKS:
            off = samples[f"ours without {trick}"]
            gain = f"**{_rate(ours) / max(_rate(off), 1e-9):.2f}×**"
            rows.append(_row(case, f"without {trick}", off, bare, gain))
    header = ["case", "our app", "req/s ours/bare", "gain of the trick", "server CPU ms/req"]
    return "\n".join(
        [
            f"Run of {time.strftime('%Y-%m-%d %H:%M UTC')}: {args.parts} parts, {args.clients} "
            f"keep-alive clients, {args.seconds:g} s per case and server in {args.rounds} rounds "
            f"(order reversed each round) after {args.warmup:g} s warm-up; six servers (bare, "
            "ours, ours with one trick off ×4) under waitress threads=4.",
            *run_context(args.load),
            markdown_table(header, "llrrr", rows),
        ]
    )


def record(target: Path, text: str) -> None:
    """Rewrite this benchmark's block of BENCHMARKS.md."""
    updated = replace_block(target.read_text(encoding="utf-8"), START, END, text)
    target.write_text(updated, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and record in BENCHMARKS.md when asked."""
    args = parse_args(argv)
    before = os.getloadavg()[0]
    results = run_tricks(args)
    args.load = (before, os.getloadavg()[0])
    return run_and_record(render(results, args), str, record, args.write)


if __name__ == "__main__":
    raise SystemExit(main())
