"""`python -m bench [--quick] [--only NAME ...]`: run the benchmarks, write
bench/results/<name>.json each, and print a summary table."""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bench import ack, alerts, budget, bulk, bulkjob, flood, lookup, memory, raw, render
from bench.common import Options, Result, say

Benchmark = Callable[[Options], Result]
# In this order. The CPU-bound ones run alone; bulk, alerts and budget wait on pacing
# (Cloudflare's latency and rate limit, Slack's 1 message/s per channel), not on the CPU, so they
# run side by side (their figures are ratios to, or differences from, those pacing minimums);
# memory reads the peaks of ack and bulk.
STAGES: list[dict[str, Benchmark]] = [
    {"render": render.run},
    {"ack": ack.run},
    {"lookup": lookup.run},
    {"bulk": bulk.run, "alerts": alerts.run, "budget": budget.run},
    {"flood": flood.run},
    {"bulkjob": bulkjob.run},
    {"memory": memory.run},
    {"raw": raw.run},
]
NAMES = [name for stage in STAGES for name in stage]


def table(results: list[Result]) -> str:
    rows = [("benchmark", "target", "measured", "limit", "met")]
    for result in results:
        if result.skipped:
            rows.append((result.name, "(skipped)", result.skipped, "", ""))
        for target in result.targets:
            data = target.to_json()
            rows.append(
                (result.name, target.name, f"{data['measured']} {target.unit}", data["target"],
                 "yes" if target.met else "NO")
            )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs (about 5 s of load)")
    parser.add_argument("--only", nargs="+", choices=NAMES, help="run only these")
    parser.add_argument(
        "--profile", action="store_true", help="sample the loaded process with py-spy"
    )
    args = parser.parse_args()
    options = Options(quick=args.quick, profile=args.profile)
    chosen = set(args.only or NAMES)
    results: list[Result] = []
    started = time.monotonic()
    for stage in STAGES:
        runs = {name: bench for name, bench in stage.items() if name in chosen}
        with ThreadPoolExecutor(max_workers=max(1, len(runs))) as pool:
            futures = {
                name: pool.submit(_one, name, bench, options) for name, bench in runs.items()
            }
            results += [future.result() for future in futures.values()]
    say(f"\nSummary ({time.monotonic() - started:.0f} s{', --quick' if args.quick else ''}):")
    say(table(results))
    return 0 if all(r.passed for r in results) else 1


def _one(name: str, bench: Benchmark, options: Options) -> Result:
    try:
        result = bench(options)
    except Exception as error:  # one broken benchmark must not hide the others
        traceback.print_exc()
        result = Result(name, {}, skipped=f"failed: {type(error).__name__}: {error}"[:200])
    say(f"[{name}] wrote {result.write()}")
    return result


if __name__ == "__main__":
    raise SystemExit(main())
